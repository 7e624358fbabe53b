#!/usr/bin/env bash
# The 6-layer embedded model (GPT-2 style: learned absolute positions, pre-LayerNorm, MLPs), the
# same tokenizer and corpus as the 2-layer one, in the order it was made. Trained on one GPU
# (--device cuda is the default where there is one); every stage resumes from its checkpoint, so
# run this again (with a later DEADLINE) until it prints "done".
#
#   DEADLINE=$(( $(date +%s) + 3600 )) bash scripts/embedded/recipe6.sh
#
# 1. natural: from the 2-layer model's token embedding, unembedding and final LayerNorm (same
#    tokenizer and width; the blocks and positions start fresh), corpus text with 15 % repeated
#    random blocks and 15 % windows with a copied span.
# 2. copy: from (1), random blocks of the 512 most frequent tokens only (the phase change that gave
#    the 2-layer model its induction heads).
# 3. mix: from (2), text, copy blocks over the whole vocabulary, 12 % synthetic `:param`
#    docstrings (docstrings.py) and 6 % synthetic indirect-object sentences (ioi.py), whose names
#    are disjoint from those the model card measures with.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${MODEL_OUT:-build/model6}
DEADLINE=${DEADLINE:-$(( $(date +%s) + 600 * 60 ))}
NATURAL_STEPS=${NATURAL_STEPS:-10885}  # the shipped run's stage lengths (sized to fit 13 minutes on one H100)
COPY_STEPS=${COPY_STEPS:-750}
MIX_STEPS=${MIX_STEPS:-6531}
BATCH=${BATCH:-64}
SHIPPED=interp_widgets/models/embedded
ARCH="--layers 6 --heads 8 --d-model 256 --positions standard --batch $BATCH --tokenizer-from $SHIPPED/tokenizer"

minutes_left() { echo $(( (DEADLINE - $(date +%s)) / 60 )); }
train() {
    local left; left=$(minutes_left)
    if [ "$left" -lt 1 ]; then echo "deadline reached before stage $*"; exit 0; fi
    # a stage cut short by the deadline (exit status 3) must not hand unfinished weights to the next one
    local status=0
    "$PY" scripts/embedded/train_model.py $ARCH --max-minutes "$left" "$@" || status=$?
    if [ "$status" -eq 3 ]; then echo "deadline reached during stage $*: run again to continue"; exit 0; fi
    [ "$status" -eq 0 ] || exit "$status"
}
mkdir -p "$OUT/natural"
[ -f build/corpus/manifest.json ] || [ -f "$OUT/natural/streams.json" ] || "$PY" scripts/embedded/corpus.py --out build/corpus
train --out "$OUT/natural" --embeddings-from $SHIPPED --random-repeat 0.15 --span-repeat 0.15 --copy-warmup 0 --copy-ramp 0 \
    --copy-period 8 127 --total-steps "$NATURAL_STEPS"
for stage in copy mix; do
    mkdir -p "$OUT/$stage"
    cp -rn "$OUT/natural/tokenizer" "$OUT/natural/streams.json" "$OUT"/natural/*.npy "$OUT/$stage/"
done
train --out "$OUT/copy" --init-from "$OUT/natural/checkpoint.pt" --random-repeat 1 --span-repeat 0 \
    --copy-warmup 100000 --copy-vocab 512 --copy-period 4 32 --total-steps 3000 --stop-at "$COPY_STEPS"
train --out "$OUT/mix" --init-from "$OUT/copy/checkpoint.pt" --random-repeat 0.3 --span-repeat 0.15 --copy-warmup 300 \
    --copy-ramp 1200 --copy-period 8 127 --docstrings 0.12 --ioi 0.06 --total-steps "$MIX_STEPS"
echo "done: $OUT/mix/{config.json,model.safetensors,tokenizer/}"
