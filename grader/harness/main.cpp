// The main of every lab test binary: doctest, plus the helper programs that
// tests exec (see helper.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "grader/harness/helper.h"

int main(int argc, char** argv) {
  if (const int status = ipclab::run_helper_if_asked(argc, argv); status >= 0) return status;
  doctest::Context context;
  context.setOption("no-path-filenames", true);  // feedback names files, not build paths
  context.applyCommandLine(argc, argv);
  return context.run();
}
