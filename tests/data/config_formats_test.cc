// core/config.h validates data.format without depending on data/ (core is
// below data); this pins that both accept exactly the same names.
#include <gtest/gtest.h>

#include "core/config.h"
#include "data/reader.h"

namespace fedrec {
namespace {

TEST(ConfigFormats, EveryReaderFormatIsAValidConfigValueAndBack) {
  for (DataFormat f : {DataFormat::kAuto, DataFormat::kMovieLens, DataFormat::kMovieLensDat,
                       DataFormat::kMovieLensCsv, DataFormat::kSasrec, DataFormat::kCsv}) {
    const std::string name = DataFormatName(f);
    auto config = ParseConfig("", "test", {"data.format=" + name});
    EXPECT_TRUE(config.ok()) << name << ": " << config.status();
  }
  EXPECT_FALSE(ParseConfig("", "test", {"data.format=parquet"}).ok());
  EXPECT_FALSE(ParseDataFormat("parquet").ok());
}

}  // namespace
}  // namespace fedrec
