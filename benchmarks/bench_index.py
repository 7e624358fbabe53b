"""Peak memory of building the activation index: on-disk shards over a token stream against one in-memory index.

Each build runs in a fresh process (peak resident memory, `ru_maxrss`, of that process alone), at
N and at 4N tokens: `compute.features.shards.build_sharded_index` over a token stream (shards of N/4
tokens written to a temporary folder) and `compute.features.index.build_index` over the same tokens
held in memory. Target (issue 27): the sharded build's peak grows less than 10 % when the tokens
grow 4x. The in-memory build's growth is printed beside it.

Shapes: the embedded 2-layer model with its 4x SAE over the held-out corpus (N = 65,536 tokens;
--quick 16,384), and a random GPT-2-small-shaped model with a random TopK SAE (d_sae 6,144, L0 32)
at blocks.6.hook_resid_post over random token ids (N = 8,192; --quick 2,048). One torch thread.
Headline (the embedded shape) on the last line.

Run: .venv/bin/python benchmarks/bench_index.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, options  # noqa: E402

CONTEXT = 128
PROBE = r"""
import json, os, resource, sys, tempfile, time
os.environ["TQDM_DISABLE"] = "1"
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
import interp_widgets as iw
from interp_widgets.compute.features.index import build_index
from interp_widgets.compute.features.shards import build_sharded_index, stream_sequences
shape, how, n_tokens, context = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if shape == "embedded":
    model, sae = iw.load_model(), iw.load_sae("4x")
    ids = iw.models.validation_tokens(context, bos=model.tokenizer.bos_token_id)[:, 1:].reshape(-1)
else:
    from _shapes import gpt2_small_shaped
    from interp_widgets.sae.model import TopKSAE
    model = gpt2_small_shaped()
    sae = TopKSAE(768, 6144, k=32, hook_name="blocks.6.hook_resid_post", seed=0)
    ids = torch.randint(0, 50257, (n_tokens,), generator=torch.Generator().manual_seed(0))
bos = model.tokenizer.bos_token_id
n_windows = n_tokens // context
def stream():  # the id stream, cycled as long as asked, in pieces of 4,096 ids
    done = 0
    while done < n_windows * (context - 1):
        for start in range(0, ids.numel(), 4096):
            piece = ids[start:start + 4096][: n_windows * (context - 1) - done]
            done += piece.numel()
            yield piece
            if done >= n_windows * (context - 1):
                return
start = time.perf_counter()
if how == "sharded":
    with tempfile.TemporaryDirectory() as folder:
        index = build_sharded_index(model, sae, stream_sequences(stream(), context, bos), folder, shard_tokens=int(sys.argv[6]))
        size = sum(f.stat().st_size for f in __import__("pathlib").Path(folder).rglob("*.npy"))
else:
    tokens = torch.cat(list(stream_sequences(stream(), context, bos)))
    index = build_index(model, sae, tokens=tokens, max_tokens=None, progress=False)
    size = index.nbytes
seconds = time.perf_counter() - start
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "index_mb": size / 2**20,
                  "seconds": seconds, "tokens": index.n_tokens}))
"""


def peak(shape: str, how: str, n_tokens: int, shard_tokens: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(Path(__file__).parent), shape, how, str(n_tokens), str(CONTEXT), str(shard_tokens)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(label: str, shape: str, n: int) -> float:
    rows = {(how, scale): peak(shape, how, n * scale, n // 4) for how in ("sharded", "in-memory") for scale in (1, 4)}
    print(f"{label}: N = {n:,} tokens, context {CONTEXT}, shards of {n // 4:,} tokens")
    for (how, scale), row in rows.items():
        print(f"  {how:9s} {scale}N: peak {row['peak_mb']:7.0f} MB, index {row['index_mb']:6.1f} MB, {row['seconds']:6.1f} s")
    growth = {how: rows[(how, 4)]["peak_mb"] / rows[(how, 1)]["peak_mb"] - 1 for how in ("sharded", "in-memory")}
    print(f"  peak growth for 4x tokens: sharded {growth['sharded']:+.1%}, in-memory {growth['in-memory']:+.1%}")
    return growth["sharded"]


def main() -> None:
    args = options(__doc__)
    gpt2 = measure(GPT2_LABEL, "gpt2", 2048 if args.quick else 8192)
    embedded = measure("embedded 2-layer, 4x SAE", "embedded", 16_384 if args.quick else 65_536)
    print(f"{GPT2_LABEL}: sharded index peak memory {gpt2:+.1%} for 4x tokens (target < +10%)")
    print(f"embedded: sharded index peak memory {embedded:+.1%} for 4x tokens (target < +10%)")


if __name__ == "__main__":
    main()
