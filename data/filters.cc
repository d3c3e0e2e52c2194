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
  // makes the (unstable, faster) std::sort equal to a stable sort.
  const int64_t* ts = raw.timestamps.data();
  for (size_t u = 0; u < num_users; ++u) {
    uint32_t* b = g.order.data() + g.offsets[u];
    uint32_t* e = g.order.data() + g.offsets[u + 1];
    const auto less = [ts](uint32_t a, uint32_t c) { return ts[a] < ts[c] || (ts[a] == ts[c] && a < c); };
    if (!std::is_sorted(b, e, less)) std::sort(b, e, less);
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
  // Dense ids in order of first appearance among the kept lines.
  std::vector<uint32_t> user_new(raw.user_ids.size(), kNone);
  std::vector<uint32_t> item_new(raw.item_ids.size(), kNone);
  std::vector<uint32_t> user_raw;  // new -> raw
  for (size_t n = 0; n < raw.size(); ++n) {
    if (!keep[n]) continue;
    uint32_t& u = user_new[raw.users[n]];
    if (u == kNone) {
      u = static_cast<uint32_t>(user_raw.size());
      user_raw.push_back(raw.users[n]);
      d.user_ids.push_back(raw.user_ids[raw.users[n]]);
    }
    uint32_t& i = item_new[raw.items[n]];
    if (i == kNone) {
      i = static_cast<uint32_t>(d.item_ids.size());
      d.item_ids.push_back(raw.item_ids[raw.items[n]]);
    }
  }
  const UserOrder g = GroupByUserInTimeOrder(raw, keep);
  const size_t total = g.order.size();
  d.offsets.resize(user_raw.size() + 1);
  d.items.resize(total);
  d.timestamps.resize(total);
  d.ratings.resize(total);
  uint64_t pos = 0;
  d.offsets[0] = 0;
  for (size_t nu = 0; nu < user_raw.size(); ++nu) {
    const uint32_t ru = user_raw[nu];
    for (uint64_t p = g.offsets[ru]; p < g.offsets[ru + 1]; ++p, ++pos) {
      const uint32_t line = g.order[p];
      d.items[pos] = item_new[raw.items[line]];
      d.timestamps[pos] = raw.timestamps[line];
      d.ratings[pos] = raw.ratings[line];
    }
    d.offsets[nu + 1] = pos;
  }
  return d;
}

}  // namespace fedrec
