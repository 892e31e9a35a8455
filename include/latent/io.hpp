// latent::io: file formats and output on tensors alone — safetensors, .npy/.npz, IDX,
// gzip/zlib/deflate, PNG, SVG plots — and the progress bar.
#pragma once

#include "io/bytes.hpp"
#include "io/checksum.hpp"
#include "io/deflate.hpp"
#include "io/file.hpp"
#include "io/idx.hpp"
#include "io/image.hpp"
#include "io/inflate.hpp"
#include "io/json.hpp"
#include "io/npy.hpp"
#include "io/npz.hpp"
#include "io/png.hpp"
#include "io/progress.hpp"
#include "io/safetensors.hpp"
#include "io/svg_plot.hpp"
