#include "models/gradients.h"

#include <algorithm>

namespace fedrec {

Gradients::Gradients(const ParameterStore& layout, std::vector<bool> sparse)
    : sparse_(std::move(sparse)) {
  for (const TensorLayout& t : layout.layout()) {
    // Add() cannot fail here: names and shapes come from a valid store.
    (void)values_.Add(t.name, t.rows, t.cols);
  }
  values_.Finalize();
  sparse_.resize(layout.num_tensors(), false);
  touched_.resize(layout.num_tensors());
  row_marked_.resize(layout.num_tensors());
  for (size_t k = 0; k < layout.num_tensors(); ++k) {
    if (sparse_[k]) row_marked_[k].assign(layout.layout()[k].rows, 0);
  }
}

void Gradients::Clear() {
  for (size_t k = 0; k < values_.num_tensors(); ++k) {
    TensorView v = values_.ViewAt(k);
    if (!sparse_[k]) {
      std::fill(v.Flat().begin(), v.Flat().end(), 0.0f);
      continue;
    }
    for (uint32_t row : touched_[k]) {
      auto r = v.Row(row);
      std::fill(r.begin(), r.end(), 0.0f);
      row_marked_[k][row] = 0;
    }
    touched_[k].clear();
  }
}

void Gradients::AddFrom(const Gradients& other) {
  for (size_t k = 0; k < values_.num_tensors(); ++k) {
    TensorView dst = values_.ViewAt(k);
    ConstTensorView src = other.values_.ViewAt(k);
    if (!sparse_[k]) {
      for (size_t i = 0; i < dst.size(); ++i) dst.data[i] += src.data[i];
      continue;
    }
    for (uint32_t row : other.touched_[k]) {
      MarkRow(k, row);
      auto d = dst.Row(row);
      auto s = src.Row(row);
      for (size_t j = 0; j < d.size(); ++j) d[j] += s[j];
    }
  }
}

void Gradients::Scale(float factor) {
  for (size_t k = 0; k < values_.num_tensors(); ++k) {
    TensorView v = values_.ViewAt(k);
    if (!sparse_[k]) {
      for (float& x : v.Flat()) x *= factor;
      continue;
    }
    for (uint32_t row : touched_[k]) {
      for (float& x : v.Row(row)) x *= factor;
    }
  }
}

namespace {

// sums[j % 4] += x[j]^2 in double: four running sums (one would be a
// latency chain of dependent adds), each range starting at lane 0.
void AddSquares(std::span<const float> x, double (&sums)[4]) {
  size_t j = 0;
  for (; j + 4 <= x.size(); j += 4) {
    for (size_t l = 0; l < 4; ++l) {
      const double v = x[j + l];
      sums[l] += v * v;
    }
  }
  for (; j < x.size(); ++j) {
    const double v = x[j];
    sums[0] += v * v;
  }
}

}  // namespace

double Gradients::SquaredNorm() const {
  double sums[4] = {0, 0, 0, 0};
  for (size_t k = 0; k < values_.num_tensors(); ++k) {
    ConstTensorView v = values_.ViewAt(k);
    if (!sparse_[k]) {
      AddSquares(v.Flat(), sums);
      continue;
    }
    for (uint32_t row : touched_[k]) AddSquares(v.Row(row), sums);
  }
  return (sums[0] + sums[1]) + (sums[2] + sums[3]);
}

}  // namespace fedrec
