// Datasets, tokenizers, synthetic distributions and the DataLoader.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace latent;

namespace data_test {
inline bool have(const std::string& path) { return std::ifstream(path).good(); }
}  // namespace data_test

TEST_CASE("Fashion-MNIST loads with the known sizes, labels and pixel sums") {
  if (!data_test::have("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    MESSAGE("dataset-fashion-mnist is not installed; skipped");
    return;
  }
  const auto test = data::load_fashion_mnist<float>("test");
  CHECK(test.images.shape() == Shape{10000, 1, 28, 28});
  CHECK(test.labels.to_vector() == std::vector<std::int64_t>(test.labels.to_vector()));
  CHECK(test.labels.slice(0, 0, 5).to_vector() == std::vector<std::int64_t>{9, 2, 1, 1, 6});
  // Sum of the first image's bytes is 33456 (computed with numpy from the same file).
  CHECK(test.images.select(0, 0).sum().item() * 255 == doctest::Approx(33456).epsilon(1e-6));
  CHECK(test.images.amax().item() <= 1.0f);
  const auto train = data::load_fashion_mnist<double>("train");
  CHECK(train.size() == 60000);
  CHECK(train.labels.slice(0, 0, 10).to_vector() == std::vector<std::int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  CHECK_THROWS_AS(data::load_fashion_mnist<float>("valid"), Error);
  CHECK_THROWS_WITH_AS(data::load_fashion_mnist<float>("test", "/nonexistent"),
                       doctest::Contains("apt-get install dataset-fashion-mnist"), Error);
}

TEST_CASE("fortunes load in a fixed order and split deterministically") {
  if (!data_test::have("/usr/share/games/fortunes/computers")) {
    MESSAGE("fortunes is not installed; skipped");
    return;
  }
  const auto fortunes = data::load_fortunes({"computers", "science"});
  CHECK(fortunes.size() > 500);
  CHECK(fortunes.front().category == "computers");
  CHECK(fortunes.back().category == "science");
  for (const auto& f : fortunes) CHECK(f.text.find("\n%\n") == std::string::npos);
  const auto split = data::split_fortunes(fortunes);
  CHECK(split.validation.size() * 6 < split.train.size());
  CHECK(split.validation.size() * 15 > split.train.size());
  CHECK(data::split_fortunes(fortunes).train == split.train);
}

TEST_CASE("character tokenizer") {
  const data::CharTokenizer tok("hello world");
  CHECK(tok.vocab_size() == 8);  // ' ', d, e, h, l, o, r, w
  CHECK(tok.alphabet() == " dehlorw");
  CHECK(tok.encode("hold") == std::vector<std::int64_t>{3, 5, 4, 1});
  CHECK(tok.decode(tok.encode("low world")) == "low world");
  CHECK_THROWS_AS(tok.encode("hex"), Error);
  CHECK_THROWS_AS(tok.decode({8}), Error);
  CHECK(data::CharTokenizer::from_alphabet(tok.alphabet()).encode("dew") == tok.encode("dew"));
}

TEST_CASE("byte-level BPE: merges, round trips for any bytes, save/load, corrupt files") {
  const std::string text = "the cat sat on the mat. the cat ate the rat; that cat is fat. 1234 1234!!";
  const auto tok = data::BpeTokenizer::train(text, 280);
  CHECK(tok.vocab_size() > 256);
  CHECK(tok.vocab_size() <= 280);
  // The most frequent pair of this text, learnt first, is "t" "h" or "at": check it merged.
  const std::vector<std::int64_t> ids = tok.encode(text);
  CHECK(tok.piece(256) == "at");  // 9 times, the most frequent pair
  CHECK(ids.size() * 2 < text.size() + 10);
  CHECK(tok.decode(ids) == text);
  CHECK(tok.piece(tok.encode(" cat")[0]) == " cat");
  // Any bytes, including zeros and invalid UTF-8.
  Generator gen(5);
  for (int trial = 0; trial < 20; ++trial) {
    std::string s;
    const std::int64_t n = gen.randint(0, 200);
    for (std::int64_t i = 0; i < n; ++i) s += static_cast<char>(gen.randint(0, 256));
    CHECK(tok.decode(tok.encode(s)) == s);
  }
  const auto again = data::BpeTokenizer::parse(tok.to_string());
  CHECK(again.merges() == tok.merges());
  CHECK(again.encode(text) == ids);
  CHECK_THROWS_AS(data::BpeTokenizer::parse("latent-bpe 2\nmerges 0\n"), Error);
  CHECK_THROWS_AS(data::BpeTokenizer::parse("latent-bpe 1\nmerges 2\n1 2\n"), Error);
  CHECK_THROWS_AS(data::BpeTokenizer::parse("latent-bpe 1\nmerges 1\n300 2\n"), Error);
  CHECK_THROWS_AS(data::BpeTokenizer::parse("latent-bpe 1\nmerges 1\n1 2\n7"), Error);
  CHECK_THROWS_AS(data::BpeTokenizer::parse("latent-bpe 1\nmerges -5\n"), Error);
  CHECK_THROWS_AS(data::BpeTokenizer::train(text, 100), Error);
  CHECK(data::BpeTokenizer::chunks("hi  there, 42x") ==
        std::vector<std::string>{"hi", " ", " there", ",", " 42", "x"});
}

TEST_CASE("synthetic distributions have the right shape and spread") {
  Generator gen(11);
  const Tensor<double> ring = data::ring_of_gaussians<double>(4000, gen);
  CHECK(ring.shape() == Shape{4000, 2});
  const Tensor<double> radius = sqrt((ring * ring).sum(1));
  CHECK(radius.mean().item() == doctest::Approx(2.0).epsilon(0.01));
  CHECK(radius.amax().item() < 2.2);
  const Tensor<double> grid = data::grid_of_gaussians<double>(4000, gen);
  CHECK(grid.amax().item() < 4.5);
  CHECK(grid.amin().item() > -4.5);
  const Tensor<float> roll = data::swiss_roll<float>(1000, gen);
  CHECK(sqrt((roll * roll).sum(1)).amax().item() < 3.2f);
  const Tensor<float> board = data::checkerboard<float>(2000, gen);
  // Every point lies on a dark square: floor(x/2) + floor(y/2) is even.
  int dark = 0;
  for (std::int64_t i = 0; i < 2000; ++i) {
    const int cx = static_cast<int>(std::floor(board(i, 0) / 2)), cy = static_cast<int>(std::floor(board(i, 1) / 2));
    dark += ((cx + cy) % 2 == 0);
  }
  CHECK(dark == 2000);
  CHECK(data::two_moons<float>(100, gen).shape() == Shape{100, 2});
}

TEST_CASE("DataLoader batches, shuffles per epoch from the generator, drops the last batch") {
  const Tensor<float> x = arange<float>(10).reshape({10, 1});
  const Tensor<std::int64_t> y = arange<std::int64_t>(10);
  data::DataLoader<float> plain(x, y, 4);
  CHECK(plain.num_batches() == 3);
  std::vector<std::int64_t> sizes;
  for (const auto& b : plain) {
    sizes.push_back(b.x.shape()[0]);
    CHECK(b.x.to<std::int64_t>().reshape({-1}).to_vector() == b.y.to_vector());
  }
  CHECK(sizes == std::vector<std::int64_t>{4, 4, 2});
  Generator g1(3), g2(3);
  data::DataLoader<float> a(x, y, 3, true, &g1, true), b(x, y, 3, true, &g2, true);
  CHECK(a.num_batches() == 3);
  std::vector<std::int64_t> first, second, epoch2;
  for (const auto& batch : a)
    for (auto v : batch.y.to_vector()) first.push_back(v);
  for (const auto& batch : b)
    for (auto v : batch.y.to_vector()) second.push_back(v);
  for (const auto& batch : a)
    for (auto v : batch.y.to_vector()) epoch2.push_back(v);
  CHECK(first == second);
  CHECK(first.size() == 9);
  CHECK(std::set<std::int64_t>(first.begin(), first.end()).size() == 9);
  CHECK(epoch2 != first);
  CHECK_THROWS_AS(data::DataLoader<float>(x, y, 0), Error);
  CHECK_THROWS_AS(data::DataLoader<float>(x, arange<std::int64_t>(3), 2), Error);
}
