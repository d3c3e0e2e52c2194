// SecaggServer: the coordinator's state machine (protocol.h).
#include <algorithm>
#include <set>
#include <type_traits>

#include "aggregation/protocol.h"
#include "aggregation/protocol_internal.h"
#include "core/csprng.h"

namespace fedrec::secagg {

using protocol_internal::CheckRound;
using protocol_internal::DeriveMaskSeed;
using protocol_internal::Envelopes;
using protocol_internal::kSecretBytes;
using protocol_internal::MaskBatch;
using protocol_internal::ParseEnvelopes;
using protocol_internal::ParseIds;
using protocol_internal::ParseUnmaskingResponse;
using protocol_internal::PeekResponder;
using protocol_internal::RevealedShare;
using protocol_internal::SerializeEnvelopes;
using protocol_internal::ShareKind;
using protocol_internal::UnmaskingResponse;
using protocol_internal::Urbg;
using protocol_internal::WrongState;

SecaggServer::SecaggServer(const SecaggParams& params, uint64_t round, size_t vector_length)
    : params_(params), round_(round), vector_length_(vector_length) {}

SecaggServer::~SecaggServer() = default;

absl::StatusOr<std::unique_ptr<SecaggServer>> SecaggServer::Create(const SecaggParams& params,
                                                                   uint64_t round,
                                                                   size_t vector_length) {
  FEDREC_RETURN_IF_ERROR(ValidateSecaggParams(params));
  return std::unique_ptr<SecaggServer>(new SecaggServer(params, round, vector_length));
}

const char* SecaggServer::StateName(State s) {
  switch (s) {
    case State::kCollectAdvertise:
      return "R0_ADVERTISE_KEYS";
    case State::kCollectShares:
      return "R1_SHARE_KEYS";
    case State::kCollectMaskedInput:
      return "R2_MASKED_INPUT_COLLECTION";
    case State::kCollectUnmasking:
      return "R3_UNMASKING";
    case State::kCompleted:
      return "COMPLETED";
    case State::kAborted:
      return "ABORTED";
  }
  return "?";
}

absl::Status SecaggServer::CheckState(State expected, const char* call) const {
  if (state_ == expected) return absl::OkStatus();
  return WrongState(call, StateName(state_));
}

std::string SecaggServer::AbortWith(const std::string& reason) {
  state_ = State::kAborted;
  abort_reason_ = reason;
  return Serialize(AbortMessage{round_, reason});
}

absl::StatusOr<std::string> SecaggServer::HandleAdvertiseKeys(
    std::span<const std::string> messages) {
  FEDREC_RETURN_IF_ERROR(CheckState(State::kCollectAdvertise, "HandleAdvertiseKeys"));
  std::vector<AdvertiseKeysMessage> entries;
  std::set<uint64_t> ids;
  for (const std::string& bytes : messages) {
    FEDREC_ASSIGN_OR_RETURN(AdvertiseKeysMessage m, ParseAdvertiseKeys(bytes));
    FEDREC_RETURN_IF_ERROR(CheckRound(m.round, round_, "AdvertiseKeys"));
    if (!ids.insert(m.id).second) {
      return absl::InvalidArgumentError("secagg: two participants with id " + std::to_string(m.id));
    }
    entries.push_back(std::move(m));
  }
  if (entries.empty()) return AbortWith("no participant advertised keys");
  std::sort(
      entries.begin(), entries.end(),
      [](const AdvertiseKeysMessage& a, const AdvertiseKeysMessage& b) { return a.id < b.id; });
  if (params_.graph == "harary") {
    // SecAgg+ places participants on the Harary graph at random, so that
    // neighbourhoods are not predictable from ids.
    FEDREC_ASSIGN_OR_RETURN(SecureUrbg urbg, Urbg());
    std::shuffle(entries.begin(), entries.end(), urbg);
  }
  FEDREC_ASSIGN_OR_RETURN(plan_, PlanGraph(params_, entries.size()));
  roster_ = std::move(entries);
  for (size_t i = 0; i < roster_.size(); ++i) position_[roster_[i].id] = i;
  state_ = State::kCollectShares;
  return Serialize(RosterMessage{round_, roster_});
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> SecaggServer::HandleShareKeys(
    std::span<const std::string> messages) {
  FEDREC_RETURN_IF_ERROR(CheckState(State::kCollectShares, "HandleShareKeys"));
  const size_t n = roster_.size();
  // sealed[sender][k]: ciphertext for the k-th neighbour of sender.
  std::vector<std::map<size_t, std::string>> sealed(n);
  in_u2_.assign(n, 0);
  for (const std::string& bytes : messages) {
    FEDREC_ASSIGN_OR_RETURN(Envelopes e,
                            ParseEnvelopes(MessageType::kShareKeys, bytes, "ShareKeys"));
    FEDREC_RETURN_IF_ERROR(CheckRound(e.round, round_, "ShareKeys"));
    auto it = position_.find(e.owner);
    if (it == position_.end()) {
      return absl::InvalidArgumentError("secagg: shares from unknown id " +
                                        std::to_string(e.owner));
    }
    const size_t s = it->second;
    if (in_u2_[s]) {
      return absl::InvalidArgumentError("secagg: two ShareKeys messages from " +
                                        std::to_string(e.owner));
    }
    for (auto& [receiver, ct] : e.items) {
      auto r = position_.find(receiver);
      if (r == position_.end() || r->second == s || !AreNeighbours(plan_, s, r->second) ||
          sealed[s].count(r->second)) {
        return absl::InvalidArgumentError("secagg: ShareKeys from " + std::to_string(e.owner) +
                                          " addresses " + std::to_string(receiver) +
                                          ", not a (new) neighbour");
      }
      sealed[s][r->second] = std::move(ct);
    }
    // Every neighbour must get its shares: a participant that masks with v
    // while v did not receive its shares would leave an unremovable mask.
    if (sealed[s].size() != plan_.degree) {
      return absl::InvalidArgumentError("secagg: ShareKeys from " + std::to_string(e.owner) +
                                        " does not address all of its neighbours");
    }
    in_u2_[s] = 1;
  }
  share_senders_.clear();
  for (size_t p = 0; p < n; ++p) {
    if (in_u2_[p]) share_senders_.push_back(roster_[p].id);
  }
  std::sort(share_senders_.begin(), share_senders_.end());
  // Every member of U2 needs t members of U2 in its neighbourhood, or its
  // masks could never be removed.
  std::vector<std::pair<uint64_t, std::string>> out;
  for (size_t p = 0; p < n; ++p) {
    if (!in_u2_[p]) continue;
    size_t alive = 0;
    for (size_t q : Neighbourhood(plan_, p)) alive += in_u2_[q];
    if (alive < plan_.threshold) {
      out.clear();
      out.emplace_back(0, AbortWith("participant " + std::to_string(roster_[p].id) + " has " +
                                    std::to_string(alive) + " neighbours left after ShareKeys, " +
                                    "threshold " + std::to_string(plan_.threshold)));
      return out;
    }
  }
  for (size_t r = 0; r < n; ++r) {
    if (!in_u2_[r]) continue;
    Envelopes e;
    e.round = round_;
    e.owner = roster_[r].id;
    for (size_t s : Neighbourhood(plan_, r)) {
      if (s == r || !in_u2_[s]) continue;
      e.items.emplace_back(roster_[s].id, std::move(sealed[s].at(r)));
    }
    out.emplace_back(roster_[r].id, SerializeEnvelopes(MessageType::kShareRouting, e));
  }
  state_ = State::kCollectMaskedInput;
  return out;
}

absl::StatusOr<std::string> SecaggServer::HandleMaskedInputs(
    std::span<const std::string> messages) {
  FEDREC_RETURN_IF_ERROR(CheckState(State::kCollectMaskedInput, "HandleMaskedInputs"));
  const size_t n = roster_.size();
  in_u3_.assign(n, 0);
  survivors_.clear();
  for (const std::string& bytes : messages) {
    uint64_t round = 0;
    FEDREC_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ParseIds(MessageType::kMaskedInputSent,
                                                                bytes, "MaskedInputSent", &round));
    FEDREC_RETURN_IF_ERROR(CheckRound(round, round_, "MaskedInputSent"));
    for (uint64_t id : ids) {
      auto it = position_.find(id);
      if (it == position_.end() || !in_u2_[it->second] || in_u3_[it->second]) {
        return absl::InvalidArgumentError("secagg: unexpected masked input from " +
                                          std::to_string(id));
      }
      in_u3_[it->second] = 1;
      survivors_.push_back(id);
    }
  }
  std::sort(survivors_.begin(), survivors_.end());
  if (survivors_.empty()) return AbortWith("no masked input arrived");
  for (size_t p = 0; p < n; ++p) {
    if (!in_u2_[p]) continue;
    size_t alive = 0;
    for (size_t q : Neighbourhood(plan_, p)) alive += in_u3_[q];
    // Survivors need t revealers of b_u; dropped participants whose masks are
    // in some survivor's input need t revealers of s_u.
    if (alive > 0 && alive < plan_.threshold) {
      return AbortWith(std::string(in_u3_[p] ? "survivor " : "dropped participant ") +
                       std::to_string(roster_[p].id) + " has " + std::to_string(alive) +
                       " surviving neighbours, threshold " + std::to_string(plan_.threshold));
    }
  }
  state_ = State::kCollectUnmasking;
  return SerializeUnmaskingRequest(round_, survivors_);
}

template <typename Word>
absl::Status SecaggServer::HandleUnmaskingResponses(std::span<const std::string> messages,
                                                    std::span<Word> masked_sum) {
  static_assert(std::is_same_v<Word, uint32_t> || std::is_same_v<Word, uint64_t>);
  FEDREC_RETURN_IF_ERROR(CheckState(State::kCollectUnmasking, "HandleUnmaskingResponses"));
  if (static_cast<int>(sizeof(Word) * 8) != params_.bits || masked_sum.size() != vector_length_) {
    return absl::InvalidArgumentError("secagg: masked sum has the wrong width or length");
  }
  const size_t n = roster_.size();
  // shares[p]: revealed shares of b (survivors) or s (dropped) of position p.
  std::vector<std::vector<shamir::Share>> shares(n);
  std::vector<uint8_t> responded(n, 0);
  for (const std::string& bytes : messages) {
    FEDREC_ASSIGN_OR_RETURN(uint64_t responder, PeekResponder(bytes, round_));
    auto it = position_.find(responder);
    if (it == position_.end() || !in_u3_[it->second] || responded[it->second]) {
      return absl::InvalidArgumentError("secagg: unexpected unmasking response from " +
                                        std::to_string(responder));
    }
    const size_t w = it->second;
    responded[w] = 1;
    FEDREC_ASSIGN_OR_RETURN(UnmaskingResponse resp, ParseUnmaskingResponse(bytes, w + 1));
    std::set<uint64_t> owners;
    for (RevealedShare& s : resp.shares) {
      auto o = position_.find(s.owner);
      if (o == position_.end() || !in_u2_[o->second] || !AreNeighbours(plan_, w, o->second) ||
          !owners.insert(s.owner).second) {
        return absl::InvalidArgumentError("secagg: unmasking response from " +
                                          std::to_string(responder) + " reveals an unexpected " +
                                          "share of " + std::to_string(s.owner));
      }
      const ShareKind want = in_u3_[o->second] ? ShareKind::kSelfMask : ShareKind::kMaskKey;
      if (s.kind != want) {
        return absl::InvalidArgumentError(
            "secagg: unmasking response reveals the wrong kind of "
            "share of " +
            std::to_string(s.owner));
      }
      shares[o->second].push_back(std::move(s.share));
    }
  }
  auto abort_and_zero = [&](const std::string& reason) {
    std::fill(masked_sum.begin(), masked_sum.end(), Word{0});
    AbortWith(reason);
    return absl::OkStatus();
  };
  // Which secrets are needed, and are there t shares of each?
  std::vector<uint8_t> needed(n, 0);
  for (size_t p = 0; p < n; ++p) {
    if (!in_u2_[p]) continue;
    if (in_u3_[p]) {
      needed[p] = 1;
    } else {
      for (size_t q : Neighbourhood(plan_, p)) {
        if (in_u3_[q]) needed[p] = 1;
      }
    }
    if (needed[p] && shares[p].size() < plan_.threshold) {
      return abort_and_zero("only " + std::to_string(shares[p].size()) + " shares of " +
                            (in_u3_[p] ? "the self mask" : "the mask key") + " of " +
                            std::to_string(roster_[p].id) + " arrived, threshold " +
                            std::to_string(plan_.threshold));
    }
  }
  FEDREC_ASSIGN_OR_RETURN(MaskExpander expander, MaskExpander::Create());
  MaskBatch<Word> batch(expander, masked_sum);
  const int t = static_cast<int>(plan_.threshold);
  for (size_t p = 0; p < n; ++p) {
    if (!needed[p]) continue;
    FEDREC_ASSIGN_OR_RETURN(SecretBytes secret, shamir::Reconstruct(shares[p], t, kSecretBytes));
    const Secret32 key(std::span<const uint8_t, 32>(secret.data(), 32));
    const uint64_t id = roster_[p].id;
    if (in_u3_[p]) {
      // Survivor: remove its self mask.
      FEDREC_ASSIGN_OR_RETURN(SecretBytes seed, DeriveMaskSeed(key, "self-mask", round_, id, id));
      FEDREC_RETURN_IF_ERROR(batch.Push(std::move(seed), false));
      continue;
    }
    // Dropped after sharing: check the key, then remove its pairwise masks
    // from every surviving neighbour's input.
    FEDREC_ASSIGN_OR_RETURN(Bytes32 pub, X25519PublicFromPrivate(key));
    if (pub != roster_[p].mask_public) {
      return absl::DataLossError("secagg: reconstructed mask key of " + std::to_string(id) +
                                 " does not match its public key (bad shares)");
    }
    FEDREC_ASSIGN_OR_RETURN(X25519Agreement agreement, X25519Agreement::Create(key));
    for (size_t q : Neighbourhood(plan_, p)) {
      if (q == p || !in_u3_[q]) continue;
      const uint64_t w = roster_[q].id;
      // w added the mask if w < id; undo with the opposite sign.
      FEDREC_RETURN_IF_ERROR(batch.PushPairwise(agreement, roster_[q].mask_public, round_, id, w,
                                                /*add=*/!(w < id)));
    }
  }
  FEDREC_RETURN_IF_ERROR(batch.Flush());
  state_ = State::kCompleted;
  return absl::OkStatus();
}

template absl::Status SecaggServer::HandleUnmaskingResponses<uint32_t>(std::span<const std::string>,
                                                                       std::span<uint32_t>);
template absl::Status SecaggServer::HandleUnmaskingResponses<uint64_t>(std::span<const std::string>,
                                                                       std::span<uint64_t>);

}  // namespace fedrec::secagg
