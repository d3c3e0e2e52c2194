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

}  // namespace fedrec::layers
