// Lab `channels`: hidden tests, graded but not shipped in the starter pack.
// They put the tests' own channel end (contract_peer.h), written from the
// header's wire contract, on the other side of the student's.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/resource.h>

#include <set>
#include <thread>

#include "grader/harness/signal_state.h"
#include "labs/channels/channels_test_support.h"
#include "solutions/channels/contract_peer.h"

using ipclab::Outcome;
using namespace channels;
using namespace channels::testing;

namespace {

// The contract's end sends the sequence and echoes nothing: one direction,
// then the other, as in the public sequence test.
std::string peer_body(char mechanism, const fs::path& dir, const std::string& prefix, Side side, int capacity,
                      const std::vector<int>& sizes) {
  ContractPeer peer(mechanism, dir, prefix, side, capacity);
  const bool receive_first = side == Side::server;
  for (int round = 0; round < 2; ++round) {
    if ((round == 0) == receive_first) {
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const std::string got = peer.receive();
        const std::string difference = ipclab::first_difference(message_number(i, sizes[i]), got);
        if (!difference.empty()) return "message " + std::to_string(i) + " to the tests' end: " + difference;
      }
    } else {
      for (std::size_t i = 0; i < sizes.size(); ++i) peer.send(message_number(i, sizes[i]));
    }
  }
  return "";
}

void check_against_contract(char mechanism, Side student_side) {
  constexpr int kCapacity = 300;
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const auto sizes = sequence_sizes(kCapacity);
  const Side peer_side = student_side == Side::server ? Side::client : Side::server;
  ipclab::Child peer([&] { return peer_body(mechanism, dir.path(), prefix, peer_side, kCapacity, sizes); });
  // The tests' end makes every object first, so the verdict never depends on
  // which process the scheduler runs first: a side that maps a segment it
  // did not size (no ftruncate) would otherwise pass or fail by chance.
  REQUIRE_MESSAGE(wait_for_paths(object_paths(mechanism, dir.path(), prefix, "control"), peer.pid()),
                  "the tests' end could not make the channel's objects: ", peer.finish(kDeadline).describe());
  auto student = start_side(dir.path(), mechanism, prefix, student_side, kCapacity, [&](RequestChannel& channel) {
    const bool receive_first = student_side == Side::server;
    for (int round = 0; round < 2; ++round) {
      const std::string problem = (round == 0) == receive_first ? receive_sequence(channel, sizes, kCapacity)
                                                                : send_sequence(channel, sizes);
      if (!problem.empty()) return problem;
    }
    return std::string();
  });
  const Outcome student_end = student->finish(kDeadline);
  const Outcome peer_end = peer.finish(kDeadline);
  scrub(mechanism, dir.path(), prefix, "control");  // the tests' end as client side removes nothing
  const char* which = student_side == Side::server ? "your server side" : "your client side";
  REQUIRE_MESSAGE(student_end.ok(), which, ": ", student_end.describe());
  REQUIRE_MESSAGE(peer_end.ok(), "the tests' end opposite ", which, ": ", peer_end.describe());
  CHECK_MESSAGE(student_end.value == "", which, ": ", student_end.value);
  CHECK_MESSAGE(peer_end.value == "", peer_end.value);
}

// ---- signals and a peer that has gone -----------------------------------------

constexpr int kSmallCapacity = 300;
// More messages than any channel of kSmallCapacity holds — a FIFO sized up
// to pipe-max-size (1 MiB), a queue of kQueueDepth, a ring of kShmSlots —
// so the side that sends them waits in cwrite while nobody reads.
constexpr int kMoreThanAChannelHolds = 4000;

// A byte the test sends a child (go) or a child sends the test (how far it
// got), so each interruption hits the call it is meant for.
void say(const ipclab::Fd& to, char what) { ipclab::write_unless_reader_ended(to.get(), std::string(1, what)); }

bool heard(const ipclab::Fd& from, char what) {
  pollfd ready{from.get(), POLLIN, 0};
  if (::poll(&ready, 1, static_cast<int>(kDeadline.count())) != 1) return false;
  char got = 0;
  return ::read(from.get(), &got, 1) == 1 && got == what;
}

// Interrupts `child` — which caught SIGUSR1 with ipclab::interrupt_on, so
// without SA_RESTART — while it waits in `call`, and checks that it waits
// again; on failure says how the child ended.
void interrupt_while_waiting(ipclab::Child& child, const std::string& call) {
  const ipclab::Blocked before = ipclab::wait_until_blocked(child.pid());
  if (!before.yes) FAIL(call, " should wait here (", before.evidence, "), but it ", child.finish(kDeadline).describe());
  ::kill(child.pid(), SIGUSR1);
  const ipclab::Blocked after = ipclab::wait_until_blocked(child.pid());
  if (!after.yes) {
    FAIL("a signal handler interrupted ", call, " while it waited (the call failed with EINTR); it should ",
         "retry and wait again, but it ", child.finish(kDeadline).describe());
  }
}

// Removes the channel's objects however the test ends (a FAIL throws, and
// the children are killed first, being declared later): the tests' end made
// them, and a side that failed must not be charged a leak besides.
struct ScrubOnExit {
  char mechanism;
  fs::path dir;
  std::string prefix;
  ~ScrubOnExit() { scrub(mechanism, dir, prefix, "control"); }
};

const char* kind_name(ChannelError::Kind kind) {
  switch (kind) {
    case ChannelError::Kind::peer_gone: return "peer_gone";
    case ChannelError::Kind::too_long: return "too_long";
    case ChannelError::Kind::too_small: return "too_small";
    case ChannelError::Kind::capacity: return "capacity";
    case ChannelError::Kind::system: return "system";
  }
  return "?";
}

// The student's client side against the tests' server end: the student's
// side waits in the FIFO open (f), then in cread, then in cwrite, and a
// signal interrupts each wait. Every message must still arrive whole.
void check_interrupted_waits(char mechanism) {
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const ScrubOnExit scrubbed{mechanism, dir.path(), prefix};
  const auto paths = object_paths(mechanism, dir.path(), prefix, "control");
  ipclab::Pipe go;
  ipclab::Pipe progress;
  auto start_peer = [&] {
    return std::make_unique<ipclab::Child>([&] {
      ContractPeer peer(mechanism, dir.path(), prefix, Side::server, kSmallCapacity);
      if (!heard(go.read, 's')) return std::string("the test never said send");
      peer.send("sent after the signal");
      if (!heard(go.read, 'r')) return std::string("the test never said read");
      for (int i = 0; i < kMoreThanAChannelHolds; ++i) {
        const std::string got = peer.receive();
        const std::string difference = ipclab::first_difference(message_number(i, kSmallCapacity), got);
        if (!difference.empty()) return "message " + std::to_string(i) + " to the tests' end: " + difference;
      }
      return std::string();
    });
  };
  std::unique_ptr<ipclab::Child> peer;
  if (mechanism == 'f') {  // the nodes exist, the tests' end is not there yet: the student's open waits
    for (const auto& path : paths) REQUIRE_MESSAGE(::mkfifo(path.c_str(), 0600) == 0, "mkfifo ", path);
  } else {
    peer = start_peer();
    REQUIRE_MESSAGE(wait_for_paths(paths, peer->pid()),
                    "the tests' end could not make the channel's objects: ", peer->finish(kDeadline).describe());
  }
  ipclab::Child student([&] {
    if (::chdir(dir.path().c_str()) != 0) return std::string("chdir failed");
    ::signal(SIGPIPE, SIG_IGN);
    ipclab::interrupt_on(SIGUSR1);  // before anything waits: the test interrupts only a waiting process
    auto channel = make_channel(mechanism, "control", prefix, Side::client, kSmallCapacity);
    say(progress.write, 'o');
    std::vector<char> buffer(kSmallCapacity);
    const int length = channel->cread(buffer.data(), kSmallCapacity);
    const std::string first(buffer.data(), static_cast<std::size_t>(std::max(length, 0)));
    if (first != "sent after the signal") return "cread returned \"" + first + "\"";
    say(progress.write, 'r');
    for (int i = 0; i < kMoreThanAChannelHolds; ++i) {
      const std::string message = message_number(i, kSmallCapacity);
      channel->cwrite(message.data(), kSmallCapacity);
    }
    if (mechanism != 'f') return std::string();
    // errno still says EINTR from the interrupted calls: end-of-file must
    // still be the peer's end, not one more interruption to retry.
    try {
      channel->cread(buffer.data(), kSmallCapacity);
      return std::string("after the tests' end closed, cread returned instead of throwing peer_gone");
    } catch (const ChannelError& e) {
      return e.kind() == ChannelError::Kind::peer_gone ? std::string()
                                                       : std::string("after the tests' end closed, cread threw ") +
                                                             kind_name(e.kind()) + ", not peer_gone";
    }
  });
  progress.write.reset();
  if (mechanism == 'f') {
    interrupt_while_waiting(student, "opening the FIFO before the other side has opened it");
    peer = start_peer();
  }
  REQUIRE_MESSAGE(heard(progress.read, 'o'), "your side was not made: ", student.finish(kDeadline).describe());
  interrupt_while_waiting(student, "cread on an empty channel");
  if (mechanism != 'f') {
    // No PeerCheck was given: several kPeerCheckMillis of waiting are still
    // no reason to give up.
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * kPeerCheckMillis + 500));
    const ipclab::Blocked still = ipclab::wait_until_blocked(student.pid());
    if (!still.yes) {
      FAIL("without a PeerCheck a ", mechanism_name(mechanism), " side waits for ever, but after ",
           2 * kPeerCheckMillis + 500, " ms of waiting in cread it ", student.finish(kDeadline).describe());
    }
  }
  say(go.write, 's');
  REQUIRE_MESSAGE(heard(progress.read, 'r'),
                  "your side's cread did not return the message: ", student.finish(kDeadline).describe());
  interrupt_while_waiting(student, "cwrite on a full channel");
  say(go.write, 'r');
  const Outcome student_end = student.finish(kDeadline);
  const Outcome peer_end = peer->finish(kDeadline);
  REQUIRE_MESSAGE(student_end.ok(), "your client side: ", student_end.describe());
  CHECK_MESSAGE(student_end.value == "", "your client side: ", student_end.value);
  REQUIRE_MESSAGE(peer_end.ok(), "the tests' end: ", peer_end.describe());
  CHECK_MESSAGE(peer_end.value == "", "after the signals, ", peer_end.value);
}

// The tests' server end is made and then ends; the student's client side
// must say peer_gone, for cread and for cwrite. Queue and shared memory
// learn it from the PeerCheck (here: always "gone"), at a wake-up.
void check_peer_gone(char mechanism) {
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const ScrubOnExit scrubbed{mechanism, dir.path(), prefix};
  const auto paths = object_paths(mechanism, dir.path(), prefix, "control");
  ipclab::Pipe made;
  ipclab::Pipe student_made;
  ipclab::Pipe end_peer;
  ipclab::Pipe go_student;
  ipclab::Child peer([&] {
    ContractPeer end(mechanism, dir.path(), prefix, Side::server, kSmallCapacity);
    say(made.write, 'm');
    return heard(end_peer.read, 'e') ? std::string() : std::string("the test never said end");
  });
  if (mechanism != 'f') {
    REQUIRE_MESSAGE(wait_for_paths(paths, peer.pid()),
                    "the tests' end could not make the channel's objects: ", peer.finish(kDeadline).describe());
  }
  auto student = start_side(dir.path(), mechanism, prefix, Side::client, kSmallCapacity, [&](RequestChannel& channel) {
    if (mechanism != 'f') channel.watch_peer([] { return false; });
    say(student_made.write, 'o');
    if (!heard(go_student.read, 'c')) return std::string("the test never said cread");
    std::string kinds;
    std::vector<char> buffer(kSmallCapacity);
    try {
      channel.cread(buffer.data(), kSmallCapacity);
      kinds += "cread returned";
    } catch (const ChannelError& e) {
      kinds += std::string("cread: ") + kind_name(e.kind());
    }
    try {
      const std::string message(kSmallCapacity, 'x');
      for (int i = 0; i < kMoreThanAChannelHolds; ++i) channel.cwrite(message.data(), kSmallCapacity);
      kinds += "; every cwrite returned";
    } catch (const ChannelError& e) {
      kinds += std::string("; cwrite: ") + kind_name(e.kind());
    }
    return kinds;
  });
  made.write.reset();
  REQUIRE_MESSAGE(heard(made.read, 'm'),
                  "the tests' end could not open the channel: ", peer.finish(kDeadline).describe());
  // Your side must be made while the tests' end is there: made after it
  // had gone, it would make objects of its own.
  REQUIRE_MESSAGE(heard(student_made.read, 'o'), "your client side was not made: ",
                  student->finish(kDeadline).describe());
  say(end_peer.write, 'e');
  const Outcome peer_end = peer.finish(kDeadline);
  say(go_student.write, 'c');
  const Outcome student_end = student->finish(kDeadline);
  REQUIRE_MESSAGE(peer_end.ok(), "the tests' end: ", peer_end.describe());
  REQUIRE_MESSAGE(student_end.ok(), "your client side: ", student_end.describe());
  CHECK_MESSAGE(student_end.value == "cread: peer_gone; cwrite: peer_gone",
                "once the other side has ended, cread and cwrite throw ChannelError kind peer_gone; got ",
                student_end.value);
}

// The student's server side, made while the tests' client end joins it;
// then the test removes the channel's objects itself, as a crashed client's
// clean-up or a TA's rm would, before the student's side is destroyed.
void check_destroyed_after_removal(char mechanism) {
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const ScrubOnExit scrubbed{mechanism, dir.path(), prefix};
  ipclab::Pipe made;
  ipclab::Pipe destroy;
  ipclab::Pipe end_peer;
  ipclab::Child student([&] {
    if (::chdir(dir.path().c_str()) != 0) return std::string("chdir failed");
    {
      auto channel = make_channel(mechanism, "control", prefix, Side::server, kSmallCapacity);
      say(made.write, 'm');
      if (!heard(destroy.read, 'd')) return std::string("the test never said destroy");
    }
    return std::string("destroyed");
  });
  const auto paths = object_paths(mechanism, dir.path(), prefix, "control");
  REQUIRE_MESSAGE(wait_for_paths(paths, student.pid()), "your server side made no channel: ",
                  student.finish(kDeadline).describe());
  ipclab::Child peer([&] {
    ContractPeer end(mechanism, dir.path(), prefix, Side::client, kSmallCapacity);
    return heard(end_peer.read, 'e') ? std::string() : std::string("the test never said end");
  });
  REQUIRE_MESSAGE(heard(made.read, 'm'), "your server side was not made: ", student.finish(kDeadline).describe());
  scrub(mechanism, dir.path(), prefix, "control");
  say(destroy.write, 'd');
  const Outcome student_end = student.finish(kDeadline);
  say(end_peer.write, 'e');
  const Outcome peer_end = peer.finish(kDeadline);
  REQUIRE_MESSAGE(student_end.ok(), "your server side, destroyed after its objects had been removed by someone else: ",
                  student_end.describe(), " — a destructor never throws (a throw out of it ends the process)");
  CHECK(student_end.value == "destroyed");
  CHECK_MESSAGE(peer_end.ok(), "the tests' end: ", peer_end.describe());
}

// The longest name whose FILE request (FileRequest, the name, a NUL) fits a
// channel of kMinCapacity bytes.
std::string longest_name() {
  const std::size_t length = kMinCapacity - sizeof(FileRequest) - 1;
  std::string name = "n";
  while (name.size() < length) name += static_cast<char>('a' + name.size() % 26);
  return name;
}

// 10 MiB takes under 2 s on an idle machine. The deadline only ends a hang:
// a grading machine that is busy (a class, a corpus, tests side by side)
// must never turn a correct copy into a time-out.
constexpr auto kBigFileDeadline = std::chrono::seconds(45);

void check_big_file(char mechanism) {
  ServerDir dir;
  const std::string content = ipclab::pattern(10u << 20, 21);
  dir.add("big.bin", content);
  ClientProcess client(dir.path(), {"-i", std::string(1, mechanism), "-f", "big.bin", "-m", "8000"});
  const ClientRun run = client.finish(kBigFileDeadline);
  REQUIRE_MESSAGE(run.returned(), run.describe());
  REQUIRE_MESSAGE(run.status == kOk, run.describe());
  const std::string got = read_file(dir.path() / "received" / "big.bin");
  CHECK_MESSAGE(got == content, "received/big.bin: ", ipclab::first_difference(content, got));
}

}  // namespace

TEST_SUITE("channels (hidden)") {

TEST_CASE("fifo: your channel talks to one written from the wire contract") {
  check_against_contract('f', Side::client);
  check_against_contract('f', Side::server);
}
TEST_CASE("mq: your channel talks to one written from the wire contract") {
  check_against_contract('q', Side::client);
  check_against_contract('q', Side::server);
}
TEST_CASE("shm: your channel talks to one written from the wire contract") {
  check_against_contract('s', Side::client);
  check_against_contract('s', Side::server);
}

TEST_CASE("fifo: the open and cread and cwrite go on waiting after a signal interrupts them") {
  check_interrupted_waits('f');
}
TEST_CASE("mq: cread and cwrite go on waiting after a signal interrupts them") { check_interrupted_waits('q'); }
TEST_CASE("shm: cread and cwrite go on waiting after a signal interrupts them") { check_interrupted_waits('s'); }

TEST_CASE("fifo: cread and cwrite throw peer_gone once the other side has ended") { check_peer_gone('f'); }
TEST_CASE("mq: cread and cwrite throw peer_gone when the PeerCheck says the other side has ended") {
  check_peer_gone('q');
}
TEST_CASE("shm: cread and cwrite throw peer_gone when the PeerCheck says the other side has ended") {
  check_peer_gone('s');
}

TEST_CASE("client -f takes the longest name a request of -m holds and refuses one byte more") {
  ServerDir dir;
  const std::string name = longest_name();
  dir.add(name, "the longest name fits");
  const std::string cap = std::to_string(kMinCapacity);
  const ClientRun fits = run_client(dir.path(), {"-f", name, "-m", cap});
  REQUIRE_MESSAGE(fits.returned(), fits.describe());
  CHECK_MESSAGE(fits.status == kOk, "a request for a ", name.size(), "-byte name is exactly ", kMinCapacity,
                " bytes, so -m ", kMinCapacity, " holds it: ", fits.describe());
  CHECK(read_file(dir.path() / "received" / name) == "the longest name fits");
  const ClientRun too_long = run_client(dir.path(), {"-f", name + "x", "-m", cap});
  REQUIRE_MESSAGE(too_long.returned(), too_long.describe());
  CHECK_MESSAGE(too_long.status == kUsage, "a name one byte longer makes a request of ", kMinCapacity + 1,
                " bytes, which -m ", kMinCapacity, " cannot carry: a usage error (status 2); ", too_long.describe());
  CHECK_MESSAGE(contains(too_long.err, "-f"), "stderr should name -f: ", too_long.describe());
}

TEST_CASE("mq: a capacity of exactly msgsize_max is carried") {
  long limit = 8192;
  std::ifstream("/proc/sys/fs/mqueue/msgsize_max") >> limit;
  ServerDir dir;
  const std::string content = ipclab::pattern(static_cast<std::size_t>(3 * limit), 5);
  dir.add("limit.bin", content);
  const ClientRun run = run_client(dir.path(), {"-i", "q", "-m", std::to_string(limit), "-f", "limit.bin"});
  REQUIRE_MESSAGE(run.returned(), run.describe());
  CHECK_MESSAGE(run.status == kOk, "-m ", limit, " is msgsize_max itself, which a queue can carry: ", run.describe());
  CHECK(read_file(dir.path() / "received" / "limit.bin") == content);
}

TEST_CASE("a received file that cannot be written is status 6") {
  ServerDir dir;
  dir.add("small.bin", ipclab::pattern(100, 6));
  ClientOptions options;
  options.file_size_limit = 10;  // every write past 10 bytes of a file fails with EFBIG
  const ClientRun run = run_client(dir.path(), {"-f", "small.bin"}, options);
  REQUIRE_MESSAGE(run.returned(), run.describe());
  CHECK_MESSAGE(run.status == kOutputFailed,
                "received/small.bin cannot hold its 100 bytes (the file size limit is 10): expected status 6 "
                "(kOutputFailed); check that the file was written, closed and flushed without error: ",
                run.describe());
}

TEST_CASE("the client ignores SIGPIPE while it runs") {
  ServerDir dir;
  ClientProcess client(dir.path(), {"-p", "1"}, with_delay(2000));  // 1000 rows, 2 ms each: 2 s at least
  const bool started =
      ipclab::eventually([&] { return server_of(client.pid()) != 0 || ipclab::has_ended(client.pid()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // well into the run, far from its end
  const auto state = ipclab::signal_state(client.pid());
  const ClientRun run = client.finish();
  REQUIRE_MESSAGE((started && state.has_value()), "the client ended before the test could look: ", run.describe());
  CHECK_MESSAGE((state->is_ignored(SIGPIPE) || state->is_blocked(SIGPIPE)),
                "the client was started with SIGPIPE at its default action, as a shell starts it, and it is still ",
                "there while the client runs (", ipclab::describe(*state), "): ignore SIGPIPE, so that a write to a ",
                "FIFO whose server has died fails with EPIPE instead of killing the client");
  CHECK_MESSAGE(run.status == kOk, run.describe());
}

TEST_CASE("mq: a side that cannot make its second queue throws and keeps no descriptor") {
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const ScrubOnExit scrubbed{'q', dir.path(), prefix};
  const Outcome outcome = ipclab::run_in_child(
      [&] {
        // Room for the bytes of one queue of 8192-byte messages, not two: the
        // second mq_open fails (EMFILE).
        const rlimit room{12000, 12000};
        if (::setrlimit(RLIMIT_MSGQUEUE, &room) != 0) return std::string("the test could not set RLIMIT_MSGQUEUE");
        const std::set<int> before = ipclab::open_descriptors();
        std::string what;
        try {
          make_channel('q', "control", prefix, Side::server, 8192);
          what = "the channel was made";
        } catch (const ChannelError& e) {
          what = std::string("ChannelError ") + kind_name(e.kind());
        }
        std::set<int> kept;
        for (const int fd : ipclab::open_descriptors()) {
          if (before.count(fd) == 0) kept.insert(fd);
        }
        return what + (kept.empty() ? "" : "; descriptors kept: " + ipclab::describe(kept));
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "ChannelError system",
                "with room for only one queue, the constructor must throw ChannelError kind system and close the ",
                "queue it had opened before it throws; got: ", outcome.value);
}

TEST_CASE("fifo: a server side whose FIFOs are gone already is destroyed without a throw") {
  check_destroyed_after_removal('f');
}
TEST_CASE("mq: a server side whose queues are gone already is destroyed without a throw") {
  check_destroyed_after_removal('q');
}
TEST_CASE("shm: a server side whose objects are gone already is destroyed without a throw") {
  check_destroyed_after_removal('s');
}

TEST_CASE("fifo: client -f copies a 10 MiB file byte-identically") { check_big_file('f'); }
TEST_CASE("mq: client -f copies a 10 MiB file byte-identically") { check_big_file('q'); }
TEST_CASE("shm: client -f copies a 10 MiB file byte-identically") { check_big_file('s'); }

}  // TEST_SUITE
