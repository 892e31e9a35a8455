// gpt_text: a GPT language model trained on the fortunes corpus (Debian's `fortunes`),
// character by character by default (byte-level BPE with --bpe N). The default model is
// the gpt_step workload (4 layers, 4 heads, 128 wide, block 64; batch 12; AdamW lr 1e-3,
// weight decay 0.1 on matrices and embeddings), with a 100-step warm-up and a cosine decay
// to lr/10. Every few hundred steps it prints the training and validation loss; at the end
// the validation loss over the whole validation text, the loss curves (SVG), samples at
// several temperatures and with top-k / top-p, and the speed of training and generation.
// The model goes to <out>/model.safetensors (for gpt_generate); --save writes a checkpoint.
//
//   ./gpt_text                          # 2000 steps of the gpt_step model
//   ./gpt_text --quick                  # 200 steps, for the demo
//   ./gpt_text --size small --steps 5000
//   ./gpt_text --size tiny --out out/gpt_draft    # a draft model for speculative decoding
//   ./gpt_text --bpe 512                # byte-level BPE with 512 tokens
//
// The PyTorch twin (examples/pytorch/gpt_text.py) uses the same split, vocabulary, model,
// optimiser, schedule and evaluation windows.
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace latent;
using T = float;
using Tokens = std::vector<std::int64_t>;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
// Processor time of the whole process (all threads): on a shared machine a steadier
// measure of the work than the wall clock.
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

// The model sizes on offer; "default" is the gpt_step workload.
models::GPTConfig config_for(const std::string& size, std::int64_t vocab) {
  models::GPTConfig c;
  c.vocab_size = vocab;
  struct Size {
    const char* name;
    std::int64_t layers, heads, width, block;
  };
  const Size sizes[] = {{"tiny", 2, 2, 64, 64},       {"default", 4, 4, 128, 64}, {"small", 6, 6, 192, 128},
                        {"medium", 8, 8, 256, 128},   {"large", 12, 12, 384, 256}};
  for (const Size& s : sizes)
    if (size == s.name) {
      c.n_layer = s.layers, c.n_head = s.heads, c.n_embd = s.width, c.block_size = s.block;
      return c;
    }
  latent::fail("gpt_text: --size must be tiny, default, small, medium or large, got '", size, "'");
}

// Characters (every byte of the corpus, in byte order) or byte-level BPE.
struct Tokenizer {
  data::CharTokenizer chars;
  std::unique_ptr<data::BpeTokenizer> bpe;

  std::int64_t vocab_size() const { return bpe ? bpe->vocab_size() : chars.vocab_size(); }
  Tokens encode(const std::string& s) const { return bpe ? bpe->encode(s) : chars.encode(s); }
  std::string decode(const Tokens& t) const { return bpe ? bpe->decode(t) : chars.decode(t); }
  // What gpt_generate needs to rebuild it, as metadata (the alphabet in hex: any bytes).
  std::map<std::string, std::string> metadata() const {
    if (bpe) return {{"tokenizer", "bpe"}, {"tokenizer.bpe", bpe->to_string()}};
    std::string hex;
    const char* digits = "0123456789abcdef";
    for (unsigned char c : chars.alphabet()) hex += {digits[c >> 4], digits[c & 15]};
    return {{"tokenizer", "char"}, {"tokenizer.alphabet_hex", hex}};
  }
};

// A batch of windows of the token stream: inputs x and targets y = x shifted by one.
struct Windows {
  Tensor<std::int64_t> x, y;
};
Windows windows_at(const Tokens& stream, const std::vector<std::int64_t>& starts, std::int64_t block) {
  const auto n = static_cast<std::int64_t>(starts.size());
  Windows w{Tensor<std::int64_t>(Shape{n, block}), Tensor<std::int64_t>(Shape{n, block})};
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < block; ++t) {
      const auto at = static_cast<std::size_t>(starts[static_cast<std::size_t>(i)] + t);
      w.x.data()[i * block + t] = stream[at];
      w.y.data()[i * block + t] = stream[at + 1];
    }
  return w;
}

// The mean loss over the validation text cut into consecutive windows of `block` tokens
// (every `stride`-th of them), in batches.
double validation_loss(models::GPT<T>& model, const Tokens& val, std::int64_t block, std::int64_t batch,
                       std::int64_t stride) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + block + 1 <= static_cast<std::int64_t>(val.size()); s += block * stride)
    starts.push_back(s);
  double total = 0;
  for (std::size_t i = 0; i < starts.size(); i += static_cast<std::size_t>(batch)) {
    const std::vector<std::int64_t> part(starts.begin() + static_cast<std::ptrdiff_t>(i),
                                         starts.begin() + static_cast<std::ptrdiff_t>(std::min(starts.size(), i + std::size_t(batch))));
    const Windows w = windows_at(val, part, block);
    total += double(model.loss(w.x, w.y).item()) * double(part.size());
  }
  model.train();
  return total / double(starts.size());
}

}  // namespace

int main(int argc, char** argv) {
  train::Args args("gpt_text", "A GPT on the fortunes corpus (the PyTorch twin: examples/pytorch/gpt_text.py).");
  args.add("size", "default", "model size: tiny, default (the gpt_step workload), small, medium, large");
  args.add("bpe", "0", "byte-level BPE with this many tokens (0: characters)");
  args.add("weight-decay", "0.1", "AdamW weight decay on matrices and embeddings");
  args.add("eval-every", "", "steps between validation losses (default 250; 50 with --quick)");
  args.add("sample-chars", "", "characters per sample (default 300; 150 with --quick)");
  args.parse(argc, argv);
  const bool quick = args.quick();
  const std::int64_t steps = args.get_int("steps", quick ? 200 : 2000);
  const std::int64_t batch = args.get_int("batch-size", 12);
  const double lr = args.get_double("lr", 1e-3), weight_decay = args.get_double("weight-decay", 0.1);
  const std::int64_t eval_every = args.get_int("eval-every", quick ? 50 : 250);
  const std::int64_t sample_chars = args.get_int("sample-chars", quick ? 150 : 300);
  const std::string out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));

  // Data: every tenth fortune is for validation; the vocabulary is every byte of the corpus.
  const data::TextSplit text = data::split_fortunes(data::load_fortunes());
  Tokenizer tok;
  if (args.get_int("bpe", 0) > 0) {
    std::cout << "training a byte-level BPE of " << args.get_int("bpe", 0) << " tokens..." << std::endl;
    tok.bpe = std::make_unique<data::BpeTokenizer>(data::BpeTokenizer::train(text.train, args.get_int("bpe", 0)));
  } else {
    tok.chars = data::CharTokenizer(text.train + text.validation);
  }
  const Tokens train_tokens = tok.encode(text.train), val_tokens = tok.encode(text.validation);

  const models::GPTConfig config = config_for(args.get("size", "default"), tok.vocab_size());
  const std::int64_t block = config.block_size;
  models::GPT<T> model(config, gen);
  optim::AdamW<T> opt(models::gpt_param_groups(model, optim::AdamOptions().lr(lr).weight_decay(weight_decay)));
  const std::int64_t warmup = std::min<std::int64_t>(100, steps / 10);
  optim::WarmupCosineLR<T> schedule(opt, warmup, steps, lr / 10);
  std::cout << "gpt_text: " << model.num_parameters() << " parameters (" << config.n_layer << " layers, "
            << config.n_head << " heads, " << config.n_embd << " wide, block " << block << "), vocabulary "
            << tok.vocab_size() << ", " << train_tokens.size() << " training and " << val_tokens.size()
            << " validation tokens; " << steps << " steps of " << batch << " x " << block << std::endl;

  std::map<std::string, std::string> metadata = tok.metadata();
  for (const auto& kv : models::gpt_metadata(config)) metadata[kv.first] = kv.second;

  std::int64_t first_step = 0;
  if (args.has("resume")) {
    const auto ck = train::Checkpoint<T>::load(args.get("resume"));
    ck.restore_model("model", model);
    ck.restore_optimizer("optimizer", opt);
    ck.restore_scheduler("schedule", schedule);
    ck.restore_generator("generator", gen);
    first_step = ck.step;
    std::cout << "resumed from " << args.get("resume") << " after step " << first_step << "\n";
  }

  // Training: random windows of the training stream; a validation loss (on every 16th
  // window of the validation text) every eval_every steps.
  std::vector<double> curve_steps, train_curve, val_curve;
  double train_seconds = 0, train_cpu = 0, running = 0;
  std::int64_t running_n = 0;
  io::ProgressBar bar(static_cast<std::size_t>(steps - first_step), "train");
  const auto max_start = static_cast<std::int64_t>(train_tokens.size()) - block - 1;
  for (std::int64_t step = first_step + 1; step <= steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    std::vector<std::int64_t> starts(static_cast<std::size_t>(batch));
    for (std::int64_t& s : starts) s = gen.randint(0, max_start + 1);
    const Windows w = windows_at(train_tokens, starts, block);
    opt.zero_grad();
    Tensor<T> loss = model.loss(w.x, w.y);
    loss.backward();
    opt.step();
    schedule.step();
    train_seconds += seconds_since(start);
    train_cpu += cpu_seconds() - cpu_start;
    running += double(loss.item());
    ++running_n;
    bar.set("loss", double(loss.item()));
    bar.update();
    if (step % eval_every == 0 || step == steps) {
      const double val = validation_loss(model, val_tokens, block, batch, 16);
      curve_steps.push_back(double(step));
      train_curve.push_back(running / double(running_n));
      val_curve.push_back(val);
      bar.set("val", val);
      std::printf("\nstep %lld: train loss %.4f, validation loss %.4f\n", static_cast<long long>(step),
                  train_curve.back(), val);
      std::fflush(stdout);
      running = 0, running_n = 0;
    }
  }
  bar.finish();
  const double trained_tokens = double((steps - first_step) * batch * block);
  const double train_tokens_per_s = trained_tokens / std::max(train_seconds, 1e-9);

  const auto eval_start = std::chrono::steady_clock::now();
  // The final validation loss: over the whole validation text (every 4th window with --quick).
  const double val_loss = validation_loss(model, val_tokens, block, batch, quick ? 4 : 1);
  std::cout << "validation loss over the " << (quick ? "validation text (every 4th window)" : "whole validation text")
            << ": " << val_loss << " ("
            << val_loss / std::log(2.0) << " bits per token), " << seconds_since(eval_start) << " s" << std::endl;

  if (!curve_steps.empty()) {
    io::LinePlot plot("gpt_text: loss");
    plot.x_label("step").y_label("cross-entropy (nats per token)");
    plot.add("train", curve_steps, train_curve).add("validation", curve_steps, val_curve);
    plot.save(out + "/loss.svg");
  }
  models::save_gpt(out + "/model.safetensors", model, metadata);
  if (args.has("save")) {
    train::Checkpoint<T> ck;
    ck.add_model("model", model).add_optimizer("optimizer", opt).add_scheduler("schedule", schedule);
    ck.add_generator("generator", gen);
    ck.step = steps;
    ck.metadata = metadata;
    ck.save(args.get("save"));
  }

  // Samples, each after a blank line (where fortunes begin).
  model.eval();
  const Tokens prompt = tok.encode("\n");
  auto show = [&](const std::string& title, const sample::SamplerChain& chain, std::int64_t n) {
    const Tokens t = model.generate(prompt, n, chain, gen);
    std::cout << "---- " << title << " ----\n" << tok.decode(t) << "\n";
  };
  const std::int64_t n = tok.bpe ? sample_chars / 3 : sample_chars;  // BPE tokens hold ~3 characters
  for (double temperature : {0.5, 0.8, 1.0}) show("temperature " + std::to_string(temperature).substr(0, 3),
                                                  sample::SamplerChain().temperature(temperature), n);
  show("top-k 10", sample::SamplerChain().top_k(10), n);
  show("top-p 0.9", sample::SamplerChain().top_p(0.9), n);

  // Generation speed: the gpt_generate workload's sampler (temperature 0.8, top-k 40), one
  // sequence, cached.
  const std::int64_t gen_tokens = quick ? 200 : 500;
  const auto gen_start = std::chrono::steady_clock::now();
  const double gen_cpu_start = cpu_seconds();
  const Tokens timed = model.generate(prompt, gen_tokens, sample::SamplerChain().temperature(0.8).top_k(40), gen);
  const double gen_tokens_per_s = double(timed.size()) / seconds_since(gen_start);
  const double gen_tokens_per_cpu_s = double(timed.size()) / std::max(cpu_seconds() - gen_cpu_start, 1e-9);
  std::printf("training: %.0f tokens/s (%.0f per processor second); generation: %.0f tokens/s (%.0f per processor "
              "second)\n", train_tokens_per_s, trained_tokens / std::max(train_cpu, 1e-9), gen_tokens_per_s,
              gen_tokens_per_cpu_s);
  std::cout << "files: " << out << "/loss.svg, " << out << "/model.safetensors" << std::endl;
  train::print_result({{"val_loss", val_loss},
                       {"train_loss", train_curve.empty() ? 0.0 : train_curve.back()},
                       {"train_tokens_per_s", train_tokens_per_s},
                       {"gen_tokens_per_s", gen_tokens_per_s},
                       {"train_tokens_per_cpu_s", trained_tokens / std::max(train_cpu, 1e-9)},
                       {"gen_tokens_per_cpu_s", gen_tokens_per_cpu_s},
                       {"train_seconds", train_seconds}});
  return 0;
}
