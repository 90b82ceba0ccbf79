#pragma once
// The bundled data server of the channels lab (framework code: you do not
// write it, but read it — it is the other end of every conversation your
// client has). It is built against whichever channel classes the program
// links: yours in your tests, the reference's in the instructors'.
//
// Started by the client as server_command() followed by
//   -i f|q|s   the mechanism          -m CAP     the capacity
//   -r PREFIX  the run's prefix (run_prefix of the client's pid)
// it serves the channel "control" and every channel opened with NEWCHANNEL:
//   DATA        the value of one person's ecg at one time (the data set below);
//   FILE        a file's size, or a chunk of it: the files are those in
//               BIMDC/ under the working directory, plus "1.csv" .. "15.csv",
//               the whole recordings of the 15 persons, made from the formula;
//   NEWCHANNEL  a channel "data<N>_", served by a thread of its own;
//   QUIT        ends that channel (control: the server, after the others).
// A request it cannot answer gets a ReplyStatus::error reply with a sentence,
// never silence. The environment variable CHANNELS_DELAY_US (default 0) is a
// delay, in microseconds, before each DATA reply, for tests that need a run
// to last a while; CHANNELS_MARK names a file the server makes once it has
// answered 20 DATA requests, for tests that must know the run is under way.
#include <string>

namespace channels {

// The data set: 15 persons, rows 0 .. kRows-1, one every kSecondsPerRow
// seconds, two ecg leads. Computed, not stored: the same values on every
// machine and every run (three decimals, like the recordings it imitates).
inline constexpr int kPersons = 15;
inline constexpr int kRows = 15000;
inline constexpr double kSecondsPerRow = 0.004;
double ecg_value(int person, int row, int ecg);

// The row a time falls on: round(seconds / kSecondsPerRow).
int row_of(double seconds);

// Rows [0, rows) of a person, each "time,ecg1,ecg2\n" as printf("%g,%g,%g\n").
std::string person_csv(int person, int rows = kRows);

// The server itself: argv as described above, argv[0] its name.
int server_main(int argc, char** argv);

}  // namespace channels
