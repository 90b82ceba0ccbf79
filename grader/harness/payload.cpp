#include "grader/harness/payload.h"

#include <algorithm>
#include <cstdio>

namespace ipclab {

std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  std::uint32_t state = seed * 2654435761u + 1;
  for (auto& byte : bytes) {
    state ^= state << 13;  // xorshift32: cheap, and never periodic in a test's sizes
    state ^= state >> 17;
    state ^= state << 5;
    byte = static_cast<char>(state);
  }
  return bytes;
}

std::string first_difference(const std::string& expected, const std::string& got) {
  if (expected == got) return "";
  const auto at = static_cast<std::size_t>(
      std::mismatch(expected.begin(),
                    expected.begin() + static_cast<std::ptrdiff_t>(std::min(expected.size(), got.size())), got.begin())
          .first -
      expected.begin());
  char text[160];
  std::snprintf(text, sizeof text, "expected %zu bytes, got %zu; first difference at byte %zu", expected.size(),
                got.size(), at);
  return text;
}

}  // namespace ipclab
