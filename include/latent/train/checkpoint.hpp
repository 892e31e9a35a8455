// Checkpoints: everything a training run needs to stop and carry on exactly where it was.
//
//   train::Checkpoint<float> ck;
//   ck.add_model("model", net).add_optimizer("opt", opt).add_scheduler("sched", sched);
//   ck.add_generator("rng", gen);
//   ck.step = k;
//   ck.metadata["epoch"] = "3";
//   ck.save("run.safetensors");                  // atomic: the old file or the new, never half
//
//   auto ck = train::Checkpoint<float>::load("run.safetensors");
//   ck.restore_model("model", net);              // load_state_dict, strict by default
//   ck.restore_optimizer("opt", opt);
//   ck.restore_scheduler("sched", sched);
//   ck.restore_generator("rng", gen);
//
// A checkpoint is ONE safetensors file (io/safetensors.hpp). Every part has a name without
// '/', and its entries are named by kind, part name and key:
//
//   model/<name>/<state key>          the model's tensors, in T's dtype (F32 or F64); its
//                                     integer buffers (num_batches_tracked) as I64
//   optim/<name>/tensor/<key>         optimiser state tensors ("state.3.exp_avg"), T's dtype
//   optim/<name>/scalar/<key>         optimiser numbers ("state.3.step", "group.0.lr"), F64
//                                     scalars, so every double comes back bit for bit
//   sched/<name>/last_epoch           the scheduler's epoch, an I64 scalar
//   rng/<name>/state                  a Generator's {seed, offset}: I64 [2] holding the bit
//                                     patterns of the two uint64s, exact over the whole range
//   step                              the training step counter, an I64 scalar
//
// The safetensors metadata holds the user's string -> string metadata, plus
// "latent.checkpoint" = "1" (the format version). Keys starting with "latent." are reserved.
//
// Loading checks the whole file (safetensors' own checks, then every name, dtype and shape
// above); anything unexpected is a latent::Error naming the file and the entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../io/file.hpp"
#include "../io/safetensors.hpp"
#include "../nn/module.hpp"
#include "../optim/lr_scheduler.hpp"
#include "../optim/optimizer.hpp"
#include "../tensor/tensor.hpp"

namespace latent::train {

namespace detail {

inline constexpr const char* kCheckpointVersionKey = "latent.checkpoint";
inline constexpr const char* kCheckpointVersion = "1";

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

inline void check_part_name(const char* kind, const std::string& name) {
  LATENT_CHECK(!name.empty() && name.find('/') == std::string::npos, "checkpoint: invalid ", kind,
               " name '", name, "' (names are non-empty and contain no '/')");
}

// uint64 <-> int64 by bit pattern (two's complement, as memcpy does it).
inline std::int64_t bits_as_int64(std::uint64_t v) {
  std::int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
inline std::uint64_t bits_as_uint64(std::int64_t v) {
  std::uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

template <class E>
Tensor<E> vector_tensor(const std::vector<E>& values, const Shape& shape) {
  Tensor<E> t(shape);
  for (std::size_t i = 0; i < values.size(); ++i) t.data()[i] = values[i];
  return t;
}

}  // namespace detail

template <class T>
class Checkpoint {
 public:
  std::int64_t step = 0;
  std::map<std::string, std::string> metadata;  // the user's; keys "latent.*" are reserved

  // The parts, by name (filled by add_* or load, read by restore_* or directly).
  std::map<std::string, nn::StateDict<T>> models;
  std::map<std::string, optim::OptimizerState<T>> optimizers;
  std::map<std::string, std::int64_t> schedulers;  // last_epoch
  std::map<std::string, GeneratorState> generators;
  std::string source = "<memory>";  // the path it was loaded from, for messages

  // ---- adding parts (each takes a snapshot: later training does not change it) ----
  Checkpoint& add_model(const std::string& name, const nn::Module<T>& model) {
    return add_model(name, model.state_dict());
  }
  Checkpoint& add_model(const std::string& name, const nn::StateDict<T>& state) {
    check_new("model", name, models);
    nn::StateDict<T> copy;
    for (const auto& e : state.tensors) copy.tensors[e.first] = e.second.detach().clone();
    for (const auto& e : state.integers) copy.integers[e.first] = e.second.clone();
    models.emplace(name, std::move(copy));
    return *this;
  }
  Checkpoint& add_optimizer(const std::string& name, const optim::Optimizer<T>& optimizer) {
    return add_optimizer(name, optimizer.state_dict());
  }
  Checkpoint& add_optimizer(const std::string& name, const optim::OptimizerState<T>& state) {
    check_new("optimizer", name, optimizers);
    optim::OptimizerState<T> copy;
    for (const auto& e : state.tensors) copy.tensors[e.first] = e.second.detach().clone();
    copy.scalars = state.scalars;
    optimizers.emplace(name, std::move(copy));
    return *this;
  }
  Checkpoint& add_scheduler(const std::string& name, const optim::LRScheduler<T>& scheduler) {
    check_new("scheduler", name, schedulers);
    schedulers.emplace(name, scheduler.last_epoch());
    return *this;
  }
  Checkpoint& add_generator(const std::string& name, const Generator& generator) {
    check_new("generator", name, generators);
    generators.emplace(name, generator.get_state());
    return *this;
  }

  // ---- reading parts back ----
  const nn::StateDict<T>& model(const std::string& name) const { return part("model", name, models); }
  const optim::OptimizerState<T>& optimizer(const std::string& name) const {
    return part("optimizer", name, optimizers);
  }
  std::int64_t scheduler(const std::string& name) const { return part("scheduler", name, schedulers); }
  GeneratorState generator(const std::string& name) const { return part("generator", name, generators); }

  void restore_model(const std::string& name, nn::Module<T>& model, bool strict = true) const {
    model.load_state_dict(this->model(name), strict);
  }
  void restore_optimizer(const std::string& name, optim::Optimizer<T>& optimizer) const {
    optimizer.load_state_dict(this->optimizer(name));
  }
  void restore_scheduler(const std::string& name, optim::LRScheduler<T>& scheduler) const {
    scheduler.set_last_epoch(this->scheduler(name));
  }
  void restore_generator(const std::string& name, Generator& generator) const {
    generator.set_state(this->generator(name));
  }

  // ---- the file ----
  std::vector<std::uint8_t> to_bytes() const;
  // Writes atomically (io::write_file_atomic): a crash leaves the previous file intact.
  void save(const std::string& path) const { io::write_file_atomic(path, to_bytes()); }

  static Checkpoint parse(std::vector<std::uint8_t> bytes, const std::string& source = "<memory>");
  static Checkpoint parse(const std::uint8_t* data, std::size_t size, const std::string& source = "<memory>") {
    LATENT_CHECK(data != nullptr || size == 0, "checkpoint: null data");
    return parse(std::vector<std::uint8_t>(data, data + size), source);
  }
  static Checkpoint load(const std::string& path) { return parse(io::read_file(path), path); }

 private:
  template <class Map>
  static void check_new(const char* kind, const std::string& name, const Map& parts) {
    detail::check_part_name(kind, name);
    LATENT_CHECK(!parts.count(name), "checkpoint: a ", kind, " named '", name, "' was already added");
  }
  template <class Map>
  const typename Map::mapped_type& part(const char* kind, const std::string& name, const Map& parts) const {
    const auto it = parts.find(name);
    if (it == parts.end()) {
      std::string have;
      for (const auto& e : parts) have += (have.empty() ? "'" : ", '") + e.first + "'";
      fail("checkpoint '", source, "' has no ", kind, " named '", name, "' (it has ",
           have.empty() ? std::string("none") : have, ")");
    }
    return it->second;
  }
};

template <class T>
std::vector<std::uint8_t> Checkpoint<T>::to_bytes() const {
  io::SafetensorsWriter out;
  for (const auto& kv : metadata)
    LATENT_CHECK(!detail::starts_with(kv.first, "latent."), "checkpoint: metadata key '", kv.first,
                 "' is reserved (keys starting with 'latent.' belong to the format)");
  out.metadata(metadata).metadata(detail::kCheckpointVersionKey, detail::kCheckpointVersion);
  out.add("step", detail::vector_tensor<std::int64_t>({step}, Shape{}));
  for (const auto& m : models) {
    const std::string prefix = "model/" + m.first + "/";
    for (const auto& t : m.second.tensors) out.add(prefix + t.first, t.second);
    for (const auto& t : m.second.integers) {
      LATENT_CHECK(!m.second.tensors.count(t.first), "checkpoint: model '", m.first, "' has both a tensor and an ",
                   "integer buffer named '", t.first, "'");
      out.add(prefix + t.first, t.second);
    }
  }
  for (const auto& o : optimizers) {
    const std::string prefix = "optim/" + o.first + "/";
    for (const auto& t : o.second.tensors) out.add(prefix + "tensor/" + t.first, t.second);
    for (const auto& s : o.second.scalars)
      out.add(prefix + "scalar/" + s.first, detail::vector_tensor<double>({s.second}, Shape{}));
  }
  for (const auto& s : schedulers)
    out.add("sched/" + s.first + "/last_epoch", detail::vector_tensor<std::int64_t>({s.second}, Shape{}));
  for (const auto& g : generators) {
    const std::vector<std::int64_t> state{detail::bits_as_int64(g.second.seed), detail::bits_as_int64(g.second.offset)};
    out.add("rng/" + g.first + "/state", detail::vector_tensor<std::int64_t>(state, Shape{2}));
  }
  return out.to_bytes();
}

template <class T>
Checkpoint<T> Checkpoint<T>::parse(std::vector<std::uint8_t> bytes, const std::string& source) {
  const io::SafetensorsFile file = io::parse_safetensors(std::move(bytes), source);
  Checkpoint ck;
  ck.source = source;
  const auto version = file.metadata.find(detail::kCheckpointVersionKey);
  LATENT_CHECK(version != file.metadata.end(), "checkpoint '", source,
               "' is a safetensors file but not a latent checkpoint (no '", detail::kCheckpointVersionKey,
               "' in its metadata)");
  LATENT_CHECK(version->second == detail::kCheckpointVersion, "checkpoint '", source, "' has format version '",
               version->second, "'; this build reads version ", detail::kCheckpointVersion);
  for (const auto& kv : file.metadata)
    if (!detail::starts_with(kv.first, "latent.")) ck.metadata.insert(kv);

  // A single integer (step, last_epoch): an integer dtype holding one element.
  auto one_integer = [&](const std::string& key) {
    const io::TensorEntry& e = file.entry(key);
    LATENT_CHECK(!io::dtype_is_float(e.dtype) && e.numel() == 1, "checkpoint '", source, "': '", key,
                 "' must hold one integer, got ", e.dtype_name(), " ", e.shape);
    return file.get<std::int64_t>(key).data()[0];
  };
  bool has_step = false;
  for (const auto& entry : file.tensors) {
    const std::string& key = entry.first;
    const io::TensorEntry& e = entry.second;
    if (key == "step") {
      ck.step = one_integer(key);
      has_step = true;
      continue;
    }
    const std::size_t slash1 = key.find('/');
    const std::size_t slash2 = slash1 == std::string::npos ? slash1 : key.find('/', slash1 + 1);
    LATENT_CHECK(slash2 != std::string::npos && slash2 > slash1 + 1 && slash2 + 1 < key.size(),
                 "checkpoint '", source, "': unexpected entry '", key, "' (expected <kind>/<name>/<key>)");
    const std::string kind = key.substr(0, slash1);
    const std::string name = key.substr(slash1 + 1, slash2 - slash1 - 1);
    const std::string rest = key.substr(slash2 + 1);
    if (kind == "model") {
      if (io::dtype_is_float(e.dtype))
        ck.models[name].tensors[rest] = file.get<T>(key);
      else
        ck.models[name].integers[rest] = file.get<std::int64_t>(key);
    } else if (kind == "optim") {
      optim::OptimizerState<T>& state = ck.optimizers[name];
      if (detail::starts_with(rest, "tensor/") && rest.size() > 7) {
        LATENT_CHECK(io::dtype_is_float(e.dtype), "checkpoint '", source, "': optimiser tensor '", key,
                     "' must be floating point, got ", e.dtype_name());
        state.tensors[rest.substr(7)] = file.get<T>(key);
      } else if (detail::starts_with(rest, "scalar/") && rest.size() > 7) {
        LATENT_CHECK(io::dtype_is_float(e.dtype) && e.numel() == 1, "checkpoint '", source, "': optimiser scalar '",
                     key, "' must hold one floating-point number, got ", e.dtype_name(), " ", e.shape);
        state.scalars[rest.substr(7)] = file.get<double>(key).data()[0];
      } else {
        fail("checkpoint '", source, "': unexpected optimiser entry '", key,
             "' (expected optim/<name>/tensor/<key> or optim/<name>/scalar/<key>)");
      }
    } else if (kind == "sched" && rest == "last_epoch") {
      ck.schedulers[name] = one_integer(key);
    } else if (kind == "rng" && rest == "state") {
      LATENT_CHECK(e.dtype == io::Dtype::I64 && e.numel() == 2, "checkpoint '", source, "': '", key,
                   "' must be I64 [2] (seed, offset), got ", e.dtype_name(), " ", e.shape);
      const Tensor<std::int64_t> s = file.get<std::int64_t>(key);
      ck.generators[name] = GeneratorState{detail::bits_as_uint64(s.data()[0]), detail::bits_as_uint64(s.data()[1])};
    } else {
      fail("checkpoint '", source, "': unexpected entry '", key,
           "' (kinds are model/, optim/, sched/<name>/last_epoch and rng/<name>/state)");
    }
  }
  LATENT_CHECK(has_step, "checkpoint '", source, "' has no 'step' entry");
  return ck;
}

}  // namespace latent::train
