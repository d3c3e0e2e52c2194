// The secure-aggregation protocol of Bonawitz et al. 2017 ("Practical Secure
// Aggregation for Privacy-Preserving Machine Learning", double masking), on
// the complete graph or on the Harary graph of SecAgg+ (Bell et al. 2020), as
// two explicit state machines: SecaggClient (one per participant) and
// SecaggServer (the coordinator). They are transport-independent: they
// consume and produce serialized byte messages; secure_sum.h runs them over a
// Collective. Names of states follow Google fcp's secagg client/server.
//
// One round r, participants u with unique 64-bit ids:
//
//  R0 AdvertiseKeys   u draws two X25519 key pairs from the OS CSPRNG:
//                     (c_u, C_u) to encrypt shares and (s_u, S_u) for mask
//                     seeds, and sends (u, C_u, S_u[, Ed25519 signature over
//                     round||u||C_u||S_u]). The server collects U1 and
//                     broadcasts the roster: the entries in the order that
//                     fixes roster positions (random for the Harary graph).
//  R1 ShareKeys       u checks the roster (its own keys unchanged; with
//                     secagg.authenticate every signature verifies against
//                     the participants' identity keys), derives the graph
//                     (secagg_graph.h) and its neighbourhood N(u), draws the
//                     self-mask seed b_u, Shamir-shares b_u and s_u t-of-|N(u)|
//                     at points position+1, and sends to each neighbour v the
//                     pair of shares sealed with AES-128-GCM under
//                     HKDF(X25519(c_u, C_v), "share-encryption"||r||pair),
//                     associated data r||u||v. The server collects U2 and
//                     routes each ciphertext to its recipient.
//  R2 MaskedInput     u opens the shares it received (from U2 ∩ N(u)), needs
//                     at least t of them, and uploads
//                       y_u = x_u + PRG(b_u) + sum_{v in U2∩N(u), u<v} PRG(s_uv)
//                                            - sum_{v in U2∩N(u), u>v} PRG(s_uv)
//                     mod 2^bits, s_uv = HKDF(X25519(s_u, S_v), "pairwise-mask"
//                     ||r||min(u,v)||max(u,v)) as AES-128-CTR key and counter
//                     block. (The upload itself is the caller's business: y_u
//                     is added into an accumulator that the driver allreduces;
//                     the client sends a small MaskedInputSent notice.) The
//                     server collects U3 (whose y_u is in the sum).
//  R3 Unmasking       The server announces U3. u (in U3, with >= t neighbours
//                     in U3) reveals, for each v in U2 ∩ N(u), the share of
//                     b_v if v is in U3 and the share of s_v if not, never
//                     both. The server reconstructs b_v of every survivor and
//                     s_v of every participant that dropped after R1, checks
//                     each s_v against S_v, and removes PRG(b_v) and the
//                     dropped participants' pairwise masks from the sum.
//
// Aborts (nothing is released): the server aborts when some needed secret
// cannot get t shares: after R1 if a participant of U2 has fewer than t
// neighbours in U2, after R2 if a survivor or a dropped participant with
// surviving neighbours has fewer than t neighbours in U3, after R3 if fewer
// than t revealed shares arrived for a needed secret. Clients abort on their
// own when their neighbourhood is below t. An aborted state is terminal;
// every handler then returns FailedPrecondition, except that any handler
// accepts the server's Abort message.
//
// Errors (non-OK Status) mean a protocol violation or a local failure and
// are session-fatal: malformed or replayed messages (InvalidArgument),
// substituted keys or failed authentication (PermissionDenied), calls in the
// wrong state (FailedPrecondition), inconsistent shares (DataLoss).
//
// Secrets: secret material lives in Secret32 / SecretBytes / shamir::Share,
// which are move-only and wipe themselves on destruction and when moved
// from. The client's state is a std::variant with one struct per stage, each
// holding exactly the secrets that stage needs, so only one stage's secrets
// can exist at a time; a transition moves the kept secrets into the next
// stage and destroys the old one, which wipes the rest: the client's copy of
// its identity key once the advertisement is signed (R0), c_u once the
// share-encryption keys are derived (R1), those keys once the shares are
// opened (R2), s_u and b_u once y_u is computed (R2 -> R3), the received
// shares after R3 (and everything on an abort). The server wipes its
// reconstructed secrets once the sum is unmasked.
//
// Threat model: honest-but-curious server and clients, or a server that
// lies about dropouts (the threshold rule of secagg_graph.h); with
// secagg.authenticate also a server that substitutes public keys. Not
// covered: a malicious server that sends inconsistent rosters to different
// clients (Bonawitz's R4 ConsistencyCheck is not implemented), malicious
// clients that send bad shares (detected for s_v by the S_v check, not for
// b_v).
//
// Thread safety: none; one thread per object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "aggregation/crypto.h"
#include "aggregation/secagg_graph.h"
#include "aggregation/shamir.h"
#include "core/status.h"

namespace fedrec::secagg {

// The participants' Ed25519 verification keys, known to every client by a
// channel the server does not control (a PKI in a deployment; the driver's
// Allgather in fedrec's simulation).
using IdentityRegistry = std::map<uint64_t, Bytes32>;

// ------------------------------------------------------------ messages
// Exposed so that tests can inspect and tamper with them.

enum class MessageType : uint8_t {
  kAdvertiseKeys = 1,
  kRoster = 2,
  kShareKeys = 3,
  kShareRouting = 4,
  kMaskedInputSent = 5,
  kUnmaskingRequest = 6,
  kUnmaskingResponse = 7,
  kAbort = 8,
};

struct AdvertiseKeysMessage {
  uint64_t round = 0;
  uint64_t id = 0;
  Bytes32 enc_public{};   // C_u
  Bytes32 mask_public{};  // S_u
  std::optional<Bytes64> signature;
};
std::string Serialize(const AdvertiseKeysMessage& m);
absl::StatusOr<AdvertiseKeysMessage> ParseAdvertiseKeys(const std::string& bytes);
// The bytes an identity key signs: "fedrec/secagg/advertise" || round || id || C_u || S_u.
std::string AdvertiseSignedBytes(uint64_t round, uint64_t id, const Bytes32& enc_public,
                                 const Bytes32& mask_public);

struct RosterMessage {
  uint64_t round = 0;
  std::vector<AdvertiseKeysMessage> entries;  // position order
};
std::string Serialize(const RosterMessage& m);
absl::StatusOr<RosterMessage> ParseRoster(const std::string& bytes);

struct AbortMessage {
  uint64_t round = 0;
  std::string reason;
};
std::string Serialize(const AbortMessage& m);
// The server's unmasking request: the ids whose masked inputs are in the sum.
std::string SerializeUnmaskingRequest(uint64_t round, const std::vector<uint64_t>& survivors);

// True if `bytes` is an Abort message.
bool IsAbortMessage(const std::string& bytes);

// Sizes on the wire (bytes), for docs and stats.
inline constexpr size_t kShareValuesBytes = 8 * 5;  // one 32-byte secret: 5 field elements
inline constexpr size_t kSealedSharesBytes =
    kGcmNonceBytes + 2 * kShareValuesBytes + kGcmTagBytes;  // 108

// ------------------------------------------------------------ client

// One participant's side of one round. Owns its secrets for the round (see
// "Secrets" above) and a shared read-only view of the identity registry.
// A handler moves to the next state (or to kAborted) or, when it returns an
// error, leaves the state as it was. Not thread-safe.
class SecaggClient {
 public:
  enum class State {
    kAdvertiseKeys,     // R0: nothing sent yet
    kShareKeys,         // R1: keys advertised, waiting for the roster
    kAwaitShares,       // R2: shares sent, waiting for the routed shares
    kMaskedInputReady,  // R2: shares opened, ready to mask the input
    kUnmasking,         // R3: masked input sent, waiting for the survivors
    kCompleted,
    kAborted,
  };

  // `identity`: this participant's Ed25519 key, required when
  // params.authenticate (the client keeps its own copy until the
  // advertisement is signed; the caller's stays the caller's); `registry`:
  // every participant's verification key, likewise. InvalidArgument for bad
  // params or a missing key.
  static absl::StatusOr<std::unique_ptr<SecaggClient>> Create(
      const SecaggParams& params, uint64_t round, uint64_t id, size_t vector_length,
      const Ed25519KeyPair* identity, std::shared_ptr<const IdentityRegistry> registry);
  ~SecaggClient();
  SecaggClient(const SecaggClient&) = delete;
  SecaggClient& operator=(const SecaggClient&) = delete;

  // R0 -> R1: draws the key pairs; returns the AdvertiseKeys message.
  absl::StatusOr<std::string> AdvertiseKeys();
  // R1 -> R2: returns the ShareKeys message ("" if the client aborted).
  absl::StatusOr<std::string> HandleRoster(const std::string& message);
  // R2: opens the routed shares (kAwaitShares -> kMaskedInputReady, or
  // kAborted with fewer than t).
  absl::Status HandleShareRouting(const std::string& message);
  // R2 -> R3: accumulator[i] += y_u[i] (mod 2^bits), input.size() ==
  // accumulator.size() == vector_length, sizeof(Word) * 8 == bits. Returns
  // the MaskedInputSent notice.
  template <typename Word>
  absl::StatusOr<std::string> MaskInput(std::span<const Word> input, std::span<Word> accumulator);
  // R3 -> completed: returns the UnmaskingResponse ("" if the client aborted).
  absl::StatusOr<std::string> HandleUnmaskingRequest(const std::string& message);
  // Ends the protocol locally (a simulated dropout, a transport failure);
  // wipes every secret.
  void Abort(const std::string& reason);

  State state() const;
  static const char* StateName(State s);
  uint64_t id() const { return id_; }
  const std::string& abort_reason() const { return abort_reason_; }

 private:
  // The per-round state: a std::variant of one struct per State, each
  // holding exactly the secrets its stage needs (protocol_client.cc).
  struct Session;
  SecaggClient(const SecaggParams& params, uint64_t round, uint64_t id, size_t vector_length);

  SecaggParams params_;
  uint64_t round_;
  uint64_t id_;
  size_t vector_length_;
  std::shared_ptr<const IdentityRegistry> registry_;
  std::unique_ptr<Session> session_;
  std::string abort_reason_;
};

// ------------------------------------------------------------ server

// The coordinator's side of one round. Owns the roster and the round's
// bookkeeping; holds reconstructed secrets only inside
// HandleUnmaskingResponses. Not thread-safe.
class SecaggServer {
 public:
  enum class State {
    kCollectAdvertise,    // R0
    kCollectShares,       // R1
    kCollectMaskedInput,  // R2
    kCollectUnmasking,    // R3
    kCompleted,
    kAborted,
  };

  static absl::StatusOr<std::unique_ptr<SecaggServer>> Create(const SecaggParams& params,
                                                              uint64_t round, size_t vector_length);
  ~SecaggServer();
  SecaggServer(const SecaggServer&) = delete;
  SecaggServer& operator=(const SecaggServer&) = delete;

  // Each handler takes the messages that arrived in its round (any order)
  // and returns what to send next; after it, check aborted(): then the
  // returned message is an Abort message for everybody.

  // R0 -> R1: returns the roster.
  absl::StatusOr<std::string> HandleAdvertiseKeys(std::span<const std::string> messages);
  // R1 -> R2: returns (recipient id, routing message) for each participant
  // of U2; on abort a single entry (0, Abort message).
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> HandleShareKeys(
      std::span<const std::string> messages);
  // R2 -> R3: the MaskedInputSent notices of U3; returns the unmasking request.
  absl::StatusOr<std::string> HandleMaskedInputs(std::span<const std::string> messages);
  // R3 -> completed: unmasks `masked_sum` (the sum of y_u over U3) in place.
  // On abort `masked_sum` is zeroed and must not be used.
  template <typename Word>
  absl::Status HandleUnmaskingResponses(std::span<const std::string> messages,
                                        std::span<Word> masked_sum);

  State state() const { return state_; }
  static const char* StateName(State s);
  bool aborted() const { return state_ == State::kAborted; }
  const std::string& abort_reason() const { return abort_reason_; }
  const GraphPlan& plan() const { return plan_; }
  // Ids whose inputs are in the sum (U3), sorted; valid from R3 on.
  const std::vector<uint64_t>& survivors() const { return survivors_; }
  // Ids that completed R1 (U2), sorted.
  const std::vector<uint64_t>& share_senders() const { return share_senders_; }

 private:
  SecaggServer(const SecaggParams& params, uint64_t round, size_t vector_length);
  std::string AbortWith(const std::string& reason);
  absl::Status CheckState(State expected, const char* call) const;

  SecaggParams params_;
  uint64_t round_;
  size_t vector_length_;
  State state_ = State::kCollectAdvertise;
  std::string abort_reason_;
  GraphPlan plan_;
  std::vector<AdvertiseKeysMessage> roster_;  // position order
  std::map<uint64_t, size_t> position_;       // id -> roster position
  std::vector<uint64_t> share_senders_;       // U2, sorted
  std::vector<uint8_t> in_u2_;                // by position
  std::vector<uint64_t> survivors_;           // U3, sorted
  std::vector<uint8_t> in_u3_;                // by position
};

}  // namespace fedrec::secagg
