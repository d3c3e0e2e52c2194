#include "data/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "data/reader_internal.h"

namespace fedrec {
namespace reader_internal {

absl::Status ErrorAt(const std::string& path, uint64_t line, std::string_view reason) {
  return InvalidInput(path + ":" + std::to_string(line), reason);
}

std::string Quoted(std::string_view f) {
  constexpr size_t kShown = 40;
  std::string s = "'";
  s.append(f.substr(0, kShown));
  if (f.size() > kShown) s.append("...");
  s.append("'");
  return s;
}

absl::Status CheckCsvColumns(const std::string& path, const CsvColumns& c) {
  if (c.user < 0 || c.item < 0)
    return InvalidInput(path, "csv: user and item columns are required");
  const int maxcol = std::max({c.user, c.item, c.rating, c.timestamp});
  if (maxcol >= kMaxFields) {
    return InvalidInput(path, "csv: column index " + std::to_string(maxcol) +
                                  " is over the limit of " + std::to_string(kMaxFields - 1));
  }
  if (c.rating < -1 || c.timestamp < -1) return InvalidInput(path, "csv: negative column index");
  if (c.delimiter == '\n' || c.delimiter == '\r' || c.delimiter == '"') {
    return InvalidInput(path, "csv: invalid delimiter");
  }
  return absl::OkStatus();
}

}  // namespace reader_internal

namespace {

using reader_internal::CheckCsvColumns;
using reader_internal::Detect;
using reader_internal::Parse;

// A read-only memory map of a whole file (or an empty view for size 0).
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(path + ": no such file");
      if (errno == EACCES) return InvalidInput(path, "permission denied");
      return InvalidInput(path, std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return InvalidInput(path, std::string("cannot stat: ") + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return InvalidInput(path, "is a directory");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return InvalidInput(path, "is not a regular file");
    }
    MappedFile file;
    file.size_ = static_cast<size_t>(st.st_size);
    if (file.size_ > 0) {
      void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return InvalidInput(path, std::string("cannot map: ") + std::strerror(errno));
      }
      ::madvise(p, file.size_, MADV_SEQUENTIAL | MADV_WILLNEED);
      file.data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return file;
  }

  MappedFile(MappedFile&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }

  std::string_view view() const { return {data_ == nullptr ? "" : data_, size_}; }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

absl::StatusOr<DataFormat> ParseDataFormat(const std::string& name) {
  static constexpr std::pair<const char*, DataFormat> kNames[] = {
      {"auto", DataFormat::kAuto},
      {"movielens", DataFormat::kMovieLens},
      {"movielens-dat", DataFormat::kMovieLensDat},
      {"movielens-csv", DataFormat::kMovieLensCsv},
      {"sasrec", DataFormat::kSasrec},
      {"csv", DataFormat::kCsv},
  };
  for (const auto& [n, f] : kNames) {
    if (name == n) return f;
  }
  return absl::InvalidArgumentError(
      "format: unknown format '" + name +
      "' (expected auto, movielens, movielens-dat, movielens-csv, sasrec or csv)");
}

const char* DataFormatName(DataFormat format) {
  switch (format) {
    case DataFormat::kAuto:
      return "auto";
    case DataFormat::kMovieLens:
      return "movielens";
    case DataFormat::kMovieLensDat:
      return "movielens-dat";
    case DataFormat::kMovieLensCsv:
      return "movielens-csv";
    case DataFormat::kSasrec:
      return "sasrec";
    case DataFormat::kCsv:
      return "csv";
  }
  return "?";
}

absl::StatusOr<ResolvedFormat> ResolveFormat(const std::string& path, DataFormat requested,
                                             const CsvColumns& csv) {
  if (requested != DataFormat::kAuto) {
    ResolvedFormat r;
    r.format = requested;
    r.csv = csv;
    if (requested == DataFormat::kCsv) FEDREC_RETURN_IF_ERROR(CheckCsvColumns(path, csv));
    return r;
  }
  FEDREC_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return Detect(path, file.view());
}

absl::StatusOr<RawInteractions> ReadInteractions(const std::string& path,
                                                 const ResolvedFormat& format) {
  FEDREC_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  ResolvedFormat resolved = format;
  if (format.format == DataFormat::kAuto) {
    FEDREC_ASSIGN_OR_RETURN(resolved, Detect(path, file.view()));
  }
  return Parse(path, file.view(), resolved);
}

}  // namespace fedrec
