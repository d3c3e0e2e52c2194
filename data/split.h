// Leave-one-out split (DESIGN.md "Evaluation protocol").
//
// Per user, in time order: the last interaction is the test target, the
// second-to-last the validation target, the rest is training data. Users with
// fewer than 3 interactions only train (no validation or test target).
//   validation: input = train prefix,               target = seq[n-2]
//   test:       input = train prefix + valid item,  target = seq[n-1]
// The split is a view over the Dataset: it copies nothing.
#pragma once

#include <cstdint>
#include <span>

#include "data/dataset.h"

namespace fedrec {

enum class SplitPart { kValidation, kTest };

class LeaveOneOutSplit {
 public:
  // `data` must outlive the split.
  explicit LeaveOneOutSplit(const Dataset& data) : data_(&data) {}

  const Dataset& data() const { return *data_; }

  // True when the user has a validation and a test target (>= 3 interactions).
  bool IsEvaluable(uint32_t user) const { return data_->SequenceLength(user) >= 3; }

  // Items the model may train on for this user.
  std::span<const uint32_t> Train(uint32_t user) const {
    const auto seq = data_->Sequence(user);
    return IsEvaluable(user) ? seq.first(seq.size() - 2) : seq;
  }
  // Model input when predicting `part`'s target. Requires IsEvaluable(user).
  std::span<const uint32_t> Input(uint32_t user, SplitPart part) const {
    const auto seq = data_->Sequence(user);
    return seq.first(seq.size() - (part == SplitPart::kValidation ? 2 : 1));
  }
  // The held-out item for `part`. Requires IsEvaluable(user).
  uint32_t Target(uint32_t user, SplitPart part) const {
    const auto seq = data_->Sequence(user);
    return seq[seq.size() - (part == SplitPart::kValidation ? 2 : 1)];
  }

 private:
  const Dataset* data_;
};

}  // namespace fedrec
