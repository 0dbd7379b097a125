// RoPE tables against the PyTorch computation in tests/reference/rope_reference.py (written from
// transformers' modeling_rope_utils), every variant. Tolerance 1e-6 relative: both sides compute
// in fp32, but torch's vectorised pow may differ from libm's by an ulp (6e-8), and the llama3 /
// YaRN blends add a few more roundings.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "maxact/model.h"
#include "maxact/rope.h"

namespace maxact {
namespace {

TEST(Rope, MatchesTheTorchReferenceForEveryVariant) {
  std::ifstream in(std::string(MAXACT_ROPE_REF) + "/expected.json");
  ASSERT_TRUE(in) << "run the reference.rope test first";
  const auto cases = nlohmann::json::parse(in);
  ASSERT_GE(cases.size(), 14u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["case"].get<std::string>() + " seq_len " +
                 std::to_string(c["seq_len"].get<int>()));
    const ModelSpec s = parse_model_config(c["config"].get<std::string>());
    const auto table = c["table"].get<std::size_t>();
    ASSERT_LT(table, s.rope.size());
    const RopeFrequencies f = rope_frequencies(s.rope[table], c["seq_len"].get<int64_t>());
    const auto want = c["inv_freq"].get<std::vector<double>>();
    ASSERT_EQ(f.inv_freq.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(f.inv_freq[i], want[i], 1e-6 * std::fabs(want[i])) << i;
    }
    EXPECT_NEAR(f.attention_scale, c["attention_scale"].get<double>(), 1e-6);
  }
}

TEST(Rope, HandValues) {
  RopeSpec r;
  r.theta = 10000;
  r.rotary_dim = 8;
  const auto f = rope_frequencies(r, 1);
  EXPECT_FLOAT_EQ(f.inv_freq[0], 1.0f);
  EXPECT_FLOAT_EQ(f.inv_freq[1], 0.1f);
  EXPECT_FLOAT_EQ(f.inv_freq[2], 0.01f);
  EXPECT_FLOAT_EQ(f.inv_freq[3], 0.001f);
  r.kind = RopeKind::kYarn;
  r.factor = 32;
  r.original_max_position = 4096;
  EXPECT_NEAR(rope_frequencies(r, 1).attention_scale, 0.1 * std::log(32.0) + 1, 1e-6);  // 1.3466
}

}  // namespace
}  // namespace maxact
