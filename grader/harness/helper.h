#pragma once
// Every lab test binary doubles as a small helper program, so that tests can
// exec something whose behaviour they know exactly (inside a sandbox where
// no other test tool may exist):
//
//   auto stage = ipclab::helper_command("echo-fds");
//   // {"/path/to/this/test", "--ipclab-helper", "echo-fds"}
//
// Helpers:
//   echo-fds   copies stdin to stdout until EOF, then writes one line
//              "fds: 0 1 2" listing its own open descriptors.

#include <string>
#include <string_view>
#include <vector>

namespace ipclab {

// A lab may add helper programs of its own (the channels lab's data server):
//
//   const ipclab::HelperRegistration server("channels-server", server_main);
//
// at namespace scope in the lab's test library. The helper gets argv from
// the helper's name on: argv[0] is "channels-server".
using HelperMain = int (*)(int argc, char** argv);
struct HelperRegistration {
  HelperRegistration(std::string_view name, HelperMain main);
};

[[nodiscard]] std::vector<std::string> helper_command(std::string_view helper);

// Called from main: runs the helper named in argv and returns its exit
// status, or -1 when argv does not ask for a helper.
int run_helper_if_asked(int argc, char** argv);

}  // namespace ipclab
