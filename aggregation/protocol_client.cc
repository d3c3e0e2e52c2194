// SecaggClient: one participant's state machine (protocol.h).
#include <cstring>
#include <set>
#include <type_traits>
#include <variant>

#include "aggregation/protocol.h"
#include "aggregation/protocol_internal.h"
#include "core/csprng.h"

namespace fedrec::secagg {

using protocol_internal::AbortReasonOf;
using protocol_internal::CheckRound;
using protocol_internal::DeriveMaskSeed;
using protocol_internal::Envelopes;
using protocol_internal::kChunks;
using protocol_internal::MaskBatch;
using protocol_internal::ParseEnvelopes;
using protocol_internal::ParseIds;
using protocol_internal::SerializeEnvelopes;
using protocol_internal::SerializeIds;
using protocol_internal::ShareAad;
using protocol_internal::ShareEncryptionKey;
using protocol_internal::ShareKind;
using protocol_internal::UnmaskingResponse;
using protocol_internal::Urbg;
using protocol_internal::WrongState;

// The client's per-round state: one struct per State, in a std::variant, so
// that exactly one stage's data exists at a time. Each struct holds exactly
// the secrets its stage still needs. A transition builds the next stage's
// struct, moving the secrets it keeps out of the current one (a move wipes
// its source), and then replaces the current struct, whose destruction wipes
// the secrets that were not kept (Secret32 / SecretBytes / shamir::Share
// wipe themselves). A handler that fails leaves the current stage untouched.
struct SecaggClient::Session {
  struct Neighbour {
    uint64_t id = 0;
    size_t pos = 0;
    Bytes32 mask_public{};
    Bytes32 enc_public{};
  };
  // Public: the neighbourhood fixed by the roster (R1 on).
  struct Topology {
    GraphPlan plan;
    size_t my_pos = 0;
    std::vector<Neighbour> neighbours;  // N(u) \ {u}, ascending position
    std::map<uint64_t, size_t> index;   // id -> index in neighbours
  };

  // R0: nothing sent yet. The identity key signs the advertisement (only
  // with secagg.authenticate) and is not needed afterwards.
  struct AdvertiseKeys {
    static constexpr State kState = State::kAdvertiseKeys;
    std::optional<Ed25519KeyPair> identity;
  };
  // R1: keys advertised, waiting for the roster: c_u and s_u.
  struct ShareKeys {
    static constexpr State kState = State::kShareKeys;
    X25519KeyPair enc;   // (c_u, C_u)
    X25519KeyPair mask;  // (s_u, S_u)
  };
  // R2, shares sent: s_u, b_u, the per-neighbour share-encryption keys (c_u
  // itself is gone), and u's own share of b_u (its own share of s_u is never
  // revealed, so it is not kept).
  struct AwaitShares {
    static constexpr State kState = State::kAwaitShares;
    Topology topology;
    Secret32 mask_private;              // s_u
    Secret32 self_seed;                 // b_u
    std::vector<SecretBytes> enc_keys;  // per neighbour
    shamir::Share own_b;
  };
  // R2, shares opened: s_u and b_u to mask the input, and the shares to
  // reveal in R3.
  struct MaskedInputReady {
    static constexpr State kState = State::kMaskedInputReady;
    Topology topology;
    Secret32 mask_private;  // s_u
    Secret32 self_seed;     // b_u
    shamir::Share own_b;
    std::vector<uint8_t> in_u2;  // per neighbour: in U2
    std::vector<shamir::Share> got_b, got_s;
  };
  // R3: masked input sent; only the shares are left.
  struct Unmasking {
    static constexpr State kState = State::kUnmasking;
    Topology topology;
    shamir::Share own_b;
    std::vector<uint8_t> in_u2;
    std::vector<shamir::Share> got_b, got_s;
  };
  struct Completed {
    static constexpr State kState = State::kCompleted;
  };
  struct Aborted {
    static constexpr State kState = State::kAborted;
  };

  std::variant<AdvertiseKeys, ShareKeys, AwaitShares, MaskedInputReady, Unmasking, Completed,
               Aborted>
      stage;
};

SecaggClient::SecaggClient(const SecaggParams& params, uint64_t round, uint64_t id,
                           size_t vector_length)
    : params_(params),
      round_(round),
      id_(id),
      vector_length_(vector_length),
      session_(std::make_unique<Session>()) {}

SecaggClient::~SecaggClient() = default;

absl::StatusOr<std::unique_ptr<SecaggClient>> SecaggClient::Create(
    const SecaggParams& params, uint64_t round, uint64_t id, size_t vector_length,
    const Ed25519KeyPair* identity, std::shared_ptr<const IdentityRegistry> registry) {
  FEDREC_RETURN_IF_ERROR(ValidateSecaggParams(params));
  if (params.authenticate && (identity == nullptr || registry == nullptr)) {
    return InvalidInput("secagg.authenticate",
                        "needs an identity key and the participants' verification keys");
  }
  std::unique_ptr<SecaggClient> c(new SecaggClient(params, round, id, vector_length));
  if (params.authenticate) {
    // The identity key is long-term and stays the caller's; the client, which
    // lives for one round, signs with its own copy and wipes it right after.
    std::get<Session::AdvertiseKeys>(c->session_->stage).identity = identity->Clone();
  }
  c->registry_ = std::move(registry);
  return c;
}

SecaggClient::State SecaggClient::state() const {
  return std::visit([](const auto& s) { return std::decay_t<decltype(s)>::kState; },
                    session_->stage);
}

const char* SecaggClient::StateName(State s) {
  switch (s) {
    case State::kAdvertiseKeys:
      return "R0_ADVERTISE_KEYS";
    case State::kShareKeys:
      return "R1_SHARE_KEYS";
    case State::kAwaitShares:
      return "R2_MASKED_INPUT_COLL_AWAIT_SHARES";
    case State::kMaskedInputReady:
      return "R2_MASKED_INPUT_COLL_READY";
    case State::kUnmasking:
      return "R3_UNMASKING";
    case State::kCompleted:
      return "COMPLETED";
    case State::kAborted:
      return "ABORTED";
  }
  return "?";
}

void SecaggClient::Abort(const std::string& reason) {
  session_->stage = Session::Aborted{};  // wipes whatever the stage held
  abort_reason_ = reason;
}

absl::StatusOr<std::string> SecaggClient::AdvertiseKeys() {
  auto* current = std::get_if<Session::AdvertiseKeys>(&session_->stage);
  if (current == nullptr) return WrongState("AdvertiseKeys", StateName(state()));
  Session::ShareKeys next;
  FEDREC_ASSIGN_OR_RETURN(next.enc, X25519Generate());
  FEDREC_ASSIGN_OR_RETURN(next.mask, X25519Generate());
  AdvertiseKeysMessage m;
  m.round = round_;
  m.id = id_;
  m.enc_public = next.enc.public_key;
  m.mask_public = next.mask.public_key;
  if (params_.authenticate) {
    const std::string signed_bytes = AdvertiseSignedBytes(round_, id_, m.enc_public, m.mask_public);
    FEDREC_ASSIGN_OR_RETURN(m.signature,
                            Ed25519Sign(current->identity->private_key, AsBytes(signed_bytes)));
  }
  session_->stage = std::move(next);  // R0 -> R1: wipes the identity key
  return Serialize(m);
}

absl::StatusOr<std::string> SecaggClient::HandleRoster(const std::string& message) {
  auto* current = std::get_if<Session::ShareKeys>(&session_->stage);
  if (current == nullptr) return WrongState("HandleRoster", StateName(state()));
  if (IsAbortMessage(message)) {
    Abort(AbortReasonOf(message));
    return std::string();
  }
  FEDREC_ASSIGN_OR_RETURN(RosterMessage roster, ParseRoster(message));
  FEDREC_RETURN_IF_ERROR(CheckRound(roster.round, round_, "Roster"));
  const Session::ShareKeys& keys = *current;
  // Own entry unchanged, ids unique, signatures valid.
  std::optional<size_t> my_pos;
  std::set<uint64_t> ids;
  for (size_t i = 0; i < roster.entries.size(); ++i) {
    const AdvertiseKeysMessage& e = roster.entries[i];
    if (!ids.insert(e.id).second) {
      return absl::InvalidArgumentError("secagg: roster lists id " + std::to_string(e.id) +
                                        " twice");
    }
    if (e.id == id_) {
      if (e.enc_public != keys.enc.public_key || e.mask_public != keys.mask.public_key) {
        return absl::PermissionDeniedError("secagg: the roster altered participant " +
                                           std::to_string(id_) + "'s own public keys");
      }
      my_pos = i;
    }
    if (params_.authenticate) {
      auto it = registry_->find(e.id);
      if (it == registry_->end()) {
        return absl::PermissionDeniedError("secagg: roster lists id " + std::to_string(e.id) +
                                           " with no known identity key");
      }
      if (!e.signature) {
        return absl::PermissionDeniedError("secagg: roster entry of id " + std::to_string(e.id) +
                                           " is not signed");
      }
      const std::string signed_bytes =
          AdvertiseSignedBytes(round_, e.id, e.enc_public, e.mask_public);
      absl::Status v = Ed25519Verify(it->second, AsBytes(signed_bytes), *e.signature);
      if (!v.ok()) {
        return absl::PermissionDeniedError("secagg: public keys of id " + std::to_string(e.id) +
                                           " are not signed by its identity key (substituted?)");
      }
    }
  }
  if (!my_pos) {
    return absl::InvalidArgumentError("secagg: roster does not list participant " +
                                      std::to_string(id_));
  }
  FEDREC_ASSIGN_OR_RETURN(GraphPlan plan, PlanGraph(params_, roster.entries.size()));

  Session::AwaitShares next;
  Session::Topology& topo = next.topology;
  topo.plan = plan;
  topo.my_pos = *my_pos;
  FEDREC_RETURN_IF_ERROR(SecureRandomBytes(next.self_seed.mutable_span()));
  const std::vector<size_t> hood = Neighbourhood(plan, topo.my_pos);
  std::vector<uint64_t> xs;
  xs.reserve(hood.size());
  for (size_t pos : hood) {
    xs.push_back(pos + 1);
    if (pos == topo.my_pos) continue;
    const AdvertiseKeysMessage& e = roster.entries[pos];
    topo.index[e.id] = topo.neighbours.size();
    topo.neighbours.push_back({e.id, pos, e.mask_public, e.enc_public});
  }
  FEDREC_ASSIGN_OR_RETURN(SecureUrbg urbg, Urbg());
  shamir::RandomWords random = [&urbg] { return urbg(); };
  const int t = static_cast<int>(plan.threshold);
  FEDREC_ASSIGN_OR_RETURN(std::vector<shamir::Share> b_shares,
                          shamir::Split(next.self_seed.span(), t, xs, random));
  FEDREC_ASSIGN_OR_RETURN(std::vector<shamir::Share> s_shares,
                          shamir::Split(keys.mask.private_key.span(), t, xs, random));

  Envelopes out;
  out.round = round_;
  out.owner = id_;
  SecretBytes plain(2 * kShareValuesBytes);
  std::string values;
  next.enc_keys.resize(topo.neighbours.size());
  FEDREC_ASSIGN_OR_RETURN(X25519Agreement enc_agreement,
                          X25519Agreement::Create(keys.enc.private_key));
  for (size_t k = 0; k < hood.size(); ++k) {
    if (hood[k] == topo.my_pos) {
      next.own_b = std::move(b_shares[k]);
      continue;
    }
    const Session::Neighbour& v = topo.neighbours[topo.index.at(roster.entries[hood[k]].id)];
    FEDREC_ASSIGN_OR_RETURN(SecretBytes key,
                            ShareEncryptionKey(enc_agreement, v.enc_public, round_, id_, v.id));
    values.clear();
    shamir::AppendShareValues(b_shares[k], &values);
    shamir::AppendShareValues(s_shares[k], &values);
    std::memcpy(plain.data(), values.data(), values.size());
    Wipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(values.data()), values.size()));
    const std::string aad = ShareAad(round_, id_, v.id);
    FEDREC_ASSIGN_OR_RETURN(std::string sealed, AesGcmSeal(key.span(), AsBytes(aad), plain.span()));
    out.items.emplace_back(v.id, std::move(sealed));
    next.enc_keys[topo.index.at(v.id)] = std::move(key);
  }
  // R1 -> R2: s_u moves on; c_u is wiped (the per-neighbour keys are derived).
  next.mask_private = std::move(current->mask.private_key);
  session_->stage = std::move(next);
  return SerializeEnvelopes(MessageType::kShareKeys, out);
}

absl::Status SecaggClient::HandleShareRouting(const std::string& message) {
  auto* current = std::get_if<Session::AwaitShares>(&session_->stage);
  if (current == nullptr) return WrongState("HandleShareRouting", StateName(state()));
  if (IsAbortMessage(message)) {
    Abort(AbortReasonOf(message));
    return absl::OkStatus();
  }
  FEDREC_ASSIGN_OR_RETURN(Envelopes in,
                          ParseEnvelopes(MessageType::kShareRouting, message, "ShareRouting"));
  FEDREC_RETURN_IF_ERROR(CheckRound(in.round, round_, "ShareRouting"));
  if (in.owner != id_) {
    return absl::InvalidArgumentError("secagg: shares routed to " + std::to_string(in.owner) +
                                      " delivered to " + std::to_string(id_));
  }
  const Session::Topology& topo = current->topology;
  const size_t k = topo.neighbours.size();
  Session::MaskedInputReady next;
  next.in_u2.assign(k, 0);
  next.got_b.resize(k);
  next.got_s.resize(k);
  const uint64_t my_x = topo.my_pos + 1;
  for (const auto& [sender, sealed] : in.items) {
    auto it = topo.index.find(sender);
    if (it == topo.index.end()) {
      return absl::InvalidArgumentError("secagg: shares from " + std::to_string(sender) +
                                        ", not a neighbour of " + std::to_string(id_));
    }
    const size_t j = it->second;
    if (next.in_u2[j]) {
      return absl::InvalidArgumentError("secagg: two share messages from " +
                                        std::to_string(sender));
    }
    const std::string aad = ShareAad(round_, sender, id_);
    FEDREC_ASSIGN_OR_RETURN(SecretBytes plain,
                            AesGcmOpen(current->enc_keys[j].span(), AsBytes(aad), AsBytes(sealed)));
    if (plain.size() != 2 * kShareValuesBytes) {
      return absl::InvalidArgumentError("secagg: sealed shares of the wrong size");
    }
    FEDREC_ASSIGN_OR_RETURN(
        next.got_b[j],
        shamir::ParseShareValues(my_x, plain.span().first(kShareValuesBytes), kChunks));
    FEDREC_ASSIGN_OR_RETURN(
        next.got_s[j],
        shamir::ParseShareValues(my_x, plain.span().subspan(kShareValuesBytes), kChunks));
    next.in_u2[j] = 1;
  }
  size_t alive = 1;  // u itself
  for (uint8_t f : next.in_u2) alive += f;
  if (alive < topo.plan.threshold) {
    Abort("only " + std::to_string(alive) + " of " + std::to_string(topo.plan.neighbourhood) +
          " neighbours shared keys, threshold " + std::to_string(topo.plan.threshold));
    return absl::OkStatus();
  }
  // Within R2: the share-encryption keys are wiped with the old stage.
  next.topology = std::move(current->topology);
  next.mask_private = std::move(current->mask_private);
  next.self_seed = std::move(current->self_seed);
  next.own_b = std::move(current->own_b);
  session_->stage = std::move(next);
  return absl::OkStatus();
}

template <typename Word>
absl::StatusOr<std::string> SecaggClient::MaskInput(std::span<const Word> input,
                                                    std::span<Word> accumulator) {
  static_assert(std::is_same_v<Word, uint32_t> || std::is_same_v<Word, uint64_t>);
  auto* current = std::get_if<Session::MaskedInputReady>(&session_->stage);
  if (current == nullptr) return WrongState("MaskInput", StateName(state()));
  if (static_cast<int>(sizeof(Word) * 8) != params_.bits) {
    return absl::InvalidArgumentError("secagg: word width does not match secagg bits");
  }
  if (input.size() != vector_length_ || accumulator.size() != vector_length_) {
    return absl::InvalidArgumentError("secagg: input length " + std::to_string(input.size()) +
                                      ", expected " + std::to_string(vector_length_));
  }
  const Session::Topology& topo = current->topology;
  FEDREC_ASSIGN_OR_RETURN(MaskExpander expander, MaskExpander::Create());
  for (size_t i = 0; i < input.size(); ++i) accumulator[i] += input[i];
  MaskBatch<Word> batch(expander, accumulator);
  {
    FEDREC_ASSIGN_OR_RETURN(SecretBytes seed,
                            DeriveMaskSeed(current->self_seed, "self-mask", round_, id_, id_));
    FEDREC_RETURN_IF_ERROR(batch.Push(std::move(seed), true));
  }
  FEDREC_ASSIGN_OR_RETURN(X25519Agreement mask_agreement,
                          X25519Agreement::Create(current->mask_private));
  for (size_t j = 0; j < topo.neighbours.size(); ++j) {
    if (!current->in_u2[j]) continue;
    const Session::Neighbour& v = topo.neighbours[j];
    // The lower id adds the pairwise mask, the higher subtracts it.
    FEDREC_RETURN_IF_ERROR(
        batch.PushPairwise(mask_agreement, v.mask_public, round_, id_, v.id, id_ < v.id));
  }
  FEDREC_RETURN_IF_ERROR(batch.Flush());
  // R2 -> R3: s_u and b_u are wiped with the old stage.
  Session::Unmasking next;
  next.topology = std::move(current->topology);
  next.own_b = std::move(current->own_b);
  next.in_u2 = std::move(current->in_u2);
  next.got_b = std::move(current->got_b);
  next.got_s = std::move(current->got_s);
  session_->stage = std::move(next);
  return SerializeIds(MessageType::kMaskedInputSent, round_, {id_});
}

absl::StatusOr<std::string> SecaggClient::HandleUnmaskingRequest(const std::string& message) {
  auto* current = std::get_if<Session::Unmasking>(&session_->stage);
  if (current == nullptr) return WrongState("HandleUnmaskingRequest", StateName(state()));
  if (IsAbortMessage(message)) {
    Abort(AbortReasonOf(message));
    return std::string();
  }
  uint64_t round = 0;
  FEDREC_ASSIGN_OR_RETURN(std::vector<uint64_t> u3, ParseIds(MessageType::kUnmaskingRequest,
                                                             message, "UnmaskingRequest", &round));
  FEDREC_RETURN_IF_ERROR(CheckRound(round, round_, "UnmaskingRequest"));
  const std::set<uint64_t> survivors(u3.begin(), u3.end());
  if (survivors.size() != u3.size()) {
    return absl::InvalidArgumentError("secagg: unmasking request lists an id twice");
  }
  Session::Unmasking& sh = *current;
  const Session::Topology& topo = sh.topology;
  if (!survivors.count(id_)) {
    Abort("the server does not count this participant's input; revealing nothing");
    return std::string();
  }
  size_t alive = 1;
  for (size_t j = 0; j < topo.neighbours.size(); ++j) {
    if (sh.in_u2[j] && survivors.count(topo.neighbours[j].id)) ++alive;
  }
  if (alive < topo.plan.threshold) {
    Abort("only " + std::to_string(alive) + " neighbours survived, threshold " +
          std::to_string(topo.plan.threshold));
    return std::string();
  }
  // The revealed shares move into the response, which wipes them once it is
  // serialized; the rest is wiped with the stage.
  UnmaskingResponse resp;
  resp.round = round_;
  resp.id = id_;
  resp.shares.push_back({id_, ShareKind::kSelfMask, std::move(sh.own_b)});
  for (size_t j = 0; j < topo.neighbours.size(); ++j) {
    if (!sh.in_u2[j]) continue;
    const uint64_t v = topo.neighbours[j].id;
    // Never both kinds for one neighbour: b_v if v survived, s_v if not.
    if (survivors.count(v)) {
      resp.shares.push_back({v, ShareKind::kSelfMask, std::move(sh.got_b[j])});
    } else {
      resp.shares.push_back({v, ShareKind::kMaskKey, std::move(sh.got_s[j])});
    }
  }
  std::string out = Serialize(resp);
  session_->stage = Session::Completed{};
  return out;
}

template absl::StatusOr<std::string> SecaggClient::MaskInput<uint32_t>(std::span<const uint32_t>,
                                                                       std::span<uint32_t>);
template absl::StatusOr<std::string> SecaggClient::MaskInput<uint64_t>(std::span<const uint64_t>,
                                                                       std::span<uint64_t>);

}  // namespace fedrec::secagg
