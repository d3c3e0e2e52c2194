#include "data/filters.h"

#include <algorithm>
#include <limits>

namespace fedrec {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// Counts kept interactions per raw user and per raw item.
void Count(const RawInteractions& raw, const KeepMask& keep, std::vector<uint32_t>* users,
           std::vector<uint32_t>* items) {
  users->assign(raw.user_ids.size(), 0);
  items->assign(raw.item_ids.size(), 0);
  for (size_t k = 0; k < raw.size(); ++k) {
    if (!keep[k]) continue;
    ++(*users)[raw.users[k]];
    ++(*items)[raw.items[k]];
  }
}

}  // namespace

UserOrder GroupByUserInTimeOrder(const RawInteractions& raw, const KeepMask& keep) {
  UserOrder g;
  const size_t num_users = raw.user_ids.size();
  g.offsets.assign(num_users + 1, 0);
  for (size_t k = 0; k < raw.size(); ++k) g.offsets[raw.users[k] + 1] += keep[k];
  for (size_t u = 0; u < num_users; ++u) g.offsets[u + 1] += g.offsets[u];
  g.order.resize(g.offsets[num_users]);
  // Counting sort: scattering in line order keeps each group in line order.
  std::vector<uint64_t> cursor(g.offsets.begin(), g.offsets.end() - 1);
  for (size_t k = 0; k < raw.size(); ++k) {
    if (keep[k]) g.order[cursor[raw.users[k]]++] = static_cast<uint32_t>(k);
  }
  // Then order each group by timestamp; the line index breaks ties, which
  // makes the (unstable, faster) std::sort equal to a stable sort. Keys are
  // gathered once so the sort itself runs on contiguous memory.
  std::vector<std::pair<int64_t, uint32_t>> keys;
  for (size_t u = 0; u < num_users; ++u) {
    uint32_t* b = g.order.data() + g.offsets[u];
    uint32_t* e = g.order.data() + g.offsets[u + 1];
    keys.clear();
    bool sorted = true;
    for (uint32_t* p = b; p < e; ++p) {
      keys.emplace_back(raw.timestamps[*p], *p);
      sorted = sorted && (keys.size() < 2 || keys[keys.size() - 2].first <= keys.back().first);
    }
    if (sorted) continue;
    std::sort(keys.begin(), keys.end());
    for (size_t k = 0; k < keys.size(); ++k) b[k] = keys[k].second;
  }
  return g;
}

void DedupeConsecutive(const RawInteractions& raw, KeepMask* keep) {
  const UserOrder g = GroupByUserInTimeOrder(raw, *keep);
  for (size_t u = 0; u + 1 < g.offsets.size(); ++u) {
    uint32_t previous = kNone;
    for (uint64_t p = g.offsets[u]; p < g.offsets[u + 1]; ++p) {
      const uint32_t line = g.order[p];
      if (raw.items[line] == previous) {
        (*keep)[line] = 0;
      } else {
        previous = raw.items[line];
      }
    }
  }
}

void ApplyMinCount(const RawInteractions& raw, uint32_t k, KeepMask* keep) {
  if (k <= 1) return;
  std::vector<uint32_t> users, items;
  Count(raw, *keep, &users, &items);
  for (size_t n = 0; n < raw.size(); ++n) {
    if (users[raw.users[n]] < k || items[raw.items[n]] < k) (*keep)[n] = 0;
  }
}

void ApplyKCore(const RawInteractions& raw, uint32_t k, KeepMask* keep) {
  if (k <= 1) return;
  std::vector<uint32_t> users, items;
  Count(raw, *keep, &users, &items);
  // Dropping as we go (and decrementing the counts) reaches the same fixed
  // point as whole-pass rounds: the maximal k-core is unique.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t n = 0; n < raw.size(); ++n) {
      if (!(*keep)[n]) continue;
      const uint32_t u = raw.users[n], i = raw.items[n];
      if (users[u] < k || items[i] < k) {
        (*keep)[n] = 0;
        --users[u];
        --items[i];
        changed = true;
      }
    }
  }
}

KeepMask ApplyFilters(const RawInteractions& raw, const FilterOptions& options) {
  KeepMask keep(raw.size(), 1);
  if (options.dedupe_consecutive) DedupeConsecutive(raw, &keep);
  ApplyMinCount(raw, options.min_count, &keep);
  ApplyKCore(raw, options.kcore, &keep);
  return keep;
}

Dataset BuildDataset(const RawInteractions& raw, const KeepMask& keep) {
  Dataset d;
  // Dense ids in order of first appearance among the kept lines; count the
  // kept interactions per new user on the way.
  std::vector<uint32_t> user_new(raw.user_ids.size(), kNone);
  std::vector<uint32_t> item_new(raw.item_ids.size(), kNone);
  std::vector<uint64_t> counts;
  for (size_t n = 0; n < raw.size(); ++n) {
    if (!keep[n]) continue;
    uint32_t& u = user_new[raw.users[n]];
    if (u == kNone) {
      u = static_cast<uint32_t>(d.user_ids.size());
      d.user_ids.push_back(raw.user_ids[raw.users[n]]);
      counts.push_back(0);
    }
    ++counts[u];
    uint32_t& i = item_new[raw.items[n]];
    if (i == kNone) {
      i = static_cast<uint32_t>(d.item_ids.size());
      d.item_ids.push_back(raw.item_ids[raw.items[n]]);
    }
  }
  const size_t num_users = d.user_ids.size();
  d.offsets.resize(num_users + 1);
  d.offsets[0] = 0;
  for (size_t u = 0; u < num_users; ++u) d.offsets[u + 1] = d.offsets[u] + counts[u];
  const uint64_t total = d.offsets[num_users];
  // Counting sort: read the lines sequentially and scatter each straight to
  // its user's next slot, so every sequence is in line order. One 16-byte
  // record per interaction makes the scatter one cache miss, not three.
  struct Record {
    int64_t ts;
    uint32_t item;
    float rating;
  };
  std::vector<Record> records(total);
  std::vector<uint64_t>& cursor = counts;
  std::copy(d.offsets.begin(), d.offsets.end() - 1, cursor.begin());
  constexpr size_t kAhead = 16;  // prefetch distance: hides the scatter's cache misses
  for (size_t n = 0; n < raw.size(); ++n) {
    if (n + kAhead < raw.size() && keep[n + kAhead]) {
      __builtin_prefetch(&records[cursor[user_new[raw.users[n + kAhead]]]], 1);
    }
    if (!keep[n]) continue;
    records[cursor[user_new[raw.users[n]]]++] = {raw.timestamps[n], item_new[raw.items[n]],
                                                 raw.ratings[n]};
  }
  // Then sort each sequence by timestamp; std::stable_sort keeps ties in
  // line order. Sequences are contiguous, so this is cache friendly.
  for (size_t u = 0; u < num_users; ++u) {
    const auto b = records.begin() + static_cast<ptrdiff_t>(d.offsets[u]);
    const auto e = records.begin() + static_cast<ptrdiff_t>(d.offsets[u + 1]);
    const auto by_time = [](const Record& x, const Record& y) { return x.ts < y.ts; };
    if (!std::is_sorted(b, e, by_time)) std::stable_sort(b, e, by_time);
  }
  d.items.resize(total);
  d.timestamps.resize(total);
  d.ratings.resize(total);
  for (uint64_t k = 0; k < total; ++k) {
    d.items[k] = records[k].item;
    d.timestamps[k] = records[k].ts;
    d.ratings[k] = records[k].rating;
  }
  return d;
}

}  // namespace fedrec
