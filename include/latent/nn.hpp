// latent::nn: Module<T>, containers, layers and initialisation, as torch.nn; the
// functional forms are in nn/functional.hpp.
#pragma once

#include "nn/attention.hpp"
#include "nn/containers.hpp"
#include "nn/conv.hpp"
#include "nn/functional.hpp"
#include "nn/init.hpp"
#include "nn/layers.hpp"
#include "nn/linear.hpp"
#include "nn/lora.hpp"
#include "nn/module.hpp"
#include "nn/positional.hpp"
#include "nn/quantize.hpp"
#include "nn/serialize.hpp"
#include "nn/spectral_norm.hpp"
#include "nn/transformer.hpp"
