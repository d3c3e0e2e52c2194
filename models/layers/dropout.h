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

// mask[0..n) from ceil(n / 2) words: two entries per word, low half first;
// an odd last entry takes a whole word's low half.
template <typename S>
void ExpandDropoutWords(const uint32_t* words, size_t n, uint32_t threshold, S keep, S* mask) {
  const size_t pairs = n / 2;
  for (size_t k = 0; k < pairs; ++k) {
    mask[2 * k] = (words[k] & 0xFFFFu) < threshold ? S(0) : keep;
    mask[2 * k + 1] = (words[k] >> 16) < threshold ? S(0) : keep;
  }
  if (n % 2 != 0) mask[n - 1] = (words[pairs] & 0xFFFFu) < threshold ? S(0) : keep;
}

// mask[0..n) = 0 or 1/(1-rate), from `stream`. rate in [0, 1).
template <typename S>
void FillDropoutMask(RandomStream& stream, double rate, S* mask, size_t n) {
  const uint32_t threshold = DropoutThreshold(rate);
  const S keep = S(1) / S(1 - rate);
  // Words come in chunks from FillU32 (a chunk of even length keeps the
  // pairing of the whole mask).
  constexpr size_t kChunkWords = 256;
  uint32_t words[kChunkWords];
  for (size_t i = 0; i < n;) {
    const size_t want = std::min(kChunkWords, (n - i + 1) / 2);
    stream.FillU32(words, want);
    const size_t entries = std::min(2 * want, n - i);
    ExpandDropoutWords(words, entries, threshold, keep, mask + i);
    i += entries;
  }
}

// The masks of the first `rows` rows of a lower triangle: row i's first
// i + 1 entries at mask + i * stride, exactly what FillDropoutMask gives row
// by row (the same words in the same order: a row of n entries takes
// ceil(n / 2) words). Short rows are fetched together, as many whole rows as
// fill a chunk; row by row, a short row would draw its few words one at a
// time.
template <typename S>
void FillDropoutMaskTriangle(RandomStream& stream, double rate, S* mask, size_t rows,
                             size_t stride) {
  const uint32_t threshold = DropoutThreshold(rate);
  const S keep = S(1) / S(1 - rate);
  constexpr size_t kChunkWords = 512;
  uint32_t words[kChunkWords];
  auto words_of_row = [](size_t i) { return (i + 2) / 2; };  // ceil((i + 1) / 2)
  for (size_t i = 0; i < rows;) {
    if (words_of_row(i) > kChunkWords) {  // a long row: its own chunks
      FillDropoutMask(stream, rate, mask + i * stride, i + 1);
      ++i;
      continue;
    }
    size_t end = i, want = 0;
    while (end < rows && want + words_of_row(end) <= kChunkWords) want += words_of_row(end++);
    stream.FillU32(words, want);
    const uint32_t* w = words;
    for (; i < end; ++i) {
      ExpandDropoutWords(w, i + 1, threshold, keep, mask + i * stride);
      w += words_of_row(i);
    }
  }
}

}  // namespace fedrec::layers
