// gpt_lora: LoRA fine-tuning of a saved GPT on one fortunes category.
//
// The model gpt_text saves (<out>/model.safetensors) is frozen; every Linear of every block (attn.qkv, attn.proj,
// mlp.fc, mlp.proj) gets a rank-r adapter beside it, y = x W^T + b + (alpha / r) x A^T B^T
// (nn/lora.hpp), and only the adapters train, with AdamW, on the category's fortunes. The
// split is gpt_text's (every tenth fortune of the whole corpus is validation), restricted
// to the category, so the validation fortunes are ones the base model never trained on.
// Afterwards the adapters are merged into the weights (W <- W + (alpha / r) B A) and the
// merged model is evaluated again, in float and quantised to int8 (nn/quantize.hpp).
// Prints the category's validation loss before and after and the share of trainable
// parameters; writes the loss curves (SVG) and, with --save, the merged model.
//
//   ./gpt_text                # the base model, written to out/gpt_text/model.safetensors
//   ./gpt_lora                # fine-tune it on startrek
//   ./gpt_lora --category zippy --rank 4 --steps 600
//   ./gpt_lora --quick      # a minute; trains a small base model first if none is saved
#include <latent/latent.hpp>
#include <latent/models/gpt.hpp>
#include <latent/nn/lora.hpp>
#include <latent/nn/quantize.hpp>
#include <latent/train/cli.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace latent;
using T = float;

namespace {

// Text <-> token ids: characters or byte-level BPE, rebuilt from the metadata gpt_text
// saves with the model ("tokenizer": "char" with "tokenizer.alphabet_hex", the alphabet's
// bytes in hex, or "bpe" with "tokenizer.bpe", the merges).
struct Tokenizer {
  data::CharTokenizer chars;
  std::shared_ptr<data::BpeTokenizer> bpe;

  std::vector<std::int64_t> encode(const std::string& text) const { return bpe ? bpe->encode(text) : chars.encode(text); }
  std::string decode(const std::vector<std::int64_t>& ids) const { return bpe ? bpe->decode(ids) : chars.decode(ids); }
  std::int64_t vocab_size() const { return bpe ? bpe->vocab_size() : chars.vocab_size(); }
  std::map<std::string, std::string> metadata() const {
    if (bpe) return {{"tokenizer", "bpe"}, {"tokenizer.bpe", bpe->to_string()}};
    std::string hex;
    const char* digits = "0123456789abcdef";
    for (unsigned char c : chars.alphabet()) hex += {digits[c >> 4], digits[c & 15]};
    return {{"tokenizer", "char"}, {"tokenizer.alphabet_hex", hex}};
  }
};

Tokenizer tokenizer_from_metadata(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto get = [&](const std::string& key) -> const std::string& {
    const auto it = meta.find(key);
    LATENT_CHECK(it != meta.end(), "gpt_lora: ", path, " has no '", key, "' in its metadata (was it saved by gpt_text?)");
    return it->second;
  };
  Tokenizer tok;
  const std::string& kind = get("tokenizer");
  if (kind == "bpe") {
    tok.bpe = std::make_shared<data::BpeTokenizer>(data::BpeTokenizer::parse(get("tokenizer.bpe")));
    return tok;
  }
  LATENT_CHECK(kind == "char", "gpt_lora: ", path, ": unknown tokenizer '", kind, "'");
  const std::string& hex = get("tokenizer.alphabet_hex");
  auto digit = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    LATENT_CHECK(c >= 'a' && c <= 'f', "gpt_lora: ", path, ": tokenizer.alphabet_hex is not lowercase hex");
    return c - 'a' + 10;
  };
  LATENT_CHECK(hex.size() % 2 == 0, "gpt_lora: ", path, ": tokenizer.alphabet_hex has an odd length");
  std::string alphabet;
  for (std::size_t i = 0; i < hex.size(); i += 2) alphabet += static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1]));
  tok.chars = data::CharTokenizer::from_alphabet(alphabet);
  return tok;
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// The next-token loss over `tokens` in consecutive windows of `block` (+1 for the targets),
// batches of 16 windows, eval mode, no graph. The mean over every predicted token.
double evaluate(models::GPT<T>& model, const std::vector<std::int64_t>& tokens, std::int64_t block) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto n = static_cast<std::int64_t>(tokens.size());
  const std::int64_t len = std::min(block, n - 1), windows = (n - 1) / len;
  double total = 0;
  for (std::int64_t first = 0; first < windows; first += 16) {
    const std::int64_t count = std::min<std::int64_t>(16, windows - first);
    std::vector<std::int64_t> x, y;
    for (std::int64_t w = first; w < first + count; ++w) {
      x.insert(x.end(), tokens.begin() + w * len, tokens.begin() + w * len + len);
      y.insert(y.end(), tokens.begin() + w * len + 1, tokens.begin() + w * len + len + 1);
    }
    const Tensor<T> loss = model.loss(tensor<std::int64_t>(x, Shape{count, len}), tensor<std::int64_t>(y, Shape{count, len}));
    total += double(loss.item()) * double(count);
  }
  model.train(was_training);
  return total / double(windows);
}

// A batch of random windows [batch, block] and their next tokens.
std::pair<Tensor<std::int64_t>, Tensor<std::int64_t>> random_batch(const std::vector<std::int64_t>& tokens,
                                                                   std::int64_t batch, std::int64_t block,
                                                                   Generator& gen) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  const std::vector<std::int64_t> starts = randint<std::int64_t>(0, n - block, {batch}, gen).to_vector();
  std::vector<std::int64_t> x, y;
  for (std::int64_t s : starts) {
    x.insert(x.end(), tokens.begin() + s, tokens.begin() + s + block);
    y.insert(y.end(), tokens.begin() + s + 1, tokens.begin() + s + block + 1);
  }
  return {tensor<std::int64_t>(x, Shape{batch, block}), tensor<std::int64_t>(y, Shape{batch, block})};
}

// No saved model and --quick: a small GPT trained briefly on the whole corpus.
std::unique_ptr<models::GPT<T>> train_small_base(const std::string& corpus, const Tokenizer& tok,
                                                 std::int64_t steps, Generator& gen) {
  models::GPTConfig c;
  c.vocab_size = tok.vocab_size();
  c.block_size = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 96;
  auto model = std::make_unique<models::GPT<T>>(c, gen);
  auto opt = models::gpt_optimizer(*model, 2e-3, 0.1);
  const std::vector<std::int64_t> tokens = tok.encode(corpus);
  io::ProgressBar bar(static_cast<std::size_t>(steps), "base model");
  for (std::int64_t step = 0; step < steps; ++step) {
    const auto [x, y] = random_batch(tokens, 12, c.block_size, gen);
    opt.zero_grad();
    Tensor<T> loss = model->loss(x, y);
    loss.backward();
    opt.step();
    bar.set("loss", double(loss.item()));
    bar.update();
  }
  bar.finish();
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  train::Args args("gpt_lora", "LoRA fine-tuning of a GPT saved by gpt_text on one fortunes category.");
  args.add("model", "out/gpt_text/model.safetensors", "the base model, as gpt_text writes it");
  args.add("category", "startrek", "the fortunes category to fine-tune on (/usr/share/games/fortunes)");
  args.add("rank", "8", "LoRA rank r");
  args.add("alpha", "16", "LoRA alpha (the update is scaled by alpha / r)");
  args.add("eval-every", "", "steps between validation losses");
  args.parse(argc, argv);
  const bool quick = args.quick();
  const std::int64_t steps = args.get_int("steps", quick ? 80 : 400);
  const std::int64_t batch_size = args.get_int("batch-size", 12);
  const double lr = args.get_double("lr", 2e-3);
  const std::int64_t rank = args.get_int("rank", 8);
  const double alpha = args.get_double("alpha", 16);
  const std::int64_t eval_every = args.get_int("eval-every", quick ? 20 : 50);
  const std::string category = args.get("category"), model_path = args.get("model"), out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));
  LATENT_CHECK(steps > 0 && batch_size > 0 && eval_every > 0, "gpt_lora: --steps, --batch-size and --eval-every "
               "must be positive");

  // gpt_text's split of the whole corpus, then the category's part of each side.
  const std::vector<data::Fortune> fortunes = data::load_fortunes();
  std::string train_text, val_text, all_train;
  for (std::size_t i = 0; i < fortunes.size(); ++i) {
    const bool validation = i % 10 == 9;
    if (!validation) all_train += fortunes[i].text + "\n";
    if (fortunes[i].category != category) continue;
    (validation ? val_text : train_text) += fortunes[i].text + "\n";
  }
  LATENT_CHECK(!train_text.empty() && val_text.size() > 2, "gpt_lora: no fortunes in category '", category,
               "' (see /usr/share/games/fortunes)");

  // The base model: the saved one, or (--quick only) a small one trained here.
  std::unique_ptr<models::GPT<T>> model;
  Tokenizer tok;
  std::map<std::string, std::string> saved_metadata;
  if (file_exists(model_path)) {
    const io::SafetensorsFile file = io::load_safetensors(model_path);
    saved_metadata = file.metadata;
    tok = tokenizer_from_metadata(file.metadata, model_path);
    model = models::load_gpt<T>(model_path, gen);
    std::cout << "gpt_lora: loaded " << model_path << " (" << model->num_parameters() << " parameters)\n";
  } else {
    LATENT_CHECK(quick, "gpt_lora: no model at ", model_path, "; train one first with ./gpt_text (it writes "
                 "out/gpt_text/model.safetensors), or pass --model PATH, or run gpt_lora --quick, which then trains "
                 "a small base model itself");
    std::cout << "gpt_lora: no model at " << model_path << ": training a small base model on the whole corpus\n";
    std::string corpus;
    for (const auto& f : fortunes) corpus += f.text + "\n";
    tok.chars = data::CharTokenizer(corpus);
    model = train_small_base(all_train, tok, 300, gen);
    saved_metadata = tok.metadata();
  }
  const std::int64_t block = std::min<std::int64_t>(64, model->config().block_size);
  const std::vector<std::int64_t> train_tokens = tok.encode(train_text), val_tokens = tok.encode(val_text);
  LATENT_CHECK(static_cast<std::int64_t>(train_tokens.size()) > block + 1, "gpt_lora: category '", category,
               "' is too short to train on");
  std::cout << "category " << category << ": " << train_tokens.size() << " training and " << val_tokens.size()
            << " validation tokens\n";

  // Freeze the model; an adapter beside every Linear of every block computes its forward.
  model->requires_grad_(false);
  std::vector<std::shared_ptr<nn::Linear<T>>> adapted;
  std::vector<std::shared_ptr<nn::LoRALinear<T>>> adapters;
  std::vector<Tensor<T>> trainable;
  for (std::size_t l = 0; l < static_cast<std::size_t>(model->config().n_layer); ++l) {
    nn::TransformerBlock<T>& b = model->block(l);
    for (const auto& linear : {b.attn->qkv, b.attn->proj, b.mlp->fc, b.mlp->proj}) {
      auto lora = std::make_shared<nn::LoRALinear<T>>(linear, rank, alpha, gen);
      linear->replacement = lora;
      adapted.push_back(linear);
      adapters.push_back(lora);
      for (const Tensor<T>& p : nn::lora_parameters(*lora)) trainable.push_back(p);
    }
  }
  std::int64_t adapter_count = 0;
  for (const Tensor<T>& p : trainable) adapter_count += p.numel();
  const std::int64_t total = model->num_parameters() + adapter_count;
  const double trainable_share = double(adapter_count) / double(total);
  std::cout << "LoRA rank " << rank << " on " << adapters.size() << " layers: " << adapter_count << " trainable of "
            << total << " parameters (" << 100 * trainable_share << "%)\n";

  const double val_before = evaluate(*model, val_tokens, block);
  std::cout << "validation loss on " << category << " before: " << val_before << "\n";

  optim::AdamW<T> opt(trainable, optim::AdamWOptions().lr(lr).weight_decay(0.0));
  std::vector<double> train_curve, val_curve{val_before}, val_steps{0};
  io::ProgressBar bar(static_cast<std::size_t>(steps), "LoRA " + category);
  const auto start = std::chrono::steady_clock::now();
  model->train();
  for (std::int64_t step = 1; step <= steps; ++step) {
    const auto [x, y] = random_batch(train_tokens, batch_size, block, gen);
    opt.zero_grad();
    Tensor<T> loss = model->loss(x, y);
    loss.backward();
    opt.step();
    train_curve.push_back(double(loss.item()));
    bar.set("loss", train_curve.back());
    if (step % eval_every == 0 || step == steps) {
      val_curve.push_back(evaluate(*model, val_tokens, block));
      val_steps.push_back(double(step));
      bar.set("val", val_curve.back());
    }
    bar.update();
  }
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double val_after = val_curve.back();
  std::cout << "validation loss on " << category << " after " << steps << " steps: " << val_after << " ("
            << seconds << " s)\n";

  // Merge: W <- W + (alpha / r) B A, and the Linears compute on their own again.
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    adapters[i]->merge();
    adapted[i]->replacement = nullptr;
  }
  const double val_merged = evaluate(*model, val_tokens, block);
  nn::quantize_int8(*model);
  const double val_int8 = evaluate(*model, val_tokens, block);
  nn::restore_float(*model);
  std::cout << "merged: " << val_merged << ", merged and quantised to int8: " << val_int8 << "\n";

  // A sample from the fine-tuned model.
  sample::SamplerChain chain;
  chain.temperature(0.8).top_k(40);
  const std::vector<std::int64_t> prompt = tok.encode(val_text.substr(0, 1));
  const std::vector<std::int64_t> sample = model->generate(prompt, quick ? 150 : 300, chain, gen);
  std::cout << "sample (temperature 0.8, top-k 40):\n" << tok.decode(prompt) << tok.decode(sample) << "\n";

  io::LinePlot curve("gpt_lora: LoRA on " + category);
  std::vector<double> steps_axis(train_curve.size());
  for (std::size_t i = 0; i < steps_axis.size(); ++i) steps_axis[i] = double(i + 1);
  curve.x_label("step").y_label("loss (nats per token)");
  curve.add("train", steps_axis, train_curve).add("validation", val_steps, val_curve);
  curve.save(out + "/lora_loss.svg");
  if (args.has("save")) {
    std::map<std::string, std::string> meta = saved_metadata;
    meta["lora.category"] = category;
    models::save_gpt(args.get("save"), *model, meta);
    std::cout << "merged model: " << args.get("save") << "\n";
  }
  std::cout << "curves: " << out << "/lora_loss.svg\n";
  train::print_result({{"val_loss_before", val_before},
                       {"val_loss_after", val_after},
                       {"val_loss_merged", val_merged},
                       {"val_loss_int8", val_int8},
                       {"trainable_share", trainable_share},
                       {"seconds", seconds}});
  return 0;
}
