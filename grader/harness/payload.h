#pragma once
// Test payloads that reveal lost, repeated or reordered bytes, and a
// comparison that says where two byte strings first differ.
//
//   const std::string sent = ipclab::pattern(3 << 20, /*seed=*/7);
//   CHECK_MESSAGE(got == sent, ipclab::first_difference(sent, got));

#include <cstddef>
#include <cstdint>
#include <string>

namespace ipclab {

// `size` bytes in which no 4 KiB block repeats another, so a block read twice
// or out of order never matches the expected text.
[[nodiscard]] std::string pattern(std::size_t size, std::uint32_t seed);

// "" when equal; otherwise where and how they differ, e.g.
// "expected 4194304 bytes, got 65536; first difference at byte 65536".
[[nodiscard]] std::string first_difference(const std::string& expected, const std::string& got);

}  // namespace ipclab
