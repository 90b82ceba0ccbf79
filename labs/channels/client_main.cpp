// The client as a program of its own, to try your client_main by hand:
//
//   bazel build //labs/channels:client
//   bazel-bin/labs/channels/client -p 1 -t 0.5 -e 1 -i q
//
// It runs in the directory you start it in (files come from ./BIMDC/, and
// go to ./received/). The server it starts is this same program, run as
// the "channels-server" helper (see server_command()).
// The harness links a doctest reporter into every program that uses it, so
// doctest's implementation has to be in this one too (it is never run).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <exception>
#include <iostream>

#include "grader/harness/helper.h"
#include "labs/channels/channels_lab.h"

int main(int argc, char** argv) {
  if (const int status = ipclab::run_helper_if_asked(argc, argv); status >= 0) return status;
  try {
    return channels::client_main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "client: " << e.what() << "\n";
    return 1;
  }
}
