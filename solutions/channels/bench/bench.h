#pragma once
// The channels benchmark (./grade bench channels): what one measurement is,
// and the two halves that make them.
//
//   baselines.cpp   what the machine can do: raw pipe and message-queue
//                   ping-pong, a raw pipe stream and request/reply copy,
//                   memcpy bandwidth;
//   channels.cpp    the lab's request channels, through the bundled server,
//                   with the data delay at 0.
//
// Each doctest case of bench_main.cpp sends its figures to the grader
// (grader/bench/measure.py) on the verdict channel (grader/harness/verdict.h),
// one record per figure, and prints the same figures as one line for a
// person running the binary by hand. The grader reads only the records:
// a submission's code shares the binary and can print anything, but it
// cannot write a record without the run's token. The grader runs every case
// once per repetition, each in a sandbox of its own, and makes the
// statistics over repetitions itself; within a case, a warm-up always comes
// before what is timed.
//
//   Figures figures;
//   figures.add("pipe_pingpong", 0, "p50_us", 11.2);
//   figures.report();   // records {"event":"bench figure",...}; ipclab-bench {...}

#include <cstddef>
#include <string>
#include <vector>

#include "labs/channels/channels_lab.h"

namespace bench {

// How much work one measurement does: the full run, or the test suite's
// short one (whose figures are noisier, but have the same shape).
struct Sizes {
  int round_trips;       // timed requests per latency measurement
  int warm_up;           // untimed requests first, per channel
  long long bulk_bytes;  // bytes per throughput measurement
};
inline constexpr Sizes kFull{4000, 400, 32LL << 20};
inline constexpr Sizes kQuick{500, 100, 4LL << 20};

// The chunk sizes of every throughput measurement.
inline const std::vector<int> kChunks{4 << 10, 64 << 10, 1 << 20};

// The file every throughput measurement asks for (in BIMDC/, where the
// server looks), and the size of one FILE request for it: a FileRequest,
// the name and its NUL. The raw request/reply baseline sends requests of
// this size too.
inline constexpr char kBenchFile[] = "bench.bin";
inline constexpr std::size_t kFileRequestBytes = sizeof(channels::FileRequest) + sizeof kBenchFile;

struct Figure {
  std::string subject;  // "pipe_pingpong", "f", ...
  int channels;         // extra channels (-c); 0 for a baseline
  int chunk;            // bytes per message; 0 for a latency figure
  std::string metric;   // "p50_us", "p99_us", "rps", "mb_s"
  double value;
};

struct Skipped {
  std::string subject;
  int chunk;
  std::string why;
};

class Figures {
 public:
  void add(std::string subject, int channels, int chunk, std::string metric, double value) {
    figures_.push_back({std::move(subject), channels, chunk, std::move(metric), value});
  }
  void skip(std::string subject, int chunk, std::string why) {
    skipped_.push_back({std::move(subject), chunk, std::move(why)});
  }
  // Sends every figure and skip to the grader, then prints line().
  void report() const;
  // The figures as one line of JSON, for a person.
  [[nodiscard]] std::string line() const;

 private:
  std::vector<Figure> figures_;
  std::vector<Skipped> skipped_;
};

// Round-trip times in microseconds -> p50, p99 and requests per second.
struct Latency {
  double p50_us;
  double p99_us;
  double rps;
};
Latency summarise(std::vector<double> round_trips_us, double wall_seconds);

// MB/s (10^6 bytes per second), the unit of every throughput figure.
inline double mb_per_s(long long bytes, double seconds) { return static_cast<double>(bytes) / seconds / 1e6; }

// Seconds on the monotonic clock.
double now();

void measure_baselines(const Sizes& sizes, Figures& out);
void measure_channel(char mechanism, const Sizes& sizes, Figures& out);

}  // namespace bench
