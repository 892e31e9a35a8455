// perceptron_2d: Rosenblatt's perceptron on two 2-D problems. On two separated clouds it
// converges (the number of updates is printed); on XOR no line separates the classes and
// it never does — a small MLP trained with backpropagation solves it. Pictures: the
// decision regions of each model with the data on top.
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <iostream>

using namespace latent;
using T = double;

namespace {

// Two clouds with labels -1 / +1: N((-1, -1), s^2) and N((1, 1), s^2).
void separable(std::int64_t n, Generator& gen, Tensor<T>& x, Tensor<std::int64_t>& y) {
  x = randn<T>({n, 2}, gen, 0.0, 0.4);
  y = Tensor<std::int64_t>(Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    const bool positive = i % 2 == 0;
    y.data()[i] = positive ? 1 : -1;
    x.at({i, 0}) += positive ? 1 : -1;
    x.at({i, 1}) += positive ? 1 : -1;
  }
}

// XOR: four clouds at (+-1, +-1), label +1 where the signs agree.
void xor_data(std::int64_t n, Generator& gen, Tensor<T>& x, Tensor<std::int64_t>& y) {
  x = randn<T>({n, 2}, gen, 0.0, 0.25);
  y = Tensor<std::int64_t>(Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    const int sx = (i % 4) < 2 ? 1 : -1, sy = (i % 2) ? 1 : -1;
    x.at({i, 0}) += sx;
    x.at({i, 1}) += sy;
    y.data()[i] = sx == sy ? 1 : -1;
  }
}

// Draws the classifier's regions on [-2.5, 2.5]^2 and the points (labels 0/1 colours).
template <class Classify>
void draw(const std::string& path, const Tensor<T>& x, const Tensor<std::int64_t>& y, Classify classify) {
  const std::int64_t size = 300;
  io::Image img = io::scatter_plot(x, -2.5, 2.5, size, (y + std::int64_t(1)) / std::int64_t(2), 2);
  for (std::int64_t r = 0; r < size; ++r)
    for (std::int64_t c = 0; c < size; ++c) {
      std::uint8_t* px = img.at(r, c);
      if (px[0] != 255 || px[1] != 255 || px[2] != 255) continue;  // keep points and axes
      const T point[2] = {-2.5 + 5.0 * (c + 0.5) / size, 2.5 - 5.0 * (r + 0.5) / size};
      const auto colour = io::palette(classify(point) > 0 ? 1 : 0);
      for (int k = 0; k < 3; ++k) px[k] = static_cast<std::uint8_t>(255 - (255 - colour[static_cast<std::size_t>(k)]) / 5);
    }
  img.save(path);
}

}  // namespace

int main(int argc, char** argv) {
  train::Args args("perceptron_2d", "The perceptron on separable data and on XOR, and an MLP on XOR.");
  args.parse(argc, argv);
  const std::string out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));
  const std::int64_t n = 400;

  Tensor<T> x;
  Tensor<std::int64_t> y;
  separable(n, gen, x, y);
  models::Perceptron<T> line(2);
  const auto fit = line.fit(x, y, 100);
  std::cout << "separable clouds: " << (fit.converged ? "converged" : "did not converge") << " after " << fit.updates
            << " updates in " << fit.epochs << " epochs; w = (" << line.weights()[0] << ", " << line.weights()[1]
            << "), b = " << line.bias() << "\n";
  draw(out + "/perceptron_separable.png", x, y, [&](const T* p) { return line.score(p); });

  Tensor<T> xx;
  Tensor<std::int64_t> xy;
  xor_data(n, gen, xx, xy);
  models::Perceptron<T> xor_line(2);
  const auto xor_fit = xor_line.fit(xx, xy, 100);
  const double xor_accuracy = eq(xor_line.predict(xx), xy).to<T>().mean().item();
  std::cout << "XOR: perceptron " << (xor_fit.converged ? "converged" : "did not converge") << " after " << xor_fit.updates
            << " updates in " << xor_fit.epochs << " epochs; accuracy " << xor_accuracy << "\n";
  draw(out + "/perceptron_xor.png", xx, xy, [&](const T* p) { return xor_line.score(p); });

  // A 2-16-16-2 MLP with backpropagation solves XOR.
  models::MLP<T> mlp({2, 16, 16, 2}, gen);
  optim::Adam<T> opt(mlp.parameters(), optim::AdamOptions().lr(0.02));
  const Tensor<std::int64_t> classes = (xy + std::int64_t(1)) / std::int64_t(2);
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    nn::functional::cross_entropy(mlp(xx), classes).backward();
    opt.step();
  }
  NoGradGuard no_grad;
  const double mlp_accuracy = models::accuracy(mlp(xx), classes);
  std::cout << "XOR: MLP accuracy " << mlp_accuracy << "\n";
  draw(out + "/mlp_xor.png", xx, xy, [&](const T* p) {
    const Tensor<T> logits = mlp(tensor<T>({p[0], p[1]}, {1, 2}));
    return logits(0, 1) - logits(0, 0);
  });
  std::cout << "pictures: " << out << "/perceptron_separable.png, perceptron_xor.png, mlp_xor.png\n";
  train::print_result({{"separable_updates", double(fit.updates)}, {"separable_converged", fit.converged ? 1.0 : 0.0},
                       {"xor_perceptron_acc", xor_accuracy}, {"xor_mlp_acc", mlp_accuracy}});
  return 0;
}
