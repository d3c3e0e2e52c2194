// Inverted dropout with masks drawn from keyed RandomStreams.
//
// A mask entry is 0 (dropped) or 1 / (1 - rate) (kept). Each entry consumes
// 16 random bits (two entries per 32-bit word, low half first), so the keep
// probability is quantised to 1/65536 (rate 0.2 -> 13107/65536 dropped, an
// error below 2e-5). The mask is a pure function of the stream's key and
// position: the same StepKey gives the same masks, so a finite-difference
// check can re-run a forward pass with identical dropout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/random.h"

namespace fedrec::layers {

// Draw threshold: an entry is dropped when its 16-bit draw is < threshold.
uint32_t DropoutThreshold(double rate);

// mask[0..n) = 0 or 1/(1-rate), from `stream`. rate in [0, 1).
template <typename S>
void FillDropoutMask(RandomStream& stream, double rate, S* mask, size_t n) {
  const uint32_t threshold = DropoutThreshold(rate);
  const S keep = S(1) / S(1 - rate);
  // One word per two entries (low half first); an odd last entry uses a
  // whole word's low half. Words come in chunks from FillU32.
  constexpr size_t kChunkWords = 256;
  uint32_t words[kChunkWords];
  for (size_t i = 0; i < n;) {
    const size_t want = std::min(kChunkWords, (n - i + 1) / 2);
    stream.FillU32(words, want);
    const size_t pairs = std::min(want, (n - i) / 2);
    for (size_t k = 0; k < pairs; ++k) {
      mask[i + 2 * k] = (words[k] & 0xFFFFu) < threshold ? S(0) : keep;
      mask[i + 2 * k + 1] = (words[k] >> 16) < threshold ? S(0) : keep;
    }
    if (pairs < want) mask[i + 2 * pairs] = (words[pairs] & 0xFFFFu) < threshold ? S(0) : keep;
    i += 2 * want;
  }
}

// The masks of the first `rows` rows of a lower triangle: row i's first
// i + 1 entries at mask + i * stride, exactly what FillDropoutMask gives row
// by row (the same words in the same order: a row of n entries takes
// ceil(n / 2) words), with the words fetched in chunks of whole rows' worth.
// Row by row, a short row would draw its few words one at a time.
template <typename S>
void FillDropoutMaskTriangle(RandomStream& stream, double rate, S* mask, size_t rows,
                             size_t stride) {
  const uint32_t threshold = DropoutThreshold(rate);
  const S keep = S(1) / S(1 - rate);
  size_t words_left = 0;  // words the triangle still needs from the stream
  for (size_t i = 0; i < rows; ++i) words_left += (i + 2) / 2;
  constexpr size_t kChunkWords = 256;
  uint32_t words[kChunkWords];
  size_t have = 0, next = 0;
  auto word = [&]() {
    if (next == have) {
      have = std::min(kChunkWords, words_left);
      stream.FillU32(words, have);
      words_left -= have;
      next = 0;
    }
    return words[next++];
  };
  for (size_t i = 0; i < rows; ++i) {
    S* row = mask + i * stride;
    const size_t n = i + 1;
    size_t j = 0;
    for (; j + 1 < n; j += 2) {
      const uint32_t w = word();
      row[j] = (w & 0xFFFFu) < threshold ? S(0) : keep;
      row[j + 1] = (w >> 16) < threshold ? S(0) : keep;
    }
    if (j < n) row[j] = (word() & 0xFFFFu) < threshold ? S(0) : keep;
  }
}

}  // namespace fedrec::layers
