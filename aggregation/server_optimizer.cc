#include "aggregation/server_optimizer.h"

#include <cmath>
#include <cstring>

#include "fmt/format.h"

namespace fedrec {
namespace {

proto::NamedTensor SlotTensor(const std::string& name, const std::vector<float>& values) {
  proto::NamedTensor t;
  t.set_name(name);
  t.set_rows(1);
  t.set_cols(values.size());
  t.set_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return t;
}

}  // namespace

absl::StatusOr<ServerOptimizer> ServerOptimizer::Create(const ServerOptimizerOptions& o,
                                                        size_t num_params) {
  const std::string& k = o.kind;
  if (k != "fedavg" && k != "fedavgm" && k != "fedadam" && k != "fedyogi" && k != "fedadagrad") {
    return absl::InvalidArgumentError("federation.server_optimizer: unknown value '" + k + "'");
  }
  if (!(o.lr > 0)) return absl::InvalidArgumentError("federation.server_lr: must be > 0");
  if (!(o.momentum >= 0 && o.momentum < 1) || !(o.beta1 >= 0 && o.beta1 < 1) ||
      !(o.beta2 >= 0 && o.beta2 < 1)) {
    return absl::InvalidArgumentError("federation: server momentum and betas must be in [0, 1)");
  }
  if (!(o.tau > 0)) return absl::InvalidArgumentError("federation.server_tau: must be > 0");
  ServerOptimizer opt(o);
  if (k != "fedavg") opt.m_.assign(num_params, 0.0f);
  if (k == "fedadam" || k == "fedyogi" || k == "fedadagrad") {
    opt.v_.assign(num_params, static_cast<float>(o.tau * o.tau));
  }
  return opt;
}

void ServerOptimizer::Step(std::span<const double> delta, std::span<float> params) {
  const size_t n = params.size();
  const std::string& k = options_.kind;
  const float lr = static_cast<float>(options_.lr);
  ++steps_;
  if (k == "fedavg") {
    for (size_t i = 0; i < n; ++i) params[i] += lr * static_cast<float>(delta[i]);
    return;
  }
  if (k == "fedavgm") {
    const float beta = static_cast<float>(options_.momentum);
    for (size_t i = 0; i < n; ++i) {
      m_[i] = beta * m_[i] + static_cast<float>(delta[i]);
      params[i] += lr * m_[i];
    }
    return;
  }
  const float b1 = static_cast<float>(options_.beta1);
  const float b2 = static_cast<float>(options_.beta2);
  const float tau = static_cast<float>(options_.tau);
  for (size_t i = 0; i < n; ++i) {
    const float d = static_cast<float>(delta[i]);
    const float d2 = d * d;
    m_[i] = b1 * m_[i] + (1.0f - b1) * d;
    if (k == "fedadam") {
      v_[i] = b2 * v_[i] + (1.0f - b2) * d2;
    } else if (k == "fedyogi") {
      const float diff = v_[i] - d2;
      const float sign = diff > 0 ? 1.0f : (diff < 0 ? -1.0f : 0.0f);
      v_[i] = v_[i] - (1.0f - b2) * d2 * sign;
    } else {  // fedadagrad
      v_[i] = v_[i] + d2;
    }
    params[i] += lr * m_[i] / (std::sqrt(v_[i]) + tau);
  }
}

void ServerOptimizer::SaveState(proto::OptimizerState* state) const {
  state->Clear();
  state->set_name(options_.kind);
  (*state->mutable_counters())["step"] = steps_;
  if (!m_.empty()) *state->add_slots() = SlotTensor("m", m_);
  if (!v_.empty()) *state->add_slots() = SlotTensor("v", v_);
}

absl::Status ServerOptimizer::LoadState(const proto::OptimizerState& state) {
  if (state.name() != options_.kind) {
    return absl::InvalidArgumentError(fmt::format(
        "server optimizer state is '{}', the config asks for '{}'", state.name(), options_.kind));
  }
  auto it = state.counters().find("step");
  steps_ = it == state.counters().end() ? 0 : it->second;
  for (auto* slot : {&m_, &v_}) {
    if (slot->empty()) continue;
    const std::string name = slot == &m_ ? "m" : "v";
    const proto::NamedTensor* found = nullptr;
    for (const auto& t : state.slots()) {
      if (t.name() == name) found = &t;
    }
    if (found == nullptr || found->data().size() != slot->size() * 4) {
      return absl::InvalidArgumentError(
          fmt::format("server optimizer state: slot '{}' missing or of the wrong size", name));
    }
    std::memcpy(slot->data(), found->data().data(), found->data().size());
  }
  return absl::OkStatus();
}

}  // namespace fedrec
