#include "maxact/channel_sums.h"

#include <algorithm>

namespace maxact {

ChannelSums::ChannelSums(int64_t channels)
    : max_(static_cast<std::size_t>(channels), -std::numeric_limits<float>::infinity()),
      min_(static_cast<std::size_t>(channels), std::numeric_limits<float>::infinity()),
      sumsq_(static_cast<std::size_t>(channels), 0) {}

void ChannelSums::add_rows(const float* data, int64_t rows, int64_t ld) {
  add_rows(data, rows, ld, 0, channels());
}

void ChannelSums::add_rows(const float* data, int64_t rows, int64_t ld, std::size_t c0,
                           std::size_t c1) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = data + r * ld;
    for (std::size_t c = c0; c < c1; ++c) add(c, x[c]);
  }
}

void ChannelSums::merge(const ChannelSums& o) {
  for (std::size_t c = 0; c < max_.size(); ++c) {
    max_[c] = std::max(max_[c], o.max_[c]);
    min_[c] = std::min(min_[c], o.min_[c]);
    add_fixed(sumsq_[c], o.sumsq_[c]);
  }
  saturated_ += o.saturated_;
}

namespace {
// A zero as +0 (the sign of a kept zero depends on arrival order).
std::vector<float> positive_zeros(std::vector<float> v) {
  for (float& x : v) x += 0.0f;
  return v;
}
}  // namespace

std::vector<float> ChannelSums::max() const {
  return positive_zeros(max_);
}
std::vector<float> ChannelSums::min() const {
  return positive_zeros(min_);
}

std::vector<float> ChannelSums::absmax() const {
  std::vector<float> out(max_.size());
  for (std::size_t c = 0; c < out.size(); ++c) out[c] = std::max(0.0f, std::max(max_[c], -min_[c]));
  return out;
}

std::vector<double> ChannelSums::sum_sq() const {
  std::vector<double> out(sumsq_.size());
  for (std::size_t c = 0; c < out.size(); ++c)
    out[c] = sumsq_[c] < 0 ? std::numeric_limits<double>::quiet_NaN()  // overflowed: null
                           : static_cast<double>(sumsq_[c]) / kFixedScale;
  return out;
}

}  // namespace maxact
