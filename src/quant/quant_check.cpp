// The quantization check's three passes over the engine (quant_check.h).
#include "maxact/quant_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "maxact/error.h"

namespace maxact {
namespace {

bool matches(const std::vector<std::string>& globs, const TapInfo& t) {
  for (const auto& g : globs) {
    if (tap_matches(g, t)) return true;
  }
  return false;
}

// Routes each published block of a quantized tap to a local accumulator (the heavy part, in
// parallel), then merges it under the lock: exact merges, so the result ignores the split.
template <class Acc>
class Collector : public TapObserver {
 public:
  Collector(const std::vector<TapInfo>& taps, std::vector<Acc>& acc) : taps_(taps), acc_(acc) {
    for (const Acc& a : acc_) empty_.push_back(a.empty_like());
  }
  void start(const std::vector<TapInfo>& selected) override {
    std::map<std::string, int> index;
    for (std::size_t i = 0; i < taps_.size(); ++i) index[taps_[i].name] = static_cast<int>(i);
    route_.assign(selected.size(), -1);
    for (std::size_t i = 0; i < selected.size(); ++i) {
      const auto it = index.find(selected[i].name);
      if (it == index.end()) continue;
      // Calibrations resumed from a checkpoint name their taps; the widths must be the model's.
      if (taps_[static_cast<std::size_t>(it->second)].channels != selected[i].channels) {
        throw Error(
            ErrorCode::kState,
            fmt::format("{}: calibrated for {} channels, the model's tap has {}", selected[i].name,
                        taps_[static_cast<std::size_t>(it->second)].channels,
                        selected[i].channels));
      }
      route_[i] = it->second;
    }
  }
  void observe(int tap, const float* data, int64_t rows, int64_t ld) override {
    const int i = route_[static_cast<std::size_t>(tap)];
    if (i < 0) return;
    // A copy of the empty accumulator, not of the shared one other threads are merging into.
    Acc local = empty_[static_cast<std::size_t>(i)];
    local.add_rows(data, rows, taps_[static_cast<std::size_t>(i)].channels, ld);
    std::lock_guard<std::mutex> lock(mu_);
    acc_[static_cast<std::size_t>(i)].merge(local);
  }

 private:
  const std::vector<TapInfo>& taps_;
  std::vector<Acc>& acc_;
  std::vector<Acc> empty_;
  std::vector<int> route_;
  std::mutex mu_;
};

std::vector<std::string> names_of(const std::vector<TapInfo>& taps) {
  std::vector<std::string> out;
  for (const auto& t : taps) out.push_back(t.name);
  return out;
}

ScanOptions pass_options(const ScanOptions& base, std::string_view stage) {
  ScanOptions o = base;
  if (base.progress) {
    auto inner = base.progress;
    o.progress = [inner, stage](const ScanProgress& p) {
      ScanProgress q = p;
      q.stage = stage;
      inner(q);
    };
  }
  return o;
}

}  // namespace

std::vector<TapInfo> quant_taps(const ModelSpec& spec, const std::vector<std::string>& scan_taps,
                                const std::vector<std::string>& quant_globs) {
  std::vector<TapInfo> out;
  for (TapInfo& t : model_taps(spec)) {
    if (!scan_taps.empty() && !matches(scan_taps, t)) continue;
    const bool q = quant_globs.empty() ? (t.linear_input || t.component == Component::kHidden)
                                       : matches(quant_globs, t);
    if (q) out.push_back(std::move(t));
  }
  return out;
}

namespace {

// What no pass can run without, checked before any work.
void check_inputs(const std::vector<TokenSequence>& calibration, const QuantOptions& quant) {
  if (calibration.empty()) throw Error(ErrorCode::kOption, "--quant: no calibration sequences");
  if (!(quant.clip_quantile > 0.0 && quant.clip_quantile <= 1.0)) {
    throw Error(ErrorCode::kOption, "--clip-quantile must lie in (0, 1]");
  }
}

void check_evaluation(const std::vector<TokenSequence>& evaluation) {
  if (evaluation.empty()) throw Error(ErrorCode::kOption, "--quant: no evaluation sequences");
}

// The candidate taps (peak_only: decoder-layer outputs and the final norm); never empty.
std::vector<TapInfo> candidate_taps(const Model& model, const ScanOptions& options,
                                    const QuantOptions& quant) {
  std::vector<TapInfo> taps = quant_taps(model.spec(), options.taps, quant.taps);
  if (quant.peak_only) {
    std::erase_if(taps, [](const TapInfo& t) {
      return t.component != Component::kHidden && t.component != Component::kFinalNorm;
    });
  }
  if (taps.empty()) {
    throw Error(ErrorCode::kOption,
                "--quant-taps: no scanned tap is selected for the quantization check");
  }
  return taps;
}

// Pass 1: the calibration statistics of the candidate taps.
ScanResult calibration_stats(const Model& model, const std::vector<TokenSequence>& calibration,
                             const ScanOptions& options, const std::vector<TapInfo>& taps) {
  ScanOptions first = pass_options(options, "calibration 1/2");
  first.taps = names_of(taps);
  first.stats.topk = 0;
  first.observer = nullptr;
  first.statistics = true;
  return scan(model, calibration, first);
}

// The study's peak policy: only the tap with the largest calibration max |x| stays (ties: the
// earlier tap; taps without a finite value never win).
void keep_peak_tap(std::vector<TapInfo>& taps, ScanResult& cal) {
  std::size_t best = 0;
  float best_abs = -1.0f;
  for (std::size_t i = 0; i < taps.size(); ++i) {
    if (cal.stats[i].count() == 0) continue;  // no finite value: no peak to take
    const float a = std::fabs(cal.stats[i].absmax().value);
    if (a > best_abs) {
      best_abs = a;
      best = i;
    }
  }
  taps = {taps[best]};
  cal.stats = {cal.stats[best]};
}

std::vector<TapCalibration> first_pass_calibration(const ScanResult& cal, std::size_t n) {
  std::vector<TapCalibration> calib(n);
  for (std::size_t i = 0; i < n; ++i) {
    const TapStats& st = cal.stats[i];
    calib[i].count = st.count();
    calib[i].max_abs = st.count() > 0 ? std::fabs(st.absmax().value) : 0.0f;
    calib[i].channel_absmax = st.channel_absmax();
  }
  return calib;
}

// Pass 2: exact quantiles and (when `mse`) the MSE grid, finished into `calib`.
void find_thresholds(const Model& model, const std::vector<TokenSequence>& calibration,
                     const ScanOptions& options, const QuantOptions& quant, bool mse,
                     const std::vector<TapInfo>& taps, const ScanResult& cal,
                     std::vector<TapCalibration>& calib) {
  std::vector<ThresholdFinder> finders;
  for (std::size_t i = 0; i < taps.size(); ++i) {
    finders.emplace_back(cal.stats[i], quant.clip_quantile, mse);
  }
  Collector<ThresholdFinder> collect(taps, finders);
  ScanOptions second = pass_options(options, "calibration 2/2");
  second.taps = names_of(taps);
  second.statistics = false;
  second.observer = &collect;
  scan(model, calibration, second);
  for (std::size_t i = 0; i < taps.size(); ++i) finders[i].finish(calib[i]);
}

}  // namespace

void quant_calibrate(const Model& model, const std::vector<TokenSequence>& calibration,
                     const ScanOptions& options, const QuantOptions& quant, QuantResult& out) {
  check_inputs(calibration, quant);
  out = QuantResult{};
  out.options = quant;
  if (out.options.policies.empty()) {
    for (int p = 0; p < kQuantPolicies; ++p) out.options.policies.push_back(QuantPolicy(p));
  }
  const auto& pol = out.options.policies;
  auto wants = [&](QuantPolicy p) { return std::find(pol.begin(), pol.end(), p) != pol.end(); };
  std::vector<TapInfo> taps = candidate_taps(model, options, quant);
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& s : calibration) {
    ++out.calib_sequences;
    out.calib_tokens += static_cast<int64_t>(s.ids.size());
  }

  ScanResult cal = calibration_stats(model, calibration, options, taps);
  if (quant.peak_only) keep_peak_tap(taps, cal);
  std::vector<TapCalibration> calib = first_pass_calibration(cal, taps.size());
  if (wants(QuantPolicy::kInt8ClipQuantile) || wants(QuantPolicy::kInt8Mse)) {
    find_thresholds(model, calibration, options, quant, wants(QuantPolicy::kInt8Mse), taps, cal,
                    calib);
  }
  for (std::size_t i = 0; i < taps.size(); ++i) {
    TapQuant tq;
    tq.tap = std::move(taps[i]);
    tq.calibration = std::move(calib[i]);
    out.taps.push_back(std::move(tq));
  }
  out.calib_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

ScanResult quant_evaluate(const Model& model, const std::vector<TokenSequence>& evaluation,
                          const ScanOptions& options, QuantResult& out) {
  check_evaluation(evaluation);
  std::vector<TapInfo> taps;
  std::vector<TapQuantizer> quantizers;
  for (const TapQuant& tq : out.taps) {
    taps.push_back(tq.tap);
    quantizers.emplace_back(tq.calibration, out.options.policies, options.stats);
  }
  Collector<TapQuantizer> collect(taps, quantizers);
  ScanOptions third = pass_options(options, "evaluation");
  third.observer = &collect;
  ScanResult res = scan(model, evaluation, third);
  for (std::size_t i = 0; i < taps.size(); ++i) {
    TapQuant& tq = out.taps[i];
    tq.tokens += quantizers[i].tokens();
    tq.outlier_tokens += quantizers[i].outlier_tokens();
    const std::vector<PolicyErrors>& errors = quantizers[i].policies();
    if (tq.policies.empty()) {
      tq.policies = errors;
    } else {
      if (tq.policies.size() != errors.size()) {
        throw Error(ErrorCode::kState, tq.tap.name + ": calibrated for other policies");
      }
      for (std::size_t p = 0; p < errors.size(); ++p) {
        tq.policies[p].all.merge(errors[p].all);
        tq.policies[p].clean.merge(errors[p].clean);
      }
    }
  }
  return res;
}

ScanResult quant_check(const Model& model, const std::vector<TokenSequence>& calibration,
                       const std::vector<TokenSequence>& evaluation, const ScanOptions& options,
                       const QuantOptions& quant, QuantResult& out) {
  check_evaluation(evaluation);
  quant_calibrate(model, calibration, options, quant, out);
  return quant_evaluate(model, evaluation, options, out);
}

}  // namespace maxact
