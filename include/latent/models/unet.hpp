// The small U-Net denoiser of DDPM (Ho et al. 2020), as the ddpm_unet_step workload
// (anchors/torch_workloads.py): it reads a noisy image x_t and its timestep t and predicts
// the noise eps that made it, eps_theta(x_t, t) (optionally also given a class y).
//
//   time    temb = fc2(silu(fc1(emb(t))))      emb(t): the sinusoidal timestep embedding
//           (+ class_emb[y] when class-conditional; y = classes is the "null" class)
//   stem    conv3x3(x)                                             28x28 c1
//   down    ResBlock c1->c1 (s1), stride-2 conv, ResBlock c1->c2 (s2),
//           stride-2 conv, ResBlock c2->c2 (s3)                   28 -> 14 -> 7
//   middle  ResBlock, self-attention over the 7x7 positions, ResBlock
//   up      ResBlock([h, s3]), nearest x2 + conv3x3, ResBlock([h, s2]),
//           nearest x2 + conv3x3, ResBlock([h, s1])               7 -> 14 -> 28
//   out     conv3x3(silu(GroupNorm(h)))                            the predicted noise
//
// A residual block injects the time into every resolution, as a per-channel shift:
//   h = conv1(silu(norm1(x))) + t_proj(silu(temb))[:, :, None, None]
//   out = skip(x) + conv2(silu(norm2(h)))       skip: 1x1 conv when channels change
// The attention block lets every position see every other one (single head, C channels):
//   q, k, v = qkv(norm(x)) as [B, C, N],  out = x + proj(v softmax(q^T k / sqrt(C))^T)
//
// Module names are the workload's, so state_dict keys match PyTorch's (down1.norm1.weight,
// attn.qkv.weight, ...); every layer has PyTorch's default initialisation. The default
// config is the workload's network (793,697 parameters); classes > 0 adds class_emb, an
// Embedding [classes + 1, t_dim] whose last row is the null class of classifier-free
// guidance (Ho & Salimans 2022): the network trained with labels dropped to the null class
// at random is both the conditional and the unconditional model.
//
// The blocks are UNetResBlock, UNetAttention, UNetDownsample and UNetUpsample. A forward
// pass costs about 277 MFLOP per 28x28 image, nearly all of it in the 3x3 convolutions.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "../nn/conv.hpp"
#include "../nn/functional/activation.hpp"
#include "../nn/functional/attention.hpp"
#include "../nn/functional/normalization.hpp"
#include "../nn/functional/pooling.hpp"
#include "../nn/layers.hpp"
#include "../nn/linear.hpp"
#include "../nn/positional.hpp"
#include "../ops/join_ops.hpp"

namespace latent::models {

struct UNetConfig {
  std::int64_t in_channels = 1;  // image channels (in and out)
  std::int64_t c1 = 32, c2 = 64;  // channels at full resolution, and at 1/2 and 1/4
  std::int64_t t_sin_dim = 32;    // size of the sinusoidal timestep embedding
  std::int64_t t_dim = 128;       // size of the time (and class) embedding
  std::int64_t groups = 8;        // GroupNorm groups
  std::int64_t classes = 0;       // > 0: class-conditional, labels 0..classes-1, null = classes
};

// GroupNorm, SiLU, conv3x3, + time shift, GroupNorm, SiLU, conv3x3; plus the input (through
// a 1x1 conv when the channel count changes).
template <class T>
class UNetResBlock : public nn::Module<T> {
 public:
  std::shared_ptr<nn::GroupNorm<T>> norm1, norm2;
  std::shared_ptr<nn::Conv2d<T>> conv1, conv2, skip;  // skip: null when c_in == c_out
  std::shared_ptr<nn::Linear<T>> t_proj;

  UNetResBlock(std::int64_t c_in, std::int64_t c_out, std::int64_t t_dim, std::int64_t groups, Generator& gen) {
    norm1 = this->register_module("norm1", std::make_shared<nn::GroupNorm<T>>(groups, c_in));
    conv1 = this->register_module("conv1", std::make_shared<nn::Conv2d<T>>(c_in, c_out, 3, gen, 1, 1));
    t_proj = this->register_module("t_proj", std::make_shared<nn::Linear<T>>(t_dim, c_out, gen));
    norm2 = this->register_module("norm2", std::make_shared<nn::GroupNorm<T>>(groups, c_out));
    conv2 = this->register_module("conv2", std::make_shared<nn::Conv2d<T>>(c_out, c_out, 3, gen, 1, 1));
    if (c_in != c_out) skip = this->register_module("skip", std::make_shared<nn::Conv2d<T>>(c_in, c_out, 1, gen));
  }
  std::string name() const override { return "UNetResBlock"; }

  // x [B, c_in, H, W] and temb [B, t_dim] -> [B, c_out, H, W].
  Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& temb) const {
    namespace F = nn::functional;
    Tensor<T> h = conv1->forward(F::silu(norm1->forward(x)));
    h = h + t_proj->forward(F::silu(temb)).unsqueeze(2).unsqueeze(3);
    h = conv2->forward(F::silu(norm2->forward(h)));
    return (skip ? skip->forward(x) : x) + h;
  }
  using nn::Module<T>::forward;
};

// Single-head self-attention over the H*W positions.
template <class T>
class UNetAttention : public nn::Module<T> {
 public:
  std::shared_ptr<nn::GroupNorm<T>> norm;
  std::shared_ptr<nn::Conv2d<T>> qkv, proj;

  UNetAttention(std::int64_t channels, std::int64_t groups, Generator& gen) {
    norm = this->register_module("norm", std::make_shared<nn::GroupNorm<T>>(groups, channels));
    qkv = this->register_module("qkv", std::make_shared<nn::Conv2d<T>>(channels, 3 * channels, 1, gen));
    proj = this->register_module("proj", std::make_shared<nn::Conv2d<T>>(channels, channels, 1, gen));
  }
  std::string name() const override { return "UNetAttention"; }

  Tensor<T> forward(const Tensor<T>& x) override {
    const std::int64_t b = x.size(0), c = x.size(1), n = x.size(2) * x.size(3);
    // q, k, v as [B, N, C] (positions as rows), so that attention is sdpa's softmax(q k^T) v.
    const Tensor<T> qkv_rows = qkv->forward(norm->forward(x)).reshape({b, 3, c, n}).transpose(2, 3);
    const Tensor<T> h = nn::functional::scaled_dot_product_attention(qkv_rows.select(1, 0), qkv_rows.select(1, 1),
                                                                     qkv_rows.select(1, 2));
    return x + proj->forward(h.transpose(1, 2).reshape(x.shape()));
  }
};

// conv3x3 with stride 2: H x W -> ceil(H/2) x ceil(W/2).
template <class T>
class UNetDownsample : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Conv2d<T>> conv;
  UNetDownsample(std::int64_t channels, Generator& gen) {
    conv = this->register_module("conv", std::make_shared<nn::Conv2d<T>>(channels, channels, 3, gen, 2, 1));
  }
  std::string name() const override { return "UNetDownsample"; }
  Tensor<T> forward(const Tensor<T>& x) override { return conv->forward(x); }
};

// Nearest-neighbour x2, then conv3x3.
template <class T>
class UNetUpsample : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Conv2d<T>> conv;
  UNetUpsample(std::int64_t channels, Generator& gen) {
    conv = this->register_module("conv", std::make_shared<nn::Conv2d<T>>(channels, channels, 3, gen, 1, 1));
  }
  std::string name() const override { return "UNetUpsample"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    return conv->forward(nn::functional::upsample_nearest2d(x, 2));
  }
};

template <class T>
class UNet : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Linear<T>> time_fc1, time_fc2;
  std::shared_ptr<nn::Embedding<T>> class_emb;  // null unless config.classes > 0
  std::shared_ptr<nn::Conv2d<T>> stem, out_conv;
  std::shared_ptr<UNetResBlock<T>> down1, down2, down3, mid1, mid2, up3, up2, up1;
  std::shared_ptr<UNetDownsample<T>> pool1, pool2;
  std::shared_ptr<UNetAttention<T>> attn;
  std::shared_ptr<UNetUpsample<T>> unpool2, unpool1;
  std::shared_ptr<nn::GroupNorm<T>> out_norm;

  // The workload's network.
  explicit UNet(Generator& gen) : UNet(UNetConfig{}, gen) {}
  // Layers are made (and initialised from gen) in the workload's order.
  UNet(const UNetConfig& config, Generator& gen) : config_(config) {
    const UNetConfig& k = config;
    LATENT_CHECK(k.in_channels > 0 && k.c1 > 0 && k.c2 > 0 && k.t_dim > 0 && k.classes >= 0,
                 "UNet: sizes must be positive, got in_channels=", k.in_channels, " c1=", k.c1, " c2=", k.c2,
                 " t_dim=", k.t_dim, " classes=", k.classes);
    LATENT_CHECK(k.groups > 0 && k.c1 % k.groups == 0 && k.c2 % k.groups == 0, "UNet: channels c1=", k.c1,
                 " and c2=", k.c2, " must be divisible by groups=", k.groups);
    LATENT_CHECK(k.t_sin_dim >= 4 && k.t_sin_dim % 2 == 0, "UNet: t_sin_dim must be even and at least 4, got ",
                 k.t_sin_dim);
    auto block = [&](const char* name, std::int64_t c_in, std::int64_t c_out) {
      return this->register_module(name, std::make_shared<UNetResBlock<T>>(c_in, c_out, k.t_dim, k.groups, gen));
    };
    time_fc1 = this->register_module("time_fc1", std::make_shared<nn::Linear<T>>(k.t_sin_dim, k.t_dim, gen));
    time_fc2 = this->register_module("time_fc2", std::make_shared<nn::Linear<T>>(k.t_dim, k.t_dim, gen));
    stem = this->register_module("stem", std::make_shared<nn::Conv2d<T>>(k.in_channels, k.c1, 3, gen, 1, 1));
    down1 = block("down1", k.c1, k.c1);
    pool1 = this->register_module("pool1", std::make_shared<UNetDownsample<T>>(k.c1, gen));
    down2 = block("down2", k.c1, k.c2);
    pool2 = this->register_module("pool2", std::make_shared<UNetDownsample<T>>(k.c2, gen));
    down3 = block("down3", k.c2, k.c2);
    mid1 = block("mid1", k.c2, k.c2);
    attn = this->register_module("attn", std::make_shared<UNetAttention<T>>(k.c2, k.groups, gen));
    mid2 = block("mid2", k.c2, k.c2);
    up3 = block("up3", 2 * k.c2, k.c2);
    unpool2 = this->register_module("unpool2", std::make_shared<UNetUpsample<T>>(k.c2, gen));
    up2 = block("up2", 2 * k.c2, k.c2);
    unpool1 = this->register_module("unpool1", std::make_shared<UNetUpsample<T>>(k.c2, gen));
    up1 = block("up1", k.c2 + k.c1, k.c1);
    out_norm = this->register_module("out_norm", std::make_shared<nn::GroupNorm<T>>(k.groups, k.c1));
    out_conv = this->register_module("out_conv", std::make_shared<nn::Conv2d<T>>(k.c1, k.in_channels, 3, gen, 1, 1));
    // Made last, so that the unconditional layers draw the same initial values either way.
    if (k.classes > 0)
      class_emb = this->register_module("class_emb", std::make_shared<nn::Embedding<T>>(k.classes + 1, k.t_dim, gen));
  }
  std::string name() const override { return "UNet"; }
  const UNetConfig& config() const { return config_; }
  // The label that means "no class" (classifier-free guidance's unconditional model).
  std::int64_t null_class() const { return config_.classes; }

  // The time (and class) embedding [B, t_dim] of timesteps t [B] and labels y [B].
  Tensor<T> embed(const Tensor<std::int64_t>& t, const Tensor<std::int64_t>& labels = {}) const {
    Tensor<T> temb = time_fc2->forward(nn::functional::silu(time_fc1->forward(nn::timestep_embedding<T>(t, config_.t_sin_dim))));
    if (class_emb) {
      LATENT_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == t.size(0),
                   "UNet: a class-conditional UNet needs labels [", t.size(0), "] (", null_class(),
                   " for none), got ", labels.defined() ? labels.shape() : Shape{});
      temb = temb + class_emb->forward(labels);
    } else {
      LATENT_CHECK(!labels.defined(), "UNet: labels given to an unconditional UNet (config.classes = 0)");
    }
    return temb;
  }

  // eps_theta(x_t, t, y): x [B, in_channels, H, W] (H and W multiples of 4), timesteps t [B],
  // labels y [B] (conditional networks only) -> the predicted noise, x's shape.
  Tensor<T> forward(const Tensor<T>& x, const Tensor<std::int64_t>& t, const Tensor<std::int64_t>& labels = {}) const {
    check_input(x, t);
    const Tensor<T> temb = embed(t, labels);
    Tensor<T> h = stem->forward(x);
    const Tensor<T> s1 = h = down1->forward(h, temb);
    const Tensor<T> s2 = h = down2->forward(pool1->forward(h), temb);
    const Tensor<T> s3 = h = down3->forward(pool2->forward(h), temb);
    h = mid2->forward(attn->forward(mid1->forward(h, temb)), temb);
    h = up3->forward(cat<T>({h, s3}, 1), temb);
    h = unpool2->forward(h);  // (made before the list: see DCGANGenerator::forward)
    h = up2->forward(cat<T>({h, s2}, 1), temb);
    h = unpool1->forward(h);
    h = up1->forward(cat<T>({h, s1}, 1), temb);
    return out_conv->forward(nn::functional::silu(out_norm->forward(h)));
  }
  using nn::Module<T>::forward;

 private:
  void check_input(const Tensor<T>& x, const Tensor<std::int64_t>& t) const {
    LATENT_CHECK(x.dim() == 4 && x.size(1) == config_.in_channels, "UNet: expects images [B, ",
                 config_.in_channels, ", H, W], got shape ", x.shape());
    LATENT_CHECK(x.size(0) > 0 && x.size(2) > 0 && x.size(3) > 0 && x.size(2) % 4 == 0 && x.size(3) % 4 == 0,
                 "UNet: image height and width must be positive multiples of 4 (two halvings), got shape ",
                 x.shape());
    LATENT_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "UNet: expects one timestep per image, got timesteps ",
                 t.shape(), " for images ", x.shape());
  }
  UNetConfig config_;
};

}  // namespace latent::models
