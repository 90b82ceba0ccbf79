// The bundled data server (see channels_server.h). One thread per channel;
// each thread owns its channel, so a channel is only ever used by one thread
// on this side, as the channel classes expect.
#include "labs/channels/channels_server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "grader/harness/helper.h"
#include "labs/channels/channels_lab.h"

namespace channels {
namespace {

struct Config {
  char mechanism = 'f';
  int capacity = kDefaultCapacity;
  std::string prefix;
  std::chrono::microseconds delay{0};
  std::string mark;  // CHANNELS_MARK: a file made once kMarkAfter DATA requests are answered
};

// Enough requests that both sides of the control channel are surely open.
constexpr int kMarkAfter = 20;

// Tests that kill the server mid-transfer wait for this file, so the kill
// never comes before the channel is open (a FIFO open would wait for ever).
void count_answer(const Config& config) {
  static std::atomic<int> answered{0};
  if (++answered == kMarkAfter && !config.mark.empty()) std::ofstream(config.mark) << "answered\n";
}

// A reply: the status, then the answer or the sentence. One allocation, one
// copy of the body, and the string itself returned (`return
// message.append(...)` would copy it once more: append returns a reference,
// and for a 1 MiB file chunk that second copy is a large part of a reply).
std::string reply(ReplyStatus status, const void* body, std::size_t size) {
  std::string message;
  message.reserve(sizeof status + size);
  message.append(reinterpret_cast<const char*>(&status), sizeof status);
  message.append(static_cast<const char*>(body), size);
  return message;
}
std::string error_reply(const std::string& sentence) {
  return reply(ReplyStatus::error, sentence.data(), sentence.size());
}

std::string answer_data(const std::string& request, const Config& config) {
  DataRequest data;
  if (request.size() != sizeof data) return error_reply("a DATA request is " + std::to_string(sizeof data) + " bytes");
  std::memcpy(&data, request.data(), sizeof data);
  if (data.person < 1 || data.person > kPersons) return error_reply("no person " + std::to_string(data.person));
  if (data.ecg != 1 && data.ecg != 2) return error_reply("no ecg " + std::to_string(data.ecg));
  const int row = row_of(data.seconds);
  if (!(data.seconds >= 0) || row < 0 || row >= kRows) return error_reply("no data at that time");
  if (config.delay.count() > 0) std::this_thread::sleep_for(config.delay);
  const double value = ecg_value(data.person, row, data.ecg);
  count_answer(config);
  return reply(ReplyStatus::ok, &value, sizeof value);
}

// The content of a file the server offers; false when it has none by that name.
bool read_content(const std::string& name, std::string& content) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return false;
  std::ifstream file("BIMDC/" + name, std::ios::binary);
  if (file) {
    content.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    return true;
  }
  for (int person = 1; person <= kPersons; ++person) {
    if (name == std::to_string(person) + ".csv") {
      content = person_csv(person);
      return true;
    }
  }
  return false;
}

// read_content, remembered for the file asked last: a transfer asks for the
// same file once per chunk, and reading 10 MiB per chunk would be the
// benchmark's bottleneck.
std::shared_ptr<const std::string> file_content(const std::string& name) {
  static std::mutex mutex;
  static std::string cached_name;
  static std::shared_ptr<const std::string> cached;
  const std::lock_guard lock(mutex);
  if (name != cached_name || !cached) {
    auto content = std::make_shared<std::string>();
    if (!read_content(name, *content)) return nullptr;
    cached_name = name;
    cached = std::move(content);
  }
  return cached;
}

std::string answer_file(const std::string& request, const Config& config) {
  FileRequest file;
  if (request.size() < sizeof file + 1 || request.back() != '\0') {
    return error_reply("a FILE request is a FileRequest, then the file name and a NUL");
  }
  std::memcpy(&file, request.data(), sizeof file);
  const std::string name(request.c_str() + sizeof file);
  const auto shared = file_content(name);
  if (!shared) return error_reply("the server has no file named '" + name + "'");
  const std::string& content = *shared;
  const auto size = static_cast<std::int64_t>(content.size());
  if (file.offset == 0 && file.length == 0) return reply(ReplyStatus::ok, &size, sizeof size);
  if (file.offset < 0 || file.length <= 0 || file.length > max_chunk(config.capacity)) {
    return error_reply("a chunk is 1.." + std::to_string(max_chunk(config.capacity)) + " bytes at an offset >= 0");
  }
  if (file.offset + file.length > size) {
    return error_reply("bytes " + std::to_string(file.offset) + ".." + std::to_string(file.offset + file.length) +
                       " are past the end of '" + name + "' (" + std::to_string(size) + " bytes)");
  }
  return reply(ReplyStatus::ok, content.data() + file.offset, static_cast<std::size_t>(file.length));
}

class Server {
 public:
  explicit Server(Config config) : config_(std::move(config)), parent_(::getppid()) {}

  // Serves `name` until QUIT; returns a sentence when it ended otherwise.
  std::string serve(const std::string& name) {
    try {
      auto channel = make_channel(config_.mechanism, name, config_.prefix, Side::server, config_.capacity);
      const pid_t parent = parent_;
      channel->watch_peer([parent] { return ::getppid() == parent; });
      std::vector<char> buffer(static_cast<std::size_t>(config_.capacity));
      for (;;) {
        const int length = channel->cread(buffer.data(), config_.capacity);
        const std::string request(buffer.data(), static_cast<std::size_t>(length));
        MessageType type{-1};
        if (request.size() >= sizeof type) std::memcpy(&type, request.data(), sizeof type);
        if (type == MessageType::quit) return "";
        const std::string reply_message = answer(type, request);
        channel->cwrite(reply_message.data(), static_cast<int>(reply_message.size()));
      }
    } catch (const std::exception& e) {
      return "channel " + name + ": " + e.what();
    }
  }

  // Waits for every NEWCHANNEL thread; their sentences, if any.
  std::string join_all() {
    for (auto& thread : threads_) thread.join();
    return failures_;
  }

 private:
  std::string answer(MessageType type, const std::string& request) {
    switch (type) {
      case MessageType::data: return answer_data(request, config_);
      case MessageType::file: return answer_file(request, config_);
      case MessageType::new_channel: return open_channel();
      default: return error_reply("unknown request type " + std::to_string(static_cast<int>(type)));
    }
  }

  std::string open_channel() {
    const std::string name = "data" + std::to_string(++channels_) + "_";
    threads_.emplace_back([this, name] {
      const std::string failure = serve(name);
      const std::lock_guard lock(mutex_);
      if (!failure.empty()) failures_ += failure + "\n";
    });
    return reply(ReplyStatus::ok, name.data(), name.size());
  }

  Config config_;
  pid_t parent_;
  int channels_ = 0;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::string failures_;
};

int usage(const std::string& why) {
  std::cerr << "channels-server: " << why << "\nusage: channels-server -i f|q|s -m CAP -r PREFIX\n";
  return 2;
}

}  // namespace

double ecg_value(int person, int row, int ecg) {
  // A made-up heartbeat: a sharp beat every ~0.8 s (a little faster for
  // higher person numbers), a slow baseline wander, lead 2 smaller and later.
  const double t = row * kSecondsPerRow;
  const double period = 0.7 + 0.02 * person;
  const double phase = std::fmod(t + (ecg == 2 ? 0.03 : 0.0), period) / period;
  const double beat = std::exp(-std::pow((phase - 0.3) * 40.0, 2.0)) * (ecg == 1 ? 1.6 : 1.1);
  const double wave = 0.15 * std::sin(2 * M_PI * phase * 2) + 0.05 * std::sin(0.3 * t + person);
  return std::round((beat + wave - 0.2) * 1000.0) / 1000.0;
}

int row_of(double seconds) { return static_cast<int>(std::lround(seconds / kSecondsPerRow)); }

std::string person_csv(int person, int rows) {
  std::string csv;
  char line[96];
  for (int row = 0; row < rows; ++row) {
    std::snprintf(line, sizeof line, "%g,%g,%g\n", row * kSecondsPerRow, ecg_value(person, row, 1),
                  ecg_value(person, row, 2));
    csv += line;
  }
  return csv;
}

int server_main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a client gone mid-reply is an error to report, not a death
  Config config;
  int opt;
  while ((opt = ::getopt(argc, argv, "i:m:r:")) != -1) {
    if (opt == 'i' && std::strlen(optarg) == 1)
      config.mechanism = optarg[0];
    else if (opt == 'm')
      config.capacity = std::atoi(optarg);
    else if (opt == 'r')
      config.prefix = optarg;
    else
      return usage("bad option");
  }
  if (config.capacity < kMinCapacity) return usage("-m must be at least " + std::to_string(kMinCapacity));
  if (const char* delay = std::getenv("CHANNELS_DELAY_US")) config.delay = std::chrono::microseconds(std::atol(delay));
  if (const char* mark = std::getenv("CHANNELS_MARK")) config.mark = mark;
  Server server(config);
  std::string failure = server.serve("control");
  failure += server.join_all();
  if (failure.empty()) return 0;
  std::cerr << "channels-server: " << failure;
  return 1;
}

std::vector<std::string> server_command() { return ipclab::helper_command("channels-server"); }

namespace {
const ipclab::HelperRegistration registration("channels-server", server_main);
}  // namespace

}  // namespace channels
