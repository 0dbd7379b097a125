// The chunked gated delta rule (what the engine runs) against the per-token recurrence (its
// definition), across chunk boundaries and head shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/delta_rule.h"

namespace maxact {
namespace {

using engine::DeltaRuleInput;

struct Case {
  int64_t len;
  int dk, dv;
};

// Random inputs shaped like the engine's: unit-norm k, q scaled by dk^-0.5, β in (0, 1), g ≤ 0.
struct Inputs {
  std::vector<float> q, k, v, beta, g;
  DeltaRuleInput in;
  Inputs(const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    auto unit_rows = [&](std::vector<float>& x, float scale) {
      x.resize(static_cast<std::size_t>(c.len * c.dk));
      for (int64_t t = 0; t < c.len; ++t) {
        float ss = 0.0f;
        for (int d = 0; d < c.dk; ++d) {
          float& e = x[static_cast<std::size_t>(t * c.dk + d)];
          e = n(rng);
          ss += e * e;
        }
        for (int d = 0; d < c.dk; ++d)
          x[static_cast<std::size_t>(t * c.dk + d)] *= scale / std::sqrt(ss);
      }
    };
    unit_rows(q, 1.0f / std::sqrt(static_cast<float>(c.dk)));
    unit_rows(k, 1.0f);
    v.resize(static_cast<std::size_t>(c.len * c.dv));
    for (float& e : v) e = n(rng);
    for (int64_t t = 0; t < c.len; ++t) {
      beta.push_back(u(rng));
      g.push_back(-0.5f * u(rng));  // decays from 1 down to e^-0.5 per token
    }
    in = DeltaRuleInput{q.data(), k.data(), v.data(), beta.data(), g.data(), c.len, c.dk, c.dv};
  }
};

TEST(DeltaRule, ChunkedEqualsTheRecurrence) {
  for (const Case& c : {Case{1, 8, 8}, Case{5, 16, 8}, Case{63, 16, 16}, Case{64, 16, 16},
                        Case{65, 32, 24}, Case{200, 16, 32}, Case{300, 32, 16}}) {
    SCOPED_TRACE(testing::Message() << "len " << c.len << " dk " << c.dk << " dv " << c.dv);
    const Inputs x(c, static_cast<uint32_t>(c.len * 31 + c.dk));
    std::vector<float> oc(static_cast<std::size_t>(c.len * c.dv)), orr(oc.size());
    std::vector<float> sc, sr;
    engine::delta_rule_chunked(x.in, oc.data(), sc);
    engine::delta_rule_recurrent(x.in, orr.data(), sr);
    float scale = 0.0f;
    for (float e : orr) scale = std::max(scale, std::fabs(e));
    ASSERT_GT(scale, 0.0f);
    // fp32 reassociation only: the two forms differ by rounding (~1e-6 of the output scale).
    for (std::size_t i = 0; i < oc.size(); ++i) ASSERT_NEAR(oc[i], orr[i], 2e-5f * scale) << i;
    const auto chunks = static_cast<std::size_t>((c.len + 63) / 64);
    ASSERT_EQ(sc.size(), chunks);
    ASSERT_EQ(sr.size(), chunks);
    for (std::size_t i = 0; i < chunks; ++i) EXPECT_NEAR(sc[i], sr[i], 2e-5f * sr[i]) << i;
  }
}

// Without decay and with β = 1 a key written once is read back exactly: o = (q·k) v.
TEST(DeltaRule, OneTokenStoresItsValue) {
  const Case c{1, 4, 3};
  Inputs x(c, 7);
  x.beta[0] = 1.0f;
  x.g[0] = 0.0f;
  std::vector<float> o(3);
  std::vector<float> s;
  engine::delta_rule_chunked(x.in, o.data(), s);
  float qk = 0.0f;
  for (int d = 0; d < 4; ++d)
    qk += x.q[static_cast<std::size_t>(d)] * x.k[static_cast<std::size_t>(d)];
  for (int j = 0; j < 3; ++j)
    EXPECT_NEAR(o[static_cast<std::size_t>(j)], qk * x.v[static_cast<std::size_t>(j)], 1e-6f);
}

}  // namespace
}  // namespace maxact
