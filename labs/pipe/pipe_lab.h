#pragma once
// Lab `pipe` — unnamed pipes, fork, dup2 and exec.
//
// An unnamed pipe is a one-way byte channel inside the kernel: pipe(fds)
// gives you a read end fds[0] and a write end fds[1]. It has no name, so only
// processes that inherit the descriptors through fork() can use it. In this
// lab you build three things on top of it, each a function declared below:
//
//   1. write_all / read_all  — move any number of bytes through a pipe;
//   2. ask_child             — a parent <-> child exchange over two pipes;
//   3. run_pipeline          — a shell pipeline such as `ls -l | wc -l`.
//
// Implement them in pipe_lab.cpp. This header is the contract the tests use:
// do not change it.
//
// Facts you will need (see `man 7 pipe`):
//   * A pipe holds 64 KiB. write() on a full pipe blocks until a reader makes
//     room; read() on an empty pipe blocks until a writer writes. Both may
//     move FEWER bytes than you asked for, so loop.
//   * read() returns 0 (end-of-file) only when EVERY write end is closed, in
//     every process. fork() copies descriptors: close the ends you don't use.
//   * write() to a pipe with no read end left raises SIGPIPE, or, when
//     SIGPIPE is ignored, fails with errno EPIPE.
//   * A blocking call is "synchronous": the kernel puts the process to sleep
//     until it can go on. Never poll in a loop (busy-wait) instead.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pipelab {

// ---- Part 1: moving bytes -------------------------------------------------

// Writes every byte of `data` to `fd`, however many write() calls it takes.
// A write interrupted by a signal (EINTR) is retried.
// Throws std::system_error carrying errno on any other failure (for example
// EPIPE when no process has the read end open any more).
void write_all(int fd, std::string_view data);

// Reads from `fd` until end-of-file and returns every byte read, in order.
// Blocks while the pipe is empty and a write end is still open anywhere.
// A read interrupted by a signal (EINTR) is retried.
// Throws std::system_error carrying errno on a read error.
std::string read_all(int fd);

// ---- Part 2: parent and child ---------------------------------------------

// Asks a child process a question and returns its whole answer.
//
// Creates two pipes (parent -> child carries the request, child -> parent
// the answer) and forks. The child reads the whole request (until EOF),
// writes serve(request) back, and ends with _exit(0). The parent writes the
// request, signals its end by closing the write end, reads the answer until
// EOF, reaps the child with waitpid, and returns the answer.
//
// Requests and answers may be of any size, from 0 bytes to many MiB.
// Throws std::runtime_error if the child does not exit normally with
// status 0 (for example because serve threw inside the child).
std::string ask_child(std::string_view request, const std::function<std::string(std::string_view)>& serve);

// ---- Part 3: a shell pipeline ---------------------------------------------

// Runs the commands in `stages` as a pipeline, as a shell runs
// `stages[0] | stages[1] | ... | stages[n-1]`, and waits for all of them.
//
// Each stage is a program and its arguments, found through PATH (execvp).
// The first stage reads this process's standard input, the last writes to
// this process's standard output, and each stage's standard output feeds the
// next one's standard input. A stage must start with only descriptors 0, 1
// and 2 open.
//
// Returns what a shell would report as the pipeline's status: the last
// stage's exit status; 128 + N if it was killed by signal N; 127 if its
// program could not be run. Every stage is reaped before returning, even
// when a signal interrupts the wait (EINTR).
// Throws std::invalid_argument if `stages` or any stage is empty.
int run_pipeline(const std::vector<std::vector<std::string>>& stages);

}  // namespace pipelab
