#include "coordinator/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "fmt/format.h"

namespace fedrec {
namespace {

std::string LockFile(const std::string& dir) { return dir + "/.lock"; }

std::string ReadTag(int fd) {
  char buf[256];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  std::string tag(buf, static_cast<size_t>(n));
  while (!tag.empty() && (tag.back() == '\n' || tag.back() == ' ')) tag.pop_back();
  return tag;
}

// "pid 1234 on host h" from "1234 h".
std::string DescribeTag(const std::string& tag) {
  if (tag.empty()) return "pid unknown";
  const size_t space = tag.find(' ');
  if (space == std::string::npos) return "pid " + tag;
  return "pid " + tag.substr(0, space) + " on host " + tag.substr(space + 1);
}

}  // namespace

std::string ThisProcessTag() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown");
  return fmt::format("{} {}", ::getpid(), host);
}

absl::StatusOr<RunLock> RunLock::Acquire(const std::string& dir, const std::string& shown_as) {
  const std::string file = LockFile(dir);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        fmt::format("{}: cannot create its lock file: {}", file, std::strerror(errno)));
  }
  RunLock lock(fd);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          fmt::format("{}: cannot lock: {}", file, std::strerror(errno)));
    }
    // The holder writes its tag right after locking: give it a moment.
    std::string tag = ReadTag(fd);
    for (int i = 0; i < 20 && tag.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      tag = ReadTag(fd);
    }
    return absl::FailedPreconditionError(
        fmt::format("{}: in use by another fedrec process ({}); wait for it to finish or stop it",
                    shown_as, DescribeTag(tag)));
  }
  const std::string tag = ThisProcessTag() + "\n";
  // The tag is informational: a failure to write it does not lose the lock.
  if (::ftruncate(fd, 0) == 0) {
    (void)!::pwrite(fd, tag.data(), tag.size(), 0);
  }
  return lock;
}

std::string RunLock::Holder(const std::string& dir) {
  const int fd = ::open(LockFile(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    holder = DescribeTag(ReadTag(fd));
  }
  ::close(fd);  // drops the shared lock if it was granted
  return holder;
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace fedrec
