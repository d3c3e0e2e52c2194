#include "data/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/random.h"
#include "data/loader.h"
#include "tests/testing/files.h"
#include "tests/testing/status.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;
using ::fedrec::testing::WriteText;

using ::fedrec::testing::StatusMessage;

absl::StatusOr<Dataset> Load(const std::string& path, DataFormat format = DataFormat::kAuto) {
  LoadOptions o;
  o.format = format;
  o.use_cache = false;
  return LoadDataset(path, o);
}

TEST(ParseDataFormat, NamesRoundTripAndUnknownIsRefused) {
  for (DataFormat f : {DataFormat::kAuto, DataFormat::kMovieLens, DataFormat::kMovieLensDat,
                       DataFormat::kMovieLensCsv, DataFormat::kSasrec, DataFormat::kCsv}) {
    auto parsed = ParseDataFormat(DataFormatName(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  auto bad = ParseDataFormat("parquet");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(StatusMessage(bad.status()), ::testing::HasSubstr("unknown format 'parquet'"));
}

TEST(Reader, MovieLensRemapsDenselyAndOrdersByTimeStably) {
  const auto dir = TestDir();
  // User 7 appears first, then user 3; item ids in first-appearance order
  // 50, 10, 20, 30. User 7 has a tie at t=100 (lines 1 and 3): line order wins.
  const std::string path = WriteText(dir / "u.data",
                                     "7\t50\t5\t100\n"
                                     "3\t10\t4\t50\n"
                                     "7\t20\t3\t100\n"
                                     "7\t30\t2\t90\n");
  auto d = Load(path);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->user_ids, (std::vector<uint64_t>{7, 3}));
  EXPECT_EQ(d->item_ids, (std::vector<uint64_t>{50, 10, 20, 30}));
  EXPECT_EQ(d->offsets, (std::vector<uint64_t>{0, 3, 4}));
  EXPECT_EQ(d->items, (std::vector<uint32_t>{3, 0, 2, 1}));  // 30@90, 50@100, 20@100
  EXPECT_EQ(d->timestamps, (std::vector<int64_t>{90, 100, 100, 50}));
  EXPECT_EQ(d->ratings, (std::vector<float>{2, 5, 3, 4}));
}

TEST(Reader, AllFormatsGiveTheSameDataset) {
  const auto dir = TestDir();
  const std::string tsv = WriteText(dir / "u.data", "1\t2\t3.5\t10\n1\t3\t4\t11\n2\t2\t1\t5\n");
  const std::string dat =
      WriteText(dir / "ratings.dat", "1::2::3.5::10\n1::3::4::11\n2::2::1::5\n");
  const std::string csv = WriteText(
      dir / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,10\n1,3,4,11\n2,2,1,5\n");
  // Generic CSV with another column order and an extra column.
  const std::string gen =
      WriteText(dir / "g.csv", "ts;x;item;user;score\n10;a;2;1;3.5\n11;b;3;1;4\n5;c;2;2;1\n");
  auto a = Load(tsv);
  ASSERT_TRUE(a.ok()) << a.status();
  for (const auto& [path, format] :
       std::vector<std::pair<std::string, DataFormat>>{{tsv, DataFormat::kMovieLens},
                                                       {dat, DataFormat::kAuto},
                                                       {dat, DataFormat::kMovieLensDat},
                                                       {csv, DataFormat::kAuto},
                                                       {csv, DataFormat::kMovieLensCsv}}) {
    auto b = Load(path, format);
    ASSERT_TRUE(b.ok()) << path << ": " << b.status();
    EXPECT_EQ(a->items, b->items) << path;
    EXPECT_EQ(a->ratings, b->ratings) << path;
    EXPECT_EQ(a->timestamps, b->timestamps) << path;
    EXPECT_EQ(a->user_ids, b->user_ids) << path;
  }
  LoadOptions o;
  o.use_cache = false;
  o.format = DataFormat::kCsv;
  o.csv = CsvColumns{
      .delimiter = ';', .has_header = true, .user = 3, .item = 2, .rating = 4, .timestamp = 0};
  auto g = LoadDataset(gen, o);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(a->items, g->items);
  EXPECT_EQ(a->ratings, g->ratings);
}

TEST(Reader, DetectsFormats) {
  const auto dir = TestDir();
  const auto detect = [&](const std::string& name, const std::string& text) {
    auto r = ResolveFormat(WriteText(dir / name, text), DataFormat::kAuto);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? r->format : DataFormat::kAuto;
  };
  EXPECT_EQ(detect("a", "1\t2\t3\t4\n"), DataFormat::kMovieLens);
  EXPECT_EQ(detect("b", "1::2::3::4\n"), DataFormat::kMovieLensDat);
  EXPECT_EQ(detect("c", "userId,movieId,rating,timestamp\n1,2,3,4\n"), DataFormat::kMovieLensCsv);
  EXPECT_EQ(detect("d.txt", "\n\n1 2\n"), DataFormat::kSasrec);
  EXPECT_EQ(detect("e", "1,2\n"), DataFormat::kCsv);
  EXPECT_EQ(detect("tabs.txt", "1\t2\n"), DataFormat::kSasrec);
  EXPECT_EQ(detect("tabs.tsv", "1\t2\n"), DataFormat::kCsv);
  auto header =
      ResolveFormat(WriteText(dir / "f.csv", "item,user,timestamp\n1,2,3\n"), DataFormat::kAuto);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->format, DataFormat::kCsv);
  EXPECT_EQ(header->csv.user, 1);
  EXPECT_EQ(header->csv.item, 0);
  EXPECT_EQ(header->csv.rating, -1);
  EXPECT_EQ(header->csv.timestamp, 2);
  auto unknown = ResolveFormat(WriteText(dir / "g", "hello world again\n"), DataFormat::kAuto);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(StatusMessage(unknown.status()), ::testing::HasSubstr("cannot"));
}

TEST(Reader, SasrecUsesLineNumbersAsTimeAndAcceptsBomCrlfAndBlankLines) {
  const auto dir = TestDir();
  const std::string path = WriteText(dir / "s.txt",
                                     "\xEF\xBB\xBF"
                                     "1 5\r\n1 6\r\n\r\n2  5\r\n1\t5\r\n\r\n\n");
  auto d = Load(path);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->user_ids, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(d->items, (std::vector<uint32_t>{0, 1, 0, 0}));
  EXPECT_EQ(d->timestamps, (std::vector<int64_t>{1, 2, 5, 4}));
  EXPECT_EQ(d->ratings, (std::vector<float>{1, 1, 1, 1}));
}

TEST(Reader, LargeIdsUseTheHashPath) {
  const auto dir = TestDir();
  const std::string path = WriteText(
      dir / "s.txt", "18446744073709551615 9000000000\n5 9000000000\n18446744073709551615 1\n");
  auto d = Load(path, DataFormat::kSasrec);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->user_ids, (std::vector<uint64_t>{18446744073709551615ull, 5}));
  EXPECT_EQ(d->item_ids, (std::vector<uint64_t>{9000000000ull, 1}));
  EXPECT_EQ(d->items, (std::vector<uint32_t>{0, 1, 0}));
}

// Every class of bad input, with the exact message.
struct BadCase {
  std::string file;
  std::string text;
  DataFormat format;
  std::string message;  // after "<dir>/"
};

TEST(Reader, RefusesBadInputWithExactMessages) {
  const auto dir = TestDir();
  const std::vector<BadCase> cases = {
      {"u.data", "1\t2\t3\t4\n1\t2\t3\n", DataFormat::kAuto,
       "u.data:2: expected 4 columns, found 3"},
      {"x.csv", "user,item\n1,2\n1,-4\n", DataFormat::kAuto, "x.csv:3: item id '-4' is negative"},
      {"x.txt", "1 2\n\n18446744073709551616 3\n", DataFormat::kSasrec,
       "x.txt:3: user id '18446744073709551616' does not fit in 64 bits"},
      {"y.txt", "1 2\nab 3\n", DataFormat::kSasrec,
       "y.txt:2: user id 'ab' is not a non-negative integer"},
      {"z.txt", "1 2.5\n", DataFormat::kSasrec,
       "z.txt:1: item id '2.5' is not a non-negative integer"},
      {"r.dat", "1::2::3::4\n1::2::3::4\n1::2::3::4\n1::2::3::4\n1::2::nan::4\n", DataFormat::kAuto,
       "r.dat:5: rating 'nan' is not a finite number"},
      {"inf.dat", "1::2::inf::4\n", DataFormat::kAuto,
       "inf.dat:1: rating 'inf' is not a finite number"},
      {"big.dat", "1::2::1e999::4\n", DataFormat::kAuto,
       "big.dat:1: rating '1e999' is not a finite number"},
      {"s.dat", "1::2::good::4\n", DataFormat::kAuto, "s.dat:1: rating 'good' is not a number"},
      {"t.data", "1\t2\t3\tyesterday\n", DataFormat::kMovieLens,
       "t.data:1: timestamp 'yesterday' is not an integer"},
      {"t2.data", "1\t2\t3\t99999999999999999999\n", DataFormat::kMovieLens,
       "t2.data:1: timestamp '99999999999999999999' does not fit in 64 bits"},
      {"empty.data", "", DataFormat::kAuto, "empty.data: file is empty"},
      {"blank.data", "\n  \n\r\n", DataFormat::kMovieLens, "blank.data: file is empty"},
      {"blank2.txt", "\n\n", DataFormat::kAuto, "blank2.txt: file is empty"},
      {"hdr.csv", "userId,movieId,rating,timestamp\n", DataFormat::kMovieLensCsv,
       "hdr.csv: file has a header but no interactions"},
      {"few.csv", "1\n", DataFormat::kCsv, "few.csv:1: expected at least 2 columns, found 1"},
      {"w.txt", "1 2 3\n", DataFormat::kSasrec, "w.txt:1: expected 2 columns, found 3"},
  };
  for (const BadCase& c : cases) {
    const std::string path = WriteText(dir / c.file, c.text);
    LoadOptions o;
    o.use_cache = false;
    o.format = c.format;
    if (c.format == DataFormat::kCsv) o.csv.has_header = false;
    auto d = LoadDataset(path, o);
    ASSERT_FALSE(d.ok()) << c.file;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << c.file;
    EXPECT_EQ(StatusMessage(d.status()), (dir / c.message).string());
  }
}

TEST(Reader, RefusesMissingFileDirectoryAndHugeLines) {
  const auto dir = TestDir();
  auto missing = Load((dir / "nope.data").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusMessage(missing.status()), (dir / "nope.data").string() + ": no such file");
  auto directory = Load(dir.string(), DataFormat::kMovieLens);
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusMessage(directory.status()), dir.string() + ": is a directory");
  auto directory_auto = Load(dir.string());
  EXPECT_EQ(StatusMessage(directory_auto.status()), dir.string() + ": is a directory");

  const std::string big =
      WriteText(dir / "big.txt", "1 2\n" + std::string((1 << 20) + 1, '7') + " 3\n");
  auto huge = Load(big, DataFormat::kSasrec);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusMessage(huge.status()), big + ":2: line longer than 1 MiB");
  // Also when auto detection meets the long line first.
  const std::string first =
      WriteText(dir / "first.txt", "\n" + std::string((1 << 20) + 1, '7') + " 3\n");
  EXPECT_EQ(StatusMessage(Load(first).status()), first + ":2: line longer than 1 MiB");
  // Exactly 1 MiB is fine as far as the length rule goes (it then fails on
  // the column count, which proves the line was read).
  const std::string edge = WriteText(dir / "edge.txt", std::string(1 << 20, '7') + "\n");
  EXPECT_EQ(StatusMessage(Load(edge, DataFormat::kSasrec).status()),
            edge + ":1: expected 2 columns, found 1");
}

TEST(Reader, LastLineWithoutNewlineAndQuotedCsvFields) {
  const auto dir = TestDir();
  const std::string path =
      WriteText(dir / "q.csv", "\"user\",\"item\",\"rating\"\n\"1\", \"2\", 4.5");
  auto d = Load(path);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->ratings, (std::vector<float>{4.5f}));
  EXPECT_EQ(d->item_ids, (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace fedrec

namespace fedrec {
namespace {

// The one-pass fast path and the general path must agree: the same data
// written plainly and with every accepted quirk (padding, quotes, CRLF,
// blank lines, decimals, negative timestamps, huge ids) loads identically.
TEST(Reader, FastAndGeneralPathsAgree) {
  const auto dir = testing::TestDir();
  RandomStream rng({.seed = 3, .purpose = "reader_test"});
  std::string plain = "user,item,rating,timestamp\n";
  std::string quirky = "\xEF\xBB\xBF user , \"item\",rating,timestamp\r\n";
  for (int k = 0; k < 20000; ++k) {
    // Small ids (direct map) and ids near 2^64 (hash map, many rehashes).
    const uint64_t user =
        rng.NextBernoulli(0.5) ? rng.NextBelow(300) : ~uint64_t{0} - rng.NextBelow(5000);
    const uint64_t item =
        rng.NextBernoulli(0.5) ? rng.NextBelow(1000) : (uint64_t{1} << 40) + rng.NextBelow(9000);
    const int64_t ts = static_cast<int64_t>(rng.NextBelow(100)) - 50;
    const std::string rating = rng.NextBernoulli(0.5) ? "4" : "3.5";
    plain += std::to_string(user) + "," + std::to_string(item) + "," + rating + "," +
             std::to_string(ts) + "\n";
    quirky += " " + std::to_string(user) + ",\"" + std::to_string(item) + "\", " + rating + " ," +
              std::to_string(ts) + "\r\n";
    if (k % 97 == 0) quirky += "  \r\n";
  }
  LoadOptions o;
  o.use_cache = false;
  auto a = LoadDataset(testing::WriteText(dir / "plain.csv", plain), o);
  auto b = LoadDataset(testing::WriteText(dir / "quirky.csv", quirky), o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->user_ids, b->user_ids);
  EXPECT_EQ(a->item_ids, b->item_ids);
  EXPECT_EQ(a->offsets, b->offsets);
  EXPECT_EQ(a->items, b->items);
  EXPECT_EQ(a->timestamps, b->timestamps);
  EXPECT_EQ(a->ratings, b->ratings);
  EXPECT_EQ(a->num_interactions(), 20000u);
  // Per-user time order holds, with negative timestamps too.
  for (uint32_t u = 0; u < a->num_users(); ++u) {
    for (uint64_t p = a->offsets[u] + 1; p < a->offsets[u + 1]; ++p) {
      ASSERT_LE(a->timestamps[p - 1], a->timestamps[p]);
    }
  }
}

}  // namespace
}  // namespace fedrec
