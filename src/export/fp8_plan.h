// What an FP8 checkpoint export writes, decided from the scan report and the model before any
// byte is written: the Linear weights to cast (with their inputs' calibrated |x|), the KV-cache
// scales, the Linears left in their dtype (routers, lm_head, other towers), and coverage warnings.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maxact/exports.h"
#include "maxact/model.h"

namespace maxact::fp8 {

struct KvScales {
  std::string attn_disk;    // the attention module as the checkpoint names it
  std::string anchor_disk;  // a weight of that module: the scales go into its shard
  float k_absmax = 0, v_absmax = 0;
};

struct Plan {
  // Disk name of each Linear weight to cast -> the calibrated |x| of its input.
  std::map<std::string, float> weights;
  std::vector<KvScales> kv;
  std::vector<std::string> ignored_modules;  // Linears kept as they are, checkpoint names
  std::vector<std::string> warnings;
};

Plan make_plan(const nlohmann::json& report, const std::string& report_file, const Model& model,
               const Fp8Options& options);

}  // namespace maxact::fp8
