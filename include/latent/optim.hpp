// latent::optim: optimisers (SGD, Adam, AdamW, RMSprop), learning-rate schedules and
// gradient clipping, as torch.optim.
#pragma once

#include "optim/adam.hpp"
#include "optim/clip_grad.hpp"
#include "optim/lr_scheduler.hpp"
#include "optim/optimizer.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"
