// latent::models: one file per model family.
#pragma once

#include "models/mlp.hpp"
#include "models/perceptron.hpp"
#include "models/vae.hpp"
