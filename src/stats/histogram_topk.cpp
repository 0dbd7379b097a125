#include <algorithm>
#include <cmath>
#include <cstring>

#include "maxact/tap_stats.h"

namespace maxact {

// ---- LogHistogram ----------------------------------------------------------------------------

double LogHistogram::lower_edge(int bin) {
  const int e = bin / kSub + kMinExp, sub = bin % kSub;
  return std::ldexp(1.0 + static_cast<double>(sub) / kSub, e);
}

void LogHistogram::merge(const LogHistogram& o) {
  for (int i = 0; i < kBins; ++i)
    bins_[static_cast<std::size_t>(i)] += o.bins_[static_cast<std::size_t>(i)];
  zero_ += o.zero_;
  under_ += o.under_;
  over_ += o.over_;
}

uint64_t LogHistogram::total() const {
  uint64_t t = zero_ + under_ + over_;
  for (uint64_t c : bins_) t += c;
  return t;
}

LogHistogram::Bracket LogHistogram::quantile(double q) const {
  const uint64_t n = total();
  if (n == 0) return {std::nan(""), std::nan("")};
  // Rank of the q-quantile (nearest-rank definition, 1-based).
  const auto rank = static_cast<uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(n))));
  uint64_t seen = zero_;
  if (rank <= seen) return {0.0, 0.0};
  seen += under_;
  if (rank <= seen) return {0.0, std::ldexp(1.0, kMinExp)};
  for (int i = 0; i < kBins; ++i) {
    seen += bins_[static_cast<std::size_t>(i)];
    if (rank <= seen) return {lower_edge(i), lower_edge(i + 1)};
  }
  return {std::ldexp(1.0, kMaxExp), std::numeric_limits<double>::infinity()};
}

double LogHistogram::quantile_estimate(double q) const {
  const uint64_t n = total();
  if (n == 0) return std::nan("");
  double t = q * static_cast<double>(n);
  if (t <= static_cast<double>(zero_)) return 0.0;
  t -= static_cast<double>(zero_);
  // The first bin whose cumulative count reaches t, and where t falls inside it.
  auto inside = [&t](uint64_t count, double lo, double hi, double& out) {
    if (count == 0) return false;
    const auto c = static_cast<double>(count);
    if (t > c) {
      t -= c;
      return false;
    }
    out = lo + t / c * (hi - lo);
    return true;
  };
  double v = 0;
  if (inside(under_, 0.0, std::ldexp(1.0, kMinExp), v)) return v;
  for (int i = 0; i < kBins; ++i) {
    if (inside(bins_[static_cast<std::size_t>(i)], lower_edge(i), lower_edge(i + 1), v)) return v;
  }
  // Overflow bin (no upper edge), or rounding past the last count: its lower edge.
  if (over_ > 0) return std::ldexp(1.0, kMaxExp);
  for (int i = kBins - 1; i >= 0; --i) {
    if (bins_[static_cast<std::size_t>(i)] > 0) return lower_edge(i + 1);
  }
  return std::ldexp(1.0, kMinExp);
}

LogHistogram::Slot LogHistogram::slot_of_rank(uint64_t rank) const {
  auto bits_of = [](double v) {
    const auto f = static_cast<float>(v);
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
  };
  Slot s;
  if (rank <= zero_) {
    s.inside = zero_;
    return s;
  }
  s.below = zero_;
  // Underflow: every positive float below 2^kMinExp, subnormals included.
  if (rank <= s.below + under_) return {1, bits_of(std::ldexp(1.0, kMinExp)), s.below, under_};
  s.below += under_;
  for (int i = 0; i < kBins; ++i) {
    const uint64_t c = bins_[static_cast<std::size_t>(i)];
    if (rank <= s.below + c)
      return {bits_of(lower_edge(i)), bits_of(lower_edge(i + 1)), s.below, c};
    s.below += c;
  }
  return {bits_of(std::ldexp(1.0, kMaxExp)), 0x7F800000u, s.below, over_};  // finite only
}

// ---- TopK ------------------------------------------------------------------------------------

bool TopK::better(const Located& a, const Located& b) {
  const float x = std::fabs(a.value), y = std::fabs(b.value);
  if (x != y) return x > y;
  if (a.loc.sample != b.loc.sample || a.loc.position != b.loc.position ||
      a.loc.channel != b.loc.channel) {
    return a.loc.before(b.loc);
  }
  return a.value > b.value;
}

void TopK::push(const Located& e) {
  // heap_ is a min-heap under better(): the top is the worst kept entry.
  auto worse_first = [](const Located& a, const Located& b) { return better(a, b); };
  if (heap_.size() < k_) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end(), worse_first);
  } else if (k_ > 0 && better(e, heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), worse_first);
    heap_.back() = e;
    std::push_heap(heap_.begin(), heap_.end(), worse_first);
  }
}

void TopK::add(float value, const Location& loc) {
  if (heap_.size() == k_ && k_ > 0 && std::fabs(value) < std::fabs(heap_.front().value)) return;
  push({value, loc});
}

void TopK::merge(const TopK& o) {
  for (const Located& e : o.heap_) push(e);
}

std::vector<Located> TopK::sorted() const {
  std::vector<Located> v = heap_;
  std::sort(v.begin(), v.end(), better);
  return v;
}

bool TopK::operator==(const TopK& o) const {
  const auto a = sorted(), b = o.sorted();
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i].value, &b[i].value, 4) != 0 || a[i].loc.sample != b[i].loc.sample ||
        a[i].loc.position != b[i].loc.position || a[i].loc.channel != b[i].loc.channel) {
      return false;
    }
  }
  return true;
}

}  // namespace maxact
