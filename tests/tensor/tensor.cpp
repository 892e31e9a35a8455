// Tensor<T>: creation, views of views, element access, printing, errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <string>
#include <vector>

using namespace latent;

namespace tensor_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }
}  // namespace tensor_test

TEST_CASE("creation functions fill the values they promise") {
  CHECK(tensor_test::values(zeros<float>({2, 3})) == std::vector<float>(6, 0.0f));
  CHECK(tensor_test::values(ones<double>({4})) == std::vector<double>(4, 1.0));
  CHECK(tensor_test::values(full<std::int64_t>({2}, 7)) == std::vector<std::int64_t>{7, 7});
  CHECK(tensor_test::values(arange<double>(0, 1, 0.25)) == std::vector<double>{0, 0.25, 0.5, 0.75});
  CHECK(tensor_test::values(arange<std::int64_t>(5)) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(arange<double>(1, 0).numel() == 0);
  CHECK(tensor_test::values(linspace<double>(-1, 1, 5)) == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  CHECK(tensor_test::values(eye<float>(2, 3)) == std::vector<float>{1, 0, 0, 0, 1, 0});
  const Tensor<double> t = tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Strides{3, 1});
  CHECK(t(1, 2) == 6);
  CHECK(t(-1, -3) == 4);
  CHECK(scalar_tensor<double>(2.5).item() == 2.5);
  CHECK(scalar_tensor<double>(2.5).dim() == 0);
}

TEST_CASE("random creation draws from the generator deterministically") {
  Generator a(7), b(7);
  const Tensor<float> x = randn<float>({1000}, a), y = randn<float>({1000}, b);
  CHECK(tensor_test::values(x) == tensor_test::values(y));
  const Tensor<double> u = rand<double>({10000}, a, -2.0, 3.0);
  CHECK(u.amin().item() >= -2.0);
  CHECK(u.amax().item() < 3.0);
  CHECK(u.mean().item() == doctest::Approx(0.5).epsilon(0.05));
  const Tensor<std::int64_t> r = randint(3, 6, {5000}, a);
  CHECK(r.amin().item() == 3);
  CHECK(r.amax().item() == 5);
}

TEST_CASE("views share storage and compose") {
  Tensor<double> base = arange<double>(24).reshape({2, 3, 4});
  CHECK(base.is_contiguous());
  Tensor<double> tr = base.transpose(0, 2);  // [4, 3, 2]
  CHECK(tr.shape() == Shape{4, 3, 2});
  CHECK(!tr.is_contiguous());
  CHECK(tr(3, 1, 1) == base(1, 1, 3));
  // A view of a view of a view: slice with a step, then select, then unsqueeze.
  Tensor<double> v = tr.slice(0, 1, 4, 2).select(2, 1).unsqueeze(0);  // [1, 2, 3]
  CHECK(v.shape() == Shape{1, 2, 3});
  CHECK(v(0, 1, 2) == base(1, 2, 3));
  CHECK(v(0, 0, 0) == base(1, 0, 1));
  // Writes through a view reach the base.
  v.at({0, 0, 0}) = -1;
  CHECK(base(1, 0, 1) == -1);
  // permute then reshape must copy; values follow the permuted order.
  Tensor<double> p = base.permute({2, 0, 1}).reshape({4, 6});
  CHECK(p(1, 0) == base(0, 0, 1));
  CHECK(p(3, 5) == base(1, 2, 3));
  // reshape of a contiguous tensor is a view (same storage).
  CHECK(base.reshape({6, -1}).storage() == base.storage());
  CHECK(base.flatten().shape() == Shape{24});
  CHECK(base.flatten(1).shape() == Shape{2, 12});
  CHECK(base.narrow(2, 1, 2).shape() == Shape{2, 3, 2});
  CHECK(base.slice(1, -2, 100).shape() == Shape{2, 2, 4});
  CHECK(base.slice(1, 5, 100).shape() == Shape{2, 0, 4});
  // expand repeats with stride 0.
  Tensor<double> col = tensor<double>({1, 2, 3}, {3, 1});
  Tensor<double> e = col.expand({2, 3, 4});
  CHECK(e.strides()[0] == 0);
  CHECK(e(1, 2, 3) == 3);
  CHECK(col.squeeze().shape() == Shape{3});
  CHECK(col.squeeze(0).shape() == Shape{3, 1});
  // view() refuses incompatible strides; reshape() copies instead.
  CHECK_THROWS_AS(tr.view({24}), Error);
  CHECK(tensor_test::values(tr.reshape({24})).size() == 24);
  // A transposed then sliced view, made contiguous.
  Tensor<double> c = base.transpose(1, 2).slice(1, 1, 3).contiguous();
  CHECK(c.is_contiguous());
  CHECK(c(1, 1, 2) == base(1, 2, 2));
}

TEST_CASE("clone copies, to<U> converts, item reads one value") {
  Tensor<float> a = tensor<float>({1.5f, -2.25f});
  Tensor<float> b = a.clone();
  b.at({0}) = 9;
  CHECK(a(0) == 1.5f);
  CHECK(tensor_test::values(a.to<double>()) == std::vector<double>{1.5, -2.25});
  CHECK(tensor_test::values(a.to<std::int64_t>()) == std::vector<std::int64_t>{1, -2});
  CHECK_THROWS_AS(a.item(), Error);
}

TEST_CASE("printing follows PyTorch's style") {
  CHECK(to_string(tensor<float>({1, 2, 3, 4}, {2, 2})) ==
        "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=[2, 2])");
  CHECK(to_string(tensor<double>({-1.5, 2})) == "tensor([-1.5000,  2.0000], dtype=float64)");
  CHECK(to_string(tensor<std::int64_t>({3, 10})) == "tensor([ 3, 10], dtype=int64)");
  CHECK(to_string(scalar_tensor<float>(0.5f)) == "tensor(0.5000)");
  CHECK(to_string(tensor<float>({1e-6f, 1.0f})) == "tensor([1.0000e-06, 1.0000e+00])");
  const std::string big = to_string(arange<float>(2000));
  CHECK(big.find("...") != std::string::npos);
  CHECK(big.size() < 200);
}

TEST_CASE("bad shapes and indices raise latent::Error with clear messages") {
  const Tensor<float> a = zeros<float>({2, 3});
  auto message = [](auto&& fn) { return latent_test::error_message(fn); };
  CHECK(message([&] { (void)a.reshape({4, 2}); }) ==
        "reshape: shape [4, 2] is invalid for input of shape [2, 3] (6 elements)");
  CHECK(message([&] { (void)a.transpose(0, 2); }) ==
        "transpose: dim 2 is out of range for a tensor of rank 2 (expected [-2, 1])");
  CHECK(message([&] { (void)(a + zeros<float>({4})); }) ==
        "add: shapes [2, 3] and [4] cannot be broadcast (size 3 vs 4 at dim 1)");
  CHECK(message([&] { (void)matmul(a, zeros<float>({4, 5})); }) ==
        "matmul: [2, 3] @ [4, 5]: inner sizes 3 and 4 differ");
  CHECK(message([&] { (void)a(2, 0); }) == "at: index 2 is out of range for dim 0 of size 2");
  CHECK(message([&] { (void)zeros<float>({2, -1}); }) == "tensor: negative size -1 in shape [2, -1]");
  CHECK(message([&] { (void)a.expand({3, 3}); }).find("expand: cannot expand [2, 3] to [3, 3]") == 0);
  CHECK(message([&] { (void)a.permute({0, 0}); }) == "permute: dim 0 appears twice in [0, 0]");
  CHECK(message([&] { (void)zeros<float>({1, 1, 1, 1, 1, 1, 1, 1, 1}); }) ==
        "tensor rank 9 is beyond the supported maximum of 8");
  CHECK(message([&] { (void)tensor<float>({1, 2, 3}, {2, 2}); }) ==
        "tensor: 3 values do not fill shape [2, 2] (4 elements)");
  CHECK(message([&] { (void)a.sum(5); }) ==
        "sum: dim 5 is out of range for a tensor of rank 2 (expected [-2, 1])");
}
