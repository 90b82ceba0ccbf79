// Lab `signals`: your implementation. Read signals_lab.h first: it says
// exactly what each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade signals
//
// Headers you will likely want: <signal.h> (sigaction, sigprocmask,
// sigwaitinfo, sigqueue, kill), <unistd.h> (pipe2, read, write, close),
// <fcntl.h> (O_NONBLOCK, O_CLOEXEC), <poll.h>, <sys/wait.h> (waitpid),
// <sys/stat.h> (mkfifo), <mqueue.h>, <sys/mman.h> (shm_open, mmap), <cerrno>,
// <system_error>, <stdexcept>.
//
// Remember: a handler may only do async-signal-safe work (set a
// volatile sig_atomic_t, write a byte, call waitpid) and must keep errno.

#include "labs/signals/signals_lab.h"

#include <stdexcept>

namespace siglab {

// ---- Part 1: a handler that only sets a flag ------------------------------

SignalFlag::SignalFlag(int signo) : signo_(signo) {
  // TODO: clear this signal's flag, then install (sigaction, flags 0) a
  // handler that only sets it; keep the old action in previous_.
  throw std::logic_error("not implemented: SignalFlag (signals_lab.cpp)");
}

SignalFlag::~SignalFlag() {
  // TODO: put previous_ back with sigaction.
}

bool SignalFlag::take() {
  // TODO: report the flag and clear it.
  throw std::logic_error("not implemented: SignalFlag::take (signals_lab.cpp)");
}

// ---- Part 2: the self-pipe trick -------------------------------------------

// TODO: what your loop needs: the self-pipe's two ends, the callbacks, the
// actions to restore, whether stop() was called.
struct EventLoop::State {};

EventLoop::EventLoop() {
  // TODO: create the self-pipe (pipe2, O_NONBLOCK | O_CLOEXEC) and tell the
  // handler (through a global) where its write end is.
  throw std::logic_error("not implemented: EventLoop (signals_lab.cpp)");
}

EventLoop::~EventLoop() {
  // TODO: restore every action on_signal replaced; close the self-pipe.
}

void EventLoop::on_signal(int /*signo*/, Callback /*callback*/) {
  // TODO: remember the callback; install the handler (SA_RESTART), keeping
  // the action it replaces.
  throw std::logic_error("not implemented: EventLoop::on_signal (signals_lab.cpp)");
}

void EventLoop::on_readable(int /*fd*/, Callback /*callback*/) {
  // TODO: remember the descriptor and its callback.
  throw std::logic_error("not implemented: EventLoop::on_readable (signals_lab.cpp)");
}

void EventLoop::stop() {
  // TODO: note that run() must return.
  throw std::logic_error("not implemented: EventLoop::stop (signals_lab.cpp)");
}

void EventLoop::run() {
  // TODO: until stop(): poll the self-pipe and every descriptor, no
  // timeout; on EINTR poll again. Self-pipe readable: drain it, then call
  // the callback of each signal that arrived. A descriptor readable: call
  // its callback.
  throw std::logic_error("not implemented: EventLoop::run (signals_lab.cpp)");
}

// ---- Part 3: reaping on SIGCHLD --------------------------------------------

int reap_children() {
  // TODO: save errno; waitpid(-1, ..., WNOHANG) until it returns 0 or
  // fails with ECHILD, counting; restore errno.
  throw std::logic_error("not implemented: reap_children (signals_lab.cpp)");
}

ChildReaper::ChildReaper() {
  // TODO: install a SIGCHLD handler that calls reap_children(), with
  // SA_RESTART | SA_NOCLDSTOP; keep the old action in previous_.
  throw std::logic_error("not implemented: ChildReaper (signals_lab.cpp)");
}

ChildReaper::~ChildReaper() {
  // TODO: put previous_ back.
}

// ---- Part 4: masks and waiting ---------------------------------------------

SignalBlock::SignalBlock(std::initializer_list<int> /*signals*/) {
  // TODO: build a sigset_t (sigemptyset, sigaddset) and block it
  // (sigprocmask SIG_BLOCK), keeping the old mask in previous_.
  throw std::logic_error("not implemented: SignalBlock (signals_lab.cpp)");
}

SignalBlock::~SignalBlock() {
  // TODO: set the mask back to previous_ (SIG_SETMASK).
}

int wait_for_signal(std::initializer_list<int> /*signals*/) {
  // TODO: sigwaitinfo on the set; retry EINTR.
  throw std::logic_error("not implemented: wait_for_signal (signals_lab.cpp)");
}

// ---- Part 5: signals as messages -------------------------------------------

void send_values(pid_t /*pid*/, int /*signo*/, const std::vector<int>& /*values*/) {
  // TODO: one sigqueue per value, in order.
  throw std::logic_error("not implemented: send_values (signals_lab.cpp)");
}

std::vector<int> receive_values(int /*signo*/, std::size_t /*count*/) {
  // TODO: refuse a standard signal; then sigwaitinfo `count` times,
  // collecting si_value.sival_int.
  throw std::logic_error("not implemented: receive_values (signals_lab.cpp)");
}

// ---- Part 6: SIGPIPE and EPIPE ---------------------------------------------

bool write_unless_closed(int /*fd*/, std::string_view /*data*/) {
  // TODO: ignore SIGPIPE (keeping its action); write until done or an
  // error; restore SIGPIPE's action; EPIPE means false.
  throw std::logic_error("not implemented: write_unless_closed (signals_lab.cpp)");
}

// ---- Part 7: EINTR ---------------------------------------------------------

std::string read_retrying(int /*fd*/, std::size_t /*max*/) {
  // TODO: read() into a buffer of `max` bytes; on EINTR, read again.
  throw std::logic_error("not implemented: read_retrying (signals_lab.cpp)");
}

// ---- Part 8: cleanup on termination ----------------------------------------

void run_server(const ServerNames& /*names*/) {
  // TODO: an EventLoop with SIGTERM and SIGINT callbacks that stop it;
  // then the FIFO, the queue and the shared-memory object (small RAII types
  // whose destructors unlink make the cleanup automatic); open the FIFO
  // O_RDWR; forward each read to the queue; run the loop.
  throw std::logic_error("not implemented: run_server (signals_lab.cpp)");
}

}  // namespace siglab
