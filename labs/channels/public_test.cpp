// Lab `channels`: the public tests. Each test case is one graded behaviour;
// its points and hint are in lab.toml. Run them with `./grade channels`.
//
// Your code always runs in child processes. Part 1's tests put your server
// side and your client side of a channel in two processes; Part 3's run your
// client_main, which starts the bundled server (built against your channel
// classes). The hidden tests also put a channel of the tests' own, written
// from the header's wire contract, on the other end.
#include <doctest/doctest.h>

#include "grader/harness/verdict.h"
#include "labs/channels/channels_test_support.h"

using ipclab::Outcome;
using namespace channels;
using namespace channels::testing;

namespace {

// ---- Part 1: one channel, two processes ---------------------------------------

// Sends the sequence from the client side to the server side, then another
// from the server side back; "" when both arrived whole and in order.
void check_sequences(char mechanism) {
  constexpr int kCapacity = 700;
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const auto sizes = sequence_sizes(kCapacity);
  auto server = start_side(dir.path(), mechanism, prefix, Side::server, kCapacity, [&](RequestChannel& channel) {
    const std::string received = receive_sequence(channel, sizes, kCapacity);
    if (!received.empty()) return "client to server: " + received;
    return send_sequence(channel, sizes);
  });
  auto client = start_side(dir.path(), mechanism, prefix, Side::client, kCapacity, [&](RequestChannel& channel) {
    const std::string sent = send_sequence(channel, sizes);
    if (!sent.empty()) return "client: " + sent;
    const std::string received = receive_sequence(channel, sizes, kCapacity);
    return received.empty() ? received : "server to client: " + received;
  });
  const Outcome client_end = client->finish(kDeadline);
  const Outcome server_end = server->finish(kDeadline);
  // Two sides asleep in open() at their deadlines: the opens deadlocked,
  // whatever a timeout alone would suggest. Said before either REQUIRE stops.
  const bool opens_deadlocked = client_end.blocked_in_fifo_open && server_end.blocked_in_fifo_open;
  if (opens_deadlocked) ipclab::verdict::observed("both sides blocked in open");
  INFO((opens_deadlocked ? "both sides were blocked in open() of a FIFO, each waiting for the other to open "
                           "the FIFO it opened first; the client side: " + client_end.describe()
                         : std::string("the client side: ") + client_end.describe()));
  REQUIRE_RETURNED(server_end, "the server side: ");
  REQUIRE_RETURNED(client_end, "the client side: ");
  CHECK_MESSAGE(server_end.value == "", server_end.value);
  CHECK_MESSAGE(client_end.value == "", client_end.value);
}

// cread on an empty channel must sleep until a message comes.
void check_cread_blocks(char mechanism) {
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  ipclab::Pipe go;
  auto reader = start_side(dir.path(), mechanism, prefix, Side::server, 128, [](RequestChannel& channel) {
    char buffer[128];
    const int length = channel.cread(buffer, sizeof buffer);
    return std::string(buffer, static_cast<std::size_t>(std::max(length, 0)));
  });
  auto writer = start_side(dir.path(), mechanism, prefix, Side::client, 128, [&](RequestChannel& channel) {
    go.write.reset();
    char byte;
    if (::read(go.read.get(), &byte, 1) != 1) return std::string("no go signal");
    channel.cwrite("wake up", 7);
    return std::string();
  });
  go.read.reset();
  const ipclab::Blocked blocked = ipclab::wait_until_blocked(reader->pid());
  CHECK_MESSAGE(blocked.yes, "cread on an empty channel must sleep in the kernel: ", blocked.evidence);
  ipclab::write_fully(go.write.get(), "g");
  const Outcome read = reader->finish(kDeadline);
  REQUIRE_RETURNED(read, "the reading side: ");
  CHECK(read.value == "wake up");
  const Outcome written = writer->finish(kDeadline);
  CHECK_MESSAGE(written.ok(), "the writing side: ", written.describe());
}

// The server side removes every object; the client side removes none.
void check_channel_cleanup(char mechanism) {
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  const auto before = ipclab::IpcObjects::now();
  const auto paths = object_paths(mechanism, dir.path(), prefix, "control");
  ipclab::Pipe client_done;
  auto server = start_side(dir.path(), mechanism, prefix, Side::server, 256, [&](RequestChannel& channel) {
    char buffer[256];
    channel.cread(buffer, sizeof buffer);
    client_done.write.reset();
    char byte;  // waits for the test to look, after the client side is gone
    if (::read(client_done.read.get(), &byte, 1) != 1) return std::string("no signal from the test");
    return std::string();
  });
  auto client = start_side(dir.path(), mechanism, prefix, Side::client, 256, [](RequestChannel& channel) {
    channel.cwrite("bye", 3);
    return std::string();
  });
  const Outcome client_end = client->finish(kDeadline);
  REQUIRE_RETURNED(client_end, "the client side: ");
  client_done.read.reset();
  std::vector<std::string> missing;
  for (const auto& path : paths) {
    if (!fs::exists(path)) missing.push_back(path);
  }
  CHECK_MESSAGE(missing.empty(), "the client side's destructor must remove nothing (the server side still uses them), "
                "but these are gone: ", ipclab::leak_report("removed", missing));
  ipclab::write_fully(client_done.write.get(), "g");
  const Outcome server_end = server->finish(kDeadline);
  REQUIRE_RETURNED(server_end, "the server side: ");
  const auto left = objects_left(before, dir.path());
  CHECK_MESSAGE(left.empty(), "once the server side is destroyed: ", describe_left(left));
}

// ---- Part 3: the client program ---------------------------------------------

void check_one_point(char mechanism) {
  ServerDir dir;
  for (const auto& [person, seconds, ecg] : {std::tuple{3, "1.5", 2}, std::tuple{15, "59.996", 1}}) {
    const ClientRun run = run_client(dir.path(), {"-i", std::string(1, mechanism), "-p", std::to_string(person),
                                                  "-t", seconds, "-e", std::to_string(ecg)});
    REQUIRE_MESSAGE(run.returned(), run.describe());
    REQUIRE_MESSAGE(run.status == kOk, run.describe());
    CHECK_MESSAGE(run.out == expected_point(person, std::atof(seconds), ecg),
                  "-p ", person, " -t ", seconds, " -e ", ecg, ": expected ", expected_point(person, std::atof(seconds), ecg),
                  "got '", run.out, "'");
  }
}

void check_thousand_points(char mechanism, const std::vector<std::string>& extra = {}) {
  ServerDir dir;
  std::vector<std::string> args = {"-i", std::string(1, mechanism), "-p", "5"};
  args.insert(args.end(), extra.begin(), extra.end());
  const ClientRun run = run_client(dir.path(), args);
  REQUIRE_MESSAGE(run.returned(), run.describe());
  REQUIRE_MESSAGE(run.status == kOk, run.describe());
  const std::string got = read_file(dir.path() / "received" / "x1.csv");
  CHECK_MESSAGE(got == person_csv(5, 1000), "received/x1.csv: ", ipclab::first_difference(person_csv(5, 1000), got));
}

// Copies `content` with the client; "" when received/NAME is identical.
std::string copy_file(char mechanism, const std::string& name, const std::string& content,
                      const std::vector<std::string>& extra = {}) {
  ServerDir dir;
  dir.add(name, content);
  std::vector<std::string> args = {"-i", std::string(1, mechanism), "-f", name};
  args.insert(args.end(), extra.begin(), extra.end());
  const ClientRun run = run_client(dir.path(), args);
  if (!run.returned() || run.status != kOk) return name + ": " + run.describe();
  const std::string got = read_file(dir.path() / "received" / name);
  const std::string difference = ipclab::first_difference(content, got);
  return difference.empty() ? "" : "received/" + name + ": " + difference;
}

void check_file_sizes(char mechanism) {
  const int chunk = max_chunk(kDefaultCapacity);
  for (int size : {0, 1, chunk - 1, chunk, chunk + 1, kDefaultCapacity, kDefaultCapacity + 1, 5 * chunk + 3}) {
    const std::string name = "file" + std::to_string(size) + ".bin";
    const std::string problem = copy_file(mechanism, name, ipclab::pattern(static_cast<std::size_t>(size), 9));
    CHECK_MESSAGE(problem == "", "a file of ", size, " bytes with -m ", kDefaultCapacity, ": ", problem);
  }
  // A whole recording, from the data set.
  ServerDir dir;
  const ClientRun run = run_client(dir.path(), {"-i", std::string(1, mechanism), "-f", "7.csv", "-m", "4096"});
  REQUIRE_MESSAGE(run.returned(), run.describe());
  REQUIRE_MESSAGE(run.status == kOk, run.describe());
  CHECK_MESSAGE(read_file(dir.path() / "received" / "7.csv") == person_csv(7), "received/7.csv differs");
}

void check_new_channels(char mechanism) {
  // 10 channels, 1000 rows: each gets 100. 7 channels: 1000 is no multiple of 7.
  check_thousand_points(mechanism, {"-c", "10"});
  check_thousand_points(mechanism, {"-c", "7"});
  const int chunk = max_chunk(kDefaultCapacity);
  const std::string problem =
      copy_file(mechanism, "split.bin", ipclab::pattern(static_cast<std::size_t>(10 * chunk + 7), 4), {"-c", "10"});
  CHECK_MESSAGE(problem == "", "-c 10 -f split.bin (11 chunks): ", problem);
}

// After a normal run: no object, no FIFO, no zombie.
void check_client_cleanup(char mechanism) {
  ServerDir dir;
  const auto before = ipclab::IpcObjects::now();
  for (const std::vector<std::string>& args : {std::vector<std::string>{"-p", "2", "-t", "0.5", "-e", "1"},
                                               std::vector<std::string>{"-p", "2", "-c", "3"}}) {
    std::vector<std::string> all = {"-i", std::string(1, mechanism)};
    all.insert(all.end(), args.begin(), args.end());
    const ClientRun run = run_client(dir.path(), all);
    REQUIRE_MESSAGE(run.returned(), run.describe());
    REQUIRE_MESSAGE(run.status == kOk, run.describe());
    CHECK_MESSAGE(run.children == "", "the server must be reaped (waitpid) before client_main returns: ",
                  run.children);
    const auto left = objects_left(before, dir.path());
    CHECK_MESSAGE(left.empty(), "after a normal run: ", describe_left(left),
                  " (QUIT every channel: the server side removes the objects)");
  }
}

// The objects of the mechanism chosen, observed while a transfer runs.
void check_mechanism_used(char mechanism) {
  ServerDir dir;
  const auto before = ipclab::IpcObjects::now();
  // 3 ms a request: the objects live for seconds, seen even on a loaded machine.
  ClientProcess client(dir.path(), {"-i", std::string(1, mechanism), "-p", "4", "-c", "2"}, with_delay(3000));
  const auto control = object_paths(mechanism, dir.path(), client.prefix(), "control");
  const auto data1 = object_paths(mechanism, dir.path(), client.prefix(), "data1_");
  std::vector<std::string> wanted = control;
  wanted.insert(wanted.end(), data1.begin(), data1.end());
  const bool seen = wait_for_paths(wanted, client.pid());
  std::string attributes;  // a queue's attributes, as the wire contract fixes them
  if (mechanism == 'q' && seen) {
    const mqd_t queue = ::mq_open(mq_name(client.prefix(), "control", 1).c_str(), O_RDONLY);
    mq_attr attr{};
    if (queue != static_cast<mqd_t>(-1) && ::mq_getattr(queue, &attr) == 0 &&
        (attr.mq_maxmsg != kQueueDepth || attr.mq_msgsize != kDefaultCapacity)) {
      attributes = "mq_maxmsg " + std::to_string(attr.mq_maxmsg) + " and mq_msgsize " +
                   std::to_string(attr.mq_msgsize) + ", not kQueueDepth and the capacity (" +
                   std::to_string(kDefaultCapacity) + ")";
    }
    if (queue != static_cast<mqd_t>(-1)) ::mq_close(queue);
  }
  std::vector<std::string> others;
  for (const auto& path : objects_left(before, dir.path())) {
    if (std::find(wanted.begin(), wanted.end(), path) == wanted.end() && !contains(path, "data2_") &&
        !is_sem_open_scratch(path)) {
      others.push_back(path);
    }
  }
  const ClientRun run = client.finish();
  const std::string flag(1, mechanism);
  const std::string kind = mechanism_name(mechanism);
  CHECK_MESSAGE(seen, "while the client ran -i ", flag, ", these ", kind, " objects should exist: ",
                ipclab::leak_report("expected", wanted), "; the client: ", run.describe());
  CHECK_MESSAGE(others.empty(), "-i ", flag, " uses ", kind, " objects only, named as in the header; also found: ",
                ipclab::leak_report("other objects", others));
  CHECK_MESSAGE(attributes == "", "the control channel's queue has ", attributes);
  CHECK_MESSAGE(run.status == kOk, run.describe());
}

// The server is killed mid-transfer: the client says so, cleans up, reaps.
void check_server_killed(char mechanism) {
  ServerDir dir;
  const auto before = ipclab::IpcObjects::now();
  const std::string mark = (dir.path() / "under-way").string();
  ClientProcess client(dir.path(), {"-i", std::string(1, mechanism), "-p", "6"}, with_delay(3000, mark));
  // Killed only once it has answered requests: both sides are open by then.
  const bool running = wait_for_paths({mark}, client.pid());
  const pid_t server = server_of(client.pid());
  if (server > 0) ::kill(server, SIGKILL);
  const ClientRun run = client.finish();
  REQUIRE_MESSAGE(running, "the transfer never got going: ", run.describe());
  REQUIRE_MESSAGE(run.returned(), "with the server killed, the client must notice and return: ", run.describe());
  CHECK_MESSAGE(run.status == kServerFailed, "expected status ", static_cast<int>(kServerFailed),
                " (kServerFailed): ", run.describe());
  CHECK_MESSAGE(contains(run.err, "server"), "stderr should say that the server ended: ", run.describe());
  CHECK_MESSAGE(run.children == "", "the dead server must still be reaped: ", run.children);
  const auto left = objects_left(before, dir.path());
  CHECK_MESSAGE(left.empty(), "with the server gone, the client removes every object of the run: ",
                describe_left(left));
}

// Objects under the control channel's names, as a crashed run may leave them.
void make_stale_objects(char mechanism, const fs::path& dir, const std::string& prefix) {
  for (int d = 1; d <= 2; ++d) {
    if (mechanism == 'f') write_file(dir / fifo_path(prefix, "control", d), "not a FIFO");
    if (mechanism == 'q') {
      mq_attr attr{};
      attr.mq_maxmsg = 1;
      attr.mq_msgsize = 8;  // too small for any request
      const mqd_t queue = ::mq_open(mq_name(prefix, "control", d).c_str(), O_WRONLY | O_CREAT, 0600, &attr);
      if (queue != static_cast<mqd_t>(-1)) {
        ::mq_send(queue, "stale!!", 8, 0);
        ::mq_close(queue);
      }
    }
    if (mechanism == 's') {
      // No slot free, and data "ready" that is not there.
      for (const auto& [name, value] : {std::pair{free_sem_name(prefix, "control", d), 0u},
                                        std::pair{ready_sem_name(prefix, "control", d), 1u}}) {
        sem_t* sem = ::sem_open(name.c_str(), O_CREAT, 0600, value);
        if (sem != SEM_FAILED) ::sem_close(sem);
      }
      const int fd = ::shm_open(shm_name(prefix, "control", d).c_str(), O_RDWR | O_CREAT, 0600);
      if (fd >= 0) {
        (void)!::ftruncate(fd, 3);  // the wrong size
        ::close(fd);
      }
    }
  }
}

void check_stale_objects(char mechanism) {
  ServerDir dir;
  const auto before = ipclab::IpcObjects::now();
  ClientProcess client(dir.path(), {"-i", std::string(1, mechanism), "-p", "9", "-t", "2", "-e", "1"},
                       waiting_for_go());
  make_stale_objects(mechanism, dir.path(), client.prefix());
  client.go();
  const ClientRun run = client.finish();
  const auto left = objects_left(before, dir.path());
  scrub(mechanism, dir.path(), client.prefix(), "control");  // the test's own stale objects, if still there
  REQUIRE_MESSAGE(run.returned(), "objects left by a crashed run under the same names: ", run.describe());
  CHECK_MESSAGE(run.status == kOk, run.describe());
  CHECK(run.out == expected_point(9, 2, 1));
  CHECK_MESSAGE(left.empty(), describe_left(left));
}

}  // namespace

TEST_SUITE("channels") {

// ---- Part 1 ----------------------------------------------------------------------

TEST_CASE("fifo: every message size up to the capacity arrives whole and in order") { check_sequences('f'); }
TEST_CASE("mq: every message size up to the capacity arrives whole and in order") { check_sequences('q'); }
TEST_CASE("shm: every message size up to the capacity arrives whole and in order") { check_sequences('s'); }

TEST_CASE("fifo: cread on an empty channel blocks without using the CPU") { check_cread_blocks('f'); }
TEST_CASE("mq: cread on an empty channel blocks without using the CPU") { check_cread_blocks('q'); }
TEST_CASE("shm: cread on an empty channel blocks without using the CPU") { check_cread_blocks('s'); }

TEST_CASE("fifo: the server side removes the channel's objects and the client side none") { check_channel_cleanup('f'); }
TEST_CASE("mq: the server side removes the channel's objects and the client side none") { check_channel_cleanup('q'); }
TEST_CASE("shm: the server side removes the channel's objects and the client side none") { check_channel_cleanup('s'); }

TEST_CASE("channel errors: a message too long or too small and an unknown mechanism") {
  ipclab::ScratchDir dir;
  for (const char mechanism : {'f', 'q', 's'}) {
    const std::string prefix = test_prefix();
    auto server = start_side(dir.path(), mechanism, prefix, Side::server, 100, [](RequestChannel& channel) {
      char buffer[100];
      std::string result;
      try {
        channel.cread(buffer, 10);  // the 50-byte message does not fit
        result += "no error;";
      } catch (const ChannelError& e) {
        result += e.kind() == ChannelError::Kind::too_small ? "too_small;" : "another kind;";
      }
      const int length = channel.cread(buffer, sizeof buffer);  // the next one does
      return result + std::to_string(length);
    });
    auto client = start_side(dir.path(), mechanism, prefix, Side::client, 100, [](RequestChannel& channel) {
      std::string result;
      const std::string big(101, 'x');
      try {
        channel.cwrite(big.data(), 101);
        result += "no error;";
      } catch (const ChannelError& e) {
        result += e.kind() == ChannelError::Kind::too_long ? "too_long;" : "another kind;";
      }
      channel.cwrite(big.data(), 50);
      channel.cwrite(big.data(), 7);
      return result;
    });
    const Outcome client_end = client->finish(kDeadline);
    const Outcome server_end = server->finish(kDeadline);
    INFO("-i ", std::string(1, mechanism));
    REQUIRE_RETURNED(client_end);
    REQUIRE_RETURNED(server_end);
    CHECK_MESSAGE(client_end.value == "too_long;", "cwrite of 101 bytes on a channel of capacity 100: ",
                  client_end.value);
    CHECK_MESSAGE(server_end.value == "too_small;7", "cread of a 50-byte message into 10 bytes, then of a 7-byte one: ",
                  server_end.value);
  }
  const Outcome unknown = ipclab::run_in_child(
      [] {
        const bool threw = ipclab::threw<std::invalid_argument>([&] { make_channel('x', "control", test_prefix(), Side::server, 100); });
        return std::string(threw ? "invalid_argument" : "no exception");
      },
      kDeadline);
  CHECK_MESSAGE(unknown.value == "invalid_argument", "make_channel('x', ...): ", unknown.describe());
}

TEST_CASE("mq: a capacity above msgsize_max is refused with a sentence naming the limit") {
  long limit = 8192;
  std::ifstream("/proc/sys/fs/mqueue/msgsize_max") >> limit;
  ipclab::ScratchDir dir;
  const auto before = ipclab::IpcObjects::now();
  const Outcome refused = ipclab::run_in_child(
      [&] {
        try {
          make_channel('q', "control", test_prefix(), Side::server, static_cast<int>(limit) + 1);
        } catch (const ChannelError& e) {
          return std::string(e.kind() == ChannelError::Kind::capacity ? "capacity: " : "another kind: ") + e.what();
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(refused);
  CHECK_MESSAGE(contains(refused.value, "capacity: "), "expected ChannelError kind capacity: ", refused.value);
  CHECK_MESSAGE(contains(refused.value, std::to_string(limit)), "the sentence names the limit, ", limit, ": ",
                refused.value);
  CHECK_MESSAGE(contains(refused.value, "/proc/sys/fs/mqueue/msgsize_max"),
                "the sentence says where the limit is set: ", refused.value);
  const ClientRun run = run_client(dir.path(), {"-i", "q", "-m", std::to_string(limit + 1), "-p", "1", "-t", "0",
                                                "-e", "1"});
  REQUIRE_MESSAGE(run.returned(), run.describe());
  CHECK_MESSAGE(run.status == kChannelFailed, "the client with -i q -m ", limit + 1, ": ", run.describe());
  CHECK_MESSAGE(contains(run.err, "/proc/sys/fs/mqueue/msgsize_max"), run.describe());
  CHECK_MESSAGE(run.children == "", run.children);
  const auto left = objects_left(before, dir.path());
  CHECK_MESSAGE(left.empty(), describe_left(left));
}

TEST_CASE("shm: a segment holds a ring of kShmSlots messages laid out as the header says") {
  constexpr int kCapacity = 100;
  ipclab::ScratchDir dir;
  const std::string prefix = test_prefix();
  ipclab::Pipe go;
  auto reader = start_side(dir.path(), 's', prefix, Side::server, kCapacity, [&](RequestChannel& channel) {
    go.write.reset();
    char byte;
    if (::read(go.read.get(), &byte, 1) != 1) return std::string("no go");
    return receive_sequence(channel, std::vector<int>(kShmSlots + 1, 10), kCapacity);
  });
  std::vector<int> sizes(kShmSlots + 1, 10);
  auto writer = start_side(dir.path(), 's', prefix, Side::client, kCapacity,
                           [&](RequestChannel& channel) { return send_sequence(channel, sizes); });
  go.read.reset();
  // kShmSlots messages fit with nobody reading; the one after must wait.
  const ipclab::Blocked blocked = ipclab::wait_until_blocked(writer->pid());
  std::string layout;
  const int fd = ::shm_open(shm_name(prefix, "control", 2).c_str(), O_RDONLY, 0);
  if (fd < 0) {
    layout = "no segment " + shm_name(prefix, "control", 2);
  } else {
    struct stat info{};
    ::fstat(fd, &info);
    if (static_cast<std::size_t>(info.st_size) != shm_segment_size(kCapacity)) {
      layout = "the segment is " + std::to_string(info.st_size) + " bytes, not shm_segment_size(" +
               std::to_string(kCapacity) + ") = " + std::to_string(shm_segment_size(kCapacity));
    } else {
      void* base = ::mmap(nullptr, shm_segment_size(kCapacity), PROT_READ, MAP_SHARED, fd, 0);
      const auto* header = static_cast<const ShmRingHeader*>(base);
      if (header->written != kShmSlots) layout = "ShmRingHeader::written is " + std::to_string(header->written);
      for (int i = 0; i < kShmSlots && layout.empty(); ++i) {
        const char* slot = static_cast<const char*>(base) + sizeof(ShmRingHeader) + i * shm_slot_size(kCapacity);
        std::int32_t length = 0;
        std::memcpy(&length, slot, sizeof length);
        if (length != 10 || std::string(slot + 4, 10) != message_number(static_cast<std::size_t>(i), 10)) {
          layout = "slot " + std::to_string(i) + " does not hold message " + std::to_string(i) + " (length " +
                   std::to_string(length) + ")";
        }
      }
      ::munmap(base, shm_segment_size(kCapacity));
    }
    ::close(fd);
  }
  ipclab::write_fully(go.write.get(), "g");
  const Outcome written = writer->finish(kDeadline);
  const Outcome read = reader->finish(kDeadline);
  CHECK_MESSAGE(blocked.yes, "with ", kShmSlots, " messages waiting, the next cwrite waits on \"slot free\": ",
                blocked.evidence);
  CHECK_MESSAGE(layout == "", "the ring while ", kShmSlots, " messages wait: ", layout);
  CHECK_MESSAGE((written.ok() && written.value.empty()), "the writer: ", written.describe(), " ", written.value);
  CHECK_MESSAGE((read.ok() && read.value.empty()), "the reader: ", read.describe(), " ", read.value);
}

// ---- Part 3 ----------------------------------------------------------------------

TEST_CASE("fifo: client -p -t -e prints the data point") { check_one_point('f'); }
TEST_CASE("mq: client -p -t -e prints the data point") { check_one_point('q'); }
TEST_CASE("shm: client -p -t -e prints the data point") { check_one_point('s'); }

TEST_CASE("fifo: client -p writes the first 1000 rows into received/x1.csv") { check_thousand_points('f'); }
TEST_CASE("mq: client -p writes the first 1000 rows into received/x1.csv") { check_thousand_points('q'); }
TEST_CASE("shm: client -p writes the first 1000 rows into received/x1.csv") { check_thousand_points('s'); }

TEST_CASE("fifo: client -f copies files of every edge size byte-identically") { check_file_sizes('f'); }
TEST_CASE("mq: client -f copies files of every edge size byte-identically") { check_file_sizes('q'); }
TEST_CASE("shm: client -f copies files of every edge size byte-identically") { check_file_sizes('s'); }

TEST_CASE("fifo: client -c splits the work over new channels with every row and chunk once") { check_new_channels('f'); }
TEST_CASE("mq: client -c splits the work over new channels with every row and chunk once") { check_new_channels('q'); }
TEST_CASE("shm: client -c splits the work over new channels with every row and chunk once") { check_new_channels('s'); }

TEST_CASE("fifo: after a run nothing is left: no object or FIFO or zombie") { check_client_cleanup('f'); }
TEST_CASE("mq: after a run nothing is left: no object or FIFO or zombie") { check_client_cleanup('q'); }
TEST_CASE("shm: after a run nothing is left: no object or FIFO or zombie") { check_client_cleanup('s'); }

TEST_CASE("fifo: the client's channels are FIFOs named as the header says") { check_mechanism_used('f'); }
TEST_CASE("mq: the client's channels are message queues named as the header says") { check_mechanism_used('q'); }
TEST_CASE("shm: the client's channels are shared memory named as the header says") { check_mechanism_used('s'); }

TEST_CASE("fifo: a server killed mid-transfer is reported and nothing is left") { check_server_killed('f'); }
TEST_CASE("mq: a server killed mid-transfer is reported and nothing is left") { check_server_killed('q'); }
TEST_CASE("shm: a server killed mid-transfer is reported and nothing is left") { check_server_killed('s'); }

TEST_CASE("objects left by a crashed run under the same names do not disturb the next") {
  for (const char mechanism : {'f', 'q', 's'}) {
    INFO("-i ", std::string(1, mechanism));
    check_stale_objects(mechanism);
  }
}

TEST_CASE("two clients side by side never meet") {
  for (const char mechanism : {'q', 's'}) {
    ServerDir first;
    ServerDir second;
    // 1000 rows at 2 ms each: the two runs overlap by seconds, however long
    // the second takes to start on a busy machine.
    ClientProcess one(first.path(), {"-i", std::string(1, mechanism), "-p", "11"}, with_delay(2000));
    ClientProcess two(second.path(), {"-i", std::string(1, mechanism), "-p", "12"}, with_delay(2000));
    const ClientRun run_one = one.finish();
    const ClientRun run_two = two.finish();
    INFO("-i ", std::string(1, mechanism));
    REQUIRE_MESSAGE(run_one.status == kOk, "the first client: ", run_one.describe());
    REQUIRE_MESSAGE(run_two.status == kOk, "the second client: ", run_two.describe());
    CHECK_MESSAGE(read_file(first.path() / "received/x1.csv") == person_csv(11, 1000), "the first client's rows");
    CHECK_MESSAGE(read_file(second.path() / "received/x1.csv") == person_csv(12, 1000), "the second client's rows");
  }
}

TEST_CASE("every bad flag gets a sentence naming it and status 2 and nothing is started") {
  ServerDir dir;
  const auto before = ipclab::IpcObjects::now();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "-p"},
      {{"-p", "16"}, "-p"},
      {{"-p", "0"}, "-p"},
      {{"-p", "two"}, "-p"},
      {{"-p"}, "-p"},
      {{"-p", "1", "-t", "1"}, "-e"},
      {{"-p", "1", "-e", "1"}, "-t"},
      {{"-p", "1", "-t", "60", "-e", "1"}, "-t"},
      {{"-p", "1", "-t", "1", "-e", "3"}, "-e"},
      {{"-p", "1", "-f", "1.csv"}, "-f"},
      {{"-f", "../secret"}, "-f"},
      {{"-p", "1", "-m", "10"}, "-m"},
      {{"-p", "1", "-m", std::to_string(kMinCapacity - 1)}, "-m"},
      {{"-p", "1", "-m", "1048577"}, "-m"},
      {{"-p", "1", "-c", "-1"}, "-c"},
      {{"-p", "1", "-i", "x"}, "-i"},
      {{"-p", "1", "-z"}, "-z"},
      {{"-p", "1", "stray"}, "stray"},
      {{"-p", "1", "-p", "2"}, "-p"},
  };
  for (const auto& [args, named] : cases) {
    std::string command = "client";
    for (const auto& arg : args) command += " " + arg;
    INFO(command);
    const ClientRun run = run_client(dir.path(), args);
    REQUIRE_MESSAGE(run.returned(), run.describe());
    CHECK_MESSAGE(run.status == kUsage, "expected status 2 (kUsage): ", run.describe());
    CHECK_MESSAGE(contains(run.err, named), "stderr should name ", named, ": ", run.describe());
    CHECK_MESSAGE(contains(run.err, "usage"), "stderr should end with the usage line: ", run.describe());
  }
  CHECK_MESSAGE(!fs::exists(dir.path() / "received"), "a usage error starts nothing and writes nothing");
  const auto left = objects_left(before, dir.path());
  CHECK_MESSAGE(left.empty(), describe_left(left));
}

TEST_CASE("a missing file is an error reply with status 4 and no partial file") {
  for (const char mechanism : {'f', 'q', 's'}) {
    INFO("-i ", std::string(1, mechanism));
    ServerDir dir;
    const auto before = ipclab::IpcObjects::now();
    const ClientRun run = run_client(dir.path(), {"-i", std::string(1, mechanism), "-f", "nosuch.bin"});
    REQUIRE_MESSAGE(run.returned(), run.describe());
    CHECK_MESSAGE(run.status == kRequestFailed, "expected status 4 (kRequestFailed): ", run.describe());
    CHECK_MESSAGE(contains(run.err, "nosuch.bin"), "stderr should name the file: ", run.describe());
    CHECK_MESSAGE(!fs::exists(dir.path() / "received" / "nosuch.bin"), "no received/nosuch.bin may be left");
    CHECK_MESSAGE(run.children == "", run.children);
    const auto left = objects_left(before, dir.path());
    CHECK_MESSAGE(left.empty(), describe_left(left));
  }
}

}  // TEST_SUITE
