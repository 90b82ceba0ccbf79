// Lab `channels`: hidden tests, graded but not shipped in the starter pack.
// They put the tests' own channel end (contract_peer.h), written from the
// header's wire contract, on the other side of the student's.
#include <doctest/doctest.h>

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

TEST_CASE("fifo: client -f copies a 10 MiB file byte-identically") { check_big_file('f'); }
TEST_CASE("mq: client -f copies a 10 MiB file byte-identically") { check_big_file('q'); }
TEST_CASE("shm: client -f copies a 10 MiB file byte-identically") { check_big_file('s'); }

}  // TEST_SUITE
