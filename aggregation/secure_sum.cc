#include "aggregation/secure_sum.h"

#include <map>
#include <memory>
#include <set>
#include <type_traits>
#include <utility>

#include "aggregation/protocol.h"
#include "aggregation/wire.h"
#include "core/timing.h"

namespace fedrec::secagg {
namespace {

// ---------------------------------------------------------------- framing
//
// Bundle (rank -> rank 0): u8 ok(0)/error(1); ok: u32 count, blobs;
//   error: u32 status code, blob message.
// Reply (rank 0 -> all): u8 kind (kReplyOk, kReplyAbort, kReplyError);
//   ok: blob common, u32 count, (u64 recipient, blob)...; abort: blob reason;
//   error: u32 code, blob message.

constexpr uint8_t kReplyOk = 0, kReplyAbort = 1, kReplyError = 2;

std::string ErrorBundle(const absl::Status& status) {
  ByteWriter w;
  w.U8(1);
  w.U32(static_cast<uint32_t>(status.code()));
  w.Blob(std::string(status.message()));
  return w.Take();
}

std::string OkBundle(const std::vector<std::string>& messages) {
  ByteWriter w;
  w.U8(0);
  w.U32(static_cast<uint32_t>(messages.size()));
  for (const std::string& m : messages) w.Blob(m);
  return w.Take();
}

absl::Status ReadStatus(ByteReader& r) {
  FEDREC_ASSIGN_OR_RETURN(uint32_t code, r.U32());
  FEDREC_ASSIGN_OR_RETURN(auto msg, r.Blob());
  if (code == 0 || code > 16) code = static_cast<uint32_t>(absl::StatusCode::kInternal);
  return absl::Status(static_cast<absl::StatusCode>(code),
                      std::string(reinterpret_cast<const char*>(msg.data()), msg.size()));
}

// Appends the messages of one bundle to *out, or returns the rank's error.
absl::Status ParseBundle(const std::string& bytes, std::vector<std::string>* out) {
  ByteReader r(bytes, "secure-sum bundle");
  FEDREC_ASSIGN_OR_RETURN(uint8_t kind, r.U8());
  if (kind == 1) {
    absl::Status s = ReadStatus(r);
    return s.ok() ? r.Bad("bad error frame") : s;
  }
  FEDREC_ASSIGN_OR_RETURN(size_t n, r.Count(4));
  for (size_t i = 0; i < n; ++i) {
    FEDREC_ASSIGN_OR_RETURN(auto blob, r.Blob());
    out->emplace_back(reinterpret_cast<const char*>(blob.data()), blob.size());
  }
  return r.ExpectEnd();
}

struct Reply {
  uint8_t kind = kReplyOk;
  std::string abort_reason;
  absl::Status error;
  std::string common;                                   // for every participant
  std::vector<std::pair<uint64_t, std::string>> items;  // per recipient (routing)
};

std::string Serialize(const Reply& reply) {
  ByteWriter w;
  w.U8(reply.kind);
  if (reply.kind == kReplyOk) {
    w.Blob(reply.common);
    w.U32(static_cast<uint32_t>(reply.items.size()));
    for (const auto& [id, m] : reply.items) {
      w.U64(id);
      w.Blob(m);
    }
  } else if (reply.kind == kReplyAbort) {
    w.Blob(reply.abort_reason);
  } else {
    w.U32(static_cast<uint32_t>(reply.error.code()));
    w.Blob(std::string(reply.error.message()));
  }
  return w.Take();
}

absl::StatusOr<Reply> ParseReply(const std::string& bytes) {
  ByteReader r(bytes, "secure-sum reply");
  Reply reply;
  FEDREC_ASSIGN_OR_RETURN(reply.kind, r.U8());
  if (reply.kind == kReplyOk) {
    FEDREC_ASSIGN_OR_RETURN(auto common, r.Blob());
    reply.common.assign(reinterpret_cast<const char*>(common.data()), common.size());
    FEDREC_ASSIGN_OR_RETURN(size_t n, r.Count(12));
    for (size_t i = 0; i < n; ++i) {
      FEDREC_ASSIGN_OR_RETURN(uint64_t id, r.U64());
      FEDREC_ASSIGN_OR_RETURN(auto blob, r.Blob());
      reply.items.emplace_back(
          id, std::string(reinterpret_cast<const char*>(blob.data()), blob.size()));
    }
  } else if (reply.kind == kReplyAbort) {
    FEDREC_ASSIGN_OR_RETURN(auto blob, r.Blob());
    reply.abort_reason.assign(reinterpret_cast<const char*>(blob.data()), blob.size());
  } else if (reply.kind == kReplyError) {
    reply.error = ReadStatus(r);
  } else {
    return r.Bad("unknown reply kind");
  }
  FEDREC_RETURN_IF_ERROR(r.ExpectEnd());
  return reply;
}

// One protocol round on the wire: every rank sends `local` (its messages, or
// its error) to rank 0, rank 0 computes the reply with `serve` from all
// messages, and every rank returns the reply. A rank's error, or the
// server's, becomes a kReplyError that every rank receives.
template <typename Serve>
absl::StatusOr<Reply> Exchange(Collective& comm,
                               const absl::StatusOr<std::vector<std::string>>& local, Serve&& serve,
                               uint64_t* bytes_sent) {
  const std::string bundle = local.ok() ? OkBundle(*local) : ErrorBundle(local.status());
  *bytes_sent += bundle.size();
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> gathered, comm.Gather(bundle, 0));
  std::string reply_bytes;
  if (comm.rank() == 0) {
    Reply reply;
    std::vector<std::string> messages;
    absl::Status status;
    for (const std::string& b : gathered) {
      status = ParseBundle(b, &messages);
      if (!status.ok()) break;
    }
    if (status.ok()) {
      absl::StatusOr<Reply> served = serve(messages);
      if (served.ok()) {
        reply = std::move(*served);
      } else {
        status = served.status();
      }
    }
    if (!status.ok()) {
      reply = Reply();
      reply.kind = kReplyError;
      reply.error = status;
    }
    reply_bytes = Serialize(reply);
    *bytes_sent += reply_bytes.size();
  }
  FEDREC_RETURN_IF_ERROR(comm.Broadcast(&reply_bytes, 0));
  return ParseReply(reply_bytes);
}

Reply AbortReply(const std::string& reason) {
  Reply r;
  r.kind = kReplyAbort;
  r.abort_reason = reason;
  return r;
}

Reply Everybody(std::string message) {
  Reply r;
  r.common = std::move(message);
  return r;
}

// The reply for a server step that may have aborted.
Reply ServerReply(const SecaggServer& server, std::string message) {
  return server.aborted() ? AbortReply(server.abort_reason()) : Everybody(std::move(message));
}

// The routed message for `id` (nullptr if none was routed to it).
const std::string* RoutedTo(const Reply& reply, uint64_t id) {
  for (const auto& [to, m] : reply.items) {
    if (to == id) return &m;
  }
  return nullptr;
}

// ------------------------------------------------------------ the steps
//
// One RunSecureSum call, split into its steps. Every rank runs every step in
// the same order; the collectives inside a step are where the ranks meet.

// The state of one RunSecureSum call on this rank.
template <typename Word>
struct SumCall {
  SumCall(Collective& comm, const SecaggParams& params, uint64_t round,
          std::span<const HostedParticipant<Word>> hosted, size_t vector_length)
      : comm(comm), params(params), round(round), hosted(hosted), vector_length(vector_length) {}

  Collective& comm;
  const SecaggParams& params;
  const uint64_t round;
  const std::span<const HostedParticipant<Word>> hosted;
  const size_t vector_length;

  SecureSumResult<Word> result;
  // A rank-local problem (bad input, a failed key draw). It travels to rank 0
  // in the first bundle so that every rank fails together.
  absl::Status local;
  std::unique_ptr<SecaggServer> server;           // rank 0 only
  std::map<uint64_t, Ed25519KeyPair> identities;  // until the clients hold them
  std::shared_ptr<IdentityRegistry> registry;     // with params.authenticate
  std::map<uint64_t, std::unique_ptr<SecaggClient>> clients;
  std::map<uint64_t, const HostedParticipant<Word>*> by_id;
  std::vector<Word> accumulator;  // the sum of this rank's masked inputs
  Stopwatch watch;

  SecureSumStats& stats() { return result.stats; }
};

// Setup: the problems with this rank's participants (the last one found).
template <typename Word>
absl::Status CheckHosted(std::span<const HostedParticipant<Word>> hosted, size_t vector_length) {
  absl::Status local = absl::OkStatus();
  std::set<uint64_t> local_ids;
  for (const HostedParticipant<Word>& p : hosted) {
    if (p.input.size() != vector_length) {
      local = InvalidInput("secagg", "participant " + std::to_string(p.id) + " has " +
                                         std::to_string(p.input.size()) + " words, expected " +
                                         std::to_string(vector_length));
    }
    if (!local_ids.insert(p.id).second) {
      local = InvalidInput("secagg", "participant id " + std::to_string(p.id) + " hosted twice");
    }
  }
  return local;
}

// The verification keys in every rank's Allgather contribution; reading a
// malformed contribution stops at the fault, keeping the keys before it.
std::shared_ptr<IdentityRegistry> ReadIdentities(const std::vector<std::string>& all) {
  auto registry = std::make_shared<IdentityRegistry>();
  for (const std::string& bytes : all) {
    ByteReader r(bytes, "identity keys");
    absl::StatusOr<size_t> n = r.Count(40);
    for (size_t i = 0; n.ok() && i < *n; ++i) {
      absl::StatusOr<uint64_t> id = r.U64();
      absl::StatusOr<std::span<const uint8_t>> pk = r.Raw(32);
      if (!id.ok() || !pk.ok()) break;
      Bytes32 key{};
      std::copy(pk->begin(), pk->end(), key.begin());
      (*registry)[*id] = key;
    }
  }
  return registry;
}

// Setup, identity keys (secagg.authenticate): each participant's Ed25519 key
// is drawn here and its verification key published with Allgather, which
// stands in for the PKI that a deployment would have; the server relays none
// of it.
template <typename Word>
absl::Status PublishIdentities(SumCall<Word>& s) {
  ByteWriter w;
  w.U32(static_cast<uint32_t>(s.hosted.size()));
  for (const HostedParticipant<Word>& p : s.hosted) {
    absl::StatusOr<Ed25519KeyPair> key = Ed25519Generate();
    if (!key.ok()) {
      s.local = key.status();
      break;
    }
    w.U64(p.id);
    w.Raw(key->public_key);
    s.identities.emplace(p.id, std::move(*key));
  }
  std::string mine = w.Take();
  s.stats().bytes_sent += mine.size();
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> all, s.comm.Allgather(mine));
  s.registry = ReadIdentities(all);
  return absl::OkStatus();
}

// R0, participants: create the clients and advertise their keys.
template <typename Word>
absl::StatusOr<std::vector<std::string>> AdvertiseKeys(SumCall<Word>& s) {
  FEDREC_RETURN_IF_ERROR(s.local);
  std::vector<std::string> out;
  for (const HostedParticipant<Word>& p : s.hosted) {
    const Ed25519KeyPair* identity = nullptr;
    if (s.params.authenticate) identity = &s.identities.at(p.id);
    FEDREC_ASSIGN_OR_RETURN(
        auto client,
        SecaggClient::Create(s.params, s.round, p.id, s.vector_length, identity, s.registry));
    FEDREC_ASSIGN_OR_RETURN(std::string m, client->AdvertiseKeys());
    out.push_back(std::move(m));
    s.by_id[p.id] = &p;
    s.clients[p.id] = std::move(client);
  }
  s.identities.clear();  // the clients hold their copies
  return out;
}

// R0: the server collects U1 and broadcasts the roster.
template <typename Word>
absl::StatusOr<Reply> RoundAdvertiseKeys(SumCall<Word>& s) {
  return Exchange(
      s.comm, AdvertiseKeys(s),
      [&](const std::vector<std::string>& messages) -> absl::StatusOr<Reply> {
        FEDREC_ASSIGN_OR_RETURN(std::string m, s.server->HandleAdvertiseKeys(messages));
        return ServerReply(*s.server, std::move(m));
      },
      &s.stats().bytes_sent);
}

// R1, participants: check the roster, share the keys.
template <typename Word>
absl::StatusOr<std::vector<std::string>> ShareKeys(SumCall<Word>& s, const Reply& roster) {
  std::vector<std::string> out;
  const std::string* m = &roster.common;
  for (auto& [id, c] : s.clients) {
    FEDREC_ASSIGN_OR_RETURN(std::string keys, c->HandleRoster(*m));
    if (!keys.empty()) out.push_back(std::move(keys));
  }
  return out;
}

// R1: the server collects U2 and routes each sealed share to its recipient.
template <typename Word>
absl::StatusOr<Reply> RoundShareKeys(SumCall<Word>& s, const Reply& roster) {
  return Exchange(
      s.comm, ShareKeys(s, roster),
      [&](const std::vector<std::string>& messages) -> absl::StatusOr<Reply> {
        FEDREC_ASSIGN_OR_RETURN(auto routed, s.server->HandleShareKeys(messages));
        if (s.server->aborted()) return AbortReply(s.server->abort_reason());
        Reply r;
        r.items = std::move(routed);
        return r;
      },
      &s.stats().bytes_sent);
}

// R2, participants: open the routed shares and mask the inputs into this
// rank's accumulator; each sends only a notice that its input is in.
template <typename Word>
absl::StatusOr<std::vector<std::string>> MaskInputs(SumCall<Word>& s, const Reply& routing) {
  std::vector<std::string> out;
  for (auto& [id, c] : s.clients) {
    if (c->state() != SecaggClient::State::kAwaitShares) continue;
    const std::string* m = RoutedTo(routing, id);
    if (m == nullptr) {
      c->Abort("no shares were routed to this participant");
      continue;
    }
    FEDREC_RETURN_IF_ERROR(c->HandleShareRouting(*m));
    if (c->state() != SecaggClient::State::kMaskedInputReady) continue;
    const HostedParticipant<Word>& p = *s.by_id.at(id);
    if (p.drops_before_upload) {
      c->Abort("simulated dropout before upload");
      continue;
    }
    FEDREC_ASSIGN_OR_RETURN(std::string notice,
                            c->template MaskInput<Word>(p.input, s.accumulator));
    out.push_back(std::move(notice));
  }
  return out;
}

// R2: the server fixes the survivors (U3) and broadcasts the unmasking
// request.
template <typename Word>
absl::StatusOr<Reply> RoundMaskInputs(SumCall<Word>& s, const Reply& routing) {
  s.accumulator.assign(s.vector_length, Word{0});
  return Exchange(
      s.comm, MaskInputs(s, routing),
      [&](const std::vector<std::string>& messages) -> absl::StatusOr<Reply> {
        FEDREC_ASSIGN_OR_RETURN(std::string m, s.server->HandleMaskedInputs(messages));
        return ServerReply(*s.server, std::move(m));
      },
      &s.stats().bytes_sent);
}

// R2, upload: the accumulators are summed on every rank.
template <typename Word>
absl::Status SumMaskedInputs(SumCall<Word>& s) {
  // The masked vectors travel only now, once the server has committed to U3.
  // Rank 0's accumulator is zero unless it hosts participants.
  if (!s.clients.empty()) s.stats().bytes_sent += s.accumulator.size() * sizeof(Word);
  return s.comm.AllreduceSum(std::span<Word>(s.accumulator));
}

// R3, participants: reveal the shares the unmasking request asks for.
template <typename Word>
absl::StatusOr<std::vector<std::string>> Unmask(SumCall<Word>& s, const Reply& request) {
  std::vector<std::string> out;
  const std::string* m = &request.common;
  for (auto& [id, c] : s.clients) {
    if (c->state() != SecaggClient::State::kUnmasking) continue;
    if (s.by_id.at(id)->drops_before_unmask) {
      c->Abort("simulated dropout before unmasking");
      continue;
    }
    FEDREC_ASSIGN_OR_RETURN(std::string resp, c->HandleUnmaskingRequest(*m));
    if (!resp.empty()) out.push_back(std::move(resp));
  }
  return out;
}

// R3: the server reconstructs the masks, unmasks the summed accumulator in
// place and broadcasts the number of survivors.
template <typename Word>
absl::StatusOr<Reply> RoundUnmask(SumCall<Word>& s, const Reply& request) {
  return Exchange(
      s.comm, Unmask(s, request),
      [&](const std::vector<std::string>& messages) -> absl::StatusOr<Reply> {
        FEDREC_RETURN_IF_ERROR(s.server->template HandleUnmaskingResponses<Word>(
            messages, std::span<Word>(s.accumulator)));
        if (s.server->aborted()) return AbortReply(s.server->abort_reason());
        ByteWriter w;
        w.U64(s.server->survivors().size());
        return Everybody(w.Take());
      },
      &s.stats().bytes_sent);
}

// Finish, abort or error: a kReplyError is every rank's error; an abort wipes
// the clients' secrets and releases nothing.
template <typename Word>
absl::StatusOr<SecureSumResult<Word>> FinishAbort(SumCall<Word>& s, const Reply& reply) {
  if (reply.kind == kReplyError) return reply.error;
  for (auto& [id, c] : s.clients) c->Abort(reply.abort_reason);
  s.result.aborted = true;
  s.result.abort_reason = reply.abort_reason;
  s.result.sum.clear();
  s.result.included_ids.clear();
  return std::move(s.result);
}

// Finish: rank 0 releases the unmasked sum and who is in it.
template <typename Word>
absl::StatusOr<SecureSumResult<Word>> Finish(SumCall<Word>& s, const Reply& outcome) {
  ByteReader r(outcome.common, "secure-sum outcome");
  FEDREC_ASSIGN_OR_RETURN(uint64_t survivors, r.U64());
  s.stats().survivors = static_cast<int64_t>(survivors);
  s.stats().seconds_unmasking = s.watch.ElapsedSeconds();
  if (s.comm.rank() == 0) {
    s.result.sum = std::move(s.accumulator);
    s.result.included_ids = s.server->survivors();
  }
  return std::move(s.result);
}

}  // namespace

template <typename Word>
absl::StatusOr<SecureSumResult<Word>> RunSecureSum(Collective& comm, const SecaggParams& params,
                                                   uint64_t round,
                                                   std::span<const HostedParticipant<Word>> hosted,
                                                   size_t vector_length) {
  static_assert(std::is_same_v<Word, uint32_t> || std::is_same_v<Word, uint64_t>);
  // Identical on every rank: safe to return before any collective.
  FEDREC_RETURN_IF_ERROR(ValidateSecaggParams(params));
  if (static_cast<int>(sizeof(Word) * 8) != params.bits) {
    return InvalidInput("secagg", "bits = " + std::to_string(params.bits) + " but " +
                                      std::to_string(sizeof(Word) * 8) + "-bit words");
  }
  SumCall<Word> s(comm, params, round, hosted, vector_length);

  // Setup: check the inputs, create the server, publish the identity keys.
  s.local = CheckHosted(hosted, vector_length);
  if (comm.rank() == 0) {
    FEDREC_ASSIGN_OR_RETURN(s.server, SecaggServer::Create(params, round, vector_length));
  }
  s.watch.Reset();
  if (params.authenticate) FEDREC_RETURN_IF_ERROR(PublishIdentities(s));

  // R0: advertise keys; every rank learns the roster (U1).
  FEDREC_ASSIGN_OR_RETURN(Reply roster, RoundAdvertiseKeys(s));
  if (roster.kind != kReplyOk) return FinishAbort(s, roster);
  {
    FEDREC_ASSIGN_OR_RETURN(RosterMessage r, ParseRoster(roster.common));
    s.stats().participants = static_cast<int64_t>(r.entries.size());
  }

  // R1: share keys; each participant receives the shares meant for it.
  FEDREC_ASSIGN_OR_RETURN(Reply routing, RoundShareKeys(s, roster));
  if (routing.kind != kReplyOk) return FinishAbort(s, routing);
  s.stats().seconds_setup = s.watch.ElapsedSeconds();
  s.watch.Reset();

  // R2: masked inputs; the accumulators are summed once U3 is fixed.
  FEDREC_ASSIGN_OR_RETURN(Reply request, RoundMaskInputs(s, routing));
  if (request.kind != kReplyOk) return FinishAbort(s, request);
  FEDREC_RETURN_IF_ERROR(SumMaskedInputs(s));
  s.stats().seconds_masking = s.watch.ElapsedSeconds();
  s.watch.Reset();

  // R3: unmasking; the server removes the masks from the sum.
  FEDREC_ASSIGN_OR_RETURN(Reply outcome, RoundUnmask(s, request));
  if (outcome.kind != kReplyOk) {
    std::fill(s.accumulator.begin(), s.accumulator.end(), Word{0});
    return FinishAbort(s, outcome);
  }
  return Finish(s, outcome);
}

template absl::StatusOr<SecureSumResult<uint32_t>> RunSecureSum<uint32_t>(
    Collective&, const SecaggParams&, uint64_t, std::span<const HostedParticipant<uint32_t>>,
    size_t);
template absl::StatusOr<SecureSumResult<uint64_t>> RunSecureSum<uint64_t>(
    Collective&, const SecaggParams&, uint64_t, std::span<const HostedParticipant<uint64_t>>,
    size_t);

}  // namespace fedrec::secagg
