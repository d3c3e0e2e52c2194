#include "aggregation/protocol.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <type_traits>
#include <variant>

#include "aggregation/wire.h"
#include "core/csprng.h"

namespace fedrec::secagg {
namespace {

constexpr char kHkdfSalt[] = "fedrec/secagg/v1";
constexpr size_t kSecretBytes = 32;
constexpr size_t kChunks = 5;  // shamir::ChunksFor(32)
static_assert(kShareValuesBytes == 8 * kChunks);

enum class ShareKind : uint8_t { kSelfMask = 0, kMaskKey = 1 };

std::span<const uint8_t> Span(const char* s) {
  return {reinterpret_cast<const uint8_t*>(s), std::strlen(s)};
}

// info = "fedrec/secagg/<purpose>" || round || min(a, b) || max(a, b).
std::string PairInfo(const char* purpose, uint64_t round, uint64_t a, uint64_t b) {
  ByteWriter w;
  w.Raw(Span("fedrec/secagg/"));
  w.Raw(Span(purpose));
  w.U64(round);
  w.U64(std::min(a, b));
  w.U64(std::max(a, b));
  return w.Take();
}

// 32 bytes from HKDF-SHA256: an AES-128 key and a CTR initial counter block.
absl::StatusOr<SecretBytes> DeriveMaskSeed(const Secret32& ikm, const char* purpose, uint64_t round,
                                           uint64_t a, uint64_t b) {
  SecretBytes seed(32);
  const std::string info = PairInfo(purpose, round, a, b);
  FEDREC_RETURN_IF_ERROR(HkdfSha256(ikm.span(), Span(kHkdfSalt), AsBytes(info), seed.span()));
  return seed;
}

absl::StatusOr<SecretBytes> ShareEncryptionKey(const X25519Agreement& enc_private,
                                               const Bytes32& peer_enc_public, uint64_t round,
                                               uint64_t a, uint64_t b) {
  FEDREC_ASSIGN_OR_RETURN(Secret32 agreed, enc_private.Agree(peer_enc_public));
  SecretBytes key(16);
  const std::string info = PairInfo("share-encryption", round, a, b);
  FEDREC_RETURN_IF_ERROR(HkdfSha256(agreed.span(), Span(kHkdfSalt), AsBytes(info), key.span()));
  return key;
}

std::string ShareAad(uint64_t round, uint64_t sender, uint64_t receiver) {
  ByteWriter w;
  w.Raw(Span("fedrec/secagg/shares"));
  w.U64(round);
  w.U64(sender);
  w.U64(receiver);
  return w.Take();
}

// The masks to add to (or subtract from) one target, applied in batches with
// MaskExpander::CombineMany, which streams the target once per batch instead
// of once per mask. Seeds are secret and wiped when their batch is applied.
template <typename Word>
class MaskBatch {
 public:
  static constexpr size_t kMaxBatch = 1024;  // bounds the cipher contexts held at once

  MaskBatch(MaskExpander& expander, std::span<Word> target)
      : expander_(expander), target_(target) {}

  absl::Status Push(SecretBytes seed, bool add) {
    seeds_.push_back(std::move(seed));
    adds_.push_back(add);
    return seeds_.size() >= kMaxBatch ? Flush() : absl::OkStatus();
  }

  // The pairwise mask of (a, b) from a's key agreement with b's public key,
  // with the sign given.
  absl::Status PushPairwise(const X25519Agreement& private_key, const Bytes32& peer_public,
                            uint64_t round, uint64_t a, uint64_t b, bool add) {
    FEDREC_ASSIGN_OR_RETURN(Secret32 agreed, private_key.Agree(peer_public));
    FEDREC_ASSIGN_OR_RETURN(SecretBytes seed, DeriveMaskSeed(agreed, "pairwise-mask", round, a, b));
    return Push(std::move(seed), add);
  }

  absl::Status Flush() {
    std::vector<MaskExpander::Mask> masks(seeds_.size());
    for (size_t i = 0; i < seeds_.size(); ++i) masks[i] = {seeds_[i].data(), adds_[i] != 0};
    absl::Status status = expander_.CombineMany<Word>(masks, target_);
    seeds_.clear();  // wipes
    adds_.clear();
    return status;
  }

 private:
  MaskExpander& expander_;
  std::span<Word> target_;
  std::vector<SecretBytes> seeds_;
  std::vector<uint8_t> adds_;
};

absl::StatusOr<SecureUrbg> Urbg() { return SecureUrbg::Create(); }

absl::Status CheckRound(uint64_t got, uint64_t want, const char* what) {
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string("secagg: ") + what + " message for round " +
                                    std::to_string(got) + ", expected round " +
                                    std::to_string(want));
}

absl::Status ReadHeader(ByteReader& r, MessageType type, uint64_t* round) {
  FEDREC_ASSIGN_OR_RETURN(uint8_t t, r.U8());
  if (t != static_cast<uint8_t>(type)) return r.Bad("unexpected message type");
  FEDREC_ASSIGN_OR_RETURN(*round, r.U64());
  return absl::OkStatus();
}

void WriteHeader(ByteWriter& w, MessageType type, uint64_t round) {
  w.U8(static_cast<uint8_t>(type));
  w.U64(round);
}

void WriteKeys(ByteWriter& w, const AdvertiseKeysMessage& m) {
  w.U64(m.id);
  w.Raw(m.enc_public);
  w.Raw(m.mask_public);
  w.U8(m.signature.has_value() ? 1 : 0);
  if (m.signature) w.Raw(*m.signature);
}

absl::StatusOr<AdvertiseKeysMessage> ReadKeys(ByteReader& r, uint64_t round) {
  AdvertiseKeysMessage m;
  m.round = round;
  FEDREC_ASSIGN_OR_RETURN(m.id, r.U64());
  FEDREC_ASSIGN_OR_RETURN(auto c, r.Raw(32));
  std::copy(c.begin(), c.end(), m.enc_public.begin());
  FEDREC_ASSIGN_OR_RETURN(auto s, r.Raw(32));
  std::copy(s.begin(), s.end(), m.mask_public.begin());
  FEDREC_ASSIGN_OR_RETURN(uint8_t has_sig, r.U8());
  if (has_sig > 1) return r.Bad("bad signature flag");
  if (has_sig == 1) {
    FEDREC_ASSIGN_OR_RETURN(auto sig, r.Raw(64));
    Bytes64 out{};
    std::copy(sig.begin(), sig.end(), out.begin());
    m.signature = out;
  }
  return m;
}

// Parsed ShareKeys / ShareRouting: (peer id, sealed shares) pairs.
struct Envelopes {
  uint64_t round = 0;
  uint64_t owner = 0;  // sender (ShareKeys) or recipient (ShareRouting)
  std::vector<std::pair<uint64_t, std::string>> items;
};

std::string SerializeEnvelopes(MessageType type, const Envelopes& e) {
  ByteWriter w;
  WriteHeader(w, type, e.round);
  w.U64(e.owner);
  w.U32(static_cast<uint32_t>(e.items.size()));
  for (const auto& [peer, sealed] : e.items) {
    w.U64(peer);
    w.Blob(sealed);
  }
  return w.Take();
}

absl::StatusOr<Envelopes> ParseEnvelopes(MessageType type, const std::string& bytes,
                                         const char* what) {
  ByteReader r(bytes, what);
  Envelopes e;
  FEDREC_RETURN_IF_ERROR(ReadHeader(r, type, &e.round));
  FEDREC_ASSIGN_OR_RETURN(e.owner, r.U64());
  FEDREC_ASSIGN_OR_RETURN(size_t n, r.Count(12));
  e.items.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    FEDREC_ASSIGN_OR_RETURN(uint64_t peer, r.U64());
    FEDREC_ASSIGN_OR_RETURN(auto blob, r.Blob());
    if (blob.size() != kSealedSharesBytes) return r.Bad("sealed shares of the wrong size");
    e.items.emplace_back(peer,
                         std::string(reinterpret_cast<const char*>(blob.data()), blob.size()));
  }
  FEDREC_RETURN_IF_ERROR(r.ExpectEnd());
  return e;
}

std::string SerializeIds(MessageType type, uint64_t round, const std::vector<uint64_t>& ids) {
  ByteWriter w;
  WriteHeader(w, type, round);
  w.U32(static_cast<uint32_t>(ids.size()));
  for (uint64_t id : ids) w.U64(id);
  return w.Take();
}

absl::StatusOr<std::vector<uint64_t>> ParseIds(MessageType type, const std::string& bytes,
                                               const char* what, uint64_t* round) {
  ByteReader r(bytes, what);
  FEDREC_RETURN_IF_ERROR(ReadHeader(r, type, round));
  FEDREC_ASSIGN_OR_RETURN(size_t n, r.Count(8));
  std::vector<uint64_t> ids(n);
  for (uint64_t& id : ids) {
    FEDREC_ASSIGN_OR_RETURN(id, r.U64());
  }
  FEDREC_RETURN_IF_ERROR(r.ExpectEnd());
  return ids;
}

struct RevealedShare {
  uint64_t owner = 0;
  ShareKind kind = ShareKind::kSelfMask;
  shamir::Share share;
};
struct UnmaskingResponse {
  uint64_t round = 0;
  uint64_t id = 0;
  std::vector<RevealedShare> shares;  // share.x is unset (0) on the wire
};

std::string Serialize(const UnmaskingResponse& m) {
  ByteWriter w;
  WriteHeader(w, MessageType::kUnmaskingResponse, m.round);
  w.U64(m.id);
  w.U32(static_cast<uint32_t>(m.shares.size()));
  std::string values;
  for (const RevealedShare& s : m.shares) {
    w.U64(s.owner);
    w.U8(static_cast<uint8_t>(s.kind));
    values.clear();
    shamir::AppendShareValues(s.share, &values);
    w.Raw(AsBytes(values));
  }
  Wipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(values.data()), values.size()));
  return w.Take();
}

absl::StatusOr<UnmaskingResponse> ParseUnmaskingResponse(const std::string& bytes, uint64_t x) {
  ByteReader r(bytes, "UnmaskingResponse");
  UnmaskingResponse m;
  FEDREC_RETURN_IF_ERROR(ReadHeader(r, MessageType::kUnmaskingResponse, &m.round));
  FEDREC_ASSIGN_OR_RETURN(m.id, r.U64());
  FEDREC_ASSIGN_OR_RETURN(size_t n, r.Count(9 + kShareValuesBytes));
  m.shares.resize(n);
  for (RevealedShare& s : m.shares) {
    FEDREC_ASSIGN_OR_RETURN(s.owner, r.U64());
    FEDREC_ASSIGN_OR_RETURN(uint8_t kind, r.U8());
    if (kind > 1) return r.Bad("unknown share kind");
    s.kind = static_cast<ShareKind>(kind);
    FEDREC_ASSIGN_OR_RETURN(auto values, r.Raw(kShareValuesBytes));
    FEDREC_ASSIGN_OR_RETURN(s.share, shamir::ParseShareValues(x, values, kChunks));
  }
  FEDREC_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

// The id of an UnmaskingResponse, before the full parse (which needs x).
absl::StatusOr<uint64_t> PeekResponder(const std::string& bytes, uint64_t round) {
  ByteReader r(bytes, "UnmaskingResponse");
  uint64_t got_round = 0;
  FEDREC_RETURN_IF_ERROR(ReadHeader(r, MessageType::kUnmaskingResponse, &got_round));
  FEDREC_RETURN_IF_ERROR(CheckRound(got_round, round, "UnmaskingResponse"));
  return r.U64();
}

}  // namespace

// ------------------------------------------------------------ messages

std::string AdvertiseSignedBytes(uint64_t round, uint64_t id, const Bytes32& enc_public,
                                 const Bytes32& mask_public) {
  ByteWriter w;
  w.Raw(Span("fedrec/secagg/advertise"));
  w.U64(round);
  w.U64(id);
  w.Raw(enc_public);
  w.Raw(mask_public);
  return w.Take();
}

std::string Serialize(const AdvertiseKeysMessage& m) {
  ByteWriter w;
  WriteHeader(w, MessageType::kAdvertiseKeys, m.round);
  WriteKeys(w, m);
  return w.Take();
}

absl::StatusOr<AdvertiseKeysMessage> ParseAdvertiseKeys(const std::string& bytes) {
  ByteReader r(bytes, "AdvertiseKeys");
  uint64_t round = 0;
  FEDREC_RETURN_IF_ERROR(ReadHeader(r, MessageType::kAdvertiseKeys, &round));
  FEDREC_ASSIGN_OR_RETURN(AdvertiseKeysMessage m, ReadKeys(r, round));
  FEDREC_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

std::string Serialize(const RosterMessage& m) {
  ByteWriter w;
  WriteHeader(w, MessageType::kRoster, m.round);
  w.U32(static_cast<uint32_t>(m.entries.size()));
  for (const AdvertiseKeysMessage& e : m.entries) WriteKeys(w, e);
  return w.Take();
}

absl::StatusOr<RosterMessage> ParseRoster(const std::string& bytes) {
  ByteReader r(bytes, "Roster");
  RosterMessage m;
  FEDREC_RETURN_IF_ERROR(ReadHeader(r, MessageType::kRoster, &m.round));
  FEDREC_ASSIGN_OR_RETURN(size_t n, r.Count(73));
  m.entries.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    FEDREC_ASSIGN_OR_RETURN(AdvertiseKeysMessage e, ReadKeys(r, m.round));
    m.entries.push_back(std::move(e));
  }
  FEDREC_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

std::string Serialize(const AbortMessage& m) {
  ByteWriter w;
  WriteHeader(w, MessageType::kAbort, m.round);
  w.Blob(m.reason);
  return w.Take();
}

std::string SerializeUnmaskingRequest(uint64_t round, const std::vector<uint64_t>& survivors) {
  return SerializeIds(MessageType::kUnmaskingRequest, round, survivors);
}

bool IsAbortMessage(const std::string& bytes) {
  return !bytes.empty() &&
         static_cast<uint8_t>(bytes[0]) == static_cast<uint8_t>(MessageType::kAbort);
}

namespace {
std::string AbortReasonOf(const std::string& bytes) {
  ByteReader r(bytes, "Abort");
  uint64_t round = 0;
  if (!ReadHeader(r, MessageType::kAbort, &round).ok()) return "server aborted";
  absl::StatusOr<std::span<const uint8_t>> reason = r.Blob();
  if (!reason.ok()) return "server aborted";
  return "server aborted: " +
         std::string(reinterpret_cast<const char*>(reason->data()), reason->size());
}
}  // namespace

// ------------------------------------------------------------ client

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

namespace {
absl::Status WrongState(const char* call, const char* state) {
  return absl::FailedPreconditionError(std::string("secagg: ") + call + " called in state " +
                                       state);
}
}  // namespace

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

// ------------------------------------------------------------ server

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
