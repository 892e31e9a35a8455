// GPT: a decoder-only transformer language model (Radford et al., 2018, 2019), as the
// gpt_step workload of torch_workloads.py writes it.
//
//   x_0    = wte[idx_t] + wpe[t]                 token and position embeddings  [B, T, E]
//   x_l    = block_l(x_{l-1}),  l = 1..L         pre-LayerNorm blocks (nn/transformer.hpp)
//   logits = ln_f(x_L) W_head^T                  W_head = wte (tied) or a matrix of its own
//   loss   = mean_t -log softmax(logits_t)[idx_{t+1}]    next-token cross-entropy
//
// With rotary positions there is no wpe: each block turns its queries and keys by their
// positions instead. Names and initialisation are the workload's: wte.weight, wpe.weight,
// blocks.N.{ln1, attn.qkv, attn.proj, ln2, mlp.fc, mlp.proj}.*, ln_f.*, lm_head.weight;
// Linear weights and embeddings N(0, 0.02), biases 0, the two projections that end a
// residual branch N(0, 0.02 / sqrt(2 L)). Tied, lm_head.weight is wte.weight itself: it
// is counted and optimised once, yet the state dict holds both keys, as PyTorch's does.
//
// Generation. Each block keeps the keys and values of the positions it has seen
// (GPTCache: one nn::KVCache per block), so a new token costs a forward pass of length 1
// instead of one over the whole prefix, with the same logits. Past block_size tokens the
// model sees a window of the latest ones that hops forward half a block at a time
// (window_start), so one cache serves half a block of new tokens before it is rebuilt.
// GPTLogits turns a model into the "logits after these tokens" function that beam search
// and speculative decoding take (sample/beam.hpp, sample/speculative.hpp): it keeps the
// caches of recent calls and resumes from the one sharing the longest prefix with the new
// call, truncating it where the tokens differ (a rejected speculation, another beam).
// A cache may hold its keys and values as int8 with one scale per position (GPTCache::
// int8, nn::Int8KVCache): about a quarter of the memory, the logits a little perturbed;
// use_int8_kv_cache() makes the caches of generate(), GPTLogits, beam search and
// speculative decoding so.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../io/safetensors.hpp"
#include "../nn/containers.hpp"
#include "../nn/functional/cross_entropy.hpp"
#include "../nn/functional/dropout.hpp"
#include "../nn/functional/linear.hpp"
#include "../nn/init.hpp"
#include "../nn/layers.hpp"
#include "../nn/quantize.hpp"
#include "../nn/transformer.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/join_ops.hpp"
#include "../optim/adam.hpp"
#include "../sample/beam.hpp"
#include "../sample/speculative.hpp"
#include "../sample/token.hpp"
#include "../tensor/creation.hpp"

namespace latent::models {

struct GPTConfig {
  std::int64_t vocab_size = 96;
  std::int64_t block_size = 64;  // the longest sequence the model attends over
  std::int64_t n_layer = 4;
  std::int64_t n_head = 4;
  std::int64_t n_embd = 128;
  double dropout = 0.0;          // embeddings, attention weights, residual branches
  bool bias = true;              // in every Linear and LayerNorm
  bool tied_embeddings = true;   // lm_head.weight is wte.weight
  bool rotary = false;           // rotary positions instead of the learned wpe
};

// The first token of the window the model sees when a sequence holds `length` tokens:
// 0 while they fit in the block, then the least multiple of block/2 that leaves at most
// block_size tokens.
inline std::int64_t window_start(std::int64_t length, std::int64_t block_size) {
  if (length <= block_size) return 0;
  const std::int64_t hop = std::max<std::int64_t>(1, block_size / 2);
  return (length - block_size + hop - 1) / hop * hop;
}

// The keys and values of every block for the positions seen so far: in T (layers), or,
// with int8 set before the first forward, as int8 rows with one scale per position
// (int8_layers; see nn::Int8KVCache).
template <class T>
struct GPTCache {
  std::vector<nn::KVCache<T>> layers;
  std::vector<nn::Int8KVCache<T>> int8_layers;
  bool int8 = false;

  std::int64_t length() const {
    if (!layers.empty()) return layers.front().length();
    return int8_layers.empty() ? 0 : int8_layers.front().length();
  }
  // Forgets every position (the choice of int8 stays).
  void clear() {
    layers.clear();
    int8_layers.clear();
  }
  // Forgets the positions from n on. A float cache keeps a view, and the next append
  // copies it, so other copies of this cache are unaffected; an int8 one owns its rows.
  void truncate(std::int64_t n) {
    LATENT_CHECK(n >= 0 && n <= length(), "GPTCache::truncate: cannot keep ", n, " of ", length(), " positions");
    if (n == length()) return;
    if (n == 0) return clear();
    for (nn::KVCache<T>& c : layers) {
      c.k = c.k.narrow(2, 0, n);
      c.v = c.v.narrow(2, 0, n);
    }
    for (nn::Int8KVCache<T>& c : int8_layers) c.truncate(n);
  }
  // Bytes of the keys and values of the positions held (and, for int8, their scales).
  std::int64_t nbytes() const {
    std::int64_t n = 0;
    for (const nn::KVCache<T>& c : layers)
      n += (c.k.defined() ? c.k.numel() + c.v.numel() : 0) * static_cast<std::int64_t>(sizeof(T));
    for (const nn::Int8KVCache<T>& c : int8_layers) n += c.nbytes();
    return n;
  }
};

// The output projection: its own weight (a parameter), or the token embedding's (tied:
// registered as a buffer, so that parameters() lists it once, under wte).
template <class T>
class LMHead : public nn::Module<T> {
 public:
  Tensor<T> weight;  // [vocab, n_embd]
  LMHead(std::int64_t n_embd, std::int64_t vocab, Generator& gen) {
    weight = empty<T>({vocab, n_embd});
    nn::init::normal_(weight, gen, 0.0, 0.02);
    weight = this->register_parameter("weight", weight);
  }
  explicit LMHead(const Tensor<T>& tied) : tied_(true) { weight = this->register_buffer("weight", tied); }
  std::string name() const override { return "LMHead"; }
  bool tied() const { return tied_; }
  Tensor<T> forward(const Tensor<T>& x) override { return nn::functional::linear(x, weight); }

 private:
  bool tied_ = false;
};

template <class T>
class GPTLogits;

template <class T>
class GPT : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Embedding<T>> wte, wpe;  // wpe: null with rotary positions
  std::shared_ptr<nn::ModuleList<T>> blocks;
  std::shared_ptr<nn::LayerNorm<T>> ln_f;
  std::shared_ptr<LMHead<T>> lm_head;

  // Draws the initial weights from gen, and with dropout > 0 the masks too (gen must then
  // outlive the model).
  GPT(const GPTConfig& config, Generator& gen) : config_(config), gen_(&gen) {
    const GPTConfig& c = config;
    LATENT_CHECK(c.vocab_size > 0 && c.block_size > 0 && c.n_layer > 0 && c.n_head > 0 && c.n_embd > 0,
                 "GPT: vocab_size, block_size, n_layer, n_head and n_embd must be positive, got ", c.vocab_size, ", ",
                 c.block_size, ", ", c.n_layer, ", ", c.n_head, ", ", c.n_embd);
    LATENT_CHECK(c.n_embd % c.n_head == 0, "GPT: n_embd ", c.n_embd, " is not a multiple of n_head ", c.n_head);
    LATENT_CHECK(c.dropout >= 0 && c.dropout < 1, "GPT: dropout must be in [0, 1), got ", c.dropout);
    nn::TransformerBlockOptions o;
    o.dropout = c.dropout;
    o.bias = c.bias;
    o.rope = c.rotary;
    wte = this->register_module("wte", std::make_shared<nn::Embedding<T>>(c.vocab_size, c.n_embd, gen));
    nn::init::normal_(wte->weight, gen, 0.0, 0.02);
    if (!c.rotary) {
      wpe = this->register_module("wpe", std::make_shared<nn::Embedding<T>>(c.block_size, c.n_embd, gen));
      nn::init::normal_(wpe->weight, gen, 0.0, 0.02);
    }
    blocks = this->register_module("blocks", std::make_shared<nn::ModuleList<T>>());
    for (std::int64_t l = 0; l < c.n_layer; ++l) {
      block_list_.push_back(blocks->push_back(std::make_shared<nn::TransformerBlock<T>>(c.n_embd, c.n_head, gen, o)));
      block_list_.back()->gpt_init_(gen, c.n_layer);
    }
    ln_f = this->register_module("ln_f", std::make_shared<nn::LayerNorm<T>>(Shape{c.n_embd}, 1e-5, true, c.bias));
    lm_head = this->register_module("lm_head", c.tied_embeddings ? std::make_shared<LMHead<T>>(wte->weight)
                                                                 : std::make_shared<LMHead<T>>(c.n_embd, c.vocab_size, gen));
  }
  std::string name() const override { return "GPT"; }
  const GPTConfig& config() const { return config_; }
  nn::TransformerBlock<T>& block(std::size_t l) const { return *block_list_.at(l); }

  // idx [B, T] -> logits [B, T, vocab].
  Tensor<T> forward(const Tensor<std::int64_t>& idx) { return run(idx, nullptr); }
  // idx [B, T] continues the cache.length() positions in `cache`, which it extends.
  // An int8 cache (cache.int8) is for inference: run it under NoGradGuard.
  Tensor<T> forward(const Tensor<std::int64_t>& idx, GPTCache<T>& cache) { return run(idx, &cache); }

  // Whether the caches that make_cache() gives, and so those of generate(), GPTLogits,
  // beam_search() and speculative_generate(), keep keys and values as int8 (off by default).
  void use_int8_kv_cache(bool on = true) { int8_kv_cache_ = on; }
  bool int8_kv_cache() const { return int8_kv_cache_; }
  GPTCache<T> make_cache() const {
    GPTCache<T> cache;
    cache.int8 = int8_kv_cache_;
    return cache;
  }
  using nn::Module<T>::forward;

  // The mean next-token cross-entropy of targets [B, T] (usually idx shifted by one).
  Tensor<T> loss(const Tensor<std::int64_t>& idx, const Tensor<std::int64_t>& targets) {
    const Tensor<T> logits = forward(idx);
    LATENT_CHECK(targets.shape() == idx.shape(), "GPT::loss: targets ", targets.shape(), " must match idx ",
                 idx.shape());
    const std::int64_t n = idx.numel();
    return nn::functional::cross_entropy(logits.reshape(Shape{n, config_.vocab_size}), targets.reshape(Shape{n}));
  }

  // Samples up to max_new_tokens after the prompt through the sampler chain (its
  // history: the prompt and the tokens so far), one cached forward pass per token;
  // stops after a stop token, which is kept. Returns the new tokens. Runs in eval mode.
  std::vector<std::int64_t> generate(const std::vector<std::int64_t>& prompt, std::int64_t max_new_tokens,
                                     const sample::SamplerChain& sampler, Generator& gen,
                                     const std::vector<std::int64_t>& stop_tokens = {});

  // Loads a state dict; with tied embeddings lm_head.weight may be absent (safetensors'
  // save_model drops shared tensors): wte.weight serves for both.
  void load_state_dict(const nn::StateDict<T>& sd, bool strict = true) {
    if (!config_.tied_embeddings || sd.contains("lm_head.weight") || !sd.contains("wte.weight"))
      return nn::Module<T>::load_state_dict(sd, strict);
    nn::StateDict<T> with_head = sd;
    with_head.tensors["lm_head.weight"] = sd.at("wte.weight");
    nn::Module<T>::load_state_dict(with_head, strict);
  }

 private:
  Tensor<T> run(const Tensor<std::int64_t>& idx, GPTCache<T>* cache) {
    LATENT_CHECK(idx.dim() == 2 && idx.size(1) > 0, "GPT: expects token ids [batch, length], got shape ", idx.shape());
    const std::int64_t start = cache ? cache->length() : 0, length = idx.size(1);
    LATENT_CHECK(start + length <= config_.block_size, "GPT: a sequence of ", start + length,
                 " tokens exceeds the block size ", config_.block_size);
    Tensor<T> x = wte->forward(idx);
    if (wpe) x = x + wpe->forward(arange<std::int64_t>(start, start + length));
    if (this->is_training() && config_.dropout > 0) x = nn::functional::dropout(x, config_.dropout, true, *gen_);
    if (!cache) {
      for (const auto& block : block_list_) x = block->forward(x);
      return lm_head->forward(ln_f->forward(x));
    }
    LATENT_CHECK(cache->int8 ? cache->layers.empty() : cache->int8_layers.empty(), "GPT: the cache holds ",
                 cache->int8 ? "float" : "int8", " keys and values but int8 is ", cache->int8 ? "set" : "unset",
                 "; set it before the first forward, or clear() the cache");
    if (cache->length() == 0) {
      cache->layers.assign(cache->int8 ? 0 : block_list_.size(), nn::KVCache<T>());
      cache->int8_layers.assign(cache->int8 ? block_list_.size() : 0, nn::Int8KVCache<T>());
    }
    const std::size_t layers = cache->int8 ? cache->int8_layers.size() : cache->layers.size();
    LATENT_CHECK(layers == block_list_.size(), "GPT: a cache of ", layers, " layers for a model of ",
                 block_list_.size());
    for (std::size_t l = 0; l < block_list_.size(); ++l) {
      if (!cache->int8) {
        x = block_list_[l]->forward_step(x, cache->layers[l]);
        continue;
      }
      nn::Int8KVCache<T>& quantized = cache->int8_layers[l];
      nn::KVCache<T> step = quantized.dequantized(length);  // the earlier positions in float, room for these
      x = block_list_[l]->forward_step(x, step);
      quantized.append_from(step);
    }
    return lm_head->forward(ln_f->forward(x));
  }

  GPTConfig config_;
  Generator* gen_;
  std::vector<std::shared_ptr<nn::TransformerBlock<T>>> block_list_;
  bool int8_kv_cache_ = false;
};

namespace gpt_detail {
// Eval mode and no graph for the lifetime of the guard; the mode is restored after.
template <class T>
class InferenceGuard {
 public:
  explicit InferenceGuard(nn::Module<T>& m) : module_(m), was_training_(m.is_training()) { m.eval(); }
  ~InferenceGuard() { module_.train(was_training_); }
  InferenceGuard(const InferenceGuard&) = delete;
  InferenceGuard& operator=(const InferenceGuard&) = delete;

 private:
  nn::Module<T>& module_;
  bool was_training_;
  NoGradGuard no_grad_;
};
}  // namespace gpt_detail

// A GPT as the logits function of sample/beam.hpp and sample/speculative.hpp, served from
// key/value caches of recent calls (at most max_cached of them, the oldest dropped first).
// For beam search of width W, keep 2W: the beams of this step and of the one before.
template <class T>
class GPTLogits {
 public:
  explicit GPTLogits(GPT<T>& model, std::size_t max_cached = 4) : model_(model), max_cached_(max_cached) {
    LATENT_CHECK(max_cached >= 1, "GPTLogits: max_cached must be at least 1");
  }

  // The logits of the token after `tokens`.
  std::vector<double> operator()(const std::vector<std::int64_t>& tokens) { return rows(logits(tokens, 1)).front(); }
  // The logits after each of the last `count` prefixes of `tokens` (row i: after the
  // first tokens.size() - count + 1 + i tokens).
  std::vector<std::vector<double>> operator()(const std::vector<std::int64_t>& tokens, std::int64_t count) {
    return rows(logits(tokens, count));
  }

  // The same as a tensor [count, vocab].
  Tensor<T> logits(const std::vector<std::int64_t>& tokens, std::int64_t count) {
    const auto n = static_cast<std::int64_t>(tokens.size());
    LATENT_CHECK(count >= 1 && count <= n, "GPTLogits: asked for the logits of ", count, " prefixes of ", n, " tokens");
    gpt_detail::InferenceGuard<T> guard(model_);
    const std::int64_t block = model_.config().block_size;
    // Prefix lengths first..n, in runs that share a window.
    std::vector<Tensor<T>> parts;
    for (std::int64_t first = n - count + 1; first <= n;) {
      const std::int64_t start = window_start(first, block);
      std::int64_t last = first;
      while (last < n && window_start(last + 1, block) == start) ++last;
      parts.push_back(run_window(tokens, start, first, last));
      first = last + 1;
    }
    return parts.size() == 1 ? parts.front() : cat<T>(parts, 0);
  }

  std::int64_t tokens_run() const { return tokens_run_; }  // positions put through the model so far
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    std::int64_t start;                 // window start
    std::vector<std::int64_t> window;   // the tokens the cache holds, from `start`
    GPTCache<T> cache;
  };

  static std::vector<std::vector<double>> rows(const Tensor<T>& logits) {
    const Tensor<T> l = logits.contiguous();
    const std::int64_t count = l.size(0), vocab = l.size(1);
    std::vector<std::vector<double>> out(static_cast<std::size_t>(count));
    for (std::int64_t r = 0; r < count; ++r) out[static_cast<std::size_t>(r)].assign(l.data() + r * vocab, l.data() + (r + 1) * vocab);
    return out;
  }

  // Logits after prefixes of lengths first..last, all seen through the window from `start`.
  Tensor<T> run_window(const std::vector<std::int64_t>& tokens, std::int64_t start, std::int64_t first,
                       std::int64_t last) {
    const std::vector<std::int64_t> window(tokens.begin() + start, tokens.begin() + last);
    const std::size_t reusable = static_cast<std::size_t>(first - 1 - start);  // positions the cache may supply
    Entry* best = nullptr;
    std::size_t common_best = 0;
    for (Entry& e : entries_) {
      if (e.start != start || e.cache.int8 != model_.int8_kv_cache()) continue;
      std::size_t common = 0;
      const std::size_t limit = std::min({reusable, e.window.size(), window.size()});
      while (common < limit && e.window[common] == window[common]) ++common;
      if (!best || common > common_best) best = &e, common_best = common;
    }
    GPTCache<T> cache = model_.make_cache();
    if (best && entries_.size() >= max_cached_ && best == &entries_.front()) {
      // The oldest entry, which this call's would push out: its cache is taken, not
      // copied, so that the new positions are appended in place.
      cache = std::move(best->cache);
      entries_.erase(entries_.begin());
      cache.truncate(static_cast<std::int64_t>(common_best));
    } else if (best) {
      cache = best->cache;
      cache.truncate(static_cast<std::int64_t>(common_best));
    }
    const std::vector<std::int64_t> fresh(window.begin() + static_cast<std::ptrdiff_t>(common_best), window.end());
    const auto f = static_cast<std::int64_t>(fresh.size());
    const Tensor<T> out = model_.forward(tensor<std::int64_t>(fresh, Shape{1, f}), cache).select(0, 0);
    tokens_run_ += f;
    remember(Entry{start, window, std::move(cache)});
    return out.narrow(0, f - (last - first + 1), last - first + 1);
  }

  void remember(Entry e) {  // entries are kept oldest first
    entries_.push_back(std::move(e));
    if (entries_.size() > max_cached_) entries_.erase(entries_.begin());
  }

  GPT<T>& model_;
  std::size_t max_cached_;
  std::vector<Entry> entries_;
  std::int64_t tokens_run_ = 0;
};

template <class T>
std::vector<std::int64_t> GPT<T>::generate(const std::vector<std::int64_t>& prompt, std::int64_t max_new_tokens,
                                           const sample::SamplerChain& sampler, Generator& gen,
                                           const std::vector<std::int64_t>& stop_tokens) {
  LATENT_CHECK(!prompt.empty(), "GPT::generate: the prompt must hold at least one token");
  LATENT_CHECK(max_new_tokens >= 0, "GPT::generate: max_new_tokens must be >= 0, got ", max_new_tokens);
  GPTLogits<T> next(*this, 1);
  std::vector<std::int64_t> tokens = prompt, out;
  while (static_cast<std::int64_t>(out.size()) < max_new_tokens) {
    const std::int64_t t = sampler.sample(next.logits(tokens, 1).select(0, 0), tokens, gen);
    tokens.push_back(t);
    out.push_back(t);
    if (std::find(stop_tokens.begin(), stop_tokens.end(), t) != stop_tokens.end()) break;
  }
  return out;
}

// Beam search over a GPT (sample::beam_search with a cache per beam).
template <class T>
std::vector<sample::BeamHypothesis> beam_search(GPT<T>& model, const std::vector<std::int64_t>& prompt,
                                                const sample::BeamSearchOptions& options = {}) {
  GPTLogits<T> next(model, static_cast<std::size_t>(2 * std::max<std::int64_t>(1, options.beam_width)));
  return sample::beam_search(next, prompt, options);
}

// Speculative decoding with a GPT target and a (smaller) GPT draft over one vocabulary.
template <class T>
sample::SpeculativeResult speculative_generate(GPT<T>& target, GPT<T>& draft, const std::vector<std::int64_t>& prompt,
                                               const sample::SamplerChain& sampler,
                                               const sample::SpeculativeOptions& options, Generator& gen) {
  LATENT_CHECK(target.config().vocab_size == draft.config().vocab_size, "speculative_generate: the target's vocabulary (",
               target.config().vocab_size, ") and the draft's (", draft.config().vocab_size, ") differ");
  GPTLogits<T> target_logits(target, 2), draft_logits(draft, static_cast<std::size_t>(options.draft_tokens + 1));
  return sample::speculative_decode(target_logits, draft_logits, prompt, sampler, options, gen);
}

// AdamW with the workload's groups (gpt_optimizer): weight decay on every parameter of two
// or more dimensions (the Linear weights and the embeddings), none on biases and
// LayerNorm weights.
template <class T>
std::vector<optim::ParamGroup<T, optim::AdamOptions>> gpt_param_groups(const nn::Module<T>& model,
                                                                        optim::AdamOptions options) {
  std::vector<Tensor<T>> decay, no_decay;
  for (const Tensor<T>& p : model.parameters())
    if (p.requires_grad()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  optim::AdamOptions without_decay = options;
  without_decay.weight_decay(0.0);
  return {{decay, options}, {no_decay, without_decay}};
}
template <class T>
optim::AdamW<T> gpt_optimizer(const nn::Module<T>& model, double lr, double weight_decay) {
  return optim::AdamW<T>(gpt_param_groups(model, optim::AdamOptions().lr(lr).weight_decay(weight_decay)));
}

// ---- saving and loading, with the configuration in the file's metadata ----

inline std::map<std::string, std::string> gpt_metadata(const GPTConfig& c) {
  return {{"gpt.vocab_size", std::to_string(c.vocab_size)}, {"gpt.block_size", std::to_string(c.block_size)},
          {"gpt.n_layer", std::to_string(c.n_layer)},       {"gpt.n_head", std::to_string(c.n_head)},
          {"gpt.n_embd", std::to_string(c.n_embd)},         {"gpt.dropout", std::to_string(c.dropout)},
          {"gpt.bias", c.bias ? "1" : "0"},                 {"gpt.tied_embeddings", c.tied_embeddings ? "1" : "0"},
          {"gpt.rotary", c.rotary ? "1" : "0"}};
}

inline GPTConfig gpt_config_from_metadata(const std::map<std::string, std::string>& meta) {
  auto get = [&](const std::string& key) -> const std::string& {
    const auto it = meta.find(key);
    LATENT_CHECK(it != meta.end(), "GPT: the file's metadata has no '", key, "' (was it saved by save_gpt?)");
    return it->second;
  };
  auto integer = [&](const std::string& key) {
    const std::string& s = get(key);
    LATENT_CHECK(!s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string::npos,
                 "GPT: metadata '", key, "' = '", s, "' is not a non-negative integer");
    return static_cast<std::int64_t>(std::stoll(s));
  };
  auto flag = [&](const std::string& key) {
    const std::string& s = get(key);
    LATENT_CHECK(s == "0" || s == "1", "GPT: metadata '", key, "' = '", s, "' is not 0 or 1");
    return s == "1";
  };
  GPTConfig c;
  c.vocab_size = integer("gpt.vocab_size");
  c.block_size = integer("gpt.block_size");
  c.n_layer = integer("gpt.n_layer");
  c.n_head = integer("gpt.n_head");
  c.n_embd = integer("gpt.n_embd");
  const std::string& dropout = get("gpt.dropout");
  char* end = nullptr;
  c.dropout = std::strtod(dropout.c_str(), &end);
  LATENT_CHECK(!dropout.empty() && end == dropout.c_str() + dropout.size(), "GPT: metadata 'gpt.dropout' = '",
               dropout, "' is not a number");
  c.bias = flag("gpt.bias");
  c.tied_embeddings = flag("gpt.tied_embeddings");
  c.rotary = flag("gpt.rotary");
  return c;
}

// Writes the model's state dict and configuration (plus `extra` metadata, such as the
// tokenizer) to a safetensors file, atomically.
template <class T>
void save_gpt(const std::string& path, const GPT<T>& model, const std::map<std::string, std::string>& extra = {}) {
  io::SafetensorsWriter w;
  for (const auto& e : model.state_dict().tensors) w.add(e.first, e.second);
  w.metadata(extra).metadata(gpt_metadata(model.config()));
  w.write(path);
}

// A model built from a file written by save_gpt (its metadata: the configuration).
template <class T>
std::unique_ptr<GPT<T>> load_gpt(const std::string& path, Generator& gen) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  auto model = std::make_unique<GPT<T>>(gpt_config_from_metadata(file.metadata), gen);
  nn::StateDict<T> sd;
  for (const std::string& name : file.names()) sd.tensors[name] = file.get<T>(name);
  model->load_state_dict(sd);
  return model;
}

}  // namespace latent::models
