#pragma once
// What the pipe lab's tests share: running student code in a child with a
// deadline, and running a pipeline with captured output.
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/deadline.h"
#include "grader/harness/fd.h"
#include "labs/pipe/pipe_lab.h"

namespace pipelab::testing {

using namespace std::chrono_literals;

// Reaching it means a hang: usually a write end left open.
using ipclab::kDeadline;

// What a pipeline printed and the status run_pipeline returned.
struct PipelineRun {
  ipclab::Outcome outcome;  // value: the status, as text
  std::string output;
};

// Runs run_pipeline(stages) in a child whose stdin holds `input` and whose
// stdout is captured.
inline PipelineRun run_pipeline_captured(const std::vector<std::vector<std::string>>& stages,
                                         const std::string& input = "") {
  ipclab::Fd in = ipclab::memory_file("stdin");
  ipclab::write_fully(in.get(), input);
  ::lseek(in.get(), 0, SEEK_SET);
  ipclab::Fd out = ipclab::memory_file("stdout");
  PipelineRun run;
  run.outcome = ipclab::run_in_child(
      [&] {
        ::dup2(in.get(), STDIN_FILENO);
        ::dup2(out.get(), STDOUT_FILENO);
        return std::to_string(run_pipeline(stages));
      },
      kDeadline);
  run.output = ipclab::content_of(out.get());
  return run;
}

}  // namespace pipelab::testing
