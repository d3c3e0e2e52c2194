#include "data/tensor_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/atomic_file.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A .npy file as NumPy writes it: magic, version, header dict, raw data.
std::string NpyBytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  const size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_bytes; ++i)
    bytes += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return bytes + header + data;
}

absl::StatusOr<Array> Parse(const std::string& bytes) {
  return ParseNpy({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "x.npy");
}

std::string Raw(std::initializer_list<uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(Npy, RoundTripsFloat32AndInt64) {
  const auto dir = TestDir();
  const std::string f = (dir / "f.npy").string();
  const std::vector<uint64_t> shape = {2, 3};
  const std::vector<float> values = {1.5f, -2.0f, 0.0f, 3.25f, 1e-30f, -7.0f};
  ASSERT_TRUE(WriteNpy(f, shape, std::span<const float>(values)).ok());
  absl::StatusOr<Array> a = ReadNpy(f);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, Array::Kind::kFloat);
  EXPECT_EQ(a->dtype, "<f4");
  EXPECT_THAT(a->shape, ElementsAre(2, 3));
  EXPECT_EQ(a->floats, values);
  // The header is padded so the data starts on a 64-byte boundary.
  absl::StatusOr<std::string> bytes = ReadFileToString(f);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ((bytes->size() - values.size() * 4) % 64, 0u);

  const std::string i = (dir / "i.npy").string();
  const std::vector<int64_t> ids = {7, -1, std::numeric_limits<int64_t>::max()};
  const std::vector<uint64_t> shape1 = {3};
  ASSERT_TRUE(WriteNpy(i, shape1, std::span<const int64_t>(ids)).ok());
  absl::StatusOr<Array> b = ReadNpy(i);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->kind, Array::Kind::kInt);
  EXPECT_THAT(b->shape, ElementsAre(3));
  EXPECT_EQ(b->ints, ids);
}

TEST(Npy, DecodesHalfPrecisionExactly) {
  // 1.0, -2.0, the smallest subnormal 2^-24, +inf, 65504 (the largest half).
  const std::string data = Raw({0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C, 0xFF, 0x7B});
  absl::StatusOr<Array> a =
      Parse(NpyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", data));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->floats.size(), 5u);
  EXPECT_EQ(a->floats[0], 1.0f);
  EXPECT_EQ(a->floats[1], -2.0f);
  EXPECT_EQ(a->floats[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(a->floats[3]));
  EXPECT_EQ(a->floats[4], 65504.0f);
}

TEST(Npy, ReadsBigEndianFortranOrderAndVersion2) {
  // >f4 [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6.
  std::string data;
  for (float v : {1.0f, 4.0f, 2.0f, 5.0f, 3.0f, 6.0f}) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, 4);
    for (int b = 3; b >= 0; --b) data += static_cast<char>((bits >> (8 * b)) & 0xFF);
  }
  absl::StatusOr<Array> a = Parse(
      NpyBytes("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }", data, /*major=*/2));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->floats, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST(Npy, SignExtendsSmallIntegersAndReadsBool) {
  absl::StatusOr<Array> a = Parse(NpyBytes(
      "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", Raw({0xFF, 0xFF, 0x05, 0x00})));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->ints, ElementsAre(-1, 5));
  absl::StatusOr<Array> b =
      Parse(NpyBytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", Raw({0, 1, 2})));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->ints, ElementsAre(0, 1, 1));
}

TEST(Npy, RefusesWhatItCannotRead) {
  EXPECT_THAT(Parse("not an npy file at all").status().message(), HasSubstr("bad magic"));
  EXPECT_THAT(Parse(NpyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                             std::string(8, '\0')))
                  .status()
                  .message(),
              HasSubstr("unsupported dtype '<c8'"));
  EXPECT_THAT(Parse(NpyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                             std::string(4, '\0')))
                  .status()
                  .message(),
              HasSubstr("structured"));
  const absl::Status short_data =
      Parse(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                     std::string(12, '\0')))
          .status();
  EXPECT_EQ(short_data.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_data.message(), HasSubstr("x.npy: holds 12 data bytes"));
  EXPECT_THAT(Parse(NpyBytes("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
                             std::string(8, '\xFF')))
                  .status()
                  .message(),
              HasSubstr("does not fit"));
  EXPECT_EQ(ReadNpy((TestDir() / "missing.npy").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(Safetensors, RoundTripsAndKeepsMetadataApart) {
  const auto dir = TestDir();
  const std::string path = (dir / "t.safetensors").string();
  std::map<std::string, Array> tensors;
  Array w;
  w.shape = {2, 2};
  w.floats = {1, 2, 3, 4};
  Array ids;
  ids.kind = Array::Kind::kInt;
  ids.shape = {3};
  ids.ints = {10, 20, -30};
  tensors["w"] = w;
  tensors["ids"] = ids;
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), 2u);
  EXPECT_EQ(file->tensors.at("w").dtype, "F32");
  EXPECT_EQ(file->tensors.at("w").floats, w.floats);
  EXPECT_THAT(file->tensors.at("w").shape, ElementsAre(2, 2));
  EXPECT_EQ(file->tensors.at("ids").ints, ids.ints);
}

std::string SafetensorsBytes(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return bytes + header + data;
}

absl::StatusOr<SafetensorsFile> ParseSt(const std::string& bytes) {
  return ParseSafetensors({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "m.st");
}

TEST(Safetensors, DecodesHalfAndBfloat16) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}})";
  // F16 1.0, -0.5; BF16 of 3.0f is the top half of 0x40400000.
  absl::StatusOr<SafetensorsFile> file =
      ParseSt(SafetensorsBytes(header, Raw({0x00, 0x3C, 0x00, 0xB8, 0x40, 0x40})));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors.at("h").floats, ElementsAre(1.0f, -0.5f));
  EXPECT_THAT(file->tensors.at("b").floats, ElementsAre(3.0f));
  EXPECT_EQ(file->metadata.at("format"), "pt");
}

TEST(Safetensors, RefusesInconsistentHeaders) {
  EXPECT_THAT(ParseSt("abc").status().message(), HasSubstr("shorter than 8 bytes"));
  EXPECT_THAT(ParseSt(SafetensorsBytes("{not json", "")).status().message(),
              HasSubstr("malformed safetensors header"));
  EXPECT_THAT(ParseSt(SafetensorsBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})",
                                       std::string(8, '\0')))
                  .status()
                  .message(),
              HasSubstr("data_offsets outside the file"));
  EXPECT_THAT(ParseSt(SafetensorsBytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                                       std::string(8, '\0')))
                  .status()
                  .message(),
              HasSubstr("8 bytes for 3 elements"));
  EXPECT_THAT(ParseSt(SafetensorsBytes(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})",
                                       std::string(8, '\0')))
                  .status()
                  .message(),
              HasSubstr("unsupported safetensors dtype 'C64'"));
  // Numbers nlohmann would cast without a check: too large for 64 bits (read
  // as a double), negative, fractional; then a shape that is not a list.
  for (const char* bad :
       {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,66666666666666666666666]}})",
        R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
        R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})",
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})"}) {
    EXPECT_THAT(ParseSt(SafetensorsBytes(bad, std::string(8, '\0'))).status().message(),
                HasSubstr("not a non-negative integer"))
        << bad;
  }
  // A long offending value is cut short in the one-line message.
  std::string nested = "[";
  for (int i = 0; i < 100; ++i) nested += "12345,";
  nested += "1]";
  const absl::Status long_value =
      ParseSt(SafetensorsBytes(
                  R"({"a":{"dtype":"F32","shape":[)" + nested + R"(],"data_offsets":[0,8]}})",
                  std::string(8, '\0')))
          .status();
  EXPECT_THAT(long_value.message(), HasSubstr("[12345,12345,"));
  EXPECT_THAT(long_value.message(), HasSubstr("..., not a non-negative integer"));
  EXPECT_LT(long_value.message().size(), 120u);
  EXPECT_THAT(ParseSt(SafetensorsBytes(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})",
                                       std::string(8, '\0')))
                  .status()
                  .message(),
              HasSubstr("'shape' is not a list"));
  std::string huge(8, '\xFF');
  EXPECT_THAT(ParseSt(huge + "{}").status().message(), HasSubstr("exceeds the file"));
}

}  // namespace
}  // namespace fedrec
