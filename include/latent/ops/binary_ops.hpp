// Arithmetic between tensors (NumPy broadcasting) and with scalars, comparisons, where.
//
// Gradients, for out = f(a, b) with a and b broadcast to out's shape: the gradient of a
// broadcast input is the output gradient summed over the dims it was broadcast along
// (sum_to). d(a+b) = (g, g); d(a-b) = (g, -g); d(a*b) = (g b, g a);
// d(a/b) = (g / b, -g a / b^2); max/min send g to the larger/smaller input (half to each
// on ties, as PyTorch).
#pragma once

#include <cstdint>
#include <vector>

#include "autograd.hpp"
#include "elementwise.hpp"
#include "shape_ops.hpp"

namespace latent {

template <class T>
Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b);
template <class T>
Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b);
template <class T>
Tensor<T> operator-(const Tensor<T>& a);
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b);
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, Scalar<T> b);

// Gradient for an input: undefined when it needs none, else reduced to its shape.
template <class T>
Tensor<T> grad_for(bool needed, const Tensor<T>& g, const Shape& shape) {
  return needed ? sum_to(g, shape) : Tensor<T>();
}

template <class T>
Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map2<T>(a, b, "add", [](T x, T y) { return x + y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "add", {&a, &b}, [ga, gb, sa = a.shape(), sb = b.shape()](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{grad_for(ga, g, sa), grad_for(gb, g, sb)};
  });
}

template <class T>
Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map2<T>(a, b, "sub", [](T x, T y) { return x - y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "sub", {&a, &b}, [ga, gb, sa = a.shape(), sb = b.shape()](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{grad_for(ga, g, sa), gb ? sum_to(-g, sb) : Tensor<T>()};
  });
}

template <class T>
Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map2<T>(a, b, "mul", [](T x, T y) { return x * y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "mul", {&a, &b}, [a, b, ga, gb](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{ga ? sum_to(g * b, a.shape()) : Tensor<T>(),
                                  gb ? sum_to(g * a, b.shape()) : Tensor<T>()};
  });
}

template <class T>
Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map2<T>(a, b, "div", [](T x, T y) { return x / y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "div", {&a, &b}, [a, b, ga, gb](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{ga ? sum_to(g / b, a.shape()) : Tensor<T>(),
                                  gb ? sum_to(-(g * a) / (b * b), b.shape()) : Tensor<T>()};
  });
}

// Elementwise max / min; on ties the gradient is split equally, as PyTorch does.
template <class T>
Tensor<T> maximum(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map2<T>(a, b, "maximum", [](T x, T y) { return (x != x || x > y) ? x : y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "maximum", {&a, &b}, [a, b, ga, gb](const Tensor<T>& g) {
    const Tensor<T> wa = detail::map2<T>(a.detach(), b.detach(), "maximum",
                                         [](T x, T y) { return x > y ? T(1) : x == y ? T(0.5) : T(0); });
    return std::vector<Tensor<T>>{ga ? sum_to(g * wa, a.shape()) : Tensor<T>(),
                                  gb ? sum_to(g * (T(1) - wa), b.shape()) : Tensor<T>()};
  });
}

template <class T>
Tensor<T> minimum(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map2<T>(a, b, "minimum", [](T x, T y) { return (x != x || x < y) ? x : y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "minimum", {&a, &b}, [a, b, ga, gb](const Tensor<T>& g) {
    const Tensor<T> wa = detail::map2<T>(a.detach(), b.detach(), "minimum",
                                         [](T x, T y) { return x < y ? T(1) : x == y ? T(0.5) : T(0); });
    return std::vector<Tensor<T>>{ga ? sum_to(g * wa, a.shape()) : Tensor<T>(),
                                  gb ? sum_to(g * (T(1) - wa), b.shape()) : Tensor<T>()};
  });
}

// ---- with a scalar ----

template <class T>
Tensor<T> operator+(const Tensor<T>& a, Scalar<T> s) {
  Tensor<T> out = detail::map<T>(a, [s](T x) { return x + s; });
  return record<T>(out, "add", {&a}, [](const Tensor<T>& g) { return std::vector<Tensor<T>>{g}; });
}
template <class T>
Tensor<T> operator+(Scalar<T> s, const Tensor<T>& a) { return a + s; }

template <class T>
Tensor<T> operator-(const Tensor<T>& a, Scalar<T> s) { return a + (-s); }

template <class T>
Tensor<T> operator-(Scalar<T> s, const Tensor<T>& a) {
  Tensor<T> out = detail::map<T>(a, [s](T x) { return s - x; });
  return record<T>(out, "rsub", {&a}, [](const Tensor<T>& g) { return std::vector<Tensor<T>>{-g}; });
}

template <class T>
Tensor<T> operator*(const Tensor<T>& a, Scalar<T> s) {
  Tensor<T> out = detail::map<T>(a, [s](T x) { return x * s; });
  return record<T>(out, "mul", {&a}, [s](const Tensor<T>& g) { return std::vector<Tensor<T>>{g * s}; });
}
template <class T>
Tensor<T> operator*(Scalar<T> s, const Tensor<T>& a) { return a * s; }

template <class T>
Tensor<T> operator/(const Tensor<T>& a, Scalar<T> s) {
  Tensor<T> out = detail::map<T>(a, [s](T x) { return x / s; });
  return record<T>(out, "div", {&a}, [s](const Tensor<T>& g) { return std::vector<Tensor<T>>{g / s}; });
}

template <class T>
Tensor<T> operator/(Scalar<T> s, const Tensor<T>& a) {
  Tensor<T> out = detail::map<T>(a, [s](T x) { return s / x; });
  return record<T>(out, "rdiv", {&a}, [a, s](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{-(g * s) / (a * a)};
  });
}

template <class T>
Tensor<T> operator-(const Tensor<T>& a) {
  Tensor<T> out = detail::map<T>(a, [](T x) { return -x; });
  return record<T>(out, "neg", {&a}, [](const Tensor<T>& g) { return std::vector<Tensor<T>>{-g}; });
}

template <class T>
Tensor<T> maximum(const Tensor<T>& a, Scalar<T> s) { return maximum(a, full<T>(Shape{}, s)); }
template <class T>
Tensor<T> minimum(const Tensor<T>& a, Scalar<T> s) { return minimum(a, full<T>(Shape{}, s)); }

template <class T> Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) { return a + b; }
template <class T> Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) { return a - b; }
template <class T> Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) { return a * b; }
template <class T> Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) { return a / b; }
template <class T> Tensor<T> neg(const Tensor<T>& a) { return -a; }

// ---- comparisons: boolean tensors, never differentiable ----

#define LATENT_COMPARISON(name, symbol)                                                       \
  template <class T>                                                                          \
  Tensor<bool> name(const Tensor<T>& a, const Tensor<T>& b) {                                 \
    return detail::map2<bool>(a, b, #name, [](T x, T y) { return x symbol y; });              \
  }                                                                                           \
  template <class T>                                                                          \
  Tensor<bool> name(const Tensor<T>& a, Scalar<T> s) {                                        \
    return detail::map<bool>(a, [s](T x) { return x symbol s; });                             \
  }
LATENT_COMPARISON(eq, ==)
LATENT_COMPARISON(ne, !=)
LATENT_COMPARISON(lt, <)
LATENT_COMPARISON(le, <=)
LATENT_COMPARISON(gt, >)
LATENT_COMPARISON(ge, >=)
#undef LATENT_COMPARISON

template <class T> Tensor<bool> operator<(const Tensor<T>& a, const Tensor<T>& b) { return lt(a, b); }
template <class T> Tensor<bool> operator<=(const Tensor<T>& a, const Tensor<T>& b) { return le(a, b); }
template <class T> Tensor<bool> operator>(const Tensor<T>& a, const Tensor<T>& b) { return gt(a, b); }
template <class T> Tensor<bool> operator>=(const Tensor<T>& a, const Tensor<T>& b) { return ge(a, b); }
template <class T> Tensor<bool> operator<(const Tensor<T>& a, Scalar<T> s) { return lt(a, s); }
template <class T> Tensor<bool> operator<=(const Tensor<T>& a, Scalar<T> s) { return le(a, s); }
template <class T> Tensor<bool> operator>(const Tensor<T>& a, Scalar<T> s) { return gt(a, s); }
template <class T> Tensor<bool> operator>=(const Tensor<T>& a, Scalar<T> s) { return ge(a, s); }

// Logical ops, on masks or on any element type with nonzero meaning true (as in PyTorch).
template <class T>
Tensor<bool> logical_not(const Tensor<T>& a) {
  return detail::map<bool>(a, [](T x) { return !x; });
}
template <class T>
Tensor<bool> logical_and(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map2<bool>(a, b, "logical_and", [](T x, T y) { return x && y; });
}
template <class T>
Tensor<bool> logical_or(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::map2<bool>(a, b, "logical_or", [](T x, T y) { return x || y; });
}

// where(cond, a, b): a where cond is true, else b (all three broadcast together).
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::map3<T>(cond, a, b, "where", [](bool c, T x, T y) { return c ? x : y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "where", {&a, &b}, [cond, ga, gb, sa = a.shape(), sb = b.shape()](const Tensor<T>& g) {
    const Tensor<T> zero = full<T>(Shape{}, T(0));
    return std::vector<Tensor<T>>{ga ? sum_to(where(cond, g, zero), sa) : Tensor<T>(),
                                  gb ? sum_to(where(cond, zero, g), sb) : Tensor<T>()};
  });
}
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, Scalar<T> b) {
  return where(cond, a, full<T>(Shape{}, b));
}
template <class T>
Tensor<T> where(const Tensor<bool>& cond, Scalar<T> a, const Tensor<T>& b) {
  return where(cond, full<T>(Shape{}, a), b);
}

}  // namespace latent
