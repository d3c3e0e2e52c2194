#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

using ::fedrec::testing::TempDir;

// FIPS 180-2 examples.
TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(ToHex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256Of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.Finish(), Sha256Of("abc"));
}

TEST(AtomicFile, WriteAndReadBack) {
  const TempDir temp("core");
  const fs::path& dir = temp.path();
  const std::string path = (dir / "x.bin").string();
  ASSERT_TRUE(WriteFileAtomic(path, "hello").ok());
  auto back = ReadFileToString(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "hello");
  ASSERT_TRUE(WriteFileAtomic(path, "second").ok());
  EXPECT_EQ(*ReadFileToString(path), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
}

TEST(AtomicFile, AbandonedWriterLeavesNothing) {
  const TempDir temp("core");
  const fs::path& dir = temp.path();
  const std::string path = (dir / "out.txt").string();
  {
    auto writer = AtomicFileWriter::Open(path);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Append("partial").ok());
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(AtomicFile, ReadErrorsNameThePath) {
  const TempDir temp("core");
  const fs::path& dir = temp.path();
  auto missing = ReadFileToString((dir / "nope").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("nope: no such file"), std::string::npos);
  auto directory = ReadFileToString(dir.string());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(directory.status().message()).find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace fedrec
