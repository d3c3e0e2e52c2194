// Internals of the secure-aggregation protocol shared by the message code
// (protocol.cc) and the two state machines (protocol_client.cc,
// protocol_server.cc): key derivation, the blocked mask application, and the
// wire format of the messages that protocol.h does not expose. Not an API:
// include it only from those files. Thread safety: free functions are
// thread-safe; a MaskBatch is not (one per target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aggregation/crypto.h"
#include "aggregation/protocol.h"
#include "aggregation/shamir.h"
#include "core/csprng.h"
#include "core/status.h"

namespace fedrec::secagg::protocol_internal {

inline constexpr size_t kSecretBytes = 32;
inline constexpr size_t kChunks = 5;  // shamir::ChunksFor(32)
static_assert(kShareValuesBytes == 8 * kChunks);

enum class ShareKind : uint8_t { kSelfMask = 0, kMaskKey = 1 };

// 32 bytes from HKDF-SHA256: an AES-128 key and a CTR initial counter block.
absl::StatusOr<SecretBytes> DeriveMaskSeed(const Secret32& ikm, const char* purpose, uint64_t round,
                                           uint64_t a, uint64_t b);
// The AES-128-GCM key for the shares between a and b: HKDF of the X25519
// agreement, bound to the round and the ordered pair.
absl::StatusOr<SecretBytes> ShareEncryptionKey(const X25519Agreement& enc_private,
                                               const Bytes32& peer_enc_public, uint64_t round,
                                               uint64_t a, uint64_t b);
// Associated data of the shares sealed by `sender` for `receiver`.
std::string ShareAad(uint64_t round, uint64_t sender, uint64_t receiver);

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

// The OS CSPRNG as a URBG (for shuffles and Shamir coefficients).
absl::StatusOr<SecureUrbg> Urbg();
// InvalidArgument unless a message is for the expected round.
absl::Status CheckRound(uint64_t got, uint64_t want, const char* what);
// FailedPrecondition: `call` is not valid in `state`.
absl::Status WrongState(const char* call, const char* state);
// "server aborted[: reason]" from an Abort message.
std::string AbortReasonOf(const std::string& bytes);

// Parsed ShareKeys / ShareRouting: (peer id, sealed shares) pairs.
struct Envelopes {
  uint64_t round = 0;
  uint64_t owner = 0;  // sender (ShareKeys) or recipient (ShareRouting)
  std::vector<std::pair<uint64_t, std::string>> items;
};
std::string SerializeEnvelopes(MessageType type, const Envelopes& e);
absl::StatusOr<Envelopes> ParseEnvelopes(MessageType type, const std::string& bytes,
                                         const char* what);

// A message that is a list of ids (MaskedInputSent, UnmaskingRequest).
std::string SerializeIds(MessageType type, uint64_t round, const std::vector<uint64_t>& ids);
absl::StatusOr<std::vector<uint64_t>> ParseIds(MessageType type, const std::string& bytes,
                                               const char* what, uint64_t* round);

// R3's UnmaskingResponse: per neighbour, the revealed share and its kind.
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
std::string Serialize(const UnmaskingResponse& m);
// Parses a response; `x` is the responder's evaluation point.
absl::StatusOr<UnmaskingResponse> ParseUnmaskingResponse(const std::string& bytes, uint64_t x);
// The id of an UnmaskingResponse, before the full parse (which needs x).
absl::StatusOr<uint64_t> PeekResponder(const std::string& bytes, uint64_t round);

}  // namespace fedrec::secagg::protocol_internal
