// A module's state dict to and from a safetensors file, with PyTorch's keys, so that
// weights cross over both ways (torch: safetensors.torch.save_file(model.state_dict())).
#pragma once

#include <string>

#include "../io/safetensors.hpp"
#include "module.hpp"

namespace latent::nn {

// Writes every parameter and buffer of `module` (atomically).
template <class T>
void save_safetensors(const std::string& path, const Module<T>& module) {
  const StateDict<T> sd = module.state_dict();
  io::SafetensorsWriter w;
  for (const auto& e : sd.tensors) w.add(e.first, e.second);
  for (const auto& e : sd.integers) w.add(e.first, e.second);
  w.write(path);
}

// Loads a file's tensors into `module` (converted to T; strict: every key must match).
template <class T>
void load_safetensors(const std::string& path, Module<T>& module, bool strict = true) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  StateDict<T> sd;
  for (const std::string& name : file.names()) {
    const io::Dtype d = file.entry(name).dtype;
    if (d == io::Dtype::I64 || d == io::Dtype::I32) sd.integers[name] = file.get<std::int64_t>(name);
    else sd.tensors[name] = file.get<T>(name);
  }
  module.load_state_dict(sd, strict);
}

}  // namespace latent::nn
