// gpt_generate: text from a GPT saved by gpt_text (its model.safetensors, or a --save
// checkpoint), after a prompt, with any sampler chain, with beam search, or with
// speculative decoding against a smaller draft model; prints the tokens per second, the
// bytes of the key/value cache and, for speculative decoding, the draft's acceptance rate.
//
//   ./gpt_generate --prompt "The " --temperature 0.8 --top-k 40
//   ./gpt_generate --repetition-penalty 1.2 --top-p 0.9 --min-p 0.05 --samples 3
//   ./gpt_generate --greedy --stop "%"
//   ./gpt_generate --beam 4 --tokens 40 --length-penalty 1
//   ./gpt_text --size tiny --out out/gpt_draft          # once: train a draft model
//   ./gpt_generate --draft out/gpt_draft/model.safetensors --draft-tokens 4
//   ./gpt_generate --int8 --int8-kv                     # int8 weights and key/value cache
//
// The sampler chain runs in the order inference engines use: repetition and frequency
// penalties, temperature, top-k, top-p, min-p (sample/token.hpp).
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace latent;
using T = float;
using Tokens = std::vector<std::int64_t>;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The tokenizer gpt_text saved in the model's metadata: characters or byte-level BPE.
struct Tokenizer {
  data::CharTokenizer chars;
  std::unique_ptr<data::BpeTokenizer> bpe;

  explicit Tokenizer(const std::map<std::string, std::string>& meta) {
    auto get = [&](const std::string& key) -> const std::string& {
      const auto it = meta.find(key);
      LATENT_CHECK(it != meta.end(), "gpt_generate: the model file has no '", key, "' metadata (not from gpt_text?)");
      return it->second;
    };
    if (get("tokenizer") == "bpe") {
      bpe = std::make_unique<data::BpeTokenizer>(data::BpeTokenizer::parse(get("tokenizer.bpe")));
      return;
    }
    const std::string& hex = get("tokenizer.alphabet_hex");
    LATENT_CHECK(hex.size() % 2 == 0, "gpt_generate: a malformed alphabet in the metadata");
    std::string alphabet;
    for (std::size_t i = 0; i < hex.size(); i += 2) alphabet += char(std::stoi(hex.substr(i, 2), nullptr, 16));
    chars = data::CharTokenizer::from_alphabet(alphabet);
  }
  std::int64_t vocab_size() const { return bpe ? bpe->vocab_size() : chars.vocab_size(); }
  Tokens encode(const std::string& s) const { return bpe ? bpe->encode(s) : chars.encode(s); }
  std::string decode(const Tokens& t) const { return bpe ? bpe->decode(t) : chars.decode(t); }
};

struct Loaded {
  std::unique_ptr<models::GPT<T>> model;
  std::map<std::string, std::string> metadata;
};

// A model.safetensors from gpt_text, or a checkpoint it wrote with --save.
Loaded load(const std::string& path, Generator& gen, const train::Args& args) {
  Loaded out;
  const io::SafetensorsFile file = io::load_safetensors(path);
  if (file.metadata.count("latent.checkpoint")) {
    const auto ck = train::Checkpoint<T>::load(path);
    out.metadata = ck.metadata;
    out.model = std::make_unique<models::GPT<T>>(models::gpt_config_from_metadata(out.metadata), gen);
    ck.restore_model("model", *out.model);
  } else {
    out.model = models::load_gpt<T>(path, gen);
    out.metadata = file.metadata;
  }
  out.model->eval();
  if (args.has("int8")) {  // weight-only int8 (per output channel), optionally int8 activations too
    nn::QuantizeOptions options;
    options.int8_activations = args.has("int8-activations");
    std::cout << path << ": " << nn::quantize_int8(*out.model, options) << " Linear layers quantised to int8\n";
  }
  if (args.has("int8-kv")) out.model->use_int8_kv_cache();  // keys and values as int8, a scale per position
  return out;
}

// The bytes of the key/value cache that holds `tokens` (the window the model sees of
// them), in float and as int8: the cache that generation ended with, and its alternative.
std::pair<std::int64_t, std::int64_t> cache_bytes(models::GPT<T>& model, const Tokens& tokens) {
  NoGradGuard no_grad;
  const auto n = static_cast<std::int64_t>(tokens.size());
  const std::int64_t start = models::window_start(n, model.config().block_size);
  const Tensor<std::int64_t> ids = tensor<std::int64_t>(Tokens(tokens.begin() + start, tokens.end()), Shape{1, n - start});
  models::GPTCache<T> in_float, in_int8;
  in_int8.int8 = true;
  model.forward(ids, in_float);
  model.forward(ids, in_int8);
  return {in_float.nbytes(), in_int8.nbytes()};
}

Tokens joined(const Tokens& a, const Tokens& b) {
  Tokens out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

sample::SamplerChain chain_from(const train::Args& args) {
  sample::SamplerChain chain;
  if (args.has("repetition-penalty")) chain.repetition_penalty(args.get_double("repetition-penalty", 1.0));
  if (args.has("frequency-penalty") || args.has("presence-penalty"))
    chain.frequency_penalty(args.get_double("frequency-penalty", 0.0), args.get_double("presence-penalty", 0.0));
  if (args.has("greedy")) return chain.greedy();
  chain.temperature(args.get_double("temperature", 0.8));
  if (args.has("top-k")) chain.top_k(args.get_int("top-k", 40));
  if (args.has("top-p")) chain.top_p(args.get_double("top-p", 1.0));
  if (args.has("min-p")) chain.min_p(args.get_double("min-p", 0.0));
  return chain;
}

}  // namespace

int main(int argc, char** argv) {
  train::Args args("gpt_generate", "Text from a GPT saved by gpt_text: sampling, beam search, speculative decoding.");
  args.add("model", "out/gpt_text/model.safetensors", "the model (gpt_text's model.safetensors or a checkpoint)");
  args.add("prompt", "\n", "the text to continue");
  args.add("tokens", "", "new tokens per sample (default 300; 100 with --quick)");
  args.add("samples", "1", "how many samples");
  args.add("temperature", "0.8", "softmax temperature");
  args.add("top-k", "", "keep the k most likely tokens");
  args.add("top-p", "", "keep the most likely tokens up to this probability (nucleus)");
  args.add("min-p", "", "keep tokens at least this times as likely as the best");
  args.add("repetition-penalty", "", "divide positive (multiply negative) logits of seen tokens by this");
  args.add("frequency-penalty", "", "subtract this times a token's count so far from its logit");
  args.add("presence-penalty", "", "subtract this from the logit of every token seen so far");
  args.add("greedy", "", "take the most likely token every time", true);
  args.add("stop", "", "stop after any token of this text");
  args.add("beam", "", "beam search with this many beams");
  args.add("length-penalty", "1", "beam search: score = log p / length^this");
  args.add("draft", "", "speculative decoding with this draft model");
  args.add("draft-tokens", "4", "speculative decoding: tokens the draft proposes per round");
  args.add("int8", "", "quantise the Linear weights to int8 (per output channel) for inference", true);
  args.add("int8-activations", "", "with --int8: quantise the activations per row too", true);
  args.add("int8-kv", "", "keep the key/value cache as int8 (a scale per position): about a quarter of the memory",
           true);
  args.parse(argc, argv);
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));
  const std::int64_t new_tokens = args.get_int("tokens", args.quick() ? 100 : 300);

  Loaded target = load(args.get("model"), gen, args);
  const Tokenizer tok(target.metadata);
  LATENT_CHECK(tok.vocab_size() == target.model->config().vocab_size, "gpt_generate: the tokenizer's vocabulary (",
               tok.vocab_size(), ") does not match the model's (", target.model->config().vocab_size, ")");
  const Tokens prompt = tok.encode(args.get("prompt", "\n"));
  LATENT_CHECK(!prompt.empty(), "gpt_generate: the prompt is empty");
  const Tokens stop = args.has("stop") ? tok.encode(args.get("stop")) : Tokens{};
  const sample::SamplerChain chain = chain_from(args);
  const models::GPTConfig& c = target.model->config();
  std::cout << "gpt_generate: " << args.get("model") << ": " << target.model->num_parameters() << " parameters ("
            << c.n_layer << " layers, " << c.n_embd << " wide, block " << c.block_size << "), vocabulary "
            << tok.vocab_size() << std::endl;

  std::vector<std::pair<std::string, double>> figures;
  Tokens last;  // the prompt and the tokens of the last (or best) output
  if (args.has("beam")) {
    // Beam search: the most likely continuations (length-normalised), best first.
    sample::BeamSearchOptions o;
    o.beam_width = args.get_int("beam", 4);
    o.max_new_tokens = new_tokens;
    o.length_penalty = args.get_double("length-penalty", 1.0);
    o.stop_tokens = stop;
    models::GPTLogits<T> next(*target.model, static_cast<std::size_t>(2 * o.beam_width));
    const auto start = std::chrono::steady_clock::now();
    const auto beams = sample::beam_search(next, prompt, o);
    const double seconds = seconds_since(start);
    for (const auto& h : beams)
      std::cout << "---- score " << h.score << " (log p " << h.log_prob << ", " << h.tokens.size() << " tokens"
                << (h.stopped ? ", stopped" : "") << ") ----\n" << tok.decode(prompt) << tok.decode(h.tokens) << "\n";
    const double rate = double(beams.front().tokens.size()) / seconds;
    std::printf("beam search of width %lld: %.0f tokens/s of the best hypothesis, %.0f positions/s through the "
                "model\n", static_cast<long long>(o.beam_width), rate, double(next.tokens_run()) / seconds);
    figures = {{"gen_tokens_per_s", rate}, {"best_score", beams.front().score}};
    last = joined(prompt, beams.front().tokens);
  } else if (args.has("draft")) {
    // Speculative decoding, against plain sampling of the target with the same chain.
    Loaded draft = load(args.get("draft"), gen, args);
    LATENT_CHECK(Tokenizer(draft.metadata).encode(args.get("prompt", "\n")) == prompt &&
                     draft.model->config().vocab_size == c.vocab_size,
                 "gpt_generate: the draft model's tokenizer differs from the target's");
    sample::SpeculativeOptions o;
    o.draft_tokens = args.get_int("draft-tokens", 4);
    o.max_new_tokens = new_tokens;
    o.stop_tokens = stop;
    double plain_seconds = 0, spec_seconds = 0;
    std::int64_t plain_tokens = 0, spec_tokens = 0, proposed = 0, accepted = 0;
    for (std::int64_t s = 0; s < args.get_int("samples", 1); ++s) {
      auto start = std::chrono::steady_clock::now();
      plain_tokens += static_cast<std::int64_t>(target.model->generate(prompt, new_tokens, chain, gen, stop).size());
      plain_seconds += seconds_since(start);
      start = std::chrono::steady_clock::now();
      const auto r = models::speculative_generate(*target.model, *draft.model, prompt, chain, o, gen);
      spec_seconds += seconds_since(start);
      spec_tokens += static_cast<std::int64_t>(r.tokens.size());
      proposed += r.proposed;
      accepted += r.accepted;
      std::cout << "---- speculative sample " << s + 1 << " (acceptance " << r.acceptance_rate() << ") ----\n"
                << tok.decode(prompt) << tok.decode(r.tokens) << "\n";
      last = joined(prompt, r.tokens);
    }
    const double acceptance = proposed ? double(accepted) / double(proposed) : 0.0;
    const double plain_rate = double(plain_tokens) / plain_seconds, spec_rate = double(spec_tokens) / spec_seconds;
    std::printf("target alone: %.0f tokens/s; speculative (draft %lld parameters, k = %lld): %.0f tokens/s, "
                "acceptance rate %.3f, speed-up %.2fx\n", plain_rate,
                static_cast<long long>(draft.model->num_parameters()), static_cast<long long>(o.draft_tokens),
                spec_rate, acceptance, spec_rate / plain_rate);
    figures = {{"gen_tokens_per_s", spec_rate}, {"target_tokens_per_s", plain_rate}, {"acceptance_rate", acceptance},
               {"speedup", spec_rate / plain_rate}};
  } else {
    double seconds = 0;
    std::int64_t produced = 0;
    for (std::int64_t s = 0; s < args.get_int("samples", 1); ++s) {
      const auto start = std::chrono::steady_clock::now();
      const Tokens t = target.model->generate(prompt, new_tokens, chain, gen, stop);
      seconds += seconds_since(start);
      produced += static_cast<std::int64_t>(t.size());
      std::cout << "---- sample " << s + 1 << " ----\n" << tok.decode(prompt) << tok.decode(t) << "\n";
      last = joined(prompt, t);
    }
    std::printf("%.0f tokens/s\n", double(produced) / seconds);
    figures = {{"gen_tokens_per_s", double(produced) / seconds}};
  }
  const auto bytes = cache_bytes(*target.model, last);
  std::printf("key/value cache (%s) at the end: %lld bytes; in float %lld, as int8 %lld (%.2fx smaller)\n",
              target.model->int8_kv_cache() ? "int8" : "float",
              static_cast<long long>(target.model->int8_kv_cache() ? bytes.second : bytes.first),
              static_cast<long long>(bytes.first), static_cast<long long>(bytes.second),
              double(bytes.first) / double(bytes.second));
  figures.push_back({"kv_cache_bytes", double(target.model->int8_kv_cache() ? bytes.second : bytes.first)});
  train::print_result(figures);
  return 0;
}
