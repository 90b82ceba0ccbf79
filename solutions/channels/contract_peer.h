#pragma once
// The tests' own end of a channel, written from the header's wire contract
// alone (names, framing, ring layout), so a student's channel is also
// tested against an implementation that is not the student's. Plain and
// blocking: the tests' deadlines end a hang.
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include "grader/harness/fd.h"
#include "labs/channels/channels_lab.h"

namespace channels::testing {

class ContractPeer {
 public:
  ContractPeer(char mechanism, const std::filesystem::path& dir, const std::string& prefix, Side side, int capacity)
      : mechanism_(mechanism), capacity_(capacity), server_(side == Side::server) {
    const int mine_out = server_ ? 1 : 2;
    const int mine_in = server_ ? 2 : 1;
    if (mechanism == 'f') {
      paths_[0] = (dir / fifo_path(prefix, "control", 1)).string();
      paths_[1] = (dir / fifo_path(prefix, "control", 2)).string();
      for (const auto& path : paths_) {
        if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) error("mkfifo " + path);
      }
      // Direction 1 first on both sides.
      if (server_) {
        out_ = open_or_throw(paths_[0], O_WRONLY);
        in_ = open_or_throw(paths_[1], O_RDONLY);
      } else {
        in_ = open_or_throw(paths_[0], O_RDONLY);
        out_ = open_or_throw(paths_[1], O_WRONLY);
      }
    } else if (mechanism == 'q') {
      paths_[0] = mq_name(prefix, "control", 1);
      paths_[1] = mq_name(prefix, "control", 2);
      mq_attr attr{};
      attr.mq_maxmsg = kQueueDepth;
      attr.mq_msgsize = capacity;
      queue_out_ = ::mq_open(paths_[mine_out - 1].c_str(), O_WRONLY | O_CREAT, 0600, &attr);
      queue_in_ = ::mq_open(paths_[mine_in - 1].c_str(), O_RDONLY | O_CREAT, 0600, &attr);
      if (queue_out_ == static_cast<mqd_t>(-1) || queue_in_ == static_cast<mqd_t>(-1)) error("mq_open");
    } else {
      for (int d = 1; d <= 2; ++d) {
        Ring& ring = d == mine_out ? ring_out_ : ring_in_;
        ring.segment = shm_name(prefix, "control", d);
        ring.free_name = free_sem_name(prefix, "control", d);
        ring.ready_name = ready_sem_name(prefix, "control", d);
        const int fd = ::shm_open(ring.segment.c_str(), O_RDWR | O_CREAT, 0600);
        if (fd < 0) error("shm_open " + ring.segment);
        ipclab::Fd owned(fd);
        if (::ftruncate(fd, static_cast<off_t>(shm_segment_size(capacity))) != 0) error("ftruncate");
        void* at = ::mmap(nullptr, shm_segment_size(capacity), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (at == MAP_FAILED) error("mmap");
        ring.bytes = static_cast<char*>(at);
        ring.free = ::sem_open(ring.free_name.c_str(), O_CREAT, 0600, kShmSlots);
        ring.ready = ::sem_open(ring.ready_name.c_str(), O_CREAT, 0600, 0);
        if (ring.free == SEM_FAILED || ring.ready == SEM_FAILED) error("sem_open");
      }
    }
  }

  ~ContractPeer() {
    if (mechanism_ == 'q') {
      ::mq_close(queue_in_);
      ::mq_close(queue_out_);
      if (server_) {
        for (const auto& name : paths_) ::mq_unlink(name.c_str());
      }
    }
    if (mechanism_ == 'f' && server_) {
      for (const auto& path : paths_) ::unlink(path.c_str());
    }
    for (Ring* ring : {&ring_in_, &ring_out_}) {
      if (ring->bytes != nullptr) ::munmap(ring->bytes, shm_segment_size(capacity_));
      if (ring->free != nullptr && ring->free != SEM_FAILED) ::sem_close(ring->free);
      if (ring->ready != nullptr && ring->ready != SEM_FAILED) ::sem_close(ring->ready);
      if (server_ && !ring->segment.empty()) {
        ::shm_unlink(ring->segment.c_str());
        ::sem_unlink(ring->free_name.c_str());
        ::sem_unlink(ring->ready_name.c_str());
      }
    }
  }

  ContractPeer(const ContractPeer&) = delete;
  ContractPeer& operator=(const ContractPeer&) = delete;

  void send(const std::string& message) {
    if (mechanism_ == 'f') {
      const auto length = static_cast<std::int32_t>(message.size());
      std::string frame(reinterpret_cast<const char*>(&length), sizeof length);
      ipclab::write_fully(out_.get(), frame + message);
    } else if (mechanism_ == 'q') {
      if (::mq_send(queue_out_, message.data(), message.size(), 0) != 0) error("mq_send");
    } else {
      while (::sem_wait(ring_out_.free) != 0) {
        if (errno != EINTR) error("sem_wait");
      }
      auto* header = reinterpret_cast<ShmRingHeader*>(ring_out_.bytes);
      char* slot = ring_out_.slot(header->written, capacity_);
      const auto length = static_cast<std::int32_t>(message.size());
      std::memcpy(slot, &length, sizeof length);
      std::memcpy(slot + sizeof length, message.data(), message.size());
      ++header->written;
      ::sem_post(ring_out_.ready);
    }
  }

  std::string receive() {
    if (mechanism_ == 'f') {
      std::int32_t length = 0;
      read_exact(reinterpret_cast<char*>(&length), sizeof length);
      std::string message(static_cast<std::size_t>(length), '\0');
      read_exact(message.data(), message.size());
      return message;
    }
    if (mechanism_ == 'q') {
      std::string message(static_cast<std::size_t>(capacity_), '\0');
      const ssize_t n = ::mq_receive(queue_in_, message.data(), message.size(), nullptr);
      if (n < 0) error("mq_receive");
      message.resize(static_cast<std::size_t>(n));
      return message;
    }
    while (::sem_wait(ring_in_.ready) != 0) {
      if (errno != EINTR) error("sem_wait");
    }
    auto* header = reinterpret_cast<ShmRingHeader*>(ring_in_.bytes);
    const char* slot = ring_in_.slot(header->taken, capacity_);
    std::int32_t length = 0;
    std::memcpy(&length, slot, sizeof length);
    if (length < 0 || length > capacity_) throw std::runtime_error("a slot holds length " + std::to_string(length));
    std::string message(slot + sizeof length, static_cast<std::size_t>(length));
    ++header->taken;
    ::sem_post(ring_in_.free);
    return message;
  }

 private:
  struct Ring {
    std::string segment, free_name, ready_name;
    char* bytes = nullptr;
    sem_t* free = nullptr;
    sem_t* ready = nullptr;
    [[nodiscard]] char* slot(std::uint64_t n, int capacity) const {
      return bytes + sizeof(ShmRingHeader) + (n % kShmSlots) * shm_slot_size(capacity);
    }
  };

  [[noreturn]] static void error(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), "the tests' own channel end: " + what);
  }

  static ipclab::Fd open_or_throw(const std::string& path, int mode) {
    const int fd = ::open(path.c_str(), mode | O_CLOEXEC);
    if (fd < 0) error("open " + path);
    return ipclab::Fd(fd);
  }

  void read_exact(char* into, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::read(in_.get(), into + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("the FIFO ended inside a frame, or between two");
      done += static_cast<std::size_t>(n);
    }
  }

  char mechanism_;
  int capacity_;
  bool server_;
  std::string paths_[2];
  ipclab::Fd in_, out_;
  mqd_t queue_in_ = -1, queue_out_ = -1;
  Ring ring_in_, ring_out_;
};

}  // namespace channels::testing
