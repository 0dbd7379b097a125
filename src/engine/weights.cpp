#include "engine/weights.h"

#include <fmt/format.h>

#include "maxact/error.h"
#include "maxact/quant_layouts.h"

namespace maxact::engine {

bool has_tensor(const Model& m, const std::string& name) {
  return m.find(name) != nullptr;
}

std::vector<float> load_tensor(const Model& m, const std::string& name, const Rounding& rd,
                               bool keep_fp32) {
  const BoundTensor* b = m.find(name);
  if (b == nullptr || b->tensor == nullptr) {
    throw Error(ErrorCode::kTensorMismatch,
                fmt::format("{}: tensor {} is required but not bound", m.dir().string(), name));
  }
  const TensorView& t = *b->tensor;
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  if (b->scale_inv != nullptr) {
    const auto& s = m.spec();
    dequant_fp8_block_rows(t, *b->scale_inv, s.fp8_block_out, s.fp8_block_in, 0, t.rows(),
                           out.data());
  } else {
    read_rows_f32(t, 0, t.rows(), out.data());
  }
  release_pages(t);
  if (b->scale_inv != nullptr) release_pages(*b->scale_inv);
  if (!keep_fp32) rd.apply(out.data(), static_cast<int64_t>(out.size()));
  return out;
}

namespace {
void append(std::vector<float>& dst, const std::vector<float>& src) {
  dst.insert(dst.end(), src.begin(), src.end());
}
}  // namespace

DenseLayerWeights load_dense_layer(const Model& m, int layer, const Rounding& rd) {
  const ModelSpec& s = m.spec();
  const auto& a = s.attention;
  const std::string P = fmt::format("model.layers.{}.", layer);
  auto get = [&](const std::string& n) { return load_tensor(m, P + n, rd); };
  auto opt = [&](const std::string& n) {
    return has_tensor(m, P + n) ? get(n) : std::vector<float>{};
  };
  DenseLayerWeights w;
  w.input_norm = get("input_layernorm.weight");
  w.post_attn_norm = get("post_attention_layernorm.weight");
  if (s.sandwich_norms) {
    w.pre_ff_norm = get("pre_feedforward_layernorm.weight");
    w.post_ff_norm = get("post_feedforward_layernorm.weight");
  }
  const int64_t nq = int64_t{a.num_heads} * a.head_dim, nkv = int64_t{a.num_kv_heads} * a.head_dim;
  auto pack = [](const std::vector<float>& mat, int64_t in) {
    return pack_weight(mat.data(), static_cast<int64_t>(mat.size()) / in, in);
  };
  const int64_t H = s.hidden_size;
  const int64_t I = s.layers[static_cast<std::size_t>(layer)].intermediate;
  std::vector<float> qkv;
  if (a.fused_qkv) {
    qkv = get("self_attn.qkv_proj.weight");
    w.qkv_bias = opt("self_attn.qkv_proj.bias");
  } else {
    qkv = get("self_attn.q_proj.weight");
    append(qkv, get("self_attn.k_proj.weight"));
    append(qkv, get("self_attn.v_proj.weight"));
    if (a.q_bias || a.k_bias || a.v_bias) {
      // A projection without bias contributes zeros (exact: x + 0 = x).
      for (const char* n : {"q", "k", "v"}) {
        std::vector<float> b = opt(fmt::format("self_attn.{}_proj.bias", n));
        if (b.empty()) b.assign(static_cast<std::size_t>(n[0] == 'q' ? nq : nkv), 0.0f);
        append(w.qkv_bias, b);
      }
    }
  }
  if (a.qk_norm) {
    w.q_norm = get("self_attn.q_norm.weight");
    w.k_norm = get("self_attn.k_norm.weight");
  }
  w.qkv = pack(qkv, H);
  qkv = {};
  w.o = pack(get("self_attn.o_proj.weight"), nq);
  w.o_bias = opt("self_attn.o_proj.bias");
  if (s.layers[static_cast<std::size_t>(layer)].mlp == MlpKind::kMoe) {
    MoeWeights& mw = w.moe;
    const bool mixtral = s.family == Family::kMixtral;
    mw.module = fmt::format("model.layers.{}.{}", layer, mixtral ? "block_sparse_moe" : "mlp");
    mw.gate_name = mixtral ? "w1" : "gate_proj";
    mw.up_name = mixtral ? "w3" : "up_proj";
    mw.down_name = mixtral ? "w2" : "down_proj";
    mw.router = pack(load_tensor(m, mw.module + ".gate.weight", rd), H);
    mw.gate_up.resize(static_cast<std::size_t>(s.moe.num_experts));
    mw.down.resize(static_cast<std::size_t>(s.moe.num_experts));
    return w;
  }
  if (s.layers[static_cast<std::size_t>(layer)].mlp == MlpKind::kDenseFusedGateUp) {
    w.gate_up = pack(get("mlp.gate_up_proj.weight"), H);
    w.gate_up_bias = opt("mlp.gate_up_proj.bias");
  } else {
    std::vector<float> gu = get("mlp.gate_proj.weight");
    append(gu, get("mlp.up_proj.weight"));
    w.gate_up = pack(gu, H);
    const bool gb = has_tensor(m, P + "mlp.gate_proj.bias"),
               ub = has_tensor(m, P + "mlp.up_proj.bias");
    if (gb || ub) {
      const auto n = static_cast<std::size_t>(I);
      std::vector<float> g = gb ? get("mlp.gate_proj.bias") : std::vector<float>(n, 0.0f);
      std::vector<float> u = ub ? get("mlp.up_proj.bias") : std::vector<float>(n, 0.0f);
      w.gate_up_bias = g;
      append(w.gate_up_bias, u);
    }
  }
  w.down = pack(get("mlp.down_proj.weight"), I);
  w.down_bias = opt("mlp.down_proj.bias");
  return w;
}

void ensure_expert(const Model& m, MoeWeights& w, int expert, const Rounding& rd) {
  const auto e = static_cast<std::size_t>(expert);
  if (!w.gate_up[e].data.empty()) return;
  const std::string p = fmt::format("{}.experts.{}.", w.module, expert);
  std::vector<float> gu = load_tensor(m, p + w.gate_name + ".weight", rd);
  append(gu, load_tensor(m, p + w.up_name + ".weight", rd));
  const int64_t H = m.spec().hidden_size;
  w.gate_up[e] = pack_weight(gu.data(), static_cast<int64_t>(gu.size()) / H, H);
  const std::vector<float> down = load_tensor(m, p + w.down_name + ".weight", rd);
  const int64_t I = m.spec().moe.intermediate;
  w.down[e] = pack_weight(down.data(), H, I);
}

}  // namespace maxact::engine
