// latent: header-only generative models on the CPU. This umbrella header includes the
// whole library; each family header (latent/nn.hpp, latent/optim.hpp, latent/io.hpp,
// latent/data.hpp, latent/metrics.hpp, ...) can also be included on its own.
#pragma once

#include "core/allocator.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "core/shape.hpp"

#include "kernels/gemm.hpp"
#include "kernels/reduce.hpp"
#include "kernels/strided_loop.hpp"
#include "kernels/transcendental.hpp"

#include "tensor/creation.hpp"
#include "tensor/print.hpp"
#include "tensor/storage.hpp"
#include "tensor/tensor.hpp"

#include "ops/autograd.hpp"
#include "ops/binary_ops.hpp"
#include "ops/elementwise.hpp"
#include "ops/gradcheck.hpp"
#include "ops/grad_mode.hpp"
#include "ops/indexing.hpp"
#include "ops/inplace.hpp"
#include "ops/join_ops.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce_ops.hpp"
#include "ops/shape_ops.hpp"
#include "ops/special.hpp"
#include "ops/unary_ops.hpp"

#include "io.hpp"
#include "nn.hpp"
#include "models.hpp"
#include "optim.hpp"
#include "sample/latent.hpp"
#include "sample/token.hpp"
#include "data.hpp"
#include "metrics.hpp"
#include "train/checkpoint.hpp"
#include "train/cli.hpp"
