// RunSecureSum: one secure-aggregation round over a Collective. This is what
// the federated round loop calls; protocol.h has the protocol itself.
//
// Roles: rank 0 is the server (coordinator); every rank (rank 0 included,
// for single-rank runs) hosts zero or more participants:
//   scope worker: each worker rank hosts one participant, its clients'
//                 summed encoding (participant id = worker index);
//   scope client: each worker rank hosts its sampled clients (id = user id).
//
// Transport, per protocol round: every rank Gathers its participants'
// messages to rank 0 (one bundle per rank), the server runs its state
// machine, and Broadcasts the reply (the roster, the routed shares of all
// recipients, the unmasking request, the outcome). The masked vectors of a
// rank's participants are added into one accumulator on that rank, and the
// accumulators are summed with Collective::AllreduceSum (mod 2^bits); rank 0
// contributes zeros unless it hosts participants. So the server only ever
// sees the sum of masked inputs.
//
// Results: with no dropouts the unmasked sum equals the plain sum of the
// inputs mod 2^bits bitwise (masks cancel exactly in the ring), so a model
// trained with secure aggregation on is identical to one trained with it off.
// With dropouts, `sum` is the plain sum over `included_ids` (participants
// whose masked input arrived). If some needed secret has fewer than t shares
// the round aborts: `aborted` is true on every rank, `sum` is empty and the
// masked sum is discarded (it was never unmasked; when the abort is decided
// before the upload, the vectors are not even summed).
//
// Simulated dropouts (HostedParticipant flags): drops_before_upload takes
// part in key setup (it is in U2) and then vanishes; drops_before_unmask
// uploads its masked input and then vanishes. Both wipe their secrets.
//
// Errors (the same Status on every rank, after the ranks have agreed on it,
// so no rank is left waiting): bad params or inputs (InvalidArgument), a
// protocol violation such as a substituted public key with
// params.authenticate (PermissionDenied), a Collective failure.
//
// Cost and security notes, threat model and message sizes: aggregation/README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aggregation/secagg_graph.h"
#include "comm/collective.h"
#include "core/status.h"

namespace fedrec::secagg {

template <typename Word>  // uint32_t or uint64_t
struct HostedParticipant {
  uint64_t id = 0;                   // unique in the round
  std::span<const Word> input;       // the encoded update, length = vector_length
  bool drops_before_upload = false;  // completes key setup, never sends its masked input
  bool drops_before_unmask = false;  // sends its masked input, then vanishes
};

struct SecureSumStats {
  double seconds_setup = 0;      // R0 + R1 (keys, shares, routing)
  double seconds_masking = 0;    // R2: masking the inputs and the allreduce
  double seconds_unmasking = 0;  // R3: revealing shares, reconstruction, unmasking
  uint64_t bytes_sent = 0;       // bytes this rank sent: message bundles, broadcasts
                                 // (rank 0) and its accumulator in the allreduce
  int64_t participants = 0;      // |U1|: participants that advertised keys (also on abort)
  int64_t survivors = 0;         // |U3|: participants whose input is in the sum
};

template <typename Word>
struct SecureSumResult {
  bool aborted = false;  // too few survivors somewhere: nothing released
  std::string abort_reason;
  std::vector<Word> sum;               // rank 0 only: the plain sum over included_ids
  std::vector<uint64_t> included_ids;  // rank 0 only: sorted
  SecureSumStats stats;
};

// Collective call: every rank calls it in the same order with the same
// params, round and vector_length. sizeof(Word) * 8 must equal params.bits.
template <typename Word>
absl::StatusOr<SecureSumResult<Word>> RunSecureSum(Collective& comm, const SecaggParams& params,
                                                   uint64_t round,
                                                   std::span<const HostedParticipant<Word>> hosted,
                                                   size_t vector_length);

}  // namespace fedrec::secagg
