// The client and server state machines driven directly (no transport):
// state transitions, exact sums, uniform masked vectors, key substitution,
// refusals.
#include "aggregation/protocol.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "tests/testing/stats.h"

namespace fedrec::secagg {
namespace {

using State = SecaggClient::State;
using ::fedrec::testing::ChiSquareUniform;

// n clients and a server in one thread; the test plays the transport.
struct Harness {
  SecaggParams params;
  uint64_t round = 7;
  size_t length = 0;
  std::unique_ptr<SecaggServer> server;
  std::vector<std::unique_ptr<SecaggClient>> clients;
  std::vector<Ed25519KeyPair> identities;

  Harness(SecaggParams p, size_t n, size_t len) : params(std::move(p)), length(len) {
    auto registry = std::make_shared<IdentityRegistry>();
    for (size_t i = 0; i < n; ++i) {
      identities.push_back(*Ed25519Generate());
      (*registry)[100 + i] = identities.back().public_key;
    }
    server = *SecaggServer::Create(params, round, len);
    for (size_t i = 0; i < n; ++i) {
      clients.push_back(
          *SecaggClient::Create(params, round, 100 + i, len, &identities[i], registry));
    }
  }

  std::vector<std::string> Advertise() {
    std::vector<std::string> out;
    for (auto& c : clients) out.push_back(*c->AdvertiseKeys());
    return out;
  }
};

template <typename Word>
std::vector<Word> RandomVector(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<Word> v(n);
  for (Word& w : v) w = static_cast<Word>(gen());
  return v;
}

// A full round through every state; the unmasked sum is the plain sum.
TEST(ProtocolTest, FullRoundThroughEveryState) {
  SecaggParams params;
  params.authenticate = true;
  Harness h(params, 5, 1000);
  EXPECT_STREQ(SecaggClient::StateName(h.clients[0]->state()), "R0_ADVERTISE_KEYS");
  absl::StatusOr<std::string> roster = h.server->HandleAdvertiseKeys(h.Advertise());
  ASSERT_TRUE(roster.ok()) << roster.status();
  EXPECT_EQ(h.server->state(), SecaggServer::State::kCollectShares);
  EXPECT_EQ(h.server->plan().threshold, 3u);  // 5 * 0.5 -> strict majority of 5
  std::vector<std::string> share_msgs;
  for (auto& c : h.clients) {
    EXPECT_EQ(c->state(), State::kShareKeys);
    absl::StatusOr<std::string> m = c->HandleRoster(*roster);
    ASSERT_TRUE(m.ok()) << m.status();
    share_msgs.push_back(*m);
    EXPECT_EQ(c->state(), State::kAwaitShares);
  }
  auto routed = h.server->HandleShareKeys(share_msgs);
  ASSERT_TRUE(routed.ok()) << routed.status();
  ASSERT_EQ(routed->size(), 5u);
  std::vector<uint32_t> sum(1000, 0), plain(1000, 0);
  std::vector<std::string> notices;
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_EQ((*routed)[i].first, h.clients[i]->id());  // roster order = id order (complete)
    ASSERT_TRUE(h.clients[i]->HandleShareRouting((*routed)[i].second).ok());
    EXPECT_EQ(h.clients[i]->state(), State::kMaskedInputReady);
    std::vector<uint32_t> x = RandomVector<uint32_t>(1000, i);
    for (size_t k = 0; k < 1000; ++k) plain[k] += x[k];
    absl::StatusOr<std::string> n = h.clients[i]->MaskInput<uint32_t>(x, sum);
    ASSERT_TRUE(n.ok()) << n.status();
    notices.push_back(*n);
    EXPECT_EQ(h.clients[i]->state(), State::kUnmasking);
  }
  EXPECT_NE(sum, plain);
  absl::StatusOr<std::string> request = h.server->HandleMaskedInputs(notices);
  ASSERT_TRUE(request.ok()) << request.status();
  std::vector<std::string> responses;
  for (auto& c : h.clients) {
    absl::StatusOr<std::string> r = c->HandleUnmaskingRequest(*request);
    ASSERT_TRUE(r.ok()) << r.status();
    responses.push_back(*r);
    EXPECT_EQ(c->state(), State::kCompleted);
  }
  ASSERT_TRUE(h.server->HandleUnmaskingResponses<uint32_t>(responses, sum).ok());
  EXPECT_EQ(h.server->state(), SecaggServer::State::kCompleted);
  EXPECT_EQ(sum, plain);
  // Terminal: further calls are refused.
  EXPECT_EQ(h.clients[0]->HandleUnmaskingRequest(*request).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.server->HandleMaskedInputs(notices).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Runs R0-R1 and returns the routed shares, for the tests below.
std::vector<std::pair<uint64_t, std::string>> KeySetup(Harness& h) {
  std::string roster = *h.server->HandleAdvertiseKeys(h.Advertise());
  std::vector<std::string> share_msgs;
  for (auto& c : h.clients) share_msgs.push_back(*c->HandleRoster(roster));
  return *h.server->HandleShareKeys(share_msgs);
}

// One participant's masked vector is indistinguishable from uniform, even
// for an all-zero input: chi-square of its 200k words over 256 buckets of
// the top byte and of the low byte (255 degrees of freedom). The masks come
// from fresh keys (the CSPRNG), so the bound is the 1 - 1e-6 quantile, 377.2
// (Wilson-Hilferty), not 0.999's 330.5: four checks at 0.1% each failed
// about one run in 250. The unmasked input itself fails the same test.
TEST(ProtocolTest, MaskedVectorIsUniform) {
  for (int bits : {32, 64}) {
    SecaggParams params;
    params.bits = bits;
    Harness h(params, 3, 200000);
    auto routed = KeySetup(h);
    ASSERT_TRUE(h.clients[0]->HandleShareRouting(routed[0].second).ok());
    std::vector<uint64_t> top(256, 0), low(256, 0), input_top(256, 0);
    auto count = [&](uint64_t w, int width) {
      ++top[(w >> (width - 8)) & 0xff];
      ++low[w & 0xff];
    };
    if (bits == 32) {
      std::vector<uint32_t> x(200000), y(200000, 0);
      for (size_t k = 0; k < x.size(); ++k)
        x[k] = static_cast<uint32_t>(k % 3);  // far from uniform
      ASSERT_TRUE(h.clients[0]->MaskInput<uint32_t>(x, y).ok());
      for (uint32_t w : y) count(w, 32);
      for (uint32_t w : x) ++input_top[w & 0xff];
    } else {
      std::vector<uint64_t> x(200000, 0), y(200000, 0);
      ASSERT_TRUE(h.clients[0]->MaskInput<uint64_t>(x, y).ok());
      for (uint64_t w : y) count(w, 64);
      for (uint64_t w : x) ++input_top[w & 0xff];
    }
    constexpr double kBound = 377.2;
    EXPECT_LT(ChiSquareUniform(top), kBound) << bits;
    EXPECT_LT(ChiSquareUniform(low), kBound) << bits;
    EXPECT_GT(ChiSquareUniform(input_top), kBound);
  }
}

// secagg.authenticate: a server that substitutes a participant's public key
// in the roster is caught by every other participant (the substituted key is
// not signed by the participant's identity key). Without authentication the
// same substitution goes unnoticed (the documented limitation).
TEST(ProtocolTest, SubstitutedKeyIsDetectedWithAuthentication) {
  for (bool authenticate : {true, false}) {
    SecaggParams params;
    params.authenticate = authenticate;
    Harness h(params, 4, 10);
    absl::StatusOr<std::string> roster = h.server->HandleAdvertiseKeys(h.Advertise());
    ASSERT_TRUE(roster.ok());
    absl::StatusOr<RosterMessage> parsed = ParseRoster(*roster);
    ASSERT_TRUE(parsed.ok());
    absl::StatusOr<X25519KeyPair> attacker = X25519Generate();
    ASSERT_TRUE(attacker.ok());
    parsed->entries[2].mask_public = attacker->public_key;  // participant 102's mask key
    const std::string forged = Serialize(*parsed);
    absl::StatusOr<std::string> r0 = h.clients[0]->HandleRoster(forged);
    if (authenticate) {
      EXPECT_EQ(r0.status().code(), absl::StatusCode::kPermissionDenied) << r0.status();
      EXPECT_NE(std::string(r0.status().message()).find("102"), std::string::npos);
    } else {
      EXPECT_TRUE(r0.ok());
    }
    // The victim itself always notices its own keys changed.
    EXPECT_EQ(h.clients[2]->HandleRoster(forged).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
}

// A signature from the wrong identity, a missing signature and an id not in
// the registry are all refused.
TEST(ProtocolTest, UnsignedOrUnknownEntriesAreRefused) {
  SecaggParams params;
  params.authenticate = true;
  Harness h(params, 3, 10);
  RosterMessage roster = *ParseRoster(*h.server->HandleAdvertiseKeys(h.Advertise()));
  RosterMessage unsigned_roster = roster;
  unsigned_roster.entries[1].signature.reset();
  EXPECT_EQ(h.clients[0]->HandleRoster(Serialize(unsigned_roster)).status().code(),
            absl::StatusCode::kPermissionDenied);
  RosterMessage swapped = roster;
  std::swap(swapped.entries[1].signature, swapped.entries[2].signature);
  EXPECT_EQ(h.clients[0]->HandleRoster(Serialize(swapped)).status().code(),
            absl::StatusCode::kPermissionDenied);
  RosterMessage stranger = roster;
  stranger.entries[1].id = 999;
  EXPECT_EQ(h.clients[0]->HandleRoster(Serialize(stranger)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(ProtocolTest, RefusesWrongStateRoundAndMalformedMessages) {
  SecaggParams params;
  Harness h(params, 3, 10);
  EXPECT_EQ(h.clients[0]->HandleRoster("x").status().code(),
            absl::StatusCode::kFailedPrecondition);  // keys not advertised yet
  std::vector<std::string> adv = h.Advertise();
  // A message from another round.
  SecaggServer::Create(params, 8, 10).value().swap(h.server);
  EXPECT_EQ(h.server->HandleAdvertiseKeys(adv).status().code(), absl::StatusCode::kInvalidArgument);
  h.server = *SecaggServer::Create(params, 7, 10);
  // Duplicate ids, truncated bytes.
  std::vector<std::string> dup = {adv[0], adv[0]};
  EXPECT_EQ(h.server->HandleAdvertiseKeys(dup).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> cut = {adv[0].substr(0, 20)};
  EXPECT_EQ(h.server->HandleAdvertiseKeys(cut).status().code(), absl::StatusCode::kInvalidArgument);
  std::string roster = *h.server->HandleAdvertiseKeys(adv);
  EXPECT_EQ(h.clients[0]->HandleRoster(roster + "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::string> shares;
  for (auto& c : h.clients) shares.push_back(*c->HandleRoster(roster));
  // Two ShareKeys messages from one participant are refused.
  std::vector<std::string> twice = {shares[0], shares[0]};
  EXPECT_EQ(h.server->HandleShareKeys(twice).status().code(), absl::StatusCode::kInvalidArgument);
}

// A participant that the server leaves out of U3 reveals nothing; one whose
// surviving neighbourhood is below t aborts instead of revealing.
TEST(ProtocolTest, ClientRefusesToRevealWhenExcludedOrBelowThreshold) {
  SecaggParams params;
  Harness h(params, 5, 4);  // complete graph, t = 3
  auto routed = KeySetup(h);
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(h.clients[i]->HandleShareRouting(routed[i].second).ok());
    std::vector<uint32_t> x(4, 1), acc(4, 0);
    ASSERT_TRUE(h.clients[i]->MaskInput<uint32_t>(x, acc).ok());
  }
  const std::string omit_100 = SerializeUnmaskingRequest(h.round, {101, 102, 103, 104});
  absl::StatusOr<std::string> r0 = h.clients[0]->HandleUnmaskingRequest(omit_100);
  ASSERT_TRUE(r0.ok());
  EXPECT_TRUE(r0->empty());
  EXPECT_EQ(h.clients[0]->state(), State::kAborted);
  absl::StatusOr<std::string> r1 = h.clients[1]->HandleUnmaskingRequest(omit_100);
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1->empty());
  // Only 2 survivors in a neighbourhood of 5 with t = 3.
  const std::string two = SerializeUnmaskingRequest(h.round, {102, 103});
  absl::StatusOr<std::string> r2 = h.clients[2]->HandleUnmaskingRequest(two);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->empty());
  EXPECT_EQ(h.clients[2]->state(), State::kAborted);
  EXPECT_NE(h.clients[2]->abort_reason().find("threshold"), std::string::npos);
}

// Routed shares under the wrong key or for someone else are refused.
TEST(ProtocolTest, TamperedRoutingIsRefused) {
  SecaggParams params;
  Harness h(params, 3, 4);
  auto routed = KeySetup(h);
  // Client 0 receives client 1's routing message.
  EXPECT_EQ(h.clients[0]->HandleShareRouting(routed[1].second).code(),
            absl::StatusCode::kInvalidArgument);
  // A flipped ciphertext byte fails the AES-GCM tag.
  std::string bad = routed[0].second;
  bad[bad.size() - 1] ^= 1;
  EXPECT_EQ(h.clients[0]->HandleShareRouting(bad).code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace fedrec::secagg
