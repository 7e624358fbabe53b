"""Train one transcoder per layer for an embedded model, and write its card (the recipe and the metrics).

    python scripts/embedded/train_transcoders.py --model embedded        # 2 layers, ~10 min on one CPU thread
    python scripts/embedded/train_transcoders.py --model embedded-6l     # 6 layers
    python scripts/embedded/train_transcoders.py --model embedded --measure-only   # re-measure the shipped ones, rewrite the card

Recipe (what the shipped files were made with; every number is an argument):
- data: `--windows` windows of 128 tokens (BOS first) from the corpus's *train* split
  (build/corpus, made by corpus.py), the sources taken in turn; every `--repeat-every`-th window
  repeats its first half (so the MLPs' behaviour on copied text, the induction prompts of the
  notebooks, is in the data too). One forward pass records every layer's MLP input
  (`blocks.L.ln2.hook_out`) and output (`blocks.L.hook_mlp_out`).
- model: per layer a TopK transcoder (interp_widgets.sae.transcoder), `--width` x d_model features,
  k = `--k` active per token, decoder rows unit norm, AuxK loss (1/32) for features dead for 200k tokens.
- training: Adam, lr `--lr`, 50 warm-up steps, linear decay over the last 20 %, `--steps` steps of
  `--batch` pairs drawn with replacement, one torch thread; the encoder starts scaled so the first
  predictions have the targets' spread (the 2-layer files were made before that, `--no-scale-init`;
  on the 6-layer model, whose layer-1 MLP writes little, the unscaled start left half the features dead).
- metrics (on the held-out split, `validation_tokens`): per layer L0, the fraction of the MLP
  output's variance explained, dead features (never active on the held-out tokens), all without
  position 0 (BOS: the same activation in every window, an outlier in some layers; the variance
  explained with it is recorded too); and the
  next-token loss with every MLP replaced by its transcoder at once, against the clean model and
  against every MLP zero-ablated (share of loss recovered).

Writes `<model folder>/transcoders/layer_L/` (SAELens SAE layout, fp16) and
`transcoders/card.json` (recipe + metrics), read by `iw.load_transcoders(model)`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from interp_widgets.models.loaders import embedded_dir, load_model, validation_tokens
from interp_widgets.models.transcoders import load_transcoders
from interp_widgets.sae.train import TrainConfig
from interp_widgets.sae.transcoder import (Transcoder, input_hook, output_hook, replaced_loss, save_transcoder, train_transcoder,
                                           transcoder_metrics)

CTX = 128


def corpus_windows(corpus: Path, tokenizer, n: int, repeat_every: int, seed: int) -> torch.Tensor:
    """`[n, CTX]` training windows: each source's shuffled train documents in turn, BOS first."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    rng = np.random.default_rng(seed)
    bos = tokenizer.bos_token_id
    per_source = n // len(manifest["sources"]) + 1
    windows = []
    for name in manifest["sources"]:
        texts = [r["text"][:20000] for r in map(json.loads, (corpus / f"{name}.jsonl").open(encoding="utf-8")) if r["split"] == "train"]
        rng.shuffle(texts)
        stream: list[int] = []
        for first in range(0, len(texts), 8):  # tokenize a few documents at a time, only as many as needed
            if len(stream) > per_source * (CTX - 1):
                break
            for ids in tokenizer(texts[first : first + 8], add_special_tokens=False)["input_ids"]:
                stream.extend(ids + [bos])
        for start in range(0, len(stream) - CTX, CTX - 1)[:per_source]:
            windows.append([bos, *stream[start : start + CTX - 1]])
    order = rng.permutation(len(windows))[:n]
    tokens = torch.tensor([windows[i] for i in order])
    half = (CTX - 1) // 2
    tokens[::repeat_every, 1 + half : 1 + 2 * half] = tokens[::repeat_every, 1 : 1 + half]
    return tokens


@torch.inference_mode()
def mlp_pairs(model, tokens: torch.Tensor, batch: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every layer's (MLP input, MLP output), `[n_tokens, d_model]` each, fp16, from one pass over `tokens`."""
    layers = range(model.cfg.n_layers)
    names = {input_hook(layer) for layer in layers} | {output_hook(layer) for layer in layers}
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for first in range(0, tokens.shape[0], batch):
        _, cache = model.run_with_cache(tokens[first : first + batch], names_filter=lambda name: name in names)
        for name in names:
            chunks[name].append(cache[name].reshape(-1, model.cfg.d_model).half())
    return [(torch.cat(chunks[input_hook(layer)]), torch.cat(chunks[output_hook(layer)])) for layer in layers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded", choices=["embedded", "embedded-6l"])
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus"))
    parser.add_argument("--windows", type=int, default=3000)
    parser.add_argument("--repeat-every", type=int, default=6)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-windows", type=int, default=400)
    parser.add_argument("--no-scale-init", action="store_true", help="start the encoder unscaled (how the 2-layer files were made)")
    parser.add_argument("--out", type=Path, help="default: the model's transcoders/ folder")
    parser.add_argument("--measure-only", action="store_true", help="re-measure the shipped transcoders and rewrite the card's metrics")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    started = time.time()
    model = load_model(args.model)
    out = args.out or embedded_dir(args.model) / "transcoders"
    held_out_tokens = validation_tokens(context=CTX)[: args.eval_windows]
    held_out_pairs = mlp_pairs(model, held_out_tokens)
    if args.measure_only:
        card = json.loads((out / "card.json").read_text())
        transcoders = load_transcoders(str(out))
        histories = [[{"explained_variance": entry["final_train_explained_variance"]}] for entry in card["layers"]]
    else:
        transcoders, histories, recipe = train(model, args)
        card = {"model": args.model, "architecture": "TopK transcoder per layer: blocks.L.ln2.hook_out -> blocks.L.hook_mlp_out",
                "d_transcoder": args.width * model.cfg.d_model, "k": args.k, "recipe": {**recipe, "minutes": round((time.time() - started) / 60, 1)}}
    card["held_out"] = {"windows": int(held_out_tokens.shape[0]), "tokens": int(held_out_tokens.numel()), "loss_windows": 64}
    card["layers"] = measure(transcoders, histories, held_out_pairs, held_out_tokens)
    card["replaced"] = replaced_loss(model, transcoders, held_out_tokens[:64])
    if not args.measure_only:
        for transcoder in transcoders:
            save_transcoder(transcoder.half(), out / f"layer_{transcoder.layer}")
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=1))


def train(model, args) -> tuple[list[Transcoder], list[list[dict]], dict]:
    """One transcoder per layer on the corpus windows; rounded to fp16 (measured as shipped)."""
    d_model = model.cfg.d_model
    train_pairs = mlp_pairs(model, corpus_windows(args.corpus, model.tokenizer, args.windows, args.repeat_every, seed=0))
    print(f"{train_pairs[0][0].shape[0]} training tokens per layer", flush=True)
    config = TrainConfig(total_steps=args.steps, lr=args.lr, warmup_steps=50, decay_fraction=0.2, dead_after_tokens=200_000, log_every=100)
    transcoders, histories = [], []
    for layer in range(model.cfg.n_layers):
        transcoder = Transcoder(d_model, args.width * d_model, k=args.k, layer=layer, seed=layer, model_name=model.cfg.model_name)
        histories.append(train_transcoder(
            transcoder, *train_pairs[layer], config, batch_size=args.batch, scale_init=not args.no_scale_init,
            on_log=lambda e, layer=layer: print(f"layer {layer} step {e['step']:.0f} ev {e['explained_variance']:.3f} dead {e['dead_fraction']:.1%}", flush=True)))
        transcoders.append(transcoder.half().float().eval())
    recipe = {"script": "scripts/embedded/train_transcoders.py", "corpus_windows": args.windows, "context": CTX,
              "repeat_every": args.repeat_every, "training_tokens": int(train_pairs[0][0].shape[0]), "steps": args.steps,
              "batch": args.batch, "lr": args.lr, "warmup_steps": 50, "decay_fraction": 0.2, "aux_k_coefficient": config.aux_coefficient,
              "dead_after_tokens": config.dead_after_tokens, "scale_init": not args.no_scale_init, "threads": 1}
    return transcoders, histories, recipe


def measure(transcoders, histories, held_out_pairs, held_out_tokens) -> list[dict]:
    """Per layer: L0, variance explained and dead features without BOS; variance explained with it."""
    not_bos = torch.arange(held_out_tokens.numel()) % CTX != 0  # position 0 (BOS) is one repeated point, measured apart
    layers = []
    for transcoder, history, pair in zip(transcoders, histories, held_out_pairs):
        with_bos = transcoder_metrics(transcoder, *pair)
        layers.append({"layer": transcoder.layer, **transcoder_metrics(transcoder, pair[0][not_bos], pair[1][not_bos]),
                       "explained_variance_with_bos": with_bos["explained_variance"],
                       "final_train_explained_variance": history[-1]["explained_variance"]})
        print(layers[-1], flush=True)
    return layers


if __name__ == "__main__":
    main()
