"""Measure the embedded model (and its SAEs) and write MODEL_CARD.md.

    python scripts/embedded/measure.py --model interp_widgets/models/embedded --corpus build/corpus \
        --streams build/model --card interp_widgets/models/embedded/MODEL_CARD.md

Reports: validation loss per corpus source; previous-token and induction scores per head; loss on
the first and second copy of a repeated random block; residual-stream norm per layer and its
growth factor; docstring-task accuracy; and, when `saes/` exists, each SAE's metrics, the MMCS
between sizes and the feature catalogue (`saes/catalogue.json`, written by train_saes.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from interp_widgets.compute.circuits import (
    docstring_accuracy,
    growth_factor,
    induction_scores,
    previous_token_scores,
    repeated_random_tokens,
    repeated_sequence_loss,
    residual_norms,
)
from interp_widgets.models.loaders import load_native_dir


def val_windows(streams: Path, name: str, bos: int, ctx: int = 256, n: int = 16) -> torch.Tensor | None:
    stream = np.load(streams / f"{name}.val.npy")
    body = ctx - 1
    count = min(n, len(stream) // body)
    if count == 0:
        return None
    rows = np.asarray(stream[: count * body], dtype=np.int64).reshape(count, body)
    return torch.from_numpy(np.concatenate([np.full((count, 1), bos), rows], axis=1))


HELD_OUT_TEXT = (
    "On Tuesday the committee met again to decide whether the new library should open on weekends. "
    "Most members agreed, but the treasurer asked who would pay for the extra staff.\n"
    "def fetch(self, url, timeout):\n    \"\"\"Download a page.\n\n    :param url: the address to read\n"
    "    :param timeout: seconds to wait\n    \"\"\"\n    return self.session.get(url, timeout=timeout)\n"
    "Am Abend gingen wir zusammen in die Stadt, und das Essen war sehr gut."
)


def thresholds(model_dir: Path) -> dict:
    """Values the test suite checks the shipped files against: measured now, with margins."""
    from interp_widgets.models.loaders import EMBEDDED_SAE_SIZES
    from interp_widgets.sae import load_sae_from_disk, reconstruction_metrics

    model = load_native_dir(model_dir)
    with torch.inference_mode():
        loss = float(model(HELD_OUT_TEXT, return_type="loss"))
        _, cache = model.run_with_cache(HELD_OUT_TEXT)
    tokens = repeated_random_tokens(model, n_sequences=8, half=60, seed=3)
    first, second = repeated_sequence_loss(model, tokens)
    result = {
        "held_out_text": HELD_OUT_TEXT,
        "held_out_loss_max": round(loss + 0.25, 3),
        "previous_token_score_min": round(0.8 * float(previous_token_scores(model, model.to_tokens(HELD_OUT_TEXT)).max()), 3),
        "induction_score_min": round(0.8 * float(induction_scores(model, tokens).max()), 3),
        "repeat_loss_drop_min": round(0.7 * (first - second), 3),
        "docstring_accuracy_min": max(0.25, round(docstring_accuracy(model, n=60, seed=7) - 0.05, 3)),
    }
    saes = model_dir / "saes"
    if saes.is_dir():
        ev = [reconstruction_metrics(load_sae_from_disk(saes / s, dtype=torch.float32), cache["blocks.0.hook_resid_post"][0, 1:])["explained_variance"]
              for s in EMBEDDED_SAE_SIZES]
        result["sae_explained_variance_min"] = round(min(ev) - 0.1, 3)
    (model_dir / "thresholds.json").write_text(json.dumps(result, indent=2))
    return result


def measure(model_dir: Path, streams: Path) -> dict:
    model = load_native_dir(model_dir)
    bos = model.tokenizer.bos_token_id
    info = json.loads((streams / "streams.json").read_text())
    result: dict = {"val_loss": {}}
    natural = []
    with torch.inference_mode():
        for name in info:
            windows = val_windows(streams, name, bos)
            if windows is None:
                continue
            result["val_loss"][name] = float(model(windows, return_type="loss"))
            natural.append(windows[:4])
    text = torch.cat(natural)
    result["val_loss_mean"] = float(np.mean(list(result["val_loss"].values())))
    result["previous_token_scores"] = previous_token_scores(model, text).tolist()
    repeated = repeated_random_tokens(model, n_sequences=16, half=100, seed=0)
    result["induction_scores"] = induction_scores(model, repeated).tolist()
    first, second = repeated_sequence_loss(model, repeated)
    result["repeated_loss"] = {"first_copy": first, "second_copy": second}
    norms = residual_norms(model, text)
    result["residual_norms"] = norms.tolist()
    result["residual_growth_factor"] = growth_factor(norms)
    result["docstring_accuracy"] = docstring_accuracy(model, n=200, seed=0)
    return result


STEP_TOKENS = 16 * 256  # batch x context of every stage
NATURAL_STEPS, COPY_STEPS = 7500, 750  # recipe.sh's --stop-at for the first two stages


def stage_tokens(training: dict) -> str:
    """Tokens per stage; the last stage's count comes from its training log in config.json."""
    mix = training.get("log", [{}])[-1].get("tokens") if training.get("log") else None
    counts = [NATURAL_STEPS * STEP_TOKENS, COPY_STEPS * STEP_TOKENS] + ([mix] if mix else [])
    named = [f"{name} {n / 1e6:.1f} M" for name, n in zip(("natural", "copy", "mix"), counts)]
    return ", ".join(named) + (f"; {sum(counts) / 1e6:.1f} M tokens in all" if mix else "")


def table(rows: list[list[str]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def heads_table(scores: list[list[float]]) -> str:
    return table([[f"layer {layer}"] + [f"{v:.2f}" for v in row] for layer, row in enumerate(scores)],
                 ["", *[f"head {h}" for h in range(len(scores[0]))]])


def write_card(model_dir: Path, corpus: Path, result: dict, card: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    manifest = json.loads((corpus / "manifest.json").read_text())
    cfg = config["config"]
    training = config.get("training", {})
    best_prev = max(max(row) for row in result["previous_token_scores"])
    best_ind = max(max(row) for row in result["induction_scores"])
    sources = table(
        [[name, s["package"], s["version"], s["licence"], s["kind"], f"{s['characters'] / 1e6:.1f} M",
          f"{result['val_loss'].get(name, float('nan')):.2f}"] for name, s in manifest["sources"].items()],
        ["source", "package", "version", "licence", "kind", "characters", "val loss (nats/token)"],
    )
    mlp_text = "attention only" if cfg.get("attn_only") else f"MLPs of width {cfg['d_mlp']}"
    norms = " → ".join(f"{v:.1f}" for v in result["residual_norms"])
    parts = [
        "# The embedded model: interp-widgets-embedded\n",
        "A small transformer trained from scratch by `scripts/embedded/train_model.py` on text from the package registries "
        "(`scripts/embedded/corpus.py`), shipped so that every notebook and test works offline. Every number below was "
        "measured by `scripts/embedded/measure.py` on the shipped fp16 weights.\n",
        "## Architecture\n",
        f"{cfg['n_layers']} layers, d_model {cfg['d_model']}, {cfg['n_heads']} heads of {cfg['d_head']}, "
        f"{mlp_text}, {cfg['positional_embedding_type']} positions, "
        f"context {cfg['n_ctx']}, byte-level BPE vocabulary of {cfg['d_vocab']} (trained on the same corpus), "
        f"LayerNorm, GELU. Loaded as a TransformerLens `TransformerBridge`.\n",
        f"Training, in three stages (`scripts/embedded/recipe.sh`, {stage_tokens(training)}): **natural** — corpus text with "
        "some copy tasks mixed in; it learned a previous-token head but no induction head. **copy** — random blocks of "
        "frequent tokens tiled to the end of the context, nothing else; the layer-1 heads learned to use the previous-token "
        "head (the copy loss fell from 5.3 to 0.8 nats between steps 300 and 500: the induction phase change). **mix** — corpus text "
        "again with 30 % random blocks over the whole vocabulary, 15 % windows with a span repeated later, and 12 % "
        "synthetic Python functions with `:param` docstrings (`scripts/embedded/docstrings.py`).\n",
        "## Corpus and validation loss per source\n",
        "The corpus leans archaic (Shakespeare, Milton, 1961 Brown corpus) and technical (Python docs and code); the "
        "natural modern English available offline is about 30 MB. German is present but small. `corpus_manifest.json`, "
        "beside this card, records each download's sha256 and that of the text extracted from it; `corpus.py` rebuilds the "
        "same bytes.\n",
        sources + "\n",
        f"Mean validation loss over sources: **{result['val_loss_mean']:.2f} nats/token**.\n",
        "## Attention heads\n",
        f"Previous-token score (mean attention to the previous token, natural text). Best: **{best_prev:.2f}**.\n",
        heads_table(result["previous_token_scores"]) + "\n",
        f"Induction score (attention from a repeated token to the token after its first occurrence, random tokens). Best: **{best_ind:.2f}**.\n",
        heads_table(result["induction_scores"]) + "\n",
        f"Loss on a block of 100 random tokens: **{result['repeated_loss']['first_copy']:.2f}** nats/token the first time, "
        f"**{result['repeated_loss']['second_copy']:.2f}** when it repeats.\n",
        "## Residual stream\n",
        f"Mean norm before block 0 and after each block: {norms}; fitted growth factor **{result['residual_growth_factor']:.2f}× per layer**.\n",
        "## Docstring task\n",
        f"Heimersheim & Janiak's format, 200 prompts: top-1 accuracy among the four argument names **{result['docstring_accuracy']:.0%}** (chance 25 %). "
        "The argument and function names of these prompts and the words of their `:param` lines never occur in the "
        "synthetic training functions, which draw theirs from disjoint lists; the corpus itself has about 3,800 `:param` lines.\n",
    ]
    saes = model_dir / "saes"
    if (saes / "metrics.json").exists():
        metrics = json.loads((saes / "metrics.json").read_text())
        parts.append("## Sparse autoencoders\n")
        parts.append(f"ReLU + L1 SAEs on `{metrics['hook_name']}` at 1x/2x/4x/8x the residual width, trained together from one "
                     f"activation pass by `scripts/embedded/train_saes.py` ({metrics['train_activations']:,} activations).\n")
        parts.append(table([[size, f"{m['l0']:.1f}", f"{m['explained_variance']:.3f}", f"{m['ce_loss_recovered']:.3f}", f"{m['dead_fraction']:.1%}"]
                            for size, m in metrics["sizes"].items()], ["size", "L0", "explained variance", "CE loss recovered", "dead"]) + "\n")
        parts.append("MMCS between sizes (row's features against column's dictionary):\n")
        sizes = list(metrics["sizes"])
        parts.append(table([[a] + [f"{metrics['mmcs'][a][b]:.3f}" for b in sizes] for a in sizes], ["", *sizes]) + "\n")
        if (saes / "catalogue.json").exists():
            catalogue = json.loads((saes / "catalogue.json").read_text())
            parts.append("### Readable features\n")
            parts.append(table([[c["concept"], c["sae"], str(c["feature"]), f"{c['auroc']:.3f}", c["check"]] for c in catalogue],
                               ["concept", "SAE", "feature", "AUROC", "how it was checked"]) + "\n")
    card.write_text("\n".join(parts), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("interp_widgets/models/embedded"))
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus"))
    parser.add_argument("--streams", type=Path, default=Path("build/model"))
    parser.add_argument("--card", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    result = measure(args.model, args.streams)
    (args.model / "measurements.json").write_text(json.dumps(result, indent=2))
    write_card(args.model, args.corpus, result, args.card or args.model / "MODEL_CARD.md")
    print(json.dumps(thresholds(args.model), indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "val_loss"}, indent=1))


if __name__ == "__main__":
    main()
