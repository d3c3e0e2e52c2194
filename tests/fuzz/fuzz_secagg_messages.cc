// Fuzz target: the parsers of the secure-aggregation messages
// (aggregation/protocol.h, protocol_internal.h): key advertisements, the
// roster, share bundles and routings, masked-input notices, unmasking
// requests and responses, aborts.
//
// Input: byte 0 = which parser (mod 9); the rest is the message.
//
// Promise checked: the wire format is canonical, so a message a parser
// accepts serializes back to exactly the bytes it came from (nothing
// ignored, nothing read twice).
#include <cstdint>
#include <string>
#include <vector>

#include "aggregation/protocol.h"
#include "aggregation/protocol_internal.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec::secagg {
namespace {

using namespace protocol_internal;

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  AdvertiseKeysMessage a;
  a.round = 3;
  a.id = 42;
  a.enc_public.fill(1);
  a.mask_public.fill(2);
  emit("advertise", std::string(1, '\0') + Serialize(a));
  RosterMessage roster;
  roster.round = 3;
  roster.entries.push_back(a);
  a.id = 43;
  a.signature = Bytes64{};
  roster.entries.push_back(a);
  emit("roster_signed", std::string(1, '\1') + Serialize(roster));
  Envelopes e;
  e.round = 3;
  e.owner = 42;
  e.items.emplace_back(43, std::string(kSealedSharesBytes, '\x5a'));
  emit("share_keys", std::string(1, '\2') + SerializeEnvelopes(MessageType::kShareKeys, e));
  emit("share_routing", std::string(1, '\3') + SerializeEnvelopes(MessageType::kShareRouting, e));
  emit("notice", std::string(1, '\4') + SerializeIds(MessageType::kMaskedInputSent, 3, {42}));
  emit("request", std::string(1, '\5') + SerializeUnmaskingRequest(3, {42, 43}));
  UnmaskingResponse r;
  r.round = 3;
  r.id = 42;
  r.shares.push_back({43, ShareKind::kMaskKey, shamir::Share(2, {1, 2, 3, 4, 5})});
  emit("response", std::string(1, '\6') + Serialize(r));
  emit("abort", std::string(1, '\7') + Serialize(AbortMessage{3, "too few"}));
}

void Same(const std::string& again, const std::string& bytes, const char* what) {
  if (again != bytes) {
    std::fprintf(stderr, "%s: %zu bytes in, %zu bytes out\n", what, bytes.size(), again.size());
  }
  FUZZ_CHECK(again == bytes, "an accepted message serializes back to its bytes");
}

}  // namespace
}  // namespace fedrec::secagg

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::secagg::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec::secagg;
  using namespace fedrec::secagg::protocol_internal;
  if (size < 1) return 0;
  const std::string bytes(fedrec::fuzz::AsView(data + 1, size - 1));
  switch (data[0] % 9) {
    case 0:
      if (auto m = ParseAdvertiseKeys(bytes); m.ok()) Same(Serialize(*m), bytes, "advertise");
      break;
    case 1:
      if (auto m = ParseRoster(bytes); m.ok()) {
        for (const AdvertiseKeysMessage& e : m->entries) FUZZ_CHECK(e.round == m->round, "round");
        Same(Serialize(*m), bytes, "roster");
      }
      break;
    case 2:
    case 3: {
      const MessageType t = data[0] % 9 == 2 ? MessageType::kShareKeys : MessageType::kShareRouting;
      if (auto m = ParseEnvelopes(t, bytes, "Envelopes"); m.ok()) {
        for (const auto& item : m->items) {
          FUZZ_CHECK(item.second.size() == kSealedSharesBytes, "sealed shares have their size");
        }
        Same(SerializeEnvelopes(t, *m), bytes, "envelopes");
      }
      break;
    }
    case 4:
    case 5: {
      const MessageType t =
          data[0] % 9 == 4 ? MessageType::kMaskedInputSent : MessageType::kUnmaskingRequest;
      uint64_t round = 0;
      if (auto ids = ParseIds(t, bytes, "Ids", &round); ids.ok()) {
        Same(SerializeIds(t, round, *ids), bytes, "ids");
      }
      break;
    }
    case 6: {
      absl::StatusOr<UnmaskingResponse> m = ParseUnmaskingResponse(bytes, 7);
      if (m.ok()) {
        for (const RevealedShare& s : m->shares) FUZZ_CHECK(s.share.x == 7, "shares carry x");
        Same(Serialize(*m), bytes, "response");
        absl::StatusOr<uint64_t> id = PeekResponder(bytes, m->round);
        FUZZ_CHECK(id.ok() && *id == m->id, "the peeked responder is the parsed one");
      }
      break;
    }
    case 7:
      if (IsAbortMessage(bytes)) (void)AbortReasonOf(bytes);
      break;
    case 8:
      (void)PeekResponder(bytes, 3);
      break;
  }
  return 0;
}
