#include <nlohmann/json.hpp>

#include "maxact/renderers.h"

namespace maxact {
using nlohmann::json;

namespace {

json subset_json(const BootstrapSubset& s) {
  json j = {{"seed", s.seed},
            {"content_hash", s.content_hash},
            {"sequences", s.sequences},
            {"tokens", s.tokens},
            {"global_max", nullptr}};
  if (const auto& g = s.global_max) {
    j["global_max"] = {{"value", g->value},
                       {"tap", g->tap},
                       {"study_name", g->study_name},
                       {"sample", g->location.sample},
                       {"position", g->location.position},
                       {"token", g->location.token},
                       {"channel", g->location.channel}};
  }
  return j;
}

}  // namespace

std::string render_bootstrap_json(const BootstrapResult& b) {
  json subsets = json::array();
  for (const BootstrapSubset& s : b.subsets) subsets.push_back(subset_json(s));
  json spread = nullptr;
  if (const auto& p = b.spread) {
    spread = {{"mean", p->mean},
              {"std", p->std},
              {"min", p->min},
              {"max", p->max},
              {"relative_range", p->relative_range},
              {"cv_percent", p->cv_percent}};
  }
  return json{{"schema", "maxact.scan.bootstrap"},
              {"schema_version", 1},
              {"model", {{"argument", b.model_arg}, {"model_type", b.model_type}}},
              {"corpus", b.corpus_origin},
              {"samples", b.samples},
              {"precision", std::string(precision_name(b.precision))},
              {"subsets", subsets},
              {"abs_global_max", spread}}
             .dump(1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

}  // namespace maxact
