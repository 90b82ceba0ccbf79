// The benchmark's cases: one per subject and size, each printing one
// "ipclab-bench {...}" line (see bench.h). The grader runs them one at a
// time, each in a sandbox of its own, like the lab's tests:
//
//   bench --test-case='bench: f'          the FIFO channel, full sizes
//   bench --test-case='bench quick: s'    the SHM channel, the short run
//
// A case fails (and the grader says so) when a measurement throws: a
// channel that loses a reply has no figures.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

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

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

void print(const Figures& figures) { std::cout << figures.line() << std::flush; }

void run_baselines(const Sizes& sizes) {
  Figures figures;
  measure_baselines(sizes, figures);
  print(figures);
}

void run_channel(char mechanism, const Sizes& sizes) {
  Figures figures;
  measure_channel(mechanism, sizes, figures);
  print(figures);
}

}  // namespace

std::string Figures::line() const {
  std::ostringstream out;
  out << "ipclab-bench {\"figures\": [";
  for (std::size_t i = 0; i < figures_.size(); ++i) {
    const Figure& f = figures_[i];
    out << (i ? ", " : "") << "{\"subject\": " << quoted(f.subject) << ", \"channels\": " << f.channels
        << ", \"chunk\": " << f.chunk << ", \"metric\": " << quoted(f.metric) << ", \"value\": " << number(f.value)
        << "}";
  }
  out << "], \"skipped\": [";
  for (std::size_t i = 0; i < skipped_.size(); ++i) {
    const Skipped& s = skipped_[i];
    out << (i ? ", " : "") << "{\"subject\": " << quoted(s.subject) << ", \"chunk\": " << s.chunk
        << ", \"why\": " << quoted(s.why) << "}";
  }
  out << "]}\n";
  return out.str();
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
