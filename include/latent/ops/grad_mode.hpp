// Grad mode and anomaly mode: two per-thread switches that every op consults.
//
// With grad mode off (NoGradGuard) ops record nothing: no graph node is made and no
// tensor is kept alive, so inference costs what the arithmetic costs. Anomaly mode makes
// every op check what it produced, forward and backward, for NaN and Inf, and fail with
// the op's name.
#pragma once

namespace latent {

namespace detail {
inline bool& grad_mode_slot() {
  thread_local bool enabled = true;
  return enabled;
}
inline bool& anomaly_mode_slot() {
  thread_local bool enabled = false;
  return enabled;
}
}  // namespace detail

inline bool is_grad_enabled() { return detail::grad_mode_slot(); }
inline void set_grad_enabled(bool on) { detail::grad_mode_slot() = on; }
inline bool is_anomaly_enabled() { return detail::anomaly_mode_slot(); }
inline void set_detect_anomaly(bool on) { detail::anomaly_mode_slot() = on; }

// Sets grad mode for a scope and restores the previous mode when it ends.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : previous_(is_grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};
struct EnableGradGuard : GradModeGuard {
  EnableGradGuard() : GradModeGuard(true) {}
};

// Turns anomaly detection on for a scope.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool on = true) : previous_(is_anomaly_enabled()) {
    set_detect_anomaly(on);
  }
  ~DetectAnomalyGuard() { set_detect_anomaly(previous_); }
  bool previous() const { return previous_; }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace latent
