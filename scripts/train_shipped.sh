#!/usr/bin/env bash
# Trains and evaluates every model shipped in checkpoints/, one after another.
# Needs MNIST (VAE_DATA_DIR) and Fashion-MNIST (VAE_FASHION_DIR). On the 2-core CPUs used for the shipped models it
# takes about 5 hours (the main model about an hour, its beta ladder and the 2-D model about an hour, the test
# figures of the 7 MNIST models of the recipe 85 minutes, the wide Fashion-MNIST model alone about an hour of
# training and 15-30 minutes of evaluation); on a GPU it takes minutes.
#   VAE_DATA_DIR=/path/to/mnist bash scripts/train_shipped.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-checkpoints}
train() { python -m vae_core.train --no-optimizer-state --quiet --val-size 0 "$@"; }

# The main model: latent 32, beta 1, the default width with more residual blocks (2 in the encoder, 3 in the
# decoder at 7x7 and 2 at 14x14: 777,217 parameters), trained from scratch on the ELBO (60 epochs, bfloat16), then
# fine-tuned for 5 epochs on the 16-sample importance-weighted bound (IWAE, Burda et al. 2015) with the doubly
# reparameterised encoder gradient (--dreg); why: benchmarks/RESULTS.md sections 2 and 3.
DEEP="--encoder-blocks 2 --decoder-blocks-7x7 3 --decoder-blocks-14x14 2"
[ -f "$OUT/mnist-z32/model.safetensors" ] || {
  train --preset default --latent-dim 32 --beta 1 $DEEP --epochs 60 --precision bf16 --out "$OUT/mnist-z32-elbo"
  train --preset default --latent-dim 32 --beta 1 $DEEP --samples 16 --dreg --lr 5e-4 --epochs 5 --precision bf16 \
        --init-from "$OUT/mnist-z32-elbo" --out "$OUT/mnist-z32"
  rm -rf "$OUT/mnist-z32-elbo"
}

# The beta ladder: the same network fine-tuned from the main model at each beta (on the beta-weighted ELBO), its
# weights then stored in float16 (half the bytes, so that checkpoints/ stays within 25 MiB; evaluated so).
for beta in 0.1 0.5 2 4 8; do
  [ -f "$OUT/mnist-z32-beta$beta/model.safetensors" ] && continue
  train --preset default --latent-dim 32 --beta "$beta" $DEEP --epochs 6 --lr 5e-4 --precision bf16 \
        --init-from "$OUT/mnist-z32" --out "$OUT/mnist-z32-beta$beta"
  python scripts/halve_weights.py "$OUT/mnist-z32-beta$beta"
done

# A 2-D model, whose latent space is its own map: the main model's network and recipe, shorter (12 epochs on the
# ELBO, then 3 on the 16-sample importance-weighted bound).
[ -f "$OUT/mnist-z2/model.safetensors" ] || {
  train --preset default --latent-dim 2 --beta 1 $DEEP --epochs 12 --precision bf16 --out "$OUT/mnist-z2-elbo"
  train --preset default --latent-dim 2 --beta 1 $DEEP --samples 16 --dreg --lr 5e-4 --epochs 3 --precision bf16 \
        --init-from "$OUT/mnist-z2-elbo" --out "$OUT/mnist-z2"
  rm -rf "$OUT/mnist-z2-elbo"
  python scripts/halve_weights.py "$OUT/mnist-z2"  # served only, like the ladder: float16 weights
}

# Fashion-MNIST (VAE_FASHION_DIR): its main model is the same recipe with twice the width (64 channels, in
# bfloat16), as at width 32 it stopped 1.25 nats short of the published 228.7: 40 epochs from scratch, then
# 35 and 30 more, each from the last weights with a fresh cosine schedule from a lower rate. And its 2-D model.
wide() { train --dataset fashion-mnist --preset default --latent-dim 32 --beta 1 --width 64 --precision bf16 "$@"; }
[ -f "$OUT/fashion-z32/model.safetensors" ] || {
  wide --epochs 40 --out "$OUT/fashion-z32-run1"
  wide --epochs 35 --lr 7e-4 --init-from "$OUT/fashion-z32-run1" --out "$OUT/fashion-z32-run2"
  wide --epochs 30 --lr 5e-4 --init-from "$OUT/fashion-z32-run2" --out "$OUT/fashion-z32"
  rm -rf "$OUT/fashion-z32-run1" "$OUT/fashion-z32-run2"
}
train --dataset fashion-mnist --preset default --latent-dim 2 --beta 1 --epochs 10 --out "$OUT/fashion-z2"

# Recipes A and B exactly as their tutorials train them, for comparison.
train --preset seed-conv --out "$OUT/seed-conv"
train --preset seed-mlp --out "$OUT/seed-mlp"

# Test figures into each metrics.json. The MNIST models of the recipe (the main model, its beta ladder, the
# 2-D model) and Fashion-MNIST's main model: k = 1000 on all 10,000 test images, about 10 minutes each on
# these CPUs. The others: k = 1000 on the first 2,000 (OTHER_LIMIT=0 on a GPU for all 10,000).
# The models of the bf16 recipes are evaluated in bf16 too (the network in bfloat16, every sum in fp32).
for name in mnist-z32 mnist-z32-beta0.1 mnist-z32-beta0.5 mnist-z32-beta2 mnist-z32-beta4 mnist-z32-beta8 \
            mnist-z2 fashion-z32; do
  python -m vae_core.evaluate "$OUT/$name" --k 1000 --precision bf16
done
for name in fashion-z2 seed-conv seed-mlp; do
  python -m vae_core.evaluate "$OUT/$name" --k "${OTHER_K:-1000}" --limit "${OTHER_LIMIT:-2000}"
done

# What the app needs beside the weights: the class regions and test scores of the models it makes and
# recognises with, fitted on the training set, and the UMAP of every model with more than 2 numbers.
for name in mnist-z32 mnist-z2 fashion-z32 fashion-z2; do python -m benchmarks.concepts --model "$OUT/$name" --save; done
python scripts/ship_umaps.py "$OUT"
