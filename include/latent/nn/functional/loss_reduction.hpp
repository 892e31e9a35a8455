// How a loss reduces its per-element values, PyTorch's reduction= argument:
//   "none": the per-element losses, "mean": their mean, "sum": their sum
// ("batchmean", for kl_div only: the sum divided by the batch size). It is given as a
// string, as in PyTorch (mse_loss(x, y, "sum")), or as Reduction::Sum; an unknown string
// is reported by the loss that receives it.
#pragma once

#include <string>

#include "../../core/error.hpp"
#include "../../ops/reduce_ops.hpp"

namespace latent::nn::functional {

struct Reduction {
  enum Kind { None, Mean, Sum, BatchMean, Invalid };

  Kind kind = Mean;
  std::string name = "mean";  // as the caller spelled it, for error messages

  Reduction(Kind k)
      : kind(k),
        name(k == None        ? "none"
             : k == Sum       ? "sum"
             : k == BatchMean ? "batchmean"
                              : "mean") {}                          // NOLINT: implicit by design
  Reduction(const std::string& s) : kind(parse(s)), name(s) {}      // NOLINT
  Reduction(const char* s) : Reduction(std::string(s ? s : "")) {}  // NOLINT

 private:
  static Kind parse(const std::string& s) {
    if (s == "none") return None;
    if (s == "mean") return Mean;
    if (s == "sum") return Sum;
    if (s == "batchmean") return BatchMean;
    return Invalid;
  }
};

// Fails unless r is "none", "mean" or "sum" (or also "batchmean" where allowed).
inline void check_reduction(const Reduction& r, const char* op, bool allow_batchmean = false) {
  if (r.kind == Reduction::Invalid || (r.kind == Reduction::BatchMean && !allow_batchmean))
    fail(op, ": \"", r.name, "\" is not a valid value for reduction (expected \"none\", \"mean\" or \"sum\"",
         allow_batchmean ? " or \"batchmean\")" : ")");
}

// The per-element losses, reduced as asked ("batchmean" divides the sum by size(0)).
template <class T>
Tensor<T> apply_reduction(const Tensor<T>& loss, const Reduction& r, const char* op) {
  switch (r.kind) {
    case Reduction::None:
      return loss;
    case Reduction::Sum:
      return loss.sum();
    case Reduction::Mean:
      return loss.mean();
    case Reduction::BatchMean:
      return loss.dim() == 0 ? loss.sum() : loss.sum() / static_cast<T>(loss.size(0));
    case Reduction::Invalid:
      break;
  }
  check_reduction(r, op);
  return loss;
}

}  // namespace latent::nn::functional
