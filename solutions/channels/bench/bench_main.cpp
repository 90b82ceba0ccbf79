// The benchmark's cases: one per subject and size, each reporting its
// figures (see bench.h). The grader runs them one at a
// time, each in a sandbox of its own, like the lab's tests:
//
//   bench --test-case='bench: f'          the FIFO channel, full sizes
//   bench --test-case='bench quick: s'    the SHM channel, the short run
//
// A case fails (and the grader says so) when a measurement throws: a
// channel that loses a reply has no figures.
#include <doctest/doctest.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "grader/harness/verdict.h"
#include "solutions/channels/bench/bench.h"

namespace bench {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

Latency summarise(std::vector<double> round_trips_us, double wall_seconds) {
  std::sort(round_trips_us.begin(), round_trips_us.end());
  const auto at = [&](double fraction) {
    const auto index = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(round_trips_us.size()))) - 1;
    return round_trips_us[std::min(index, round_trips_us.size() - 1)];
  };
  return {at(0.50), at(0.99), static_cast<double>(round_trips_us.size()) / wall_seconds};
}

namespace {

using ipclab::verdict::json_string;

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string figure_json(const Figure& f) {
  return "{\"subject\": " + json_string(f.subject) + ", \"channels\": " + std::to_string(f.channels) +
         ", \"chunk\": " + std::to_string(f.chunk) + ", \"metric\": " + json_string(f.metric) +
         ", \"value\": " + number(f.value) + "}";
}

std::string skipped_json(const Skipped& s) {
  return "{\"subject\": " + json_string(s.subject) + ", \"chunk\": " + std::to_string(s.chunk) +
         ", \"why\": " + json_string(s.why) + "}";
}

// A record is one write below PIPE_BUF (verdict.h): one per figure, and a
// skip's reason is short.
std::string as_record(const char* event, const std::string& object) {
  return std::string("{\"event\": \"") + event + "\", " + object.substr(1);
}

// Every process of a case (the client, the server it starts, the baselines'
// two ends) runs on the one CPU the case started on: whether two processes
// happen to share a CPU or sit on two changes a round trip by more than
// the differences the benchmark is there to show, and the scheduler decides
// that afresh in every run. On one CPU, reference, submission and baselines
// all pay the same context switch per hand-over.
void pin_to_one_cpu() {
  const int cpu = ::sched_getcpu();
  if (cpu < 0) return;  // unknown: leave the case unpinned rather than fail it
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ::sched_setaffinity(0, sizeof one, &one);
}

void run_baselines(const Sizes& sizes) {
  pin_to_one_cpu();
  Figures figures;
  measure_baselines(sizes, figures);
  figures.report();
}

void run_channel(char mechanism, const Sizes& sizes) {
  pin_to_one_cpu();
  Figures figures;
  measure_channel(mechanism, sizes, figures);
  figures.report();
}

}  // namespace

void Figures::report() const {
  for (const Figure& f : figures_) ipclab::verdict::send(as_record("bench figure", figure_json(f)));
  for (const Skipped& s : skipped_) ipclab::verdict::send(as_record("bench skipped", skipped_json(s)));
  std::cout << line() << std::flush;
}

std::string Figures::line() const {
  std::string out = "ipclab-bench {\"figures\": [";
  for (std::size_t i = 0; i < figures_.size(); ++i) out += (i ? ", " : "") + figure_json(figures_[i]);
  out += "], \"skipped\": [";
  for (std::size_t i = 0; i < skipped_.size(); ++i) out += (i ? ", " : "") + skipped_json(skipped_[i]);
  return out + "]}\n";
}

}  // namespace bench

TEST_SUITE("channels bench") {
  TEST_CASE("bench: baselines") { bench::run_baselines(bench::kFull); }
  TEST_CASE("bench: f") { bench::run_channel('f', bench::kFull); }
  TEST_CASE("bench: q") { bench::run_channel('q', bench::kFull); }
  TEST_CASE("bench: s") { bench::run_channel('s', bench::kFull); }
  TEST_CASE("bench quick: baselines") { bench::run_baselines(bench::kQuick); }
  TEST_CASE("bench quick: f") { bench::run_channel('f', bench::kQuick); }
  TEST_CASE("bench quick: q") { bench::run_channel('q', bench::kQuick); }
  TEST_CASE("bench quick: s") { bench::run_channel('s', bench::kQuick); }
}
