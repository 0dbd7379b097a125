// Wall time per phase of a scan (maxact scan --profile, the throughput benchmark). Only the thread
// that drives the layers records: the phases' work runs on the pool, but every phase starts and
// ends on that thread, so its wall clock splits the scan without counting any time twice.
#pragma once

#include <chrono>

#include "maxact/scan.h"

namespace maxact::engine {

// Installed on the driving thread for a scan's duration; the previous clock (a scan inside a
// scan) comes back when it ends.
class PhaseClock {
 public:
  explicit PhaseClock(ScanProfile& p) : profile_(p), outer_(current_) { current_ = this; }
  ~PhaseClock() {
    enter(ScanPhase::kCount);
    current_ = outer_;
  }
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

  // This thread's clock, or null (the pool's workers, code outside a scan).
  static PhaseClock* current() { return current_; }

  // Makes `phase` the running one (kCount: none), charging the time since the last switch to the
  // one it replaces; returns that one.
  ScanPhase enter(ScanPhase phase) {
    const auto now = std::chrono::steady_clock::now();
    if (running_ != ScanPhase::kCount) {
      profile_.seconds[static_cast<std::size_t>(running_)] +=
          std::chrono::duration<double>(now - since_).count();
    }
    since_ = now;
    const ScanPhase was = running_;
    running_ = phase;
    return was;
  }

 private:
  static inline thread_local PhaseClock* current_ = nullptr;
  ScanProfile& profile_;
  PhaseClock* outer_;
  ScanPhase running_ = ScanPhase::kCount;
  std::chrono::steady_clock::time_point since_;
};

// Its scope runs as `phase`; an inner timer's scope is charged to the inner phase alone.
class PhaseTimer {
 public:
  explicit PhaseTimer(ScanPhase phase) : clock_(PhaseClock::current()) {
    if (clock_ != nullptr) outer_ = clock_->enter(phase);
  }
  ~PhaseTimer() {
    if (clock_ != nullptr) clock_->enter(outer_);
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  PhaseClock* clock_;
  ScanPhase outer_ = ScanPhase::kCount;
};

}  // namespace maxact::engine
