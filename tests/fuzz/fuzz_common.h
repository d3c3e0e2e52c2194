// Shared helpers of the libFuzzer targets (tests/fuzz/fuzz_<name>.cc).
//
// Each target is one LLVMFuzzerTestOneInput that feeds the bytes to a
// parser and, when the parser accepts them, checks what the accepted value
// promises (consistent sizes, a stable round trip, a matching digest). A
// broken promise aborts, which libFuzzer reports as a crash with the input.
//
// Seeds: with FEDREC_FUZZ_WRITE_SEEDS=<dir> in the environment a target
// writes its seed inputs (made by the product's own writers) into <dir> and
// exits; scripts/fuzz.sh --seeds refreshes tests/fuzz/corpus/ this way.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

namespace fedrec::fuzz {

// Aborts with a message when `cond` is false (an invariant, not an error
// path: libFuzzer saves the input that got here).
#define FUZZ_CHECK(cond, what)                                                                   \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s) at %s:%d\n", (what), #cond, __FILE__, \
                   __LINE__);                                                                    \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The seed writer: `emit(name, bytes)` for every seed. Called from
// LLVMFuzzerInitialize; exits the process after writing when asked to.
inline void WriteSeedsIfAsked(
    const std::function<void(const std::function<void(const std::string&, const std::string&)>&)>&
        seeds) {
  const char* dir = std::getenv("FEDREC_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  int count = 0;
  seeds([&](const std::string& name, const std::string& bytes) {
    std::ofstream out(std::string(dir) + "/" + name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write seed %s/%s\n", dir, name.c_str());
      std::exit(1);
    }
    ++count;
  });
  std::fprintf(stderr, "wrote %d seeds to %s\n", count, dir);
  std::exit(0);
}

// An in-memory file (memfd) holding `bytes`, for readers that take a path:
// the path is /proc/self/fd/<fd>, nothing touches the disk. Closed on
// destruction.
class MemFile {
 public:
  explicit MemFile(std::string_view bytes) {
    fd_ = ::memfd_create("fedrec-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace fedrec::fuzz
