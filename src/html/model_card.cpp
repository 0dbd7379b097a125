// `maxact report SCAN.json --model-card card.md`: a section a model publisher pastes into a card.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "html/report_view.h"
#include "maxact/html_report.h"

namespace maxact {
using html::Loc;
using html::ScanView;
using nlohmann::json;

namespace {

// Inline code: backticks and line breaks cannot end it early.
std::string md_code(const std::string& s) {
  std::string t = s;
  std::replace(t.begin(), t.end(), '`', '\'');
  std::replace(t.begin(), t.end(), '\n', ' ');
  std::replace(t.begin(), t.end(), '\r', ' ');
  return "`" + t + "`";
}

// Text a Markdown renderer shows as text: markup characters escaped, HTML's too.
std::string md_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else if (std::string_view("\\`*_[]|").find(c) != std::string_view::npos) {
      out += '\\';
      out += c;
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string quoted_token(const std::string& t) {
  return md_text(json(t).dump(-1, ' ', false, json::error_handler_t::replace));
}

// In a table row "|" ends the cell even inside code; GFM reads "\\|" as "|" there.
std::string table_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// A fenced block whose fence no run of backticks in the text can close.
std::string fenced(const std::string& text, const char* info) {
  std::size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  return fence + info + "\n" + text + "\n" + fence + "\n";
}

// The card's reading of a pooled SQNR; stated in the card itself.
const char* verdict(double sqnr) {
  if (sqnr >= 30) return "small error";
  if (sqnr >= 20) return "noticeable error";
  return "large error";
}

}  // namespace

std::string render_model_card(const json& report, const std::string& file) {
  const ScanView v(report, file);
  const ReportReader& r = v.reader();
  const json& corpus = r.member(report, "corpus", "");
  const json& options = r.member(report, "options", "");
  const json& run = r.member(report, "run", "");
  std::string out = "## Activation outliers and low-precision deployment\n\n";
  out += fmt::format(
      "Measured with maxact {} on {}: {} tokens ({} sequences "
      "of at most {} tokens) of the corpus {} (SHA-256 of the samples {}), {} forward pass.\n\n",
      md_text(html::string_or(report, "maxact_version")),
      md_text(html::string_or(run, "finished_at")),
      r.integer(r.member(corpus, "tokens", "corpus"), "corpus.tokens"),
      r.integer(r.member(corpus, "sequences", "corpus"), "corpus.sequences"),
      r.member(options, "max_seq_len", "options").dump(),
      md_code(html::string_or(corpus, "origin")), md_code(html::string_or(corpus, "content_hash")),
      md_text(html::string_or(options, "precision")));
  std::string tap, component;
  int layer = -1;
  if (const std::optional<Loc> g = v.global_max(&tap, &component, &layer)) {
    out += fmt::format(
        "* **Largest activation** over the embedding, residual stream, attention and MLP outputs "
        "and final norm: **{:.6g}** at {} ({}{}), token {} (sample {}, position {}, channel {}).\n",
        g->value, md_code(tap), md_code(component),
        layer >= 0 ? fmt::format(", layer {}", layer) : "", quoted_token(g->token_text), g->sample,
        g->position, g->channel);
  }
  // The residual stream's peak per third of the depth.
  const int L = v.num_layers();
  std::vector<html::LayerPoint> resid;
  for (const html::LayerPoint& p : html::layer_points(v)) {
    if (p.series == html::kSeriesResidual) resid.push_back(p);
  }
  if (!resid.empty() && L > 0) {
    out += "* **Residual stream peak** by depth:";
    const char* names[] = {"first third", "middle third", "last third"};
    for (int b = 0; b < 3; ++b) {
      const int lo = b * L / 3, hi = (b + 1) * L / 3 - 1;
      if (hi < lo) continue;
      double best = -1, value = 0;
      int at = -1;
      for (const auto& p : resid) {
        if (p.layer >= lo && p.layer <= hi && std::fabs(p.at.value) > best) {
          best = std::fabs(p.at.value);
          value = p.at.value;
          at = p.layer;
        }
      }
      if (at >= 0) {
        out += fmt::format("{} {} (layers {}–{}): {:.6g} at layer {}", b ? ";" : "", names[b], lo,
                           hi, value, at);
      }
    }
    out += ".\n";
  }
  int64_t count = 0, f16 = 0, f8 = 0, taps = 0, taps8 = 0;
  double absmax = 0;
  std::string absmax_tap;
  for (const html::Headroom& h : html::headroom(v)) {
    count += h.count;
    f16 += h.over_fp16;
    f8 += h.over_fp8;
    taps += h.taps;
    taps8 += h.taps_over_fp8;
    if (h.absmax > absmax) {
      absmax = h.absmax;
      absmax_tap = h.absmax_tap;
    }
  }
  const auto pct = [&](int64_t n) {
    return count ? fmt::format("{:.3g} %",
                               100.0 * static_cast<double>(n) / static_cast<double>(count))
                 : std::string("–");
  };
  out += fmt::format("* **FP16**: {} of {} recorded values exceed 65504 ({}){}.\n", f16, count,
                     pct(f16),
                     f16 ? ": they overflow to infinity in FP16 activations unless rescaled"
                         : ": FP16 activations do not overflow on this text");
  out += fmt::format(
      "* **FP8-E4M3**: {} of {} taps have values beyond 448 ({} of the values); the largest |x| "
      "anywhere, {:.6g} at {}, needs a static per-tensor scale of at least {:.6g} (max |x| / "
      "448).\n",
      taps8, taps, pct(f8), absmax, md_code(absmax_tap), absmax / html::kFp8E4m3Max);
  const auto q = report.find("quant");
  if (q != report.end() && q->is_object()) {
    out +=
        "\nQuantization check (fake-quantized activations against the fp32 values, pooled over "
        "the quantized taps; *clean* leaves out massive-activation tokens). Reading used here: "
        "SQNR ≥ 30 dB small error, 20–30 dB noticeable, < 20 dB large.\n\n"
        "| policy | SQNR all tokens | SQNR clean tokens | clip rate | verdict |\n"
        "|---|---:|---:|---:|---|\n";
    for (const auto& [policy, pooled] : v.pooled_policies(*q)) {
      const json& p = *pooled;
      const auto get = [&](const char* subset, const char* key) {
        const json& x = r.member(r.member(p, subset, "quant.pooled." + policy), key,
                                 "quant.pooled." + policy + "." + subset);
        return x.is_number() ? x.get<double>() : std::nan("");
      };
      const double all = get("all", "sqnr_db"), clean = get("clean", "sqnr_db");
      out += fmt::format("| {} | {} | {} | {:.3g} % | {} |\n", table_cell(md_code(policy)),
                         std::isfinite(all) ? fmt::format("{:.1f} dB", all) : "lossless",
                         std::isfinite(clean) ? fmt::format("{:.1f} dB", clean) : "lossless",
                         100 * get("all", "clip_rate"),
                         std::isfinite(all) ? verdict(all) : "lossless");
    }
  }
  std::string command;
  if (const auto c = run.find("command"); c != run.end() && c->is_string())
    command = c->get<std::string>();
  out += "\nReproduce:\n\n" +
         fenced(command.empty()
                    ? "# this report does not record its command (written by an older maxact)"
                    : command,
                "sh");
  return out;
}

}  // namespace maxact
