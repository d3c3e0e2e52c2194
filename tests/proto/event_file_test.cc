// TensorBoard event files: framing known answers, round trips, and damage
// reported with the file and the byte offset.
#include "proto/event_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::testing::HasSubstr;

TEST(EventFile, MaskedCrcAndFramingMatchTfRecord) {
  // The mask of an empty input's CRC (0) is the mask's constant.
  EXPECT_EQ(MaskedCrc32c(""), 0xA282EAD8u);
  const std::string record = FrameRecord("abc");
  ASSERT_EQ(record.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, 3), "abc");
}

TEST(EventFile, ScalarsRoundTripInOrder) {
  const testing::TempDir dir("events");
  const std::string path = dir.Path(EventFileName(1700000000.5));
  EXPECT_THAT(path, HasSubstr("events.out.tfevents.1700000000."));
  {
    auto writer = EventFileWriter::OpenForAppend(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE(writer->Append(EncodeFileVersion(1700000000.5)).ok());
    ASSERT_TRUE(writer
                    ->Append(EncodeScalarStep(
                        {.step = 1, .wall_time = 1700000001.0, .scalars = {{"loss", 0.5}}}))
                    .ok());
    ASSERT_TRUE(
        writer
            ->Append(EncodeScalarStep({.step = 2,
                                       .wall_time = 1700000002.0,
                                       .scalars = {{"loss", 0.25}, {"valid/HR@10", 0.125}}}))
            .ok());
  }
  auto events = ReadScalarEvents(path);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].step, 1);
  EXPECT_EQ((*events)[0].tag, "loss");
  EXPECT_EQ((*events)[0].value, 0.5f);
  EXPECT_EQ((*events)[2].step, 2);
  EXPECT_EQ((*events)[2].tag, "valid/HR@10");
  EXPECT_EQ((*events)[2].value, 0.125f);
  EXPECT_DOUBLE_EQ((*events)[2].wall_time, 1700000002.0);
}

TEST(EventFile, DamageIsReportedWithTheOffset) {
  const testing::TempDir dir("events");
  const std::string version = EncodeFileVersion(1.0);
  const std::string step = EncodeScalarStep({.step = 3, .wall_time = 2.0, .scalars = {{"x", 1}}});
  const std::string good = version + step;
  ASSERT_TRUE(ReadScalarEvents(dir.File("good", good)).ok());

  std::string flipped = good;
  flipped[version.size() + 14] ^= 0x01;  // inside the second record's payload
  auto r = ReadScalarEvents(dir.File("flipped", flipped));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("byte " + std::to_string(version.size())));
  EXPECT_THAT(r.status().message(), HasSubstr("payload checksum"));

  r = ReadScalarEvents(dir.File("torn", good.substr(0, good.size() - 2)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("truncated"));

  r = ReadScalarEvents(dir.File("headless", step));
  EXPECT_THAT(r.status().message(), HasSubstr("file_version"));
  EXPECT_EQ(ReadScalarEvents(dir.Path("missing")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fedrec
