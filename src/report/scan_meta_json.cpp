#include "maxact/scan_report.h"

namespace maxact {
using nlohmann::json;

json corpus_identity_json(const CorpusIdentity& c) {
  json cats = json::object();
  for (const auto& [name, n] : c.categories) {
    cats[name] = {{"samples", n.samples},
                  {"bytes", n.bytes},
                  {"sequences", n.sequences},
                  {"tokens", n.tokens}};
  }
  return {{"origin", c.origin},
          {"content_hash", c.content_hash},
          {"samples", c.samples},
          {"sequences", c.sequences},
          {"tokens", c.tokens},
          {"skipped_bad_lines", c.skipped_bad_lines},
          {"skipped_empty", c.skipped_empty},
          {"categories", std::move(cats)}};
}

json recorded_options_json(const RecordedOptions& o) {
  json j = {{"precision", std::string(precision_name(o.precision))},
            {"samples", o.samples},
            {"seed", o.seed},
            {"max_seq_len", o.max_seq_len},
            {"bos", o.bos},
            {"protocol", o.protocol},
            {"role", o.role.empty() ? json() : json(o.role)},
            {"ids_native", o.ids_native},
            {"window_tokens", o.window_tokens},
            {"topk", o.topk},
            {"taps", o.taps},
            {"expert_inputs", o.expert_inputs},
            {"quant", o.quant.has_value()}};
  if (o.quant) {
    j["calib"] = o.quant->calib;
    j["eval"] = o.quant->eval;
    j["clip_quantile"] = o.quant->clip_quantile;
    j["quant_taps"] = o.quant->taps;
    j["quant_layers"] = o.quant->layers;
    j["policies"] = o.quant->policies;
  }
  return j;
}

}  // namespace maxact
