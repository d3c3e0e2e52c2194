// Durable, all-or-nothing file output.
//
// Protocol: write to "<path>.tmp.<pid>.<n>" in the same directory, fsync the
// file, rename it over <path>, fsync the directory. A reader therefore sees
// either the old file or the complete new one, never a prefix, and a crash
// leaves at most a stray temp file (never a partial <path>).
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fedrec {

// Writes `bytes` to `path` atomically (see above).
absl::Status WriteFileAtomic(const std::string& path, std::string_view bytes);

// Streams a large output atomically: Append() as often as needed, then
// Commit(). If the writer is destroyed without Commit() (an error on the way),
// the temp file is removed and `path` is untouched. Not thread-safe.
class AtomicFileWriter {
 public:
  static absl::StatusOr<AtomicFileWriter> Open(const std::string& path);
  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  absl::Status Append(std::string_view bytes);
  // fsync + rename + directory fsync. The writer is closed afterwards.
  absl::Status Commit() &&;

 private:
  AtomicFileWriter(std::string path, std::string temp_path, std::FILE* file)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), file_(file) {}
  void Discard();

  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
};

// Reads a whole file; NotFound / InvalidArgument ("is a directory") with the
// path in the message.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace fedrec
