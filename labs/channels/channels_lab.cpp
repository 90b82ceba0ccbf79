// Lab `channels`: your implementation. Read channels_lab.h first: it says
// exactly what each function must do, and fixes the names, the framing and
// the shared-memory layout the tests expect. Replace each `throw` below with
// your code; add helpers of your own in the anonymous namespace.
//
// Check your work with:   ./grade channels
//
// Headers you will likely want: <fcntl.h>, <sys/stat.h> (mkfifo), <unistd.h>
// (read, write, close, unlink, fork, execv), <mqueue.h> (mq_open,
// mq_timedsend, mq_timedreceive, mq_close, mq_unlink), <sys/mman.h>
// (shm_open, mmap, munmap, shm_unlink), <semaphore.h> (sem_open,
// sem_timedwait, sem_post, sem_close, sem_unlink), <sys/wait.h> (waitpid),
// <signal.h>, <thread>, <cerrno>, <cstring>, <ctime> (clock_gettime).

#include "labs/channels/channels_lab.h"

#include <stdexcept>

namespace channels {

// ---- Part 1: FIFOs ------------------------------------------------------------

FIFORequestChannel::FIFORequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity)
    : RequestChannel(name, prefix, side, capacity) {
  // TODO: mkfifo both nodes (EEXIST is fine: the other side came first), then
  // open them in the order the header gives for this side.
  throw std::logic_error("not implemented: FIFORequestChannel (channels_lab.cpp)");
}

FIFORequestChannel::~FIFORequestChannel() {
  // TODO: close both descriptors; the server side also unlinks both nodes.
}

int FIFORequestChannel::cread(void* /*buf*/, int /*capacity*/) {
  // TODO: read exactly the 4-byte length, then exactly that many bytes.
  // End-of-file means the other side has gone.
  throw std::logic_error("not implemented: FIFORequestChannel::cread (channels_lab.cpp)");
}

int FIFORequestChannel::cwrite(const void* /*buf*/, int /*len*/) {
  // TODO: check len, then write the length and the bytes, all of them.
  throw std::logic_error("not implemented: FIFORequestChannel::cwrite (channels_lab.cpp)");
}

// ---- Part 1: message queues ------------------------------------------------------

MQRequestChannel::MQRequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity)
    : RequestChannel(name, prefix, side, capacity) {
  // TODO: refuse a capacity above /proc/sys/fs/mqueue/msgsize_max, then
  // mq_open both queues (O_CREAT, mq_maxmsg kQueueDepth, mq_msgsize capacity).
  throw std::logic_error("not implemented: MQRequestChannel (channels_lab.cpp)");
}

MQRequestChannel::~MQRequestChannel() {
  // TODO: mq_close both queues; the server side also mq_unlinks them.
}

int MQRequestChannel::cread(void* /*buf*/, int /*capacity*/) {
  // TODO: mq_timedreceive into a buffer of mq_msgsize bytes; on each time-out
  // ask peer_alive().
  throw std::logic_error("not implemented: MQRequestChannel::cread (channels_lab.cpp)");
}

int MQRequestChannel::cwrite(const void* /*buf*/, int /*len*/) {
  // TODO: check len, then mq_timedsend, asking peer_alive() on each time-out.
  throw std::logic_error("not implemented: MQRequestChannel::cwrite (channels_lab.cpp)");
}

// ---- Part 1: shared memory ---------------------------------------------------------

SHMRequestChannel::SHMRequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity)
    : RequestChannel(name, prefix, side, capacity) {
  // TODO: for each direction: shm_open, ftruncate to shm_segment_size,
  // mmap (check against MAP_FAILED), and sem_open its two semaphores.
  throw std::logic_error("not implemented: SHMRequestChannel (channels_lab.cpp)");
}

SHMRequestChannel::~SHMRequestChannel() {
  // TODO: munmap, close, sem_close; the server side also shm_unlinks and
  // sem_unlinks everything.
}

int SHMRequestChannel::cread(void* /*buf*/, int /*capacity*/) {
  // TODO: P(data ready), copy the next slot out, V(slot free).
  throw std::logic_error("not implemented: SHMRequestChannel::cread (channels_lab.cpp)");
}

int SHMRequestChannel::cwrite(const void* /*buf*/, int /*len*/) {
  // TODO: P(slot free), fill the next slot, V(data ready).
  throw std::logic_error("not implemented: SHMRequestChannel::cwrite (channels_lab.cpp)");
}

// ---- Part 2: factory and cleanup ---------------------------------------------------

std::unique_ptr<RequestChannel> make_channel(char /*mechanism*/, const std::string& /*name*/,
                                             const std::string& /*prefix*/, Side /*side*/, int /*capacity*/) {
  // TODO: one channel class per letter; std::invalid_argument otherwise.
  throw std::logic_error("not implemented: make_channel (channels_lab.cpp)");
}

void remove_channel_objects(char /*mechanism*/, const std::string& /*name*/, const std::string& /*prefix*/) {
  // TODO: unlink every object the channel would use, ignoring ENOENT.
  throw std::logic_error("not implemented: remove_channel_objects (channels_lab.cpp)");
}

// ---- Part 3: the client ---------------------------------------------------------------

int client_main(int /*argc*/, char** /*argv*/) {
  // TODO: parse the flags (getopt; reset optind first), start the server,
  // do the work over the channels, QUIT them, reap the server.
  throw std::logic_error("not implemented: client_main (channels_lab.cpp)");
}

}  // namespace channels
