#include "maxact/exact_sum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace maxact {
namespace {

// A big two's-complement fixed-point number: limbs[0] is the least significant 64 bits,
// scaled by 2^lsb_exp.
struct Wide {
  std::vector<uint64_t> limbs;
  int lsb_exp;
  Wide(int bits, int lsb) : limbs(static_cast<std::size_t>((bits + 63) / 64), 0), lsb_exp(lsb) {}

  // Adds v * 2^(exp) (exp >= lsb_exp): v sign-extended to 192 bits, shifted by the bit
  // offset, added limb by limb with the sign filling the limbs above.
  void add(int128 v, int exp) {
    const int shift = exp - lsb_exp;
    const auto word = static_cast<std::size_t>(shift / 64);
    const int bit = shift % 64;
    const auto lo = static_cast<uint64_t>(v);
    const auto mid = static_cast<uint64_t>(static_cast<uint128>(v) >> 64);
    const uint64_t fill = v < 0 ? ~0ull : 0ull;
    const uint64_t parts[3] = {lo << bit, (mid << bit) | (bit ? lo >> (64 - bit) : 0),
                               (fill << bit) | (bit ? mid >> (64 - bit) : 0)};
    uint128 carry = 0;
    for (std::size_t i = word; i < limbs.size(); ++i) {
      const uint64_t add = i - word < 3 ? parts[i - word] : fill;
      const uint128 s = static_cast<uint128>(limbs[i]) + add + carry;
      limbs[i] = static_cast<uint64_t>(s);
      carry = s >> 64;
    }
  }

  bool negative() const { return (limbs.back() >> 63) != 0; }

  void negate() {
    uint128 carry = 1;
    for (auto& l : limbs) {
      const uint128 s = static_cast<uint128>(~l) + carry;
      l = static_cast<uint64_t>(s);
      carry = s >> 64;
    }
  }

  // Correctly rounded conversion (round to nearest, ties to even).
  double to_double() const {
    Wide a = *this;
    const bool neg = a.negative();
    if (neg) a.negate();
    int top = -1;
    for (int i = static_cast<int>(a.limbs.size()) - 1; i >= 0 && top < 0; --i) {
      if (a.limbs[static_cast<std::size_t>(i)] != 0) {
        top = i * 64 + 63 - __builtin_clzll(a.limbs[static_cast<std::size_t>(i)]);
      }
    }
    if (top < 0) return 0.0;
    auto bit_at = [&](int k) -> uint64_t {
      return k < 0 ? 0 : (a.limbs[static_cast<std::size_t>(k / 64)] >> (k % 64)) & 1;
    };
    // Keep 53 significant bits (fewer when the result is subnormal in double).
    const int exp_of_top = top + a.lsb_exp;  // value in [2^exp_of_top, 2^(exp_of_top+1))
    int keep = 53;
    if (exp_of_top < -1022) keep = std::max(0, 53 - (-1022 - exp_of_top));
    const int low = top - keep + 1;  // lowest kept bit index
    uint64_t mant = 0;
    for (int k = top; k >= low; --k) mant = (mant << 1) | bit_at(k);
    const uint64_t round_bit = bit_at(low - 1);
    bool sticky = false;
    for (int k = low - 2; k >= 0 && !sticky; --k) sticky = bit_at(k) != 0;
    if (round_bit && (sticky || (mant & 1))) ++mant;
    const double r = std::ldexp(static_cast<double>(mant), low + a.lsb_exp);
    return neg ? -r : r;
  }
};

}  // namespace

void ExactSum::merge(const ExactSum& o) {
  squares_ = squares_ || o.squares_;
  for (int i = 0; i < kBuckets; ++i)
    b_[static_cast<std::size_t>(i)] += o.b_[static_cast<std::size_t>(i)];
}

bool ExactSum::operator==(const ExactSum& o) const {
  return b_ == o.b_ && squares_ == o.squares_;
}

double ExactSum::value() const {
  // Linear: bucket i scaled 2^(i-149), sums < 2^(24+79+104). Squares: 2^(2(i-149)), <
  // 2^(48+79+208).
  const int lsb = squares_ ? 2 * kMinExp : kMinExp;
  const int bits = squares_ ? (2 * 253 + 48 + 80 + 2) : (253 + 24 + 80 + 2);
  Wide w(bits + 64, lsb);
  for (int i = 0; i < kBuckets; ++i) {
    const int128 v = b_[static_cast<std::size_t>(i)];
    if (v != 0) w.add(v, squares_ ? 2 * (i + kMinExp) : i + kMinExp);
  }
  return w.to_double();
}

void ExactDoubleSum::add_bucket(int exp, int128 m) {
  auto it = std::lower_bound(b_.begin(), b_.end(), exp,
                             [](const std::pair<int, int128>& b, int e) { return b.first < e; });
  if (it != b_.end() && it->first == exp) {
    it->second += m;
  } else {
    b_.insert(it, {exp, m});
  }
}

void ExactDoubleSum::add(double x) {
  if (x == 0.0) return;
  int e;
  const double f = std::frexp(x, &e);  // x = f * 2^e, 0.5 <= |f| < 1: f * 2^53 is an integer
  add_bucket(e - 53, static_cast<int128>(static_cast<int64_t>(std::ldexp(f, 53))));
}

void ExactDoubleSum::merge(const ExactDoubleSum& o) {
  for (const auto& [e, m] : o.b_) add_bucket(e, m);
}

double ExactDoubleSum::value() const {
  if (b_.empty()) return 0.0;
  // Buckets hold sums below 2^(53+74); the span of exponents plus that and a sign bit.
  const int lsb = b_.front().first;
  const int bits = b_.back().first - lsb + 53 + 76;
  Wide w(bits + 64, lsb);
  for (const auto& [e, m] : b_) w.add(m, e);
  return w.to_double();
}

}  // namespace maxact
