// latent::metrics: Fréchet distance, energy distance, MMD, mode coverage, perplexity,
// bits per dimension.
#pragma once

#include "metrics/distances.hpp"
#include "metrics/fd_fashion.hpp"
#include "metrics/linalg.hpp"
#include "metrics/scores.hpp"
