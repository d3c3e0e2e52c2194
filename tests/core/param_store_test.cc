#include "core/param_store.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace fedrec {
namespace {

ParameterStore MakeStore() {
  ParameterStore s;
  EXPECT_TRUE(s.Add("item_emb", 5, 3).ok());
  EXPECT_TRUE(s.Add("w", 2, 4).ok());
  EXPECT_TRUE(s.Add("b", 1, 4).ok());
  s.Finalize();
  return s;
}

TEST(ParameterStore, LayoutIsInsertionOrderWithoutPadding) {
  ParameterStore s = MakeStore();
  ASSERT_EQ(s.num_tensors(), 3u);
  EXPECT_EQ(s.layout()[0], (TensorLayout{"item_emb", 5, 3, 0}));
  EXPECT_EQ(s.layout()[1], (TensorLayout{"w", 2, 4, 15}));
  EXPECT_EQ(s.layout()[2], (TensorLayout{"b", 1, 4, 23}));
  EXPECT_EQ(s.size(), 27u);
  EXPECT_EQ(s.Flat().size(), 27u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s.Flat().data()) % ParameterStore::kAlignment, 0u);
}

TEST(ParameterStore, ZeroInitialisedAndViewsAliasFlat) {
  ParameterStore s = MakeStore();
  for (float x : s.Flat()) EXPECT_EQ(x, 0.0f);
  auto w = s.View("w");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->rows, 2u);
  EXPECT_EQ(w->cols, 4u);
  (*w)(1, 2) = 7.0f;
  EXPECT_EQ(s.Flat()[15 + 1 * 4 + 2], 7.0f);
  auto row = s.View("item_emb")->Row(4);
  ASSERT_EQ(row.size(), 3u);
  row[0] = 3.0f;
  EXPECT_EQ(s.Flat()[12], 3.0f);
  const ParameterStore& cs = s;
  auto cw = cs.View("w");
  ASSERT_TRUE(cw.ok());
  EXPECT_EQ(cw->Row(1)[2], 7.0f);
}

TEST(ParameterStore, Errors) {
  ParameterStore s;
  ASSERT_TRUE(s.Add("a", 1, 1).ok());
  EXPECT_EQ(s.Add("a", 2, 2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add("", 2, 2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add("z", 0, 2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.View("a").status().code(), absl::StatusCode::kFailedPrecondition);
  s.Finalize();
  EXPECT_EQ(s.Add("c", 1, 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.View("nope").status().code(), absl::StatusCode::kNotFound);
}

// With the checkpoint fix above: sizes come from files and configs, so a
// float count that overflows is refused rather than wrapped.
TEST(ParameterStore, AddRefusesASizeThatOverflows) {
  ParameterStore store;
  EXPECT_FALSE(store.Add("huge", size_t{1} << 40, size_t{1} << 30).ok());
  ASSERT_TRUE(store.Add("a", size_t{1} << 30, size_t{1} << 30).ok());
  EXPECT_FALSE(store.Add("b", size_t{1} << 62, 1).ok());
  EXPECT_EQ(store.num_tensors(), 1u);
}

TEST(ParameterStore, CopyIsDeepAndEqualityComparesValues) {
  ParameterStore a = MakeStore();
  a.Flat()[3] = 1.5f;
  ParameterStore b = a;
  EXPECT_EQ(a, b);
  EXPECT_NE(a.Flat().data(), b.Flat().data());
  b.Flat()[3] = 2.5f;
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.SameLayout(b));
  b.SetZero();
  EXPECT_EQ(b.Flat()[3], 0.0f);
  ParameterStore c;
  c = a;
  EXPECT_EQ(c, a);
  ParameterStore other;
  ASSERT_TRUE(other.Add("x", 1, 1).ok());
  other.Finalize();
  EXPECT_FALSE(other.SameLayout(a));
  EXPECT_NE(other, a);
}

TEST(ParameterStore, MovedStoreKeepsViewsValid) {
  ParameterStore a = MakeStore();
  TensorView v = *a.View("b");
  ParameterStore b = std::move(a);
  v(0, 1) = 9.0f;
  EXPECT_EQ((*b.View("b"))(0, 1), 9.0f);
}

TEST(ParameterStore, EmptyStore) {
  ParameterStore s;
  s.Finalize();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_TRUE(s.Flat().empty());
  ParameterStore t = s;
  EXPECT_EQ(s, t);
}

}  // namespace
}  // namespace fedrec
