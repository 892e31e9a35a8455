// Learning-rate schedules, as torch.optim.lr_scheduler. Each scheduler remembers the
// optimiser's initial rates (base_lr) and sets lr(epoch) on every step(); epoch counts
// scheduler steps from 0.
//   StepLR:             base_lr * gamma^floor(epoch / step_size)
//   CosineAnnealingLR:  eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2
//   WarmupCosineLR:     base_lr * (epoch + 1) / warmup for the first `warmup` steps, then
//                       cosine from base_lr down to min_lr over the remaining steps
//   ReduceLROnPlateau:  lr * factor when the metric has not improved for `patience` steps
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "optimizer.hpp"

namespace latent::optim {

template <class T>
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer<T>& optimizer) : optimizer_(optimizer) {
    for (std::size_t g = 0; g < optimizer.num_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
  }
  virtual ~LRScheduler() = default;
  // Advances one epoch (or step) and sets the new rates.
  void step() {
    ++epoch_;
    apply();
  }
  std::int64_t last_epoch() const { return epoch_; }
  double get_last_lr(std::size_t group = 0) const { return optimizer_.lr(group); }
  // For checkpoints: the epoch is the whole state of the closed-form schedules.
  void set_last_epoch(std::int64_t epoch) {
    epoch_ = epoch;
    apply();
  }

 protected:
  virtual double lr_at(double base_lr, std::int64_t epoch) const = 0;
  void apply() {
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(lr_at(base_lrs_[g], epoch_), g);
  }
  Optimizer<T>& optimizer_;
  std::vector<double> base_lrs_;
  std::int64_t epoch_ = 0;
};

template <class T>
class StepLR : public LRScheduler<T> {
 public:
  StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma = 0.1)
      : LRScheduler<T>(optimizer), step_size_(step_size), gamma_(gamma) {
    LATENT_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  }

 protected:
  double lr_at(double base, std::int64_t epoch) const override {
    return base * std::pow(gamma_, double(epoch / step_size_));
  }

 private:
  std::int64_t step_size_;
  double gamma_;
};

template <class T>
class CosineAnnealingLR : public LRScheduler<T> {
 public:
  CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t t_max, double eta_min = 0)
      : LRScheduler<T>(optimizer), t_max_(t_max), eta_min_(eta_min) {
    LATENT_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be positive, got ", t_max);
  }

 protected:
  double lr_at(double base, std::int64_t epoch) const override {
    const double pi = 3.14159265358979323846;
    return eta_min_ + (base - eta_min_) * (1 + std::cos(pi * double(epoch) / double(t_max_))) / 2;
  }

 private:
  std::int64_t t_max_;
  double eta_min_;
};

// Linear warm-up from base_lr / warmup to base_lr, then cosine decay to min_lr at total_steps.
template <class T>
class WarmupCosineLR : public LRScheduler<T> {
 public:
  WarmupCosineLR(Optimizer<T>& optimizer, std::int64_t warmup_steps, std::int64_t total_steps, double min_lr = 0)
      : LRScheduler<T>(optimizer), warmup_(warmup_steps), total_(total_steps), min_lr_(min_lr) {
    LATENT_CHECK(warmup_steps >= 0 && total_steps > warmup_steps, "WarmupCosineLR: need 0 <= warmup_steps (",
                 warmup_steps, ") < total_steps (", total_steps, ")");
    this->apply();
  }

 protected:
  double lr_at(double base, std::int64_t epoch) const override {
    if (epoch < warmup_) return base * double(epoch + 1) / double(warmup_);
    const double pi = 3.14159265358979323846;
    const double progress = std::min(1.0, double(epoch - warmup_) / double(total_ - warmup_));
    return min_lr_ + (base - min_lr_) * (1 + std::cos(pi * progress)) / 2;
  }

 private:
  std::int64_t warmup_, total_;
  double min_lr_;
};

// Cuts the rate by `factor` when a metric stops improving (mode "min" or "max";
// threshold relative, as PyTorch's default threshold_mode "rel").
template <class T>
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer<T>& optimizer, const std::string& mode = "min", double factor = 0.1,
                             std::int64_t patience = 10, double threshold = 1e-4, std::int64_t cooldown = 0,
                             double min_lr = 0, double eps = 1e-8)
      : optimizer_(optimizer), minimize_(mode == "min"), factor_(factor), patience_(patience),
        threshold_(threshold), cooldown_(cooldown), min_lr_(min_lr), eps_(eps),
        best_(mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity()) {
    LATENT_CHECK(mode == "min" || mode == "max", "ReduceLROnPlateau: mode must be 'min' or 'max', got '", mode, "'");
    LATENT_CHECK(factor < 1, "ReduceLROnPlateau: factor must be < 1, got ", factor);
  }

  void step(double metric) {
    const bool better = minimize_ ? metric < best_ * (1 - threshold_) : metric > best_ * (1 + threshold_);
    if (better) {
      best_ = metric;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      bad_epochs_ = 0;
    }
    if (bad_epochs_ > patience_) {
      for (std::size_t g = 0; g < optimizer_.num_groups(); ++g) {
        const double old_lr = optimizer_.lr(g);
        const double new_lr = std::max(old_lr * factor_, min_lr_);
        if (old_lr - new_lr > eps_) optimizer_.set_lr(new_lr, g);
      }
      cooldown_counter_ = cooldown_;
      bad_epochs_ = 0;
    }
  }

 private:
  Optimizer<T>& optimizer_;
  bool minimize_;
  double factor_;
  std::int64_t patience_;
  double threshold_;
  std::int64_t cooldown_;
  double min_lr_, eps_;
  double best_;
  std::int64_t bad_epochs_ = 0, cooldown_counter_ = 0;
};

}  // namespace latent::optim
