// latent::data: datasets (Fashion-MNIST, the fortunes text corpus, synthetic 2-D
// distributions), tokenizers (character, byte-level BPE) and the DataLoader.
#pragma once

#include "data/bpe.hpp"
#include "data/fashion_mnist.hpp"
#include "data/loader.hpp"
#include "data/synthetic.hpp"
#include "data/text.hpp"
