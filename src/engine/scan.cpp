#include "maxact/scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "compute/gemm.h"
#include "compute/linear.h"
#include "compute/thread_pool.h"
#include "engine/decoder_layer.h"
#include "engine/kernels.h"
#include "engine/phase_timer.h"
#include "engine/sink.h"
#include "engine/weights.h"
#include "maxact/error.h"
#include "maxact/rope.h"
#include "stats/finite_values.h"

namespace maxact {

std::string_view scan_phase_name(ScanPhase p) {
  switch (p) {
    case ScanPhase::kWeights:
      return "weights";
    case ScanPhase::kLinear:
      return "linear";
    case ScanPhase::kAttention:
      return "attention";
    case ScanPhase::kElementwise:
      return "element-wise";
    case ScanPhase::kStatistics:
      return "statistics";
    case ScanPhase::kCount:
      break;
  }
  return "other";
}

std::string_view precision_name(Precision p) {
  return p == Precision::kFp32 ? "fp32" : "bf16";
}

namespace {
using namespace engine;

// The RoPE tables a window needs: one per (table, effective length) — only dynamic NTK and
// LongRoPE depend on the sequence length, so most models build one table per RoPE kind.
class RopeCache {
 public:
  RopeCache(const ModelSpec& s, const Rounding& rd) : spec_(s), rd_(rd) {}
  using Key = std::pair<int, int64_t>;
  Key key(int table, int64_t seq_len) const {
    const RopeSpec& r = spec_.rope[static_cast<std::size_t>(table)];
    if (r.kind == RopeKind::kDynamic) return {table, std::max(seq_len, r.max_position)};
    if (r.kind == RopeKind::kLongRope) return {table, seq_len > r.original_max_position ? 1 : 0};
    return {table, 0};
  }
  const RopeTable& get(int table, int64_t seq_len) {
    const RopeSpec& r = spec_.rope[static_cast<std::size_t>(table)];
    auto& slot = tables_[key(table, seq_len)];
    if (!slot || slot->positions < seq_len) {
      const RopeFrequencies f = rope_frequencies(r, seq_len);
      // Grow in steps so a corpus of rising lengths does not rebuild the table every window.
      const int64_t n = std::max<int64_t>(seq_len, slot ? slot->positions * 2 : 256);
      slot = std::make_unique<RopeTable>(make_rope_table(f.inv_freq, f.attention_scale, n, rd_));
    }
    return *slot;
  }
  // Drops the tables no sequence of the coming window uses (dynamic NTK keeps one per length,
  // which would otherwise pile up); the others are kept, not rebuilt.
  void keep_only(const std::set<Key>& used) {
    std::erase_if(tables_, [&](const auto& kv) { return used.count(kv.first) == 0; });
  }

 private:
  const ModelSpec& spec_;
  const Rounding& rd_;
  std::map<std::pair<int, int64_t>, std::unique_ptr<RopeTable>> tables_;
};

struct Window {
  std::size_t first = 0, count = 0;
  int64_t tokens = 0;
};

std::vector<Window> make_windows(const std::vector<TokenSequence>& seqs, int64_t budget) {
  std::vector<Window> out;
  Window cur;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    const auto n = static_cast<int64_t>(seqs[i].ids.size());
    if (cur.count > 0 && cur.tokens + n > budget) {
      out.push_back(cur);
      cur = Window{i, 0, 0};
    }
    if (cur.count == 0) cur.first = i;
    ++cur.count;
    cur.tokens += n;
  }
  if (cur.count > 0) out.push_back(cur);
  return out;
}

void check_ids(const Model& m, const std::vector<TokenSequence>& seqs) {
  const int64_t V = m.spec().vocab_size;
  const BoundTensor* e = m.find(m.spec().names.embed_weight());
  const int64_t rows = e != nullptr && e->tensor != nullptr ? e->tensor->rows() : V;
  for (const auto& s : seqs) {
    for (std::size_t p = 0; p < s.ids.size(); ++p) {
      if (s.ids[p] < 0 || s.ids[p] >= rows) {
        throw Error(ErrorCode::kCorpus,
                    fmt::format("sample {} position {}: token id {} is outside the model's "
                                "embedding table ({} rows)",
                                s.sample, p, s.ids[p], rows));
      }
    }
  }
}

// The corpus categories, sorted so their indices do not depend on the order of the sequences.
std::vector<std::string> sorted_categories(const std::vector<TokenSequence>& seqs) {
  std::vector<std::string> out;
  for (const auto& sq : seqs) out.push_back(sq.category);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ScanResult take_results(Sink& sink, std::vector<std::string> categories) {
  ScanResult res;
  res.taps = std::move(sink.taps);
  res.stats = std::move(sink.stats);
  res.categories = std::move(categories);
  res.by_category = std::move(sink.by_category);
  res.expert_load = std::move(sink.expert_load);
  res.expert_down_in_max = std::move(sink.expert_down_in_max);
  if (sink.wants_expert_inputs()) res.expert_inputs = std::move(sink.expert_inputs);
  return res;
}

// The rows of window `wdw`: locations, sequence spans, categories, and the RoPE table of every
// sequence (tables no sequence uses are dropped first; every table the window needs is grown
// before any pointer is taken, since growing replaces a table).
WindowRows build_window(const std::vector<TokenSequence>& seqs, const Window& wdw,
                        const std::vector<std::string>& categories, RopeCache& ropes,
                        int rope_tables) {
  WindowRows win;
  win.tokens = wdw.tokens;
  win.rope_tables = rope_tables;
  win.locs.reserve(static_cast<std::size_t>(wdw.tokens));
  std::set<RopeCache::Key> used;
  for (std::size_t i = wdw.first; i < wdw.first + wdw.count; ++i) {
    for (int t = 0; t < rope_tables; ++t) {
      used.insert(ropes.key(t, static_cast<int64_t>(seqs[i].ids.size())));
    }
  }
  ropes.keep_only(used);
  for (std::size_t i = wdw.first; i < wdw.first + wdw.count; ++i) {
    for (int t = 0; t < rope_tables; ++t) ropes.get(t, static_cast<int64_t>(seqs[i].ids.size()));
  }
  for (std::size_t i = wdw.first; i < wdw.first + wdw.count; ++i) {
    const TokenSequence& s = seqs[i];
    const auto len = static_cast<int64_t>(s.ids.size());
    win.spans.push_back({static_cast<int64_t>(win.locs.size()), len});
    const auto cat = static_cast<int32_t>(
        std::lower_bound(categories.begin(), categories.end(), s.category) - categories.begin());
    for (int64_t p = 0; p < len; ++p) {
      win.locs.push_back(Location{static_cast<int64_t>(s.sample), static_cast<int32_t>(p),
                                  s.ids[static_cast<std::size_t>(p)], -1});
      win.seq_of_row.push_back(static_cast<int32_t>(win.spans.size() - 1));
      win.cat_of_row.push_back(cat);
    }
    for (int t = 0; t < rope_tables; ++t) win.rope.push_back(&ropes.get(t, len));
  }
  return win;
}

// The residual stream's first value: each row's embedding (Gemma: times D(sqrt(hidden))).
std::vector<float> embed(const LayerContext& c, const WindowRows& win) {
  const ModelSpec& spec = c.spec;
  const int64_t T = win.tokens, H = spec.hidden_size;
  const TensorView& table = *c.model.find(spec.names.embed_weight())->tensor;
  const float scale = c.rd(static_cast<float>(std::sqrt(static_cast<double>(H))));
  std::vector<float> h(static_cast<std::size_t>(T * H));
  parallel_rows(c.pool, T, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* row = h.data() + r * H;
      const int32_t id = win.locs[static_cast<std::size_t>(r)].token;
      read_rows_f32(table, id, id + 1, row);
      for (int64_t i = 0; i < H; ++i) {
        row[i] = spec.embed_scale ? c.rd(c.rd(row[i]) * scale) : c.rd(row[i]);
      }
    }
  });
  c.sink.publish(c.sink.embedding(), h.data(), T, H, win.locs.data());
  return h;
}

// The final norm of the residual stream, published chunk by chunk (nothing reads it further).
void final_norm(const LayerContext& c, const WindowRows& win, const std::vector<float>& h) {
  const ModelSpec& spec = c.spec;
  if (c.sink.final_norm() < 0) return;
  const int64_t T = win.tokens, H = spec.hidden_size;
  const std::vector<float> fw = load_tensor(c.model, spec.names.final_norm_weight(), c.rd,
                                            spec.norm == NormKind::kFp32Weight);
  std::vector<float> out(static_cast<std::size_t>(std::min(T, c.chunk_rows) * H));
  for (int64_t r0 = 0; r0 < T; r0 += c.chunk_rows) {
    const int64_t n = std::min(c.chunk_rows, T - r0);
    parallel_rows(c.pool, n, [&](int64_t b, int64_t e) {
      rms_norm_rows(h.data() + (r0 + b) * H, e - b, H, H, fw.data(), spec.norm, spec.rms_norm_eps,
                    c.rd, out.data() + b * H, H);
    });
    c.sink.publish(c.sink.final_norm(), out.data(), n, H, win.locs.data() + r0);
  }
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> plan_windows(
    const std::vector<TokenSequence>& sequences, int64_t window_tokens) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (const Window& w : make_windows(sequences, std::max<int64_t>(1, window_tokens))) {
    out.emplace_back(w.first, w.first + w.count);
  }
  return out;
}

int64_t count_windows(const std::vector<TokenSequence>& sequences, int64_t window_tokens) {
  return static_cast<int64_t>(make_windows(sequences, std::max<int64_t>(1, window_tokens)).size());
}

ScanResult scan(const Model& model, const std::vector<TokenSequence>& seqs,
                const ScanOptions& opt) {
  const ModelSpec& spec = model.spec();
  require_scan_support(spec, model.dir().string());
  if (opt.window_tokens < 1 || opt.chunk_rows < 1) {
    throw Error(ErrorCode::kOption, "window_tokens and chunk_rows must be at least 1");
  }
  check_ids(model, seqs);
  // Here rather than inside the first tap's worker: a bad MAXACT_STATS_KERNEL is an option error.
  const char* stats_kernel = stats::value_kernel_name(stats::default_value_kernel());
  ScanProfile profile;
  auto clock = std::make_unique<PhaseClock>(profile);
  const auto t0 = std::chrono::steady_clock::now();
  ThreadPool pool(opt.threads);
  // OpenBLAS serves only attention's per-sequence GEMMs, single-threaded inside our pool's
  // tasks (linear layers use compute/linear.h, whose summation order is fixed).
  const int blas_before = blas_threads();
  set_blas_threads(1);
  struct RestoreBlas {
    int n;
    ~RestoreBlas() { set_blas_threads(n); }
  } restore{blas_before};
  const Rounding rd{opt.precision == Precision::kBf16};
  std::vector<std::string> categories = sorted_categories(seqs);
  Sink sink(spec, opt, pool, static_cast<int>(categories.size()));
  RopeCache ropes(spec, rd);
  const LayerContext ctx{model, spec, rd, pool, sink, opt.chunk_rows};

  const std::vector<Window> windows = make_windows(seqs, std::max<int64_t>(1, opt.window_tokens));
  ScanProgress prog;
  prog.windows_total = static_cast<int64_t>(windows.size());
  prog.layers = spec.num_layers;
  for (const auto& s : seqs) prog.tokens_total += static_cast<int64_t>(s.ids.size());

  for (const Window& wdw : windows) {
    const WindowRows win =
        build_window(seqs, wdw, categories, ropes, static_cast<int>(spec.rope.size()));
    sink.set_window(win.locs.data(), win.cat_of_row.data());
    std::vector<float> h = embed(ctx, win);
    for (int l = 0; l < spec.num_layers; ++l) {
      LayerWeights w = [&] {
        const PhaseTimer timer(ScanPhase::kWeights);
        return load_layer_weights(model, l, rd);
      }();
      decoder_layer_forward(ctx, l, w, win, h);
      prog.layer = l + 1;
      prog.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (opt.progress) opt.progress(prog);
    }
    final_norm(ctx, win, h);
    prog.tokens_done += wdw.tokens;
    ++prog.windows_done;
    prog.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opt.progress) opt.progress(prog);
  }

  ScanResult res = take_results(sink, std::move(categories));
  res.sequences = static_cast<int64_t>(seqs.size());
  res.tokens = prog.tokens_total;
  res.windows = prog.windows_total;
  res.threads = pool.size();
  res.blas_core = blas_core_name();
  res.linear_kernel = linear_kernel_name(rd.bf16);
  res.stats_kernel = stats_kernel;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  clock.reset();
  res.profile = profile;
  res.profile.total = res.seconds;
  return res;
}

}  // namespace maxact
