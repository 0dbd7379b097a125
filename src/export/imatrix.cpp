// llama.cpp's importance matrix from a scan report: per Linear weight, Σx² of its input per
// channel (per expert for routed experts) and the rows it multiplied (docs/EXPORTS.md §1).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "export/gguf_writer.h"
#include "export/le_bytes.h"
#include "export/report_reader.h"
#include "maxact/error.h"
#include "maxact/exports.h"

namespace maxact {
using nlohmann::json;

namespace {

// Σx² per channel as F32 (llama.cpp's accumulator type); an overflowed sum cannot be exported.
std::vector<float> sums_f32(const ReportReader& rd, const json& sums, const std::string& where,
                            int64_t channels) {
  const json& a = rd.array(sums, where, channels);
  std::vector<float> out;
  out.reserve(a.size());
  for (std::size_t c = 0; c < a.size(); ++c) {
    if (a[c].is_null()) {
      rd.fail(fmt::format("{}[{}] is null: that channel's Σx² overflowed, it cannot be exported",
                          where, c));
    }
    out.push_back(static_cast<float>(rd.number(a[c], fmt::format("{}[{}]", where, c))));
  }
  return out;
}

// The converter's reordering of the input channels (GgufInputOrder): value head g * R + r of the
// Hugging Face weight is head r * key_heads + g of the GGUF one.
std::vector<float> in_gguf_order(const ReportReader& rd, const json& order, std::vector<float> v,
                                 const std::string& where) {
  const int64_t K = rd.integer(rd.member(order, "key_heads", where), where + ".key_heads");
  const int64_t V = rd.integer(rd.member(order, "value_heads", where), where + ".value_heads");
  const int64_t D = rd.integer(rd.member(order, "head_dim", where), where + ".head_dim");
  const auto n = static_cast<int64_t>(v.size());
  if (K <= 0 || V <= 0 || D <= 0 || V > n || D > n || V % K != 0 || V * D != n) {
    rd.fail(where + ": key_heads, value_heads and head_dim do not describe the channels");
  }
  const int64_t R = V / K;
  std::vector<float> out(v.size());
  for (int64_t g = 0; g < K; ++g) {
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t d = 0; d < D; ++d) {
        out[static_cast<std::size_t>((r * K + g) * D + d)] =
            v[static_cast<std::size_t>((g * R + r) * D + d)];
      }
    }
  }
  return out;
}

// The layer's entry of the report's "experts" list.
const json& experts_of_layer(const ReportReader& rd, int64_t layer) {
  for (const json& e : rd.array(rd.member(rd.root(), "experts", ""), "experts")) {
    if (e.is_object() && e.contains("layer") && e["layer"] == layer) return e;
  }
  rd.fail(fmt::format("no \"experts\" entry for MoE layer {}", layer));
}

// One feed's rows: the tap's own statistics, or per expert those of the layer's expert inputs.
ImatrixEntry entry_of(const ReportReader& rd, const json& tap, const json& feed,
                      const std::string& where) {
  ImatrixEntry e;
  const json& experts = rd.member(feed, "experts", where);
  const int64_t channels = rd.integer(rd.member(tap, "channels", where), where + ".channels");
  e.in_features = channels;
  if (experts.is_null()) {
    const json& stats = rd.member(tap, "stats", where);
    e.in_sum2 = sums_f32(rd, rd.member(stats, "channel_sum_sq", where),
                         where + ".stats.channel_sum_sq", channels);
    e.counts = {static_cast<float>(rd.integer(rd.member(stats, "tokens", where), where))};
    if (feed.contains("gguf_input_order")) {
      e.in_sum2 = in_gguf_order(rd, feed["gguf_input_order"], std::move(e.in_sum2),
                                where + ".gguf_input_order");
    }
    return e;
  }
  const std::string key = rd.string(experts, where + ".experts");
  const int64_t layer = rd.integer(rd.member(tap, "layer", where), where + ".layer");
  const json& ex = experts_of_layer(rd, layer);
  const std::string ewhere = fmt::format("experts[layer {}]", layer);
  if (!ex.contains("inputs")) {
    rd.fail(
        fmt::format("{} has no per-expert inputs, which {} needs: scan with --expert-inputs "
                    "(or --imatrix)",
                    ewhere, rd.string(rd.member(feed, "module", where), where)));
  }
  const json& per =
      rd.array(rd.member(rd.member(ex, "inputs", ewhere), key.c_str(), ewhere), ewhere);
  const json& load = rd.array(rd.member(ex, "tokens_per_expert", ewhere), ewhere, per.size());
  e.n_mat = static_cast<int64_t>(per.size());
  for (std::size_t x = 0; x < per.size(); ++x) {
    const std::string w = fmt::format("{}.inputs.{}[{}]", ewhere, key, x);
    const std::vector<float> s =
        sums_f32(rd, rd.member(per[x], "channel_sum_sq", w), w + ".channel_sum_sq", channels);
    e.in_sum2.insert(e.in_sum2.end(), s.begin(), s.end());
    e.counts.push_back(static_cast<float>(rd.integer(load[x], ewhere + ".tokens_per_expert")));
  }
  return e;
}

}  // namespace

Imatrix imatrix_from_report(const json& report, const std::string& file,
                            const ImatrixOptions& options) {
  const ReportReader rd(report, file);
  Imatrix m;
  const json& corpus = rd.member(report, "corpus", "");
  m.datasets = {rd.string(rd.member(corpus, "origin", "corpus"), "corpus.origin")};
  const json& run = rd.member(report, "run", "");
  const int64_t tokens = rd.integer(rd.member(run, "tokens", "run"), "run.tokens");
  const int64_t sequences = rd.integer(rd.member(run, "sequences", "run"), "run.sequences");
  const json& opts = rd.member(report, "options", "");
  int64_t chunk = rd.integer(rd.member(opts, "max_seq_len", "options"), "options.max_seq_len");
  // llama-imatrix's chunk is one context of n_ctx tokens: here a sequence at most this long.
  if (chunk <= 0) chunk = sequences > 0 ? (tokens + sequences - 1) / sequences : 1;
  m.chunk_size = static_cast<uint32_t>(std::clamp<int64_t>(chunk, 1, UINT32_MAX));
  m.chunk_count = static_cast<uint32_t>(
      std::min<int64_t>((tokens + m.chunk_size - 1) / m.chunk_size, UINT32_MAX));

  std::map<std::string, ImatrixEntry> entries;
  for (const json& tap : rd.array(rd.member(report, "taps", ""), "taps")) {
    if (!tap.is_object() || !tap.contains("feeds")) continue;
    const std::string where = "tap " + rd.string(rd.member(tap, "hf_name", "taps[]"), "hf_name");
    for (const json& feed : rd.array(tap["feeds"], where + ".feeds")) {
      for (const json& g : rd.array(rd.member(feed, "gguf", where), where + ".gguf")) {
        const std::string base = rd.string(g, where + ".gguf[]");
        // llama-imatrix keeps blk.* weights; lm_head's output.weight only with --process-output.
        if (base.rfind("blk.", 0) != 0 && !(options.process_output && base == "output")) continue;
        ImatrixEntry e = entry_of(rd, tap, feed, where);
        e.name = base + ".weight";
        if (entries.count(e.name) != 0) rd.fail("two taps feed GGUF weight " + e.name);
        for (std::size_t x = 0; x < e.counts.size(); ++x) {
          if (e.counts[x] == 0 && e.n_mat > 1) {
            m.warnings.push_back(fmt::format("{}: expert {} received no token", e.name, x));
          }
        }
        entries.emplace(e.name, std::move(e));
      }
    }
  }
  if (entries.empty()) {
    rd.fail(
        "no Linear inputs in this report (a report of maxact before 0.9, or --taps left "
        "every Linear input out)");
  }
  for (auto& [name, e] : entries) m.entries.push_back(std::move(e));
  return m;
}

std::string imatrix_gguf(const Imatrix& m) {
  GgufWriter w;
  w.add_string("general.type", "imatrix");
  w.add_string_array("imatrix.datasets", m.datasets);
  w.add_u32("imatrix.chunk_count", m.chunk_count);
  w.add_u32("imatrix.chunk_size", m.chunk_size);
  for (const ImatrixEntry& e : m.entries) {
    w.add_f32(e.name + ".in_sum2", {e.in_features, e.n_mat}, e.in_sum2);
    w.add_f32(e.name + ".counts", {1, e.n_mat}, e.counts);
  }
  return w.bytes();
}

std::string imatrix_dat(const Imatrix& m) {
  // llama-imatrix leaves out weights that saw no row at all ("has no data").
  std::vector<const ImatrixEntry*> kept;
  for (const ImatrixEntry& e : m.entries) {
    if (*std::max_element(e.counts.begin(), e.counts.end()) > 0) kept.push_back(&e);
  }
  std::string out;
  put_le<int32_t>(out, static_cast<int32_t>(kept.size()));
  for (const ImatrixEntry* ep : kept) {
    const ImatrixEntry& e = *ep;
    put_le<int32_t>(out, static_cast<int32_t>(e.name.size()));
    out += e.name;
    // The legacy file keeps one call count per weight: values are scaled so that llama-quantize's
    // values / ncall gives each expert's mean x², as the GGUF file's in_sum2 / counts does.
    const float max_count = *std::max_element(e.counts.begin(), e.counts.end());
    const int32_t ncall =
        static_cast<int32_t>(std::ceil(max_count / static_cast<float>(m.chunk_size)));
    put_le<int32_t>(out, ncall);
    put_le<int32_t>(out, static_cast<int32_t>(e.in_sum2.size()));
    for (int64_t x = 0; x < e.n_mat; ++x) {
      const float count = e.counts[static_cast<std::size_t>(x)];
      for (int64_t c = 0; c < e.in_features; ++c) {
        const float s = e.in_sum2[static_cast<std::size_t>(x * e.in_features + c)];
        put_le<float>(
            out, count > 0 ? s / count * static_cast<float>(ncall) : static_cast<float>(ncall));
      }
    }
  }
  put_le<int32_t>(out, static_cast<int32_t>(m.chunk_count));  // last_chunk
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.front();
  put_le<int32_t>(out, static_cast<int32_t>(dataset.size()));
  out += dataset;
  return out;
}

}  // namespace maxact
