// Inverted dropout with masks drawn from keyed RandomStreams.
//
// A mask entry is 0 (dropped) or 1 / (1 - rate) (kept). Each entry consumes
// 16 random bits (two entries per 32-bit word, low half first), so the keep
// probability is quantised to 1/65536 (rate 0.2 -> 13107/65536 dropped, an
// error below 2e-5). The mask is a pure function of the stream's key and
// position: the same StepKey gives the same masks, so a finite-difference
// check can re-run a forward pass with identical dropout.
#pragma once

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
  size_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint32_t u = stream.NextU32();
    mask[i] = (u & 0xFFFFu) < threshold ? S(0) : keep;
    mask[i + 1] = (u >> 16) < threshold ? S(0) : keep;
  }
  if (i < n) mask[i] = (stream.NextU32() & 0xFFFFu) < threshold ? S(0) : keep;
}

}  // namespace fedrec::layers
