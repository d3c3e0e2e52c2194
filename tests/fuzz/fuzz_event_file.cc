// Fuzz target: the TensorBoard event file reader (proto/event_file.h
// ReadScalarEvents) on an in-memory file.
//
// Input: byte 0 = mode. Bit 0 clear: the rest is the file. Bit 0 set: the
// rest is a list of records [u8 length][payload], each framed by the target
// with correct lengths and CRCs (FrameRecord), so the fuzzer reaches the
// Event parser behind the checksums.
//
// Promises checked on an accepted file: every scalar written back through
// the writer (EncodeScalarStep) reads back the same; a file cut short by
// any number of bytes is refused (a torn record is reported, never
// skipped).
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "proto/event_file.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec {
namespace {

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  std::string file = EncodeFileVersion(1.5e9);
  file += EncodeScalarStep({.step = 1, .wall_time = 1.5e9 + 1, .scalars = {{"loss", 0.5}}});
  file += EncodeScalarStep(
      {.step = 2, .wall_time = 1.5e9 + 2, .scalars = {{"loss", 0.25}, {"valid/ndcg@10", 0.1}}});
  emit("file", std::string(1, '\0') + file);
  emit("version_only", std::string(1, '\0') + EncodeFileVersion(0));
  // The same events as payloads for the framing mode: strip each frame.
  std::string payloads(1, '\1');
  std::string_view rest = file;
  while (rest.size() >= 16) {
    uint64_t n = 0;
    std::memcpy(&n, rest.data(), 8);
    if (n > 255) break;
    payloads += static_cast<char>(n);
    payloads.append(rest.substr(12, n));
    rest = rest.substr(16 + n);
  }
  emit("payloads", payloads);
}

bool SameEvents(const std::vector<ScalarEvent>& a, const std::vector<ScalarEvent>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].step != b[i].step || a[i].tag != b[i].tag ||
        std::memcmp(&a[i].wall_time, &b[i].wall_time, sizeof(double)) != 0 ||
        std::memcmp(&a[i].value, &b[i].value, sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field with invalid UTF-8 it parses: noise
  // that slows the fuzzer down, not a finding.
  google::protobuf::SetLogHandler(nullptr);
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  if (size < 1) return 0;
  std::string_view rest = fuzz::AsView(data + 1, size - 1);
  std::string bytes;
  if (data[0] & 1) {
    while (!rest.empty()) {
      const size_t n = std::min<size_t>(static_cast<uint8_t>(rest[0]), rest.size() - 1);
      bytes += FrameRecord(rest.substr(1, n));
      rest = rest.substr(1 + n);
    }
  } else {
    bytes = std::string(rest);
  }
  absl::StatusOr<std::vector<ScalarEvent>> events;
  {
    fuzz::MemFile file(bytes);
    events = ReadScalarEvents(file.path());
  }
  if (!events.ok()) return 0;
  // Every record is at least 16 bytes, so cutting 1..7 bytes tears the last one.
  const size_t cut = 1 + data[0] % 7;
  if (cut < bytes.size()) {
    fuzz::MemFile torn(std::string_view(bytes).substr(0, bytes.size() - cut));
    FUZZ_CHECK(!ReadScalarEvents(torn.path()).ok(), "a file cut short is refused");
  }
  // Written back one scalar per step through the writer, the values read the same.
  std::string again = EncodeFileVersion(0);
  for (const ScalarEvent& e : *events) {
    again += EncodeScalarStep({.step = e.step,
                               .wall_time = e.wall_time,
                               .scalars = {{e.tag, static_cast<double>(e.value)}}});
  }
  fuzz::MemFile copy(again);
  absl::StatusOr<std::vector<ScalarEvent>> back = ReadScalarEvents(copy.path());
  FUZZ_CHECK(back.ok(), "what the writer writes reads back");
  FUZZ_CHECK(SameEvents(*back, *events), "scalars read back the same");
  return 0;
}
