// latent::nn::functional: the neural-network ops (activations, softmax, norms, losses,
// convolution, pooling, attention, ...), named and behaving as torch.nn.functional.
#pragma once

#include "functional/activation.hpp"
#include "functional/attention.hpp"
#include "functional/conv.hpp"
#include "functional/dropout.hpp"
#include "functional/embedding.hpp"
#include "functional/linear.hpp"
#include "functional/loss.hpp"
#include "functional/normalization.hpp"
#include "functional/padding.hpp"
#include "functional/pooling.hpp"
#include "functional/softmax.hpp"
