// TensorBoard event files: scalars per step, written natively with the
// Protobuf in the tree (proto/tensorboard.proto) in TFRecord framing:
//
//   record := u64 length (LE) | u32 masked CRC-32C of the length bytes
//           | payload (one serialised Event) | u32 masked CRC-32C of the payload
//   masked(c) := ((c >> 15) | (c << 17)) + 0xA282EAD8
//
// A file starts with a file_version event ("brain.Event:2"). TensorBoard
// reads every file whose name contains "tfevents" in a run's directory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fedrec {

struct ScalarValue {
  std::string tag;
  double value = 0;  // stored as float32, TensorBoard's simple_value
};

// One scalar of an event file, as read back.
struct ScalarEvent {
  int64_t step = 0;
  double wall_time = 0;
  std::string tag;
  float value = 0;
};

// The masked CRC-32C of TFRecord framing.
uint32_t MaskedCrc32c(std::string_view bytes);

// `payload` framed as one TFRecord.
std::string FrameRecord(std::string_view payload);

// The bytes of an event file: the file_version event, then one summary event
// per (step, wall time, scalars) entry.
struct ScalarStep {
  int64_t step = 0;
  double wall_time = 0;
  std::vector<ScalarValue> scalars;
};
std::string EncodeFileVersion(double wall_time);
std::string EncodeScalarStep(const ScalarStep& step);

// events.out.tfevents.<unix seconds>.<host>, TensorBoard's naming.
std::string EventFileName(double wall_time);

// Reads an event file back, checking every record's framing and both CRCs:
// DataLoss naming the file and byte offset on the first damaged record, so
// a torn last record (a killed writer) is reported, not skipped silently.
absl::StatusOr<std::vector<ScalarEvent>> ReadScalarEvents(const std::string& path);

// Appends records to one event file. Each Append is flushed, so a reader
// sees whole steps. Not thread-safe.
class EventFileWriter {
 public:
  // Opens `path` for append; it is created if missing.
  static absl::StatusOr<EventFileWriter> OpenForAppend(const std::string& path);

  EventFileWriter(EventFileWriter&& other) noexcept;
  EventFileWriter& operator=(EventFileWriter&& other) noexcept;
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;
  ~EventFileWriter();

  absl::Status Append(std::string_view encoded_records);
  const std::string& path() const { return path_; }

 private:
  EventFileWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace fedrec
