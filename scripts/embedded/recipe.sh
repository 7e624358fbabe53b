#!/usr/bin/env bash
# The embedded model from nothing, in the order it was made (about 2 h on 2 CPU cores, ~71 M tokens).
#
#   bash scripts/embedded/recipe.sh            # each stage resumes from its checkpoint if interrupted
#
# 1. natural: corpus text with a few copy tasks mixed in (31 M tokens). It learns language and a
#    previous-token head, but no induction head: in random-token data the previous token predicts
#    nothing, so only a finished induction circuit would reward the pieces of one.
# 2. copy: from (1), nothing but random blocks of the 512 most frequent tokens, 4-32 long, tiled to
#    the end of the context. With the previous-token head already there, the layer-1 head learns to
#    use it: the copy loss falls from 5.3 to 0.8 nats between steps 300 and 500 (the phase change).
# 3. mix: from (2), blocks over the whole vocabulary and 8-127 long, then corpus text back in
#    (30 % copy blocks, 15 % windows with a repeated span), so the model keeps both; from step 1000
#    on, 12 % synthetic functions with `:param` docstrings (docstrings.py), whose argument names are
#    disjoint from those the docstring-task measurement uses.
# (The shipped run differed only in its learning-rate schedule: planned over 9,500 steps to step
#  750, 7,000 to step 1,000, then 9,000.)
# Then the SAEs and the model card: train_saes.py and measure.py (see the README, "Models").
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-build/model}
TRAIN="$PY scripts/embedded/train_model.py --max-minutes 600"

[ -f build/corpus/manifest.json ] || "$PY" scripts/embedded/corpus.py --out build/corpus
# the natural stage writes the tokenizer and the token streams; the later stages share them
$TRAIN --out "$OUT/natural" --random-repeat 0.15 --copy-warmup 0 --copy-ramp 0 --copy-period 8 63 --stop-at 3750
$TRAIN --out "$OUT/natural" --random-repeat 0.4 --copy-warmup 0 --copy-ramp 0 --copy-period 16 127 --stop-at 7500
for stage in copy mix; do
    mkdir -p "$OUT/$stage"
    cp -r "$OUT/natural/tokenizer" "$OUT/natural/streams.json" "$OUT"/natural/*.npy "$OUT/$stage/"
done
$TRAIN --out "$OUT/copy" --init-from "$OUT/natural/checkpoint.pt" --random-repeat 1 --span-repeat 0 \
    --copy-warmup 100000 --copy-vocab 512 --copy-period 4 32 --stop-at 750
MIX="--init-from $OUT/copy/checkpoint.pt --random-repeat 0.3 --span-repeat 0.15 --copy-warmup 300 --copy-ramp 1200 --copy-period 8 127 --total-steps 9000"
$TRAIN --out "$OUT/mix" $MIX --stop-at 1000
$TRAIN --out "$OUT/mix" $MIX --docstrings 0.12
echo "model: $OUT/mix/{config.json,model.safetensors,tokenizer/} -> interp_widgets/models/embedded/"
