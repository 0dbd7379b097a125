#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "job/job_common.h"
#include "maxact/output_files.h"

namespace maxact::job {
namespace {

int64_t read_number(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  if (!(in >> s) || s == "max") return -1;
  try {
    return std::stoll(s);
  } catch (const std::exception&) {
    return -1;
  }
}

// The memory limit of this process's cgroup (v2: memory.max; v1: the memory controller's
// limit_in_bytes), -1 when there is none.
int64_t cgroup_limit() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  int64_t limit = -1;
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    int64_t v = -1;
    if (controllers.empty()) {
      v = read_number("/sys/fs/cgroup" + path + "/memory.max");
    } else if (controllers == "memory") {
      v = read_number("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes");
      if (v >= (int64_t{1} << 60)) v = -1;  // v1's "no limit"
    }
    if (v > 0) limit = limit < 0 ? v : std::min(limit, v);
  }
  return limit;
}

int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return -1;
}

std::string mb(int64_t bytes) {
  return fmt::format("{:.0f} MB", static_cast<double>(bytes) / 1e6);
}

}  // namespace

std::string window_tokens_advice(const ScanJob& job, int64_t windows) {
  int64_t weights = 0;
  for (const auto& p : input_files(job.model.dir())) {
    if (p.extension() == ".safetensors") {
      std::error_code ec;
      const auto n = std::filesystem::file_size(p, ec);
      if (!ec) weights += static_cast<int64_t>(n);
    }
  }
  const int64_t free = mem_available(), limit = cgroup_limit();
  int64_t available = free;
  if (limit > 0 && (available < 0 || limit < available)) available = limit;
  if (available <= 0 || weights <= available) return "";
  // A window holds the residual stream twice over and the attention's q, k, v in fp32; the MLP
  // runs in chunks. Half the memory for them is a rule of thumb, not a measurement.
  const ModelSpec& s = job.model.spec();
  const int64_t per_token =
      4 * (2 * int64_t{s.hidden_size} +
           (int64_t{s.attention.num_heads} + 2 * int64_t{s.attention.num_kv_heads}) *
               s.attention.head_dim);
  int64_t fit = 512;
  while (fit * 2 * per_token <= available / 2 && fit < (int64_t{1} << 20)) fit *= 2;
  std::string advice =
      fit > job.options.window_tokens
          ? fmt::format(
                "; fewer, larger windows re-read less: activations take about {} kB per "
                "token, so --window-tokens {} fits in half of it",
                per_token / 1000, fit)
          : "";
  return fmt::format(
      "the model's weights ({}) are more than the memory available to this process ({}{}): "
      "each of the {} windows reads them from disk again{}",
      mb(weights), mb(available), available == limit ? ", its cgroup's limit" : "", windows,
      advice);
}

}  // namespace maxact::job
