// Where published activations go: the statistics of every selected tap. Publishing an
// unselected tap costs nothing; a selected one is split over the pool's threads, each part
// accumulated separately and merged (exactly, so thread count never changes a bit).
#pragma once

#include <array>
#include <mutex>
#include <vector>

#include "compute/thread_pool.h"
#include "engine/tap_points.h"
#include "maxact/scan.h"

namespace maxact::engine {

class Sink {
 public:
  Sink(const ModelSpec& spec, const ScanOptions& options, ThreadPool& pool);

  int at(int layer, Point p) const {
    return by_layer_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(p)];
  }
  int embedding() const { return embed_; }
  int final_norm() const { return final_; }
  bool wants(int tap) const { return tap >= 0; }
  void publish(int tap, const float* data, int64_t rows, int64_t ld, const Location* locs);

  std::vector<TapInfo> taps;
  std::vector<TapStats> stats;

 private:
  int add(const TapInfo& t, const std::vector<std::string>& globs);
  ThreadPool& pool_;
  TapStatsOptions opt_;
  std::vector<std::array<int, kPoints>> by_layer_;
  int embed_ = -1, final_ = -1;
  std::mutex mu_;
};

}  // namespace maxact::engine
