// Resolution of a model argument: a folder, or a Hugging Face hub id resolved offline in the local
// cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub), layout
// models--org--name/{refs/<revision>, snapshots/<hash>/...}.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace maxact {

struct ResolvedModel {
  std::filesystem::path dir;
  std::string origin;  // "folder X" or "hub id org/name@rev -> snapshot <hash> in <cache>"
};

// The cache folders consulted, in order (only those the environment names or implies).
std::vector<std::filesystem::path> hub_cache_dirs();

// Throws Error(kNotFound) listing every place it looked.
ResolvedModel resolve_model(const std::string& arg);

}  // namespace maxact
