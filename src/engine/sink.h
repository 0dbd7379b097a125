// Where published activations go: the statistics of every selected tap. Publishing an
// unselected tap costs nothing; a selected one is split over the pool's threads, each part
// accumulated separately and merged (exactly, so thread count never changes a bit).
#pragma once

#include <array>
#include <mutex>
#include <vector>

#include "compute/thread_pool.h"
#include "maxact/scan.h"

namespace maxact::engine {

// An expert's largest |x| of its down projection's input: cur becomes v when v is larger, or as
// large and earlier (an invalid cur takes anything).
void keep_expert_max(Located& cur, const Located& v);

class Sink {
 public:
  Sink(const ModelSpec& spec, const ScanOptions& options, ThreadPool& pool, int categories);

  // The window being published: its row locations (publish finds a row's index by pointer
  // difference) and each row's category index.
  void set_window(const Location* rows, const int32_t* category_of_row) {
    rows_ = rows;
    cats_ = category_of_row;
  }

  // The index of layer `layer`'s tap at `p`, or -1 when that tap was not selected. Asking for
  // a point the layer does not have is a bug (the engine and layer_taps disagree): it throws.
  int at(int layer, TapPoint p) const {
    const int i = by_layer_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(p)];
    if (i == kAbsent) absent(layer, p);
    return i;
  }
  int embedding() const { return embed_; }
  int final_norm() const { return final_; }
  bool wants(int tap) const { return tap >= 0; }
  // Rows are rows of the current window (locs points into it) unless `categories` gives each
  // row's category explicitly (rows gathered from across the window, e.g. per expert).
  void publish(int tap, const float* data, int64_t rows, int64_t ld, const Location* locs,
               const int32_t* categories = nullptr);
  const int32_t* category_of_row() const { return cats_; }
  const Location* window_rows() const { return rows_; }

  std::vector<TapInfo> taps;
  std::vector<TapStats> stats;
  std::vector<std::vector<CategoryStats>> by_category;  // [tap][category]
  // Tokens routed to each expert, per MoE layer ([layer][expert]; empty for dense layers).
  std::vector<std::vector<uint64_t>> expert_load;
  std::vector<std::vector<Located>> expert_down_in_max;  // [layer][expert]
  std::vector<std::vector<ExpertInputs>> expert_inputs;  // [layer][expert], when asked for
  bool wants_expert_inputs() const { return expert_inputs_; }
  // rows x channels inputs of one expert, to its gate / up projections (down = false) or its down
  // projection; threads split the channels, so the sums never depend on the thread count.
  void add_expert_inputs(int layer, int expert, bool down, const float* rows, int64_t n,
                         int64_t channels);
  // Keeps the larger |x| (ties: the earlier location).
  void add_expert_max(int layer, int expert, const Located& v);
  void add_expert_load(int layer, int expert, uint64_t tokens) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& v = expert_load[static_cast<std::size_t>(layer)];
    if (v.size() <= static_cast<std::size_t>(expert))
      v.resize(static_cast<std::size_t>(expert) + 1);
    v[static_cast<std::size_t>(expert)] += tokens;
  }

 private:
  static constexpr int kAbsent = -2;
  [[noreturn]] static void absent(int layer, TapPoint p);
  int add(const TapInfo& t, const std::vector<std::string>& globs, std::vector<bool>& matched);
  ThreadPool& pool_;
  TapStatsOptions opt_;
  bool statistics_ = true;
  bool expert_inputs_ = false;
  int64_t part_values_ = 65536;
  TapObserver* observer_ = nullptr;
  std::vector<std::array<int, kTapPoints>> by_layer_;
  int embed_ = -1, final_ = -1;
  int categories_ = 0;
  const Location* rows_ = nullptr;
  const int32_t* cats_ = nullptr;
  std::mutex mu_;
};

}  // namespace maxact::engine
