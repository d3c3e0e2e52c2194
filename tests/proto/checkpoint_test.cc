#include "proto/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "tests/testing/files.h"
#include "tests/testing/status.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using ::fedrec::testing::StatusMessage;

class CheckpointTest : public ::testing::Test {
 protected:
  std::string PathOf(const std::string& name) const { return dir_.Path(name); }

  static ParameterStore MakeStore() {
    ParameterStore s;
    EXPECT_TRUE(s.Add("item_emb", 7, 4).ok());
    EXPECT_TRUE(s.Add("w", 4, 4).ok());
    EXPECT_TRUE(s.Add("b", 1, 4).ok());
    s.Finalize();
    auto flat = s.Flat();
    for (size_t i = 0; i < flat.size(); ++i) flat[i] = 0.25f * static_cast<float>(i) - 3.0f;
    return s;
  }

  static Checkpoint MakeCheckpoint() {
    Checkpoint c;
    StampCheckpoint(&c);
    c.mutable_model()->set_type("sasrec");
    c.mutable_model()->set_dim(4);
    c.mutable_model()->set_num_items(6);
    (*c.mutable_model()->mutable_extra())["loss"] = "bce";
    StoreToTensors(MakeStore(), c.mutable_tensors());
    c.mutable_optimizer()->set_name("adam");
    (*c.mutable_optimizer()->mutable_counters())["step"] = 12;
    c.mutable_server_optimizer()->set_name("fedavg");
    c.set_round(17);
    auto* s = c.add_streams();
    s->set_purpose("cohort");
    s->set_position(4242);
    auto* l = c.mutable_ledger();
    l->set_accountant("rdp");
    l->set_mode("central");
    l->set_noise_multiplier(1.1);
    l->set_sampling_rate(0.01);
    l->set_delta(1e-5);
    l->set_steps(17);
    l->set_epsilon_spent(2.5);
    l->add_rdp_orders(2.0);
    l->add_rdp_values(0.1);
    auto* e = l->add_entries();
    e->set_round(17);
    e->set_epsilon_after(2.5);
    c.mutable_dataset()->set_source_path("ml-1m/ratings.dat");
    c.mutable_dataset()->set_sha256_hex(std::string(64, 'a'));
    c.set_config_toml("seed = 1\n");
    return c;
  }

  const testing::TempDir dir_{"ckpt"};
};

TEST_F(CheckpointTest, RoundTripsAndLeavesNoTempFiles) {
  const Checkpoint c = MakeCheckpoint();
  const std::string path = PathOf("ckpt.bin");
  ASSERT_TRUE(WriteCheckpoint(path, c).ok());
  auto back = ReadCheckpoint(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), c.SerializeAsString());
  EXPECT_EQ(back->round(), 17u);
  EXPECT_EQ(back->fedrec_version(), FedrecVersion());
  EXPECT_EQ(back->format_version(), kCheckpointFormatVersion);
  ASSERT_TRUE(WriteCheckpoint(path, c).ok());  // overwrite
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator{}), 1);

  auto store = StoreFromTensors(back->tensors());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*store, MakeStore());
}

TEST_F(CheckpointTest, FileLayoutMatchesTheDocumentedFormat) {
  const Checkpoint c = MakeCheckpoint();
  auto bytes = EncodeCheckpointFile(c);
  ASSERT_TRUE(bytes.ok());
  ASSERT_GE(bytes->size(), kCheckpointHeaderSize);
  EXPECT_EQ(bytes->substr(0, 8), "FEDRECKP");
  EXPECT_EQ(bytes->substr(8, 4), std::string("\x01\x00\x00\x00", 4));
  const uint64_t n = bytes->size() - kCheckpointHeaderSize;
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  EXPECT_EQ(bytes->substr(12, 8), len);
  const std::string payload = bytes->substr(kCheckpointHeaderSize);
  const Sha256Digest d = Sha256Of(payload);
  EXPECT_EQ(bytes->substr(20, 32), std::string(reinterpret_cast<const char*>(d.data()), 32));
  // Deterministic: the same message gives the same bytes.
  EXPECT_EQ(*EncodeCheckpointFile(c), *bytes);
}

TEST_F(CheckpointTest, TruncatedAtSeveralLengthsIsRefused) {
  auto bytes = EncodeCheckpointFile(MakeCheckpoint());
  ASSERT_TRUE(bytes.ok());
  const std::string path = PathOf("t.bin");
  for (size_t len :
       {size_t{3}, size_t{8}, size_t{20}, kCheckpointHeaderSize - 1, kCheckpointHeaderSize,
        kCheckpointHeaderSize + 1, bytes->size() / 2, bytes->size() - 1}) {
    testing::WriteText(path, bytes->substr(0, len));
    auto r = ReadCheckpoint(path);
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << len;
    EXPECT_THAT(StatusMessage(r.status()), HasSubstr(path + ": truncated (expected ")) << len;
    EXPECT_THAT(StatusMessage(r.status()), HasSubstr("found " + std::to_string(len) + ")")) << len;
    EXPECT_EQ(ReadCheckpointHeader(path).status().code(), absl::StatusCode::kDataLoss) << len;
  }
  testing::WriteText(path, *bytes + "x");
  auto r = ReadCheckpoint(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(StatusMessage(r.status()), HasSubstr("1 unexpected trailing bytes"));
  testing::WriteText(path, "");
  EXPECT_EQ(ReadCheckpoint(path).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointTest, EverySingleBitFlipInThePayloadIsRefused) {
  auto bytes = EncodeCheckpointFile(MakeCheckpoint());
  ASSERT_TRUE(bytes.ok());
  // In memory for speed (the file path is tested below); every bit of every
  // payload byte.
  for (size_t i = kCheckpointHeaderSize; i < bytes->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string altered = *bytes;
      altered[i] = static_cast<char>(altered[i] ^ (1 << bit));
      auto r = DecodeCheckpointFile(altered, "x");
      ASSERT_FALSE(r.ok()) << i << ":" << bit;
      ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
      ASSERT_EQ(StatusMessage(r.status()), "x: digest mismatch (file altered or corrupt)");
    }
  }
  // Flips in the digest itself are caught too; flips in the header fields
  // give magic / version / size errors.
  for (size_t i = 0; i < kCheckpointHeaderSize; ++i) {
    std::string altered = *bytes;
    altered[i] = static_cast<char>(altered[i] ^ 0x10);
    EXPECT_FALSE(DecodeCheckpointFile(altered, "x").ok()) << i;
  }
  const std::string path = PathOf("flip.bin");
  std::string altered = *bytes;
  altered[bytes->size() - 5] ^= 0x01;
  testing::WriteText(path, altered);
  auto r = ReadCheckpoint(path);
  EXPECT_EQ(StatusMessage(r.status()), path + ": digest mismatch (file altered or corrupt)");
}

TEST_F(CheckpointTest, WrongMagicAndVersion) {
  auto bytes = EncodeCheckpointFile(MakeCheckpoint());
  ASSERT_TRUE(bytes.ok());
  const std::string path = PathOf("m.bin");
  std::string wrong = *bytes;
  wrong[0] = 'G';
  testing::WriteText(path, wrong);
  auto r = ReadCheckpoint(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusMessage(r.status()), path + ": not a fedrec checkpoint (bad magic)");
  testing::WriteText(path, "seed = 1\n[train]\nlr = 0.1\n");
  EXPECT_EQ(StatusMessage(ReadCheckpoint(path).status()),
            path + ": not a fedrec checkpoint (bad magic)");

  std::string v2 = *bytes;
  v2[8] = 2;
  testing::WriteText(path, v2);
  r = ReadCheckpoint(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusMessage(r.status()),
            path + ": unsupported format version 2 (this build reads 1)");
  EXPECT_EQ(StatusMessage(ReadCheckpointHeader(path).status()),
            path + ": unsupported format version 2 (this build reads 1)");
}

TEST_F(CheckpointTest, PayloadThatDoesNotParse) {
  // A valid header and digest around bytes that are not a Checkpoint.
  const std::string payload = "\xff\xff\xff\xff garbage";
  const Sha256Digest d = Sha256Of(payload);
  std::string bytes(kCheckpointMagic, 8);
  bytes += std::string("\x01\x00\x00\x00", 4);
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  bytes.append(reinterpret_cast<const char*>(d.data()), 32);
  bytes += payload;
  auto r = DecodeCheckpointFile(bytes, "p");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(StatusMessage(r.status()), "p: payload does not parse");
}

TEST_F(CheckpointTest, HeaderAndMissingFile) {
  const std::string path = PathOf("h.bin");
  ASSERT_TRUE(WriteCheckpoint(path, MakeCheckpoint()).ok());
  auto h = ReadCheckpointHeader(path);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->format_version, 1u);
  EXPECT_EQ(h->file_size, fs::file_size(path));
  EXPECT_EQ(h->payload_length + kCheckpointHeaderSize, h->file_size);
  EXPECT_EQ(ReadCheckpoint(PathOf("none")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadCheckpointHeader(PathOf("none")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, RefusesToWriteAnUnknownPayloadVersion) {
  Checkpoint c = MakeCheckpoint();
  c.set_format_version(9);
  const std::string path = PathOf("v.bin");
  EXPECT_EQ(WriteCheckpoint(path, c).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir_.path()));
}

TEST_F(CheckpointTest, StoreShapeChecks) {
  Checkpoint c = MakeCheckpoint();
  ParameterStore store = MakeStore();
  store.SetZero();
  ASSERT_TRUE(StoreFromTensors(c.tensors(), &store).ok());
  EXPECT_EQ(store, MakeStore());

  ParameterStore other;
  ASSERT_TRUE(other.Add("item_emb", 7, 4).ok());
  ASSERT_TRUE(other.Add("w", 4, 5).ok());
  ASSERT_TRUE(other.Add("b", 1, 4).ok());
  other.Finalize();
  absl::Status s = StoreFromTensors(c.tensors(), &other);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusMessage(s), "checkpoint: tensor 'w': shape 4 x 4, expected 4 x 5");

  ParameterStore renamed;
  ASSERT_TRUE(renamed.Add("item_emb", 7, 4).ok());
  ASSERT_TRUE(renamed.Add("v", 4, 4).ok());
  ASSERT_TRUE(renamed.Add("b", 1, 4).ok());
  renamed.Finalize();
  EXPECT_EQ(StatusMessage(StoreFromTensors(c.tensors(), &renamed)),
            "checkpoint: tensor 1 is 'w', the model expects 'v'");

  c.mutable_tensors(2)->mutable_data()->pop_back();
  EXPECT_THAT(StatusMessage(StoreFromTensors(c.tensors()).status()),
              HasSubstr("tensor 'b': 15 data bytes, expected 16"));
}

// Found by fuzz_checkpoint: a verified checkpoint whose tensor announces
// 3 x (2^49 - 1) floats but holds no data made StoreFromTensors allocate
// first, and std::bad_alloc ended the process.
TEST_F(CheckpointTest, TensorShapeLargerThanItsDataIsRefusedBeforeAllocating) {
  const std::string payload(
      "\x1a\x28\x0a\x08\x69\x2f\x65\x6d\x5f\x65\x6d\x62\x10\x03\x18\xff\xff\xff\xff"
      "\xff\xff\xff\x00\x11\x2b\x11\x11\x58\x11\x58\x58\x58\x58\x58\x58\x58\x58\x58"
      "\x58\x58\x58\x58",
      42);
  Checkpoint parsed;
  ASSERT_TRUE(parsed.ParseFromString(payload));
  auto file = EncodeCheckpointFile(parsed);
  ASSERT_TRUE(file.ok()) << file.status();
  auto c = DecodeCheckpointFile(*file, "crafted.ckpt");
  ASSERT_TRUE(c.ok()) << c.status();
  auto store = StoreFromTensors(c->tensors());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(StatusMessage(store.status()),
              HasSubstr("tensor 'i/em_emb': 0 data bytes, expected 6755399441055732"));
}

TEST_F(CheckpointTest, InspectDescribesTheCheckpoint) {
  const std::string path = PathOf("i.bin");
  ASSERT_TRUE(WriteCheckpoint(path, MakeCheckpoint()).ok());
  auto d = InspectCheckpoint(path);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->json["round"], 17);
  EXPECT_EQ(d->json["model"]["type"], "sasrec");
  EXPECT_EQ(d->json["tensors"].size(), 3u);
  EXPECT_EQ(d->json["tensors"][1]["name"], "w");
  EXPECT_EQ(d->json["num_parameters"], 7 * 4 + 16 + 4);
  EXPECT_EQ(d->json["privacy"]["epsilon_spent"], 2.5);
  EXPECT_EQ(d->json["streams"]["cohort"], 4242);
  EXPECT_EQ(d->json["header"]["payload_sha256"].get<std::string>().size(), 64u);
  EXPECT_THAT(d->text, HasSubstr("round           17"));
  EXPECT_THAT(d->text, HasSubstr("item_emb"));
  EXPECT_THAT(d->text, HasSubstr("epsilon=2.5"));
  EXPECT_THAT(d->text, HasSubstr("step=12"));
}

}  // namespace
}  // namespace fedrec
