#pragma once
// Lab `channels` — the capstone: a client and a data server that talk through
// *request channels*, built three ways and chosen at run time:
//
//   -i f   FIFORequestChannel   two named pipes (FIFOs)
//   -i q   MQRequestChannel     two POSIX message queues (mailboxes)
//   -i s   SHMRequestChannel    two shared-memory segments, each a bounded
//                               buffer guarded by two kernel semaphores
//
// You implement, in channels_lab.cpp:
//   1. the three channel classes and make_channel();
//   2. remove_channel_objects(), the "cleanup via unlink" of one channel;
//   3. client_main(), the client program: it starts the bundled server,
//      asks it for data points or a file, and cleans up after itself.
// The server is given (channels_server.h): it is built against YOUR channel
// classes, so a bug in them shows on both ends of a conversation.
//
// This header is the contract the tests use, including the *wire contract*
// (object names, framing, the shared-memory layout): the tests also talk to
// your channels from an implementation of their own, so keep to it exactly.
// Do not change this file.
//
//   auto channel = channels::make_channel('q', "control", channels::run_prefix(getpid()),
//                                         channels::Side::client, 256);
//   channel->cwrite(&request, sizeof request);        // one message
//   double value;
//   int length = channel->cread(&value, sizeof value);  // one message, its length
//
// Every message is a *whole* message: cwrite sends exactly `len` bytes as one
// message, and cread returns exactly one message and its length — never part
// of one, never two run together, and an empty message (length 0) is a
// message like any other.

#include <mqueue.h>
#include <semaphore.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace channels {

// ---- Sides, mechanisms, names ------------------------------------------------

enum class Side { server, client };

// The default capacity: the largest message a channel carries, in bytes
// (the client's -m, passed on to the server).
inline constexpr int kDefaultCapacity = 256;
// The smallest capacity a client accepts: every request must fit.
inline constexpr int kMinCapacity = 64;

// Every object a run makes carries the run's prefix, so two clients running
// side by side never meet. The client computes it from its own process id
// and passes it to the server (-r); every channel of the run uses it.
inline std::string run_prefix(pid_t client) { return "run" + std::to_string(client) + "_"; }

// Object names. A channel has two directions:
//   1 = server -> client (replies),   2 = client -> server (requests).
// For a channel `name` with prefix `prefix`, direction d ("1" or "2"):
//   FIFO:   a FIFO node  fifo_<prefix><name><d>  in the current directory
//   MQ:     a queue      /mq_<prefix><name><d>
//   SHM:    a segment    /shm_<prefix><name><d>, and two named semaphores
//           /shm_<prefix><name><d>.free  and  /shm_<prefix><name><d>.ready
inline std::string fifo_path(const std::string& prefix, const std::string& name, int d) {
  return "fifo_" + prefix + name + std::to_string(d);
}
inline std::string mq_name(const std::string& prefix, const std::string& name, int d) {
  return "/mq_" + prefix + name + std::to_string(d);
}
inline std::string shm_name(const std::string& prefix, const std::string& name, int d) {
  return "/shm_" + prefix + name + std::to_string(d);
}
inline std::string free_sem_name(const std::string& prefix, const std::string& name, int d) {
  return shm_name(prefix, name, d) + ".free";
}
inline std::string ready_sem_name(const std::string& prefix, const std::string& name, int d) {
  return shm_name(prefix, name, d) + ".ready";
}

// ---- Errors ----------------------------------------------------------------------

// What a channel throws. what() is a sentence for a person.
class ChannelError : public std::runtime_error {
 public:
  enum class Kind {
    peer_gone,  // the process on the other end has ended
    too_long,   // cwrite: len is more than the channel's capacity (or negative)
    too_small,  // cread: the message is longer than the caller's buffer
    capacity,   // a constructor: this mechanism cannot carry that capacity
    system,     // a system call failed; what() names the call and the object
  };
  ChannelError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// ---- The channel -------------------------------------------------------------------

// Whether the process on the other end is still running. A process that has
// ended but not been reaped yet (a zombie) counts as ended.
using PeerCheck = std::function<bool()>;

// True while process `pid` exists and is not a zombie (reads /proc/PID/stat).
inline bool process_running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  for (int i = 0; i < 3 && stat >> field; ++i) {
  }
  return stat && field != "Z" && field != "X";
}

// How often a side that waits on a queue or a semaphore wakes up to ask its
// PeerCheck (FIFOs need none: the kernel reports end-of-file). Long, so a
// waiting side still counts as asleep.
inline constexpr int kPeerCheckMillis = 1000;

class RequestChannel {
 public:
  // Makes (or joins) the objects of channel `name` of the run `prefix`, and
  // opens this side's ends. Both sides create what they use if it is not
  // there yet (O_CREAT), so either side may come first.
  // Throws ChannelError (kind system, or capacity) when that fails.
  RequestChannel(std::string name, std::string prefix, Side side, int capacity)
      : name_(std::move(name)), prefix_(std::move(prefix)), side_(side), capacity_(capacity) {}

  // Closes this side's ends. The SERVER side also removes every object of
  // the channel (unlink, mq_unlink, shm_unlink, sem_unlink); the client side
  // removes nothing (when the server died first, the client calls
  // remove_channel_objects). A destructor never throws.
  virtual ~RequestChannel() = default;

  RequestChannel(const RequestChannel&) = delete;
  RequestChannel& operator=(const RequestChannel&) = delete;

  // Receives exactly one message into buf and returns its length
  // (0 .. capacity()). Blocks, asleep, while there is none.
  // Throws ChannelError:
  //   too_small  the message is longer than `capacity` bytes (it is dropped);
  //   peer_gone  the other side has gone: a FIFO reached end-of-file, or
  //              (queue, shared memory) the PeerCheck says so at a wake-up;
  //   system     any other failure. Retries EINTR.
  virtual int cread(void* buf, int capacity) = 0;

  // Sends the `len` bytes at buf as one message and returns len. Blocks,
  // asleep, while the channel is full.
  // Throws ChannelError: too_long when len < 0 or len > capacity();
  // peer_gone when the other side has gone (EPIPE on a FIFO — ignore SIGPIPE
  // in the process; the PeerCheck otherwise); system otherwise.
  virtual int cwrite(const void* buf, int len) = 0;

  // From now on, waits that last longer than kPeerCheckMillis ask `alive`.
  // Without a check, a queue or shared-memory side waits for ever.
  void watch_peer(PeerCheck alive) { peer_alive_ = std::move(alive); }

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] Side side() const { return side_; }
  [[nodiscard]] int capacity() const { return capacity_; }

 protected:
  // True unless a PeerCheck was given and says the peer has ended.
  [[nodiscard]] bool peer_alive() const { return !peer_alive_ || peer_alive_(); }

 private:
  std::string name_;
  std::string prefix_;
  Side side_;
  int capacity_;
  PeerCheck peer_alive_;
};

// FIFOs, wire contract: a message is a frame
//   [ length: std::int32_t, host byte order ][ length bytes ]
// The server side opens direction 1 for writing, then direction 2 for
// reading; the client side opens 1 for reading, then 2 for writing — the same
// order, so the blocking opens meet instead of waiting for each other.
// The server side unlinks both nodes in its destructor.
class FIFORequestChannel : public RequestChannel {
 public:
  FIFORequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity);
  ~FIFORequestChannel() override;
  int cread(void* buf, int capacity) override;
  int cwrite(const void* buf, int len) override;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

// Message queues, wire contract: both queues have mq_maxmsg kQueueDepth and
// mq_msgsize == the channel's capacity; one message is one queue message.
// A capacity above the system's limit (/proc/sys/fs/mqueue/msgsize_max) is
// refused before anything is made, with ChannelError kind capacity whose
// sentence names the limit's value and that file.
// The server side mq_unlinks both queues in its destructor.
inline constexpr long kQueueDepth = 1;
class MQRequestChannel : public RequestChannel {
 public:
  MQRequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity);
  ~MQRequestChannel() override;
  int cread(void* buf, int capacity) override;
  int cwrite(const void* buf, int len) override;

 private:
  mqd_t read_queue_ = -1;
  mqd_t write_queue_ = -1;
};

// Shared memory, wire contract: each direction is one segment, made with
// shm_open, sized with ftruncate to shm_segment_size(capacity) BEFORE it is
// mapped, holding a ring of kShmSlots slots:
//
//   [ ShmRingHeader ][ slot 0 ][ slot 1 ] ... [ slot kShmSlots-1 ]
//   slot = [ length: std::int32_t ][ capacity bytes ]
//
// The writer puts message number n (0, 1, 2, ...) in slot n % kShmSlots:
// P(free) ("slot free", starts at kShmSlots), fill the slot, V(ready) ("data
// ready", starts at 0). The reader takes them in the same order: P(ready),
// copy the slot out, V(free). Two semaphores, never a flag polled in a loop.
// The destructor munmaps, closes and sem_closes; the server side also
// shm_unlinks both segments and sem_unlinks all four semaphores.
inline constexpr int kShmSlots = 4;
struct ShmRingHeader {
  std::uint64_t written;  // messages the writer has put in (the writer's own count)
  std::uint64_t taken;    // messages the reader has copied out (the reader's own count)
};
inline constexpr std::size_t shm_slot_size(int capacity) {
  return sizeof(std::int32_t) + static_cast<std::size_t>(capacity);
}
inline constexpr std::size_t shm_segment_size(int capacity) {
  return sizeof(ShmRingHeader) + kShmSlots * shm_slot_size(capacity);
}
class SHMRequestChannel : public RequestChannel {
 public:
  SHMRequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity);
  ~SHMRequestChannel() override;
  int cread(void* buf, int capacity) override;
  int cwrite(const void* buf, int len) override;

 private:
  struct Direction {
    void* base = nullptr;        // the mapping (nullptr until mmap succeeded)
    sem_t* free_sem = nullptr;   // "slot free" (nullptr until sem_open succeeded)
    sem_t* ready_sem = nullptr;  // "data ready"
    int fd = -1;                 // the segment's descriptor
  };
  Direction in_;   // what this side reads
  Direction out_;  // what this side writes
};

// The channel for mechanism 'f', 'q' or 's'; throws std::invalid_argument
// for any other letter (and whatever the constructor throws).
std::unique_ptr<RequestChannel> make_channel(char mechanism, const std::string& name, const std::string& prefix,
                                             Side side, int capacity);

// Removes every object channel `name` of run `prefix` uses with that
// mechanism, ignoring those that are not there. The client calls it for the
// control channel before it starts the server (a crashed earlier run may
// have left objects under the same names) and, when the server has died,
// for every channel of the run.
void remove_channel_objects(char mechanism, const std::string& name, const std::string& prefix);

// ---- The protocol ----------------------------------------------------------------
// Every request is one message starting with its type. Every reply is one
// message starting with a ReplyStatus, then the answer (ok) or a sentence
// saying what was wrong (error). QUIT gets no reply.

enum class MessageType : std::int32_t { data = 0, file = 1, new_channel = 2, quit = 3 };
enum class ReplyStatus : std::int32_t { ok = 0, error = 1 };

struct DataRequest {  // reply: ReplyStatus, then a double
  MessageType type = MessageType::data;
  std::int32_t person = 1;  // 1..15
  double seconds = 0;       // 0 <= seconds < 60: row round(seconds / 0.004)
  std::int32_t ecg = 1;     // 1 or 2
};
struct FileRequest {  // followed by the file name and a NUL, in the same message
  MessageType type = MessageType::file;
  std::int64_t offset = 0;
  std::int32_t length = 0;  // offset 0, length 0: the reply is the file's size, an int64
};                          // else the reply is the `length` bytes at `offset`
// NEWCHANNEL: the request is a MessageType alone; the reply is the new
// channel's name (no NUL), e.g. "data1_". The server serves it in a thread
// of its own, with the same mechanism, prefix and capacity.
// QUIT: a MessageType alone; the server side of that channel ends (on the
// control channel: the whole server, once its other channels have ended).

// The most file bytes one reply can carry.
inline constexpr int max_chunk(int capacity) { return capacity - static_cast<int>(sizeof(ReplyStatus)); }

// ---- The client program --------------------------------------------------------

// Exit statuses of client_main.
enum Status : int {
  kOk = 0,
  kUsage = 2,          // a bad flag: a sentence on stderr naming it, then the usage line
  kServerFailed = 3,   // the server could not be started, or ended before the work was done
  kRequestFailed = 4,  // the server answered with an error (e.g. no such file)
  kChannelFailed = 5,  // a channel could not be made (e.g. -m too large for -i q)
  kOutputFailed = 6,   // received/... could not be written
};

// The client. Flags (each at most once):
//   -p P        person 1..15
//   -t T        seconds, 0 <= T < 60 (needs -p and -e)
//   -e E        ecg 1 or 2 (needs -p and -t)
//   -f FILE     a file of the server's; no '/' in it, and short enough that
//               its FILE request (FileRequest, the name, a NUL) fits CAP bytes
//   -m CAP      capacity, kMinCapacity..1048576 (default kDefaultCapacity)
//   -c N        extra channels, 0..100 (default 0)
//   -i f|q|s    mechanism (default f)
// What it does:
//   -p P -t T -e E   prints the value, as printf("%g\n") writes it, on stdout;
//   -p P             writes the first 1000 rows of person P into
//                    received/x1.csv, each "time,ecg1,ecg2\n" as printf("%g,%g,%g\n")
//                    writes it, time being row * 0.004;
//   -f FILE          asks the file's size, then its bytes in chunks of at most
//                    max_chunk(CAP), and writes them into received/FILE,
//                    byte-identical (received/ is made if missing). On an
//                    error reply no received/FILE is left.
//   -c N             opens N channels with NEWCHANNEL on the control channel
//                    and splits the rows (or chunks) between them, one thread
//                    per channel, every row and chunk exactly once.
// Anything else (no -p and no -f, both, -t without -e, a bad value, an
// unknown flag, a stray argument) is a usage error: nothing is started.
// Steps: remove_channel_objects for the control channel; start the server
// (fork, then exec server_command() followed by "-i X -m CAP -r PREFIX");
// open the control channel, the client side, with a PeerCheck on the server;
// do the work; QUIT every extra channel, then the control channel; reap the
// server with waitpid. When the server dies, the client says so on stderr
// (with how it ended), removes every object of the run, reaps it and returns
// kServerFailed. Ignore SIGPIPE. Every failure: a sentence on stderr.
int client_main(int argc, char** argv);

// The bundled server's command line (given: see channels_server.h).
std::vector<std::string> server_command();

}  // namespace channels
