#include "proto/event_file.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/crc32c.h"
#include "proto/tensorboard.pb.h"

namespace fedrec {
namespace {

constexpr uint32_t kCrcMaskDelta = 0xA282EAD8u;

void PutLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

uint64_t GetLittleEndian(std::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return value;
}

std::string FrameEvent(const tensorboard::Event& event) {
  return FrameRecord(event.SerializeAsString());
}

}  // namespace

uint32_t MaskedCrc32c(std::string_view bytes) {
  const uint32_t crc = Crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta;
}

std::string FrameRecord(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  PutLittleEndian(out, payload.size(), 8);
  PutLittleEndian(out, MaskedCrc32c(out), 4);
  out.append(payload);
  PutLittleEndian(out, MaskedCrc32c(payload), 4);
  return out;
}

std::string EncodeFileVersion(double wall_time) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_file_version("brain.Event:2");
  return FrameEvent(event);
}

std::string EncodeScalarStep(const ScalarStep& step) {
  tensorboard::Event event;
  event.set_wall_time(step.wall_time);
  event.set_step(step.step);
  tensorboard::Summary* summary = event.mutable_summary();
  for (const ScalarValue& s : step.scalars) {
    tensorboard::SummaryValue* v = summary->add_value();
    v->set_tag(s.tag);
    v->set_simple_value(static_cast<float>(s.value));
  }
  return FrameEvent(event);
}

std::string EventFileName(double wall_time) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  return "events.out.tfevents." + std::to_string(static_cast<int64_t>(std::floor(wall_time))) +
         "." + host;
}

absl::StatusOr<std::vector<ScalarEvent>> ReadScalarEvents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot open the event file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::string_view all(bytes);

  std::vector<ScalarEvent> out;
  size_t at = 0;
  bool first = true;
  while (at < all.size()) {
    const auto damaged = [&](const std::string& why) {
      return absl::DataLossError(path + ": record at byte " + std::to_string(at) + ": " + why);
    };
    if (all.size() - at < 12) return damaged("truncated header");
    const std::string_view header = all.substr(at, 8);
    if (GetLittleEndian(all.substr(at + 8, 4), 4) != MaskedCrc32c(header)) {
      return damaged("length checksum mismatch");
    }
    const uint64_t length = GetLittleEndian(header, 8);
    if (length > all.size() - at - 12 || all.size() - at - 12 - length < 4) {
      return damaged("truncated payload");
    }
    const std::string_view payload = all.substr(at + 12, length);
    if (GetLittleEndian(all.substr(at + 12 + length, 4), 4) != MaskedCrc32c(payload)) {
      return damaged("payload checksum mismatch");
    }
    tensorboard::Event event;
    if (!event.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return damaged("not an Event message");
    }
    if (first && event.what_case() != tensorboard::Event::kFileVersion) {
      return damaged("the file does not start with a file_version event");
    }
    first = false;
    for (const tensorboard::SummaryValue& v : event.summary().value()) {
      out.push_back({.step = event.step(),
                     .wall_time = event.wall_time(),
                     .tag = v.tag(),
                     .value = v.simple_value()});
    }
    at += 12 + length + 4;
  }
  if (first) return absl::DataLossError(path + ": empty event file");
  return out;
}

absl::StatusOr<EventFileWriter> EventFileWriter::OpenForAppend(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "ab");
  if (file == nullptr) {
    return absl::FailedPreconditionError(path +
                                         ": cannot open for append: " + std::strerror(errno));
  }
  return EventFileWriter(path, file);
}

EventFileWriter::EventFileWriter(EventFileWriter&& other) noexcept
    : path_(std::move(other.path_)), file_(std::exchange(other.file_, nullptr)) {}

EventFileWriter& EventFileWriter::operator=(EventFileWriter&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    path_ = std::move(other.path_);
    file_ = std::exchange(other.file_, nullptr);
  }
  return *this;
}

EventFileWriter::~EventFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status EventFileWriter::Append(std::string_view encoded_records) {
  errno = 0;
  if (std::fwrite(encoded_records.data(), 1, encoded_records.size(), file_) !=
          encoded_records.size() ||
      std::fflush(file_) != 0) {
    return absl::FailedPreconditionError(path_ + ": write failed: " + std::strerror(errno));
  }
  return absl::OkStatus();
}

}  // namespace fedrec
