// The protocol's messages: the serialization of protocol.h's message types
// and of the internal ones (protocol_internal.h), and the key-derivation
// helpers both state machines use.
#include "aggregation/protocol.h"

#include <algorithm>
#include <cstring>

#include "aggregation/protocol_internal.h"
#include "aggregation/wire.h"

namespace fedrec::secagg {
namespace {

constexpr char kHkdfSalt[] = "fedrec/secagg/v1";

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

}  // namespace

namespace protocol_internal {

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

absl::StatusOr<SecureUrbg> Urbg() { return SecureUrbg::Create(); }

absl::Status CheckRound(uint64_t got, uint64_t want, const char* what) {
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string("secagg: ") + what + " message for round " +
                                    std::to_string(got) + ", expected round " +
                                    std::to_string(want));
}

absl::Status WrongState(const char* call, const char* state) {
  return absl::FailedPreconditionError(std::string("secagg: ") + call + " called in state " +
                                       state);
}

std::string AbortReasonOf(const std::string& bytes) {
  ByteReader r(bytes, "Abort");
  uint64_t round = 0;
  if (!ReadHeader(r, MessageType::kAbort, &round).ok()) return "server aborted";
  absl::StatusOr<std::span<const uint8_t>> reason = r.Blob();
  if (!reason.ok()) return "server aborted";
  return "server aborted: " +
         std::string(reinterpret_cast<const char*>(reason->data()), reason->size());
}

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

}  // namespace protocol_internal

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
  return protocol_internal::SerializeIds(MessageType::kUnmaskingRequest, round, survivors);
}

bool IsAbortMessage(const std::string& bytes) {
  return !bytes.empty() &&
         static_cast<uint8_t>(bytes[0]) == static_cast<uint8_t>(MessageType::kAbort);
}

}  // namespace fedrec::secagg
