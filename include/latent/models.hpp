// latent::models: one file per model family.
#pragma once

#include "models/dcgan.hpp"
#include "models/ddpm.hpp"
#include "models/gan.hpp"
#include "models/gpt.hpp"
#include "models/mlp.hpp"
#include "models/mlp_denoiser.hpp"
#include "models/perceptron.hpp"
#include "models/unet.hpp"
#include "models/vae.hpp"
