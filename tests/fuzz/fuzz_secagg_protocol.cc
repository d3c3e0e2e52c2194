// Fuzz target: the secure-aggregation state machines (aggregation/
// protocol.h) handling tampered or forged peer messages inside a real round.
//
// The target runs one round of SecaggServer and four SecaggClients (real
// keys from the CSPRNG) and replaces or alters one message in flight: a key
// advertisement, the roster, a share bundle, a share routing, a masked-input
// notice, the unmasking request or an unmasking response.
//
// Input: byte 0 = which message (mod 8; 7 = none); byte 1 = the client it
// comes from or goes to (bits 0-1), authenticate (bit 4), Harary graph of
// degree 2 (bit 5), 64-bit ring (bit 6), replace the message by the edit
// bytes (bit 7; else xor them in as (offset, value) pairs); byte 2 = the
// dropouts (bits 0-3 before upload, 4-7 before unmasking, per client).
//
// Promises checked: nothing crashes or over-reads, whatever arrives; an
// untampered round that completes gives exactly the sum of the survivors'
// inputs; an honest client never reveals two shares of one participant's
// secrets, and reveals b_v only for v in the survivors it was told of and
// s_v only for the others.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aggregation/protocol.h"
#include "aggregation/protocol_internal.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec::secagg {
namespace {

using protocol_internal::ParseIds;
using protocol_internal::ParseUnmaskingResponse;
using protocol_internal::ShareKind;

constexpr int kClients = 4;
constexpr size_t kLength = 3;
constexpr uint64_t kRound = 5;

enum Phase { kAdvert, kRoster, kShares, kRouting, kNotice, kRequest, kResponse, kNone };

struct Plan {
  Phase phase;
  int who;
  bool replace;
  std::string_view edits;
};

void Tamper(const Plan& plan, Phase phase, int who, std::string* message) {
  if (plan.phase != phase || plan.who != who) return;
  if (plan.replace) {
    *message = std::string(plan.edits);
    return;
  }
  if (message->empty()) return;
  for (size_t i = 0; i + 2 < plan.edits.size(); i += 3) {
    const size_t at = (static_cast<uint8_t>(plan.edits[i]) |
                       (static_cast<size_t>(static_cast<uint8_t>(plan.edits[i + 1])) << 8)) %
                      message->size();
    (*message)[at] = static_cast<char>((*message)[at] ^ plan.edits[i + 2]);
  }
}

// What an honest client reveals for `request` (as it received it).
void CheckResponse(const std::string& request, const std::string& response) {
  uint64_t round = 0;
  absl::StatusOr<std::vector<uint64_t>> survivors =
      ParseIds(MessageType::kUnmaskingRequest, request, "UnmaskingRequest", &round);
  FUZZ_CHECK(survivors.ok(), "a client answers only a request that parses");
  const std::set<uint64_t> u3(survivors->begin(), survivors->end());
  absl::StatusOr<protocol_internal::UnmaskingResponse> r = ParseUnmaskingResponse(response, 1);
  FUZZ_CHECK(r.ok(), "a client's response parses");
  std::set<uint64_t> owners;
  for (const auto& s : r->shares) {
    FUZZ_CHECK(owners.insert(s.owner).second, "never two shares of one participant");
    FUZZ_CHECK((s.kind == ShareKind::kSelfMask) == u3.contains(s.owner),
               "b_v only for survivors, s_v only for the dropped");
  }
}

template <typename Word>
void RunRound(const SecaggParams& params, const Plan& plan, uint8_t dropouts) {
  std::vector<uint64_t> ids;
  for (int k = 0; k < kClients; ++k) ids.push_back(10 * static_cast<uint64_t>(k + 1));
  std::vector<Ed25519KeyPair> identities;
  auto registry = std::make_shared<IdentityRegistry>();
  if (params.authenticate) {
    for (uint64_t id : ids) {
      absl::StatusOr<Ed25519KeyPair> key = Ed25519Generate();
      if (!key.ok()) std::abort();
      (*registry)[id] = key->public_key;
      identities.push_back(*std::move(key));
    }
  }
  absl::StatusOr<std::unique_ptr<SecaggServer>> server =
      SecaggServer::Create(params, kRound, kLength);
  FUZZ_CHECK(server.ok(), "valid params make a server");
  std::vector<std::unique_ptr<SecaggClient>> clients;
  std::vector<std::vector<Word>> inputs;
  for (int k = 0; k < kClients; ++k) {
    absl::StatusOr<std::unique_ptr<SecaggClient>> c = SecaggClient::Create(
        params, kRound, ids[k], kLength, params.authenticate ? &identities[k] : nullptr, registry);
    FUZZ_CHECK(c.ok(), "valid params make a client");
    clients.push_back(*std::move(c));
    inputs.push_back({static_cast<Word>(ids[k] * 1000 + 1), static_cast<Word>(~Word{0} - ids[k]),
                      static_cast<Word>(ids[k] << 20)});
  }
  // R0
  std::vector<std::string> adverts;
  for (int k = 0; k < kClients; ++k) {
    absl::StatusOr<std::string> m = clients[k]->AdvertiseKeys();
    FUZZ_CHECK(m.ok(), "a fresh client advertises");
    adverts.push_back(*std::move(m));
    Tamper(plan, kAdvert, k, &adverts.back());
  }
  absl::StatusOr<std::string> roster = (*server)->HandleAdvertiseKeys(adverts);
  if (!roster.ok() || (*server)->aborted()) return;
  // R1
  std::vector<std::string> shares;
  for (int k = 0; k < kClients; ++k) {
    std::string mine = *roster;
    Tamper(plan, kRoster, k, &mine);
    absl::StatusOr<std::string> m = clients[k]->HandleRoster(mine);
    if (!m.ok()) return;
    if (m->empty()) continue;
    shares.push_back(*std::move(m));
    Tamper(plan, kShares, k, &shares.back());
  }
  auto routed = (*server)->HandleShareKeys(shares);
  if (!routed.ok() || (*server)->aborted()) return;
  // R2
  std::vector<Word> sum(kLength, 0);
  std::vector<std::string> notices;
  for (int k = 0; k < kClients; ++k) {
    if (clients[k]->state() != SecaggClient::State::kAwaitShares) continue;
    const std::string* routing = nullptr;
    for (const auto& [id, m] : *routed) {
      if (id == ids[k]) routing = &m;
    }
    if (routing == nullptr) {
      clients[k]->Abort("no shares");
      continue;
    }
    std::string mine = *routing;
    Tamper(plan, kRouting, k, &mine);
    if (!clients[k]->HandleShareRouting(mine).ok()) return;
    if (clients[k]->state() != SecaggClient::State::kMaskedInputReady) continue;
    if (dropouts & (1u << k)) {
      clients[k]->Abort("dropped before upload");
      continue;
    }
    absl::StatusOr<std::string> notice =
        clients[k]->MaskInput<Word>(std::span<const Word>(inputs[k]), std::span<Word>(sum));
    FUZZ_CHECK(notice.ok(), "a ready client masks its input");
    notices.push_back(*std::move(notice));
    Tamper(plan, kNotice, k, &notices.back());
  }
  absl::StatusOr<std::string> request = (*server)->HandleMaskedInputs(notices);
  if (!request.ok() || (*server)->aborted()) return;
  // R3
  std::vector<std::string> responses;
  for (int k = 0; k < kClients; ++k) {
    if (clients[k]->state() != SecaggClient::State::kUnmasking) continue;
    if (dropouts & (16u << k)) {
      clients[k]->Abort("dropped before unmasking");
      continue;
    }
    std::string mine = *request;
    Tamper(plan, kRequest, k, &mine);
    absl::StatusOr<std::string> response = clients[k]->HandleUnmaskingRequest(mine);
    if (!response.ok()) return;
    if (response->empty()) continue;
    CheckResponse(mine, *response);
    responses.push_back(*std::move(response));
    Tamper(plan, kResponse, k, &responses.back());
  }
  const absl::Status unmasked =
      (*server)->HandleUnmaskingResponses<Word>(responses, std::span<Word>(sum));
  if (!unmasked.ok() || (*server)->aborted() || plan.phase != kNone) return;
  std::vector<Word> want(kLength, 0);
  for (uint64_t id : (*server)->survivors()) {
    FUZZ_CHECK(id % 10 == 0 && id / 10 >= 1 && id / 10 <= kClients, "survivors are participants");
    for (size_t i = 0; i < kLength; ++i) want[i] += inputs[id / 10 - 1][i];
  }
  FUZZ_CHECK(sum == want, "an untampered round sums exactly the survivors' inputs");
}

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  emit("none", std::string("\x07\x00\x00", 3));
  emit("none_dropouts_auth", std::string("\x07\x10\x21", 3));
  emit("advert_flip", std::string("\x00\x01\x00\x09\x00\x01", 6));
  emit("roster_flip_harary", std::string("\x01\x22\x00\x30\x00\x80", 6));
  emit("shares_flip", std::string("\x02\x03\x00\x40\x00\x01", 6));
  emit("routing_replace", std::string("\x03\x80\x00\x04\x05", 5));
  emit("notice_flip_64", std::string("\x04\x41\x00\x0a\x00\x01", 6));
  emit("request_flip", std::string("\x05\x02\x10\x0d\x00\x01", 6));
  emit("response_flip", std::string("\x06\x00\x00\x30\x00\x01", 6));
}

}  // namespace
}  // namespace fedrec::secagg

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::secagg::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec::secagg;
  if (size < 3 || size > 4096) return 0;
  const uint8_t how = data[1];
  Plan plan{static_cast<Phase>(data[0] % 8), how & 3, (how & 0x80) != 0,
            fedrec::fuzz::AsView(data + 3, size - 3)};
  SecaggParams params;
  params.authenticate = (how & 0x10) != 0;
  if (how & 0x20) {
    params.graph = "harary";
    params.degree = 2;
  }
  params.bits = (how & 0x40) ? 64 : 32;
  if (params.bits == 64) {
    RunRound<uint64_t>(params, plan, data[2]);
  } else {
    RunRound<uint32_t>(params, plan, data[2]);
  }
  return 0;
}
