// The round protocol's codec and exchange: every message round-trips, every
// truncation is refused, and a command that does not decode ends the
// exchange with the same error on every rank.
#include "worker/round_channel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "comm/local_collective.h"
#include "google/protobuf/util/message_differencer.h"

namespace fedrec {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

std::vector<proto::RoundCommand> EveryCommand() {
  std::vector<proto::RoundCommand> all;
  proto::RoundCommand c;
  c.mutable_train()->set_round(7);
  c.mutable_train()->set_clip_norm(0.25);
  c.mutable_train()->set_encoded_words(1000);
  c.mutable_train()->set_bits(32);
  c.set_has_global_params(true);
  c.set_global_params(std::string("\x01\x00\x80\x3f", 4));
  all.push_back(c);
  c.Clear();
  c.mutable_eval()->set_part(proto::SPLIT_PART_TEST);
  c.mutable_eval()->set_protocol(proto::EVAL_PROTOCOL_FULL);
  c.mutable_eval()->set_best_local(true);
  c.mutable_eval()->set_k(10);
  all.push_back(c);
  c.Clear();
  c.mutable_snapshot_best();
  all.push_back(c);
  c.Clear();
  c.mutable_write_shard()->set_checkpoint_path("/tmp/run/checkpoints/best.ckpt");
  c.mutable_write_shard()->set_round(3);
  all.push_back(c);
  c.Clear();
  c.mutable_restore()->set_checkpoint_path("ckpt-00000002.ckpt");
  c.mutable_restore()->add_shards()->set_file_name("ckpt-00000002.r2.w1-of-1.local");
  all.push_back(c);
  c.Clear();
  c.mutable_local_digest();
  all.push_back(c);
  c.Clear();
  c.mutable_stop()->mutable_reason()->set_code(3);
  c.mutable_stop()->mutable_reason()->set_message("config: bad");
  all.push_back(c);
  return all;
}

std::vector<proto::WorkerReply> EveryReply() {
  std::vector<proto::WorkerReply> all;
  proto::WorkerReply r;
  r.set_rank(2);
  r.mutable_train()->set_uploaded(5);
  r.mutable_train()->set_seconds_train(0.5);
  all.push_back(r);
  r.Clear();
  r.mutable_eval()->set_hr(1ull << 40);
  all.push_back(r);
  r.Clear();
  r.mutable_shard()->mutable_shard()->set_file_name("x.local");
  all.push_back(r);
  r.Clear();
  r.mutable_local_digest()->add_lanes(~0ull);
  all.push_back(r);
  r.Clear();
  *r.mutable_status() = ToStatusMessage(absl::DataLossError("shard damaged"));
  all.push_back(r);
  return all;
}

TEST(RoundChannelTest, EveryMessageRoundTrips) {
  for (const proto::RoundCommand& c : EveryCommand()) {
    auto back = DecodeCommand(EncodeCommand(c));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*back, c)) << c.DebugString();
  }
  for (const proto::WorkerReply& r : EveryReply()) {
    auto back = DecodeReply(EncodeReply(r));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*back, r)) << r.DebugString();
  }
}

TEST(RoundChannelTest, EveryTruncationAndExtensionIsRefused) {
  for (const proto::RoundCommand& c : EveryCommand()) {
    const std::string bytes = EncodeCommand(c);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(DecodeCommand(bytes.substr(0, n)).ok()) << n << " of " << bytes.size();
    }
    EXPECT_FALSE(DecodeCommand(bytes + '\0').ok());
    EXPECT_FALSE(DecodeReply(bytes).ok()) << "a command read as a reply";
  }
  for (const proto::WorkerReply& r : EveryReply()) {
    const std::string bytes = EncodeReply(r);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(DecodeReply(bytes.substr(0, n)).ok()) << n << " of " << bytes.size();
    }
  }
  EXPECT_THAT(std::string(DecodeCommand(EncodeCommand(proto::RoundCommand())).status().message()),
              HasSubstr("without a command"));
}

TEST(RoundChannelTest, StatusesCrossRanksWithCodeAndMessage) {
  const absl::Status st = absl::NotFoundError("run/checkpoints/x.local: missing");
  EXPECT_EQ(FromStatusMessage(ToStatusMessage(st)), st);
  EXPECT_TRUE(FromStatusMessage(ToStatusMessage(absl::OkStatus())).ok());
  proto::StatusMessage bogus;
  bogus.set_code(999);
  bogus.set_message("?");
  EXPECT_EQ(FromStatusMessage(bogus).code(), absl::StatusCode::kUnknown);
}

TEST(RoundChannelTest, GarbageEndsTheExchangeOnEveryRankWithTheSameError) {
  auto group = LocalCollectiveGroup::Create(3);
  ASSERT_TRUE(group.ok());
  std::vector<absl::Status> result(3);
  std::vector<std::thread> threads;
  for (int r = 1; r < 3; ++r) {
    threads.emplace_back([&, r] { result[r] = ReceiveCommand((*group)->rank(r)).status(); });
  }
  result[0] = SendCommandBytes((*group)->rank(0), "not a frame");
  for (auto& t : threads) t.join();
  ASSERT_FALSE(result[0].ok());
  EXPECT_THAT(std::string(result[0].message()), HasSubstr("rank 1"));
  for (const absl::Status& st : result) {
    EXPECT_EQ(st.code(), result[0].code());
    EXPECT_EQ(st.message(), result[0].message());
  }
  EXPECT_FALSE(IsReportedByAnotherRank(result[0]));  // rank 0 prints it
  EXPECT_TRUE(IsReportedByAnotherRank(result[1]));
}

TEST(RoundChannelTest, RepliesAreCheckedAndAWorkerErrorNamesItsRank) {
  auto group = LocalCollectiveGroup::Create(3);
  ASSERT_TRUE(group.ok());
  auto exchange = [&](const proto::WorkerReply& from2) {
    absl::StatusOr<std::vector<proto::WorkerReply>> got;
    std::thread t1([&] {
      proto::WorkerReply ok;
      ok.mutable_eval()->set_users(4);
      ASSERT_TRUE(SendReply((*group)->rank(1), ok).ok());
    });
    std::thread t2([&] { ASSERT_TRUE(SendReply((*group)->rank(2), from2).ok()); });
    got = GatherReplies((*group)->rank(0), proto::WorkerReply::kEval);
    t1.join();
    t2.join();
    return got;
  };
  proto::WorkerReply good;
  good.mutable_eval()->set_users(6);
  auto both = exchange(good);
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[1].rank(), 2u);
  EXPECT_EQ((*both)[1].eval().users(), 6u);

  proto::WorkerReply failed = good;
  *failed.mutable_status() = ToStatusMessage(absl::DataLossError("shard damaged"));
  auto err = exchange(failed);
  EXPECT_EQ(err.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(err.status().message(), "worker rank 2: shard damaged");

  proto::WorkerReply wrong;
  wrong.mutable_train();
  EXPECT_THAT(std::string(exchange(wrong).status().message()), HasSubstr("another command"));
}

}  // namespace
}  // namespace fedrec
