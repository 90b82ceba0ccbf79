// A doctest listener that sends the grader each test case's outcome, the
// run's totals and the listing of test cases, on the verdict channel
// (verdict.h). doctest's console output still goes to standard output, as
// feedback for people; the grader never reads a verdict from it.
#include <doctest/doctest.h>

#include <string>

#include "grader/harness/verdict.h"

namespace ipclab::verdict {
namespace {

std::string field(const char* name, const std::string& json) { return std::string("\"") + name + "\":" + json; }

std::string number(long long value) { return std::to_string(value); }

class Listener : public doctest::IReporter {
 public:
  explicit Listener(const doctest::ContextOptions& options) : options_(options) {}

  void report_query(const doctest::QueryData& query) override {
    if (!options_.list_test_cases) return;
    send(R"({"event":"listing","count":)" + number(query.num_data) + "}");
    // One record per case: a record must fit in one atomic write.
    for (unsigned i = 0; i < query.num_data; ++i) {
      const doctest::TestCaseData& data = *query.data[i];
      send("{" + field("event", json_string("listed")) + "," + field("name", json_string(data.m_name)) + "," +
           field("file", json_string(data.m_file.c_str())) + "}");
    }
  }

  void test_case_start(const doctest::TestCaseData& data) override {
    send("{" + field("event", json_string("start")) + "," + field("name", json_string(data.m_name)) + "}");
    name_ = data.m_name;
  }

  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    const bool passed = stats.testCaseSuccess && stats.failure_flags == 0;
    send("{" + field("event", json_string("case")) + "," + field("name", json_string(name_)) + "," +
         field("passed", passed ? "true" : "false") + "," + field("asserts", number(stats.numAssertsCurrentTest)) +
         "," + field("failed_asserts", number(stats.numAssertsFailedCurrentTest)) + "}");
  }

  void test_run_end(const doctest::TestRunStats& stats) override {
    send("{" + field("event", json_string("run")) + "," + field("cases", number(stats.numTestCasesPassingFilters)) +
         "," + field("failed", number(stats.numTestCasesFailed)) + "}");
  }

  void test_run_start() override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}

 private:
  const doctest::ContextOptions& options_;
  std::string name_;
};

REGISTER_LISTENER("ipclab-verdict", 1, Listener);

}  // namespace
}  // namespace ipclab::verdict
