#include "models/gradients.h"

#include <gtest/gtest.h>

namespace fedrec {
namespace {

ParameterStore Layout() {
  ParameterStore p;
  EXPECT_TRUE(p.Add("item_emb", 100, 4).ok());
  EXPECT_TRUE(p.Add("w", 2, 3).ok());
  p.Finalize();
  return p;
}

TEST(Gradients, SparseRowsAreTrackedAndCleared) {
  Gradients g(Layout(), {true, false});
  EXPECT_TRUE(g.IsSparse(0));
  EXPECT_FALSE(g.IsSparse(1));
  g.MarkRow(0, 7);
  g.MarkRow(0, 3);
  g.MarkRow(0, 7);
  EXPECT_EQ(g.TouchedRows(0), (std::vector<uint32_t>{7, 3}));
  g.View(0).Row(7)[1] = 2.0f;
  g.View(1).data[5] = -1.0f;
  EXPECT_DOUBLE_EQ(g.SquaredNorm(), 5.0);
  g.Clear();
  EXPECT_TRUE(g.TouchedRows(0).empty());
  EXPECT_EQ(g.View(0).Row(7)[1], 0.0f);
  EXPECT_EQ(g.View(1).data[5], 0.0f);
  EXPECT_DOUBLE_EQ(g.SquaredNorm(), 0.0);
}

TEST(Gradients, AddFromMergesRowsAndValues) {
  Gradients a(Layout(), {true, false}), b(Layout(), {true, false});
  a.MarkRow(0, 1);
  a.View(0).Row(1)[0] = 1.0f;
  b.MarkRow(0, 1);
  b.MarkRow(0, 9);
  b.View(0).Row(1)[0] = 2.0f;
  b.View(0).Row(9)[3] = 4.0f;
  b.View(1).data[0] = 0.5f;
  a.AddFrom(b);
  EXPECT_EQ(a.TouchedRows(0), (std::vector<uint32_t>{1, 9}));
  EXPECT_EQ(a.View(0).Row(1)[0], 3.0f);
  EXPECT_EQ(a.View(0).Row(9)[3], 4.0f);
  EXPECT_EQ(a.View(1).data[0], 0.5f);
  a.Scale(2.0f);
  EXPECT_EQ(a.View(0).Row(9)[3], 8.0f);
  EXPECT_EQ(a.View(1).data[0], 1.0f);
}

}  // namespace
}  // namespace fedrec
