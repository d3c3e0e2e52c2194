#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace fedrec {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

absl::Status IoError(const std::string& path, const std::string& what) {
  return absl::FailedPreconditionError(path + ": " + what + ": " + ErrnoText());
}

std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

absl::Status FsyncDirectoryOf(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return IoError(dir.string(), "cannot open directory");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError(dir.string(), "fsync failed");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AtomicFileWriter> AtomicFileWriter::Open(const std::string& path) {
  std::string temp = TempPathFor(path);
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) return IoError(path, "cannot create");
  return AtomicFileWriter(path, std::move(temp), f);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      file_(std::exchange(other.file_, nullptr)) {}

AtomicFileWriter::~AtomicFileWriter() { Discard(); }

void AtomicFileWriter::Discard() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  file_ = nullptr;
  ::unlink(temp_path_.c_str());
}

absl::Status AtomicFileWriter::Append(std::string_view bytes) {
  if (file_ == nullptr) return absl::FailedPreconditionError(path_ + ": writer is closed");
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return IoError(path_, "write failed");
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() && {
  if (file_ == nullptr) return absl::FailedPreconditionError(path_ + ": writer is closed");
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    absl::Status s = IoError(path_, "flush failed");
    Discard();
    return s;
  }
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    absl::Status s = IoError(path_, "rename failed");
    ::unlink(temp_path_.c_str());
    return s;
  }
  return FsyncDirectoryOf(path_);
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  FEDREC_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Open(path));
  FEDREC_RETURN_IF_ERROR(writer.Append(bytes));
  return std::move(writer).Commit();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(path + ": no such file");
    return IoError(path, "cannot stat");
  }
  if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(path + ": is a directory");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError(path, "cannot open");
  std::string out(static_cast<size_t>(st.st_size), '\0');
  const size_t n = std::fread(out.data(), 1, out.size(), f);
  std::fclose(f);
  if (n != out.size()) return IoError(path, "short read");
  return out;
}

}  // namespace fedrec
