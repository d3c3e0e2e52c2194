#include "content/item_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::content {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string UItemLine(const std::string& id, const std::string& title, const std::string& flags) {
  std::string line = id + "|" + title + "|01-Jan-1995||http://us.imdb.com/x";
  for (char f : flags) line += std::string("|") + f;
  return line + "\n";
}

TEST(ItemTextTest, MovieLensUItem) {
  const std::string bytes =
      UItemLine("1", "Toy Story (1995)", "0001110000000000000") +
      UItemLine("267", "unknown", "1000000000000000000") +
      UItemLine("1682", "Scream of Stone (Schrei aus Stein) (1991)", "0000000010000000000");
  auto items = ParseItemTexts(bytes, "ml/u.item", ItemTextFormat::kAuto);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->ids, ElementsAre(1, 267, 1682));
  EXPECT_THAT(items->texts,
              ElementsAre("Toy Story (1995). Animation, Children's, Comedy", "unknown",
                          "Scream of Stone (Schrei aus Stein) (1991). Drama"));
}

TEST(ItemTextTest, Latin1IsConvertedToUtf8) {
  const std::string bytes = UItemLine("1", "Mis\xe9rables, Les (1995)", "0000000010001000000");
  auto items = ParseItemTexts(bytes, "u.item", ItemTextFormat::kMovieLens);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->texts, ElementsAre("Mis\u00e9rables, Les (1995). Drama, Musical"));
  // A UTF-8 file stays as it is.
  items = ParseItemTexts("1,Mis\u00e9rables\n", "t.csv", ItemTextFormat::kAuto);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->texts, ElementsAre("Mis\u00e9rables"));
  EXPECT_EQ(Latin1ToUtf8("a\xff"), "a\u00ff");
}

TEST(ItemTextTest, MovieLensMoviesDat) {
  auto items = ParseItemTexts(
      "1::Toy Story (1995)::Animation|Children's|Comedy\n"
      "2::Jumanji (1995)::(no genres listed)\n",
      "ml-1m/movies.dat", ItemTextFormat::kAuto);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->texts,
              ElementsAre("Toy Story (1995). Animation, Children's, Comedy", "Jumanji (1995)"));
}

TEST(ItemTextTest, MovieLensErrorsNameTheLine) {
  std::string bytes = UItemLine("1", "A", "0000000010000000000") + "2|B|x\n";
  auto items = ParseItemTexts(bytes, "u.item", ItemTextFormat::kMovieLens);
  EXPECT_EQ(items.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::StatusMessage(items.status()),
            "u.item:2: expected 24 '|'-separated fields (u.item), got 3");
  bytes = UItemLine("1", "A", "0000000010000000000") + UItemLine("1", "B", "0000000010000000000");
  items = ParseItemTexts(bytes, "u.item", ItemTextFormat::kMovieLens);
  EXPECT_EQ(testing::StatusMessage(items.status()), "u.item:2: duplicate item id 1");
  bytes = UItemLine("x1", "A", "0000000010000000000");
  items = ParseItemTexts(bytes, "u.item", ItemTextFormat::kMovieLens);
  EXPECT_EQ(testing::StatusMessage(items.status()), "u.item:1: item id 'x1' is not an integer");
  bytes = UItemLine("1", "A", "0000000020000000000");
  items = ParseItemTexts(bytes, "u.item", ItemTextFormat::kMovieLens);
  EXPECT_THAT(testing::StatusMessage(items.status()), HasSubstr("u.item:1: genre flag 9"));
}

TEST(ItemTextTest, CsvWithHeaderAndQuotes) {
  const std::string bytes =
      "item_id,text\n"
      "10,Plain text\n"
      "\n"
      "11,\"Usual Suspects, The (1995)\"\n"
      "12,\"He said \"\"hi\"\"\nover two lines\"\r\n"
      "13,\"\"\n";
  auto items = ParseItemTexts(bytes, "items.csv", ItemTextFormat::kAuto);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->ids, ElementsAre(10, 11, 12, 13));
  EXPECT_THAT(items->texts, ElementsAre("Plain text", "Usual Suspects, The (1995)",
                                        "He said \"hi\"\nover two lines", ""));
}

TEST(ItemTextTest, TsvByExtensionOrFirstLine) {
  auto items = ParseItemTexts("1\tA, with a comma\n2\tB\n", "items.tsv", ItemTextFormat::kAuto);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->texts, ElementsAre("A, with a comma", "B"));
  items = ParseItemTexts("id\ttext\n1\tA, b\n", "items.txt", ItemTextFormat::kCsv);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->texts, ElementsAre("A, b"));
}

TEST(ItemTextTest, CsvErrorsNameTheLine) {
  auto items = ParseItemTexts("id,text\n1,a\n2,b,c\n", "i.csv", ItemTextFormat::kCsv);
  EXPECT_THAT(testing::StatusMessage(items.status()),
              HasSubstr("i.csv:3: expected 2 fields (item_id,text), got 3"));
  items = ParseItemTexts("1,\"a\nb\"\n2,x\n3,\"open\n", "i.csv", ItemTextFormat::kCsv);
  EXPECT_EQ(testing::StatusMessage(items.status()), "i.csv:4: unterminated quoted field");
  items = ParseItemTexts("1,a\nb,c\n", "i.csv", ItemTextFormat::kCsv);
  EXPECT_EQ(testing::StatusMessage(items.status()), "i.csv:2: item id 'b' is not an integer");
  items = ParseItemTexts("id,text\n", "i.csv", ItemTextFormat::kCsv);
  EXPECT_EQ(testing::StatusMessage(items.status()), "i.csv: no items");
}

TEST(ItemTextTest, ReadsFilesAndFormats) {
  testing::TempDir dir("content");
  const std::string path =
      dir.File("u.item", UItemLine("5", "Copycat (1995)", "0000001010000000100"));
  auto items = ReadItemTexts(path, ItemTextFormat::kAuto);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_THAT(items->texts, ElementsAre("Copycat (1995). Crime, Drama, Thriller"));
  EXPECT_EQ(ReadItemTexts(dir.Path("none.csv"), ItemTextFormat::kAuto).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(ParseItemTextFormat("movielens").ok());
  EXPECT_THAT(testing::StatusMessage(ParseItemTextFormat("json").status()),
              HasSubstr("'json' is not auto, movielens or csv"));
}

}  // namespace
}  // namespace fedrec::content
