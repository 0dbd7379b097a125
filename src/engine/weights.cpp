#include "engine/weights.h"

#include <fmt/format.h>

#include "maxact/error.h"
#include "maxact/quant_layouts.h"

namespace maxact::engine {

bool has_tensor(const Model& m, const std::string& name) {
  return m.find(name) != nullptr;
}

namespace {
const BoundTensor& bound(const Model& m, const std::string& name) {
  const BoundTensor* b = m.find(name);
  if (b == nullptr || b->tensor == nullptr) {
    throw Error(ErrorCode::kTensorMismatch,
                fmt::format("{}: tensor {} is required but not bound", m.dir().string(), name));
  }
  return *b;
}
}  // namespace

std::vector<float> load_tensor(const Model& m, const std::string& name, const Rounding& rd,
                               bool keep_fp32) {
  const BoundTensor* b = &bound(m, name);
  const TensorView& t = *b->tensor;
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  const auto& s = m.spec();
  if (b->scale_inv != nullptr && s.quantization == Quantization::kFp8Tensor) {
    dequant_fp8_tensor_rows(t, *b->scale_inv, 0, t.rows(), out.data());
  } else if (b->scale_inv != nullptr) {
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
// bf16 mode's weights packed for the bf16 GEMM where this CPU has one (its x rounded to bf16,
// as HF's bf16 activations are).
PackedWeight pack_rows(const float* w, int64_t out, int64_t in, const Rounding& rd) {
  return rd.bf16 && bf16_gemm_available() ? pack_weight_bf16(w, out, in) : pack_weight(w, out, in);
}

void append(std::vector<float>& dst, const std::vector<float>& src) {
  dst.insert(dst.end(), src.begin(), src.end());
}

PackedWeight pack(const std::vector<float>& mat, int64_t in, const Rounding& rd) {
  return pack_rows(mat.data(), static_cast<int64_t>(mat.size()) / in, in, rd);
}

// A gated MLP `module` (gate, up, down projections, optional biases; phi3's fused gate_up) of
// width I; `module` is the full tensor prefix.
MlpWeights load_mlp(const Model& m, const std::string& module, int64_t I, bool fused,
                    const Rounding& rd) {
  const ModuleNames& n = m.spec().names;
  const std::string p = module + ".";
  auto get = [&](const std::string& x) { return load_tensor(m, p + x, rd); };
  auto opt = [&](const std::string& x) {
    return has_tensor(m, p + x) ? get(x) : std::vector<float>{};
  };
  const int64_t H = m.spec().hidden_size;
  MlpWeights w;
  if (fused) {
    w.gate_up = pack(get(n.gate_up_proj + ".weight"), H, rd);
    w.gate_up_bias = opt(n.gate_up_proj + ".bias");
  } else {
    std::vector<float> gu = get(n.gate_proj + ".weight");
    append(gu, get(n.up_proj + ".weight"));
    w.gate_up = pack(gu, H, rd);
    std::vector<float> g = opt(n.gate_proj + ".bias"), u = opt(n.up_proj + ".bias");
    if (!g.empty() || !u.empty()) {
      // A projection without bias contributes zeros (exact: x + 0 = x).
      if (g.empty()) g.assign(static_cast<std::size_t>(I), 0.0f);
      if (u.empty()) u.assign(static_cast<std::size_t>(I), 0.0f);
      w.gate_up_bias = g;
      append(w.gate_up_bias, u);
    }
  }
  w.down = pack(get(n.down_proj + ".weight"), I, rd);
  w.down_bias = opt(n.down_proj + ".bias");
  return w;
}
}  // namespace

namespace {
// `A`: the attention module's tensor prefix, ending in ".".
void load_attention(const Model& m, const std::string& A, const Rounding& rd, LayerWeights& w) {
  const ModelSpec& s = m.spec();
  const auto& a = s.attention;
  const ModuleNames& names = s.names;
  auto get = [&](const std::string& n) { return load_tensor(m, n, rd); };
  auto opt = [&](const std::string& n) { return has_tensor(m, n) ? get(n) : std::vector<float>{}; };
  const int64_t nq = int64_t{a.num_heads} * a.head_dim, nkv = int64_t{a.num_kv_heads} * a.head_dim;
  std::vector<float> qkv;
  if (a.fused_qkv) {
    qkv = get(A + names.qkv + ".weight");
    w.qkv_bias = opt(A + names.qkv + ".bias");
  } else {
    // With an output gate (qwen3_next / qwen3.5) q_proj holds [q_h | gate_h] per head: 2·nq rows.
    qkv = get(A + names.q + ".weight");
    append(qkv, get(A + names.k + ".weight"));
    append(qkv, get(A + names.v + ".weight"));
    if (a.q_bias || a.k_bias || a.v_bias) {
      // A projection without bias contributes zeros (exact: x + 0 = x).
      const int64_t q_rows = a.output_gate ? 2 * nq : nq;
      for (const std::string* n : {&names.q, &names.k, &names.v}) {
        std::vector<float> b = opt(A + *n + ".bias");
        if (b.empty()) b.assign(static_cast<std::size_t>(n == &names.q ? q_rows : nkv), 0.0f);
        append(w.qkv_bias, b);
      }
    }
  }
  if (a.qk_norm) {
    w.q_norm = get(A + names.q_norm + ".weight");
    w.k_norm = get(A + names.k_norm + ".weight");
  }
  w.qkv = pack(qkv, s.hidden_size, rd);
  qkv = {};
  w.o = pack(get(A + names.o + ".weight"), nq, rd);
  w.o_bias = opt(A + names.o + ".bias");
  if (a.sinks) w.sinks = get(A + names.sinks);
}

// `p`: the Gated DeltaNet module's tensor prefix, ending in ".".
LinearAttnWeights load_linear_attn(const Model& m, const std::string& p, const Rounding& rd) {
  const ModelSpec& s = m.spec();
  const ModuleNames& n = s.names;
  auto get = [&](const std::string& name) { return load_tensor(m, p + name, rd); };
  LinearAttnWeights w;
  std::vector<float> in;
  if (s.linear_attn.fused_qkvz) {
    for (const std::string* x : {&n.lin_qkvz, &n.lin_ba}) append(in, get(*x + ".weight"));
  } else {
    for (const std::string* x : {&n.lin_qkv, &n.lin_z, &n.lin_b, &n.lin_a}) {
      append(in, get(*x + ".weight"));
    }
  }
  w.in_proj = pack(in, s.hidden_size, rd);
  in = {};
  w.conv = get(n.lin_conv + ".weight");
  w.dt_bias = get(n.lin_dt_bias);
  w.A_log = get(n.lin_a_log);
  w.norm = get(n.lin_norm + ".weight");
  w.out = pack(get(n.lin_out + ".weight"),
               int64_t{s.linear_attn.num_v_heads} * s.linear_attn.v_head_dim, rd);
  return w;
}

void load_moe(const Model& m, int layer, const Rounding& rd, MoeWeights& mw) {
  const ModelSpec& s = m.spec();
  const MoeSpec& ms = s.moe;
  auto get = [&](const std::string& n) { return load_tensor(m, n, rd); };
  const ModuleNames& n = s.names;
  const int64_t H = s.hidden_size;
  const auto E = static_cast<std::size_t>(ms.num_experts);
  const std::string p = layer_tensor_prefix(layer);
  mw.experts = p + n.moe_part(n.experts);
  // An fp32 router (Ling) stays an fp32 GEMM in bf16 mode.
  mw.router = pack(get(p + n.moe_part(n.router) + ".weight"), H, ms.router_fp32 ? Rounding{} : rd);
  if (ms.router_bias) mw.router_bias = get(p + n.moe_part(n.router) + ".bias");
  if (ms.expert_bias) mw.expert_bias = get(p + n.moe_part(n.router_expert_bias));
  if (gpt_oss_storage(ms.storage)) {
    mw.gate_up_bias.resize(E);
    mw.down_bias.resize(E);
  }
  if (ms.shared_intermediate > 0) {
    mw.shared = load_mlp(m, p + n.moe_part(n.shared_expert), ms.shared_intermediate, false, rd);
    if (ms.shared_gate) {
      mw.shared_gate = pack(get(p + n.moe_part(n.shared_expert_gate) + ".weight"), H, rd);
    }
  }
  mw.gate_up.resize(E);
  mw.down.resize(E);
}
}  // namespace

LayerWeights load_layer_weights(const Model& m, int layer, const Rounding& rd) {
  const ModelSpec& s = m.spec();
  const ModuleNames& n = s.names;
  const std::string P = layer_tensor_prefix(layer);
  // gpt-oss keeps its norm weights in fp32 (_keep_in_fp32_modules).
  auto norm_w = [&](const std::string& x) {
    return load_tensor(m, P + x, rd, s.norm == NormKind::kFp32Weight);
  };
  LayerWeights w;
  w.input_norm = norm_w(n.input_norm + ".weight");
  w.post_attn_norm = norm_w(n.post_attn_norm + ".weight");
  if (s.sandwich_norms) {
    w.pre_ff_norm = norm_w(n.pre_ff_norm + ".weight");
    w.post_ff_norm = norm_w(n.post_ff_norm + ".weight");
  }
  const LayerSpec& L = s.layers[static_cast<std::size_t>(layer)];
  if (L.mixer == MixerKind::kGatedDeltaNet) {
    w.linear = load_linear_attn(m, P + n.linear_attn + ".", rd);
  } else {
    load_attention(m, P + n.attn + ".", rd, w);
  }
  if (L.mlp == MlpKind::kMoe) {
    load_moe(m, layer, rd, w.moe);
  } else {
    w.mlp = load_mlp(m, P + n.mlp, L.intermediate, L.mlp == MlpKind::kDenseFusedGateUp, rd);
  }
  return w;
}

namespace {
// gpt-oss's fused projection has gate in even and up in odd output columns (docs/NUMERICS.md
// §4, M3); `src` holds them as rows of `cols` values in that order, `out` gets gate | up.
void gate_rows_first(const float* src, int64_t I, int64_t cols, float* out) {
  for (int64_t j = 0; j < I; ++j) {
    std::copy(src + 2 * j * cols, src + (2 * j + 1) * cols, out + j * cols);
    std::copy(src + (2 * j + 1) * cols, src + (2 * j + 2) * cols, out + (I + j) * cols);
  }
}

// [rows, cols] -> [cols, rows]: bf16 exports store expert matrices as [in, out].
std::vector<float> transposed(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> t(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      t[static_cast<std::size_t>(c * rows + r)] = x[static_cast<std::size_t>(r * cols + c)];
    }
  }
  return t;
}

std::vector<float> expert_slice(const TensorView& t, int64_t e) {
  std::vector<float> out(static_cast<std::size_t>(t.row_elems()));
  read_rows_f32(t, e, e + 1, out.data());
  release_pages(t);
  return out;
}

// One gpt-oss expert: MXFP4 rows dequantized (already [out, in]) or a bf16 [E, in, out] slice
// transposed, biases beside them.
void ensure_gpt_oss_expert(const Model& m, MoeWeights& w, int64_t e, const Rounding& rd) {
  const ModelSpec& s = m.spec();
  const int64_t H = s.hidden_size, I = s.moe.intermediate;
  const ModuleNames& n = s.names;
  const std::string p = w.experts + ".";
  const std::string gu_name = p + n.expert_gate_up, down_name = p + n.expert_down;
  std::vector<float> gu(static_cast<std::size_t>(2 * I * H)), down;
  if (s.moe.storage == ExpertStorage::kGptOssMxfp4) {
    down.resize(static_cast<std::size_t>(H * I));
    const auto dequant = [&](const std::string& name, int64_t rows, float* out) {
      const TensorView& blocks = *bound(m, name + "_blocks").tensor;
      const TensorView& scales = *bound(m, name + "_scales").tensor;
      dequant_mxfp4_rows(blocks, scales, e * rows, (e + 1) * rows, out);
      release_pages(blocks);
      release_pages(scales);
    };
    std::vector<float> interleaved(gu.size());
    dequant(gu_name, 2 * I, interleaved.data());
    gate_rows_first(interleaved.data(), I, H, gu.data());
    dequant(down_name, H, down.data());
  } else {
    const std::vector<float> t = transposed(expert_slice(*bound(m, gu_name).tensor, e), H, 2 * I);
    gate_rows_first(t.data(), I, H, gu.data());
    down = transposed(expert_slice(*bound(m, down_name).tensor, e), I, H);
  }
  rd.apply(gu.data(), static_cast<int64_t>(gu.size()));
  rd.apply(down.data(), static_cast<int64_t>(down.size()));
  const auto x = static_cast<std::size_t>(e);
  w.gate_up[x] = pack_rows(gu.data(), 2 * I, H, rd);
  w.down[x] = pack_rows(down.data(), H, I, rd);
  const std::vector<float> gub = expert_slice(*bound(m, gu_name + "_bias").tensor, e);
  w.gate_up_bias[x].resize(gub.size());
  gate_rows_first(gub.data(), I, 1, w.gate_up_bias[x].data());
  rd.apply(w.gate_up_bias[x].data(), 2 * I);
  w.down_bias[x] = expert_slice(*bound(m, down_name + "_bias").tensor, e);
  rd.apply(w.down_bias[x].data(), H);
}
}  // namespace

void ensure_expert(const Model& m, MoeWeights& w, int expert, const Rounding& rd) {
  const auto e = static_cast<std::size_t>(expert);
  if (!w.gate_up[e].empty()) return;
  const ModelSpec& s = m.spec();
  const ModuleNames& n = s.names;
  if (gpt_oss_storage(s.moe.storage)) {
    ensure_gpt_oss_expert(m, w, expert, rd);
    return;
  }
  const int64_t H = s.hidden_size, I = s.moe.intermediate;
  if (s.moe.storage == ExpertStorage::kFusedGateUp) {
    // Qwen3.5-MoE: gate_up_proj [E, 2I, H] (rows gate | up) and down_proj [E, H, I], already
    // [out, in] per expert.
    std::vector<float> gu =
        expert_slice(*bound(m, w.experts + "." + n.expert_gate_up).tensor, expert);
    std::vector<float> down =
        expert_slice(*bound(m, w.experts + "." + n.expert_down).tensor, expert);
    rd.apply(gu.data(), static_cast<int64_t>(gu.size()));
    rd.apply(down.data(), static_cast<int64_t>(down.size()));
    w.gate_up[e] = pack_rows(gu.data(), 2 * I, H, rd);
    w.down[e] = pack_rows(down.data(), H, I, rd);
    return;
  }
  const std::string p = fmt::format("{}.{}.", w.experts, expert);
  std::vector<float> gu = load_tensor(m, p + n.expert_gate + ".weight", rd);
  append(gu, load_tensor(m, p + n.expert_up + ".weight", rd));
  w.gate_up[e] = pack_rows(gu.data(), static_cast<int64_t>(gu.size()) / H, H, rd);
  const std::vector<float> down = load_tensor(m, p + n.expert_down + ".weight", rd);
  w.down[e] = pack_rows(down.data(), H, I, rd);
}

}  // namespace maxact::engine
