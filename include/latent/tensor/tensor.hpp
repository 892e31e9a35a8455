// Tensor<T>: a view (shape, strides, offset) onto shared storage, as in PyTorch.
//
// Copying a Tensor shares its data and its autograd state; clone() copies the data.
// reshape/transpose/permute/slice/expand/... return views of the same storage. A tensor
// carries an optional pointer to autograd metadata: whether it requires a gradient, its
// accumulated .grad(), and the graph node that produced it.
//
// This header defines the class and its raw accessors. Its operations (arithmetic, views,
// reductions, ...) are member declarations defined in ops/, which latent.hpp includes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "storage.hpp"

namespace latent {

template <class T>
class Tensor;
template <class T>
struct Node;

// Element type names, as PyTorch prints them.
template <class T> inline const char* dtype_name() { return "unknown"; }
template <> inline const char* dtype_name<float>() { return "float32"; }
template <> inline const char* dtype_name<double>() { return "float64"; }
template <> inline const char* dtype_name<std::int64_t>() { return "int64"; }
template <> inline const char* dtype_name<std::int32_t>() { return "int32"; }
template <> inline const char* dtype_name<std::uint8_t>() { return "uint8"; }
template <> inline const char* dtype_name<bool>() { return "bool"; }

// What autograd knows about a tensor. Shared by every copy of the tensor.
template <class T>
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;           // keep .grad() on a non-leaf (retain_grad())
  std::shared_ptr<Node<T>> grad_fn;    // the op that produced it; null for leaves
  Tensor<T> grad;                      // accumulated gradient (undefined until backward)
};

// Dims to reduce over: one dim, a list, or all of them (the default).
struct DimList {
  std::vector<std::int64_t> dims;
  bool all = true;
  DimList() = default;
  DimList(std::int64_t d) : dims{d}, all(false) {}  // NOLINT: implicit by design
  DimList(int d) : dims{d}, all(false) {}           // NOLINT
  DimList(std::initializer_list<std::int64_t> ds) : dims(ds), all(false) {}
  DimList(const std::vector<std::int64_t>& ds) : dims(ds), all(false) {}  // NOLINT
};

template <class T>
class Tensor {
 public:
  using value_type = T;

  // An undefined tensor (no storage); defined() is false.
  Tensor() = default;
  // An uninitialised tensor of the given shape.
  explicit Tensor(const Shape& shape)
      : storage_(std::make_shared<Storage<T>>(checked_numel(shape))),
        shape_(shape),
        strides_(contiguous_strides(shape)) {}
  // A view of existing storage.
  Tensor(std::shared_ptr<Storage<T>> storage, const Shape& shape, const Strides& strides,
         std::int64_t offset)
      : storage_(std::move(storage)), shape_(shape), strides_(strides), offset_(offset) {}

  // ---- what it is ----
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& sizes() const { return shape_; }
  const Strides& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }
  int dim() const { return shape_.size(); }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t size(std::int64_t d) const { return shape_[wrap_dim(d, dim(), "size")]; }
  std::int64_t stride(std::int64_t d) const { return strides_[wrap_dim(d, dim(), "stride")]; }
  bool is_contiguous() const {
    std::int64_t expected = 1;
    for (int i = dim() - 1; i >= 0; --i) {
      if (shape_[i] != 1 && strides_[i] != expected) return false;
      expected *= shape_[i];
    }
    return true;
  }
  const std::shared_ptr<Storage<T>>& storage() const { return storage_; }
  // Pointer to the first element (shape/strides say where the others are).
  T* data() const { return storage_ ? storage_->data() + offset_ : nullptr; }
  // Same as data(), for contiguous use; checks contiguity.
  T* data_ptr() const {
    LATENT_CHECK(is_contiguous(), "data_ptr: tensor of shape ", shape_,
                 " is not contiguous; call contiguous() first");
    return data();
  }

  // ---- elements (raw access, not recorded by autograd) ----
  T& at(std::initializer_list<std::int64_t> index) const {
    LATENT_CHECK(static_cast<int>(index.size()) == dim(), "at: ", index.size(),
                 " indices for a tensor of shape ", shape_);
    std::int64_t off = offset_;
    int d = 0;
    for (std::int64_t i : index) {
      LATENT_CHECK(i >= -shape_[d] && i < shape_[d], "at: index ", i, " is out of range for dim ",
                   d, " of size ", shape_[d]);
      off += (i < 0 ? i + shape_[d] : i) * strides_[d];
      ++d;
    }
    return storage_->data()[off];
  }
  template <class... I>
  T& operator()(I... index) const {
    return at({static_cast<std::int64_t>(index)...});
  }
  // The value of a one-element tensor.
  T item() const {
    LATENT_CHECK(numel() == 1, "item: tensor of shape ", shape_,
                 " has ", numel(), " elements, item() needs exactly one");
    return *data();
  }
  // The elements in row-major order.
  std::vector<T> to_vector() const;

  // ---- autograd ----
  bool requires_grad() const { return meta_ && meta_->requires_grad; }
  // Marks a leaf tensor as needing a gradient (floating-point types only).
  Tensor& requires_grad_(bool on = true) {
    LATENT_CHECK(!on || std::is_floating_point<T>::value,
                 "requires_grad_: only floating-point tensors can require gradients, this one is ",
                 dtype_name<T>());
    LATENT_CHECK(!meta_ || !meta_->grad_fn, "requires_grad_: can only change it on a leaf tensor; "
                 "use detach() to get a leaf");
    if (!meta_) meta_ = std::make_shared<AutogradMeta<T>>();
    meta_->requires_grad = on;
    return *this;
  }
  bool is_leaf() const { return !meta_ || !meta_->grad_fn; }
  // The accumulated gradient (undefined until a backward pass reaches this tensor).
  Tensor grad() const { return meta_ ? meta_->grad : Tensor(); }
  void set_grad(const Tensor& g) const {
    LATENT_CHECK(meta_ != nullptr, "set_grad: tensor does not track gradients");
    meta_->grad = g;
  }
  // Drops the accumulated gradient (as PyTorch's zero_grad(set_to_none=True)).
  void zero_grad() const {
    if (meta_) meta_->grad = Tensor();
  }
  void retain_grad() const {
    LATENT_CHECK(requires_grad(), "retain_grad: tensor does not require grad");
    meta_->retains_grad = true;
  }
  std::shared_ptr<Node<T>> grad_fn() const { return meta_ ? meta_->grad_fn : nullptr; }
  const std::shared_ptr<AutogradMeta<T>>& autograd_meta() const { return meta_; }
  void set_autograd_meta(std::shared_ptr<AutogradMeta<T>> meta) { meta_ = std::move(meta); }
  // The same data, cut from the graph.
  Tensor detach() const { return Tensor(storage_, shape_, strides_, offset_); }
  // Runs backpropagation from this tensor (ops/autograd.hpp).
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;

  // ---- views (ops/shape_ops.hpp); all differentiable ----
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor t() const;  // transpose of a matrix
  Tensor permute(const Shape& dims) const;
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  template <class U>
  Tensor<U> to() const;

  // ---- in place (ops/inplace.hpp); refused on tensors that need a gradient ----
  Tensor& fill_(T value);
  Tensor& zero_() { return fill_(T(0)); }
  Tensor& copy_(const Tensor& src);
  Tensor& add_(const Tensor& other, T alpha = T(1));
  Tensor& add_(T value);
  Tensor& sub_(const Tensor& other);
  Tensor& sub_(T value);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(T value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(T value);
  Tensor& clamp_(T low, T high);

  // ---- reductions (ops/reduce_ops.hpp) ----
  Tensor sum(const DimList& dims = {}, bool keepdim = false) const;
  Tensor mean(const DimList& dims = {}, bool keepdim = false) const;
  Tensor var(const DimList& dims = {}, std::int64_t correction = 1, bool keepdim = false) const;
  Tensor std(const DimList& dims = {}, std::int64_t correction = 1, bool keepdim = false) const;
  Tensor amax(const DimList& dims = {}, bool keepdim = false) const;
  Tensor amin(const DimList& dims = {}, bool keepdim = false) const;
  Tensor logsumexp(const DimList& dims = {}, bool keepdim = false) const;
  Tensor<std::int64_t> argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor<std::int64_t> argmax() const;
  Tensor<std::int64_t> argmin(std::int64_t dim, bool keepdim = false) const;

  // ---- elementwise maths as methods (ops/) ----
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor neg() const;
  Tensor square() const;
  Tensor pow(T exponent) const;
  Tensor matmul(const Tensor& other) const;

 private:
  static std::int64_t checked_numel(const Shape& shape) {
    std::int64_t n = 1;
    for (std::int64_t s : shape) {
      LATENT_CHECK(s >= 0, "tensor: negative size ", s, " in shape ", shape);
      LATENT_CHECK(s == 0 || n <= (std::int64_t(1) << 62) / s, "tensor: shape ", shape,
                   " has too many elements");
      n *= s;
    }
    return n;
  }

  std::shared_ptr<Storage<T>> storage_;
  Shape shape_;
  Strides strides_;
  std::int64_t offset_ = 0;
  std::shared_ptr<AutogradMeta<T>> meta_;
};

using Tensorf = Tensor<float>;
using Tensord = Tensor<double>;
using Tensorl = Tensor<std::int64_t>;
using Tensorb = Tensor<bool>;

}  // namespace latent
