"""Measure the embedded model (and its SAEs) and write MODEL_CARD.md.

    python scripts/embedded/measure.py --model interp_widgets/models/embedded --corpus build/corpus \
        --streams build/model --card interp_widgets/models/embedded/MODEL_CARD.md
    python scripts/embedded/measure.py --model interp_widgets/models/embedded_6l --streams build/model6/natural

Reports: validation loss per corpus source; previous-token and induction scores per head; loss on
the first and second copy of a repeated random block; residual-stream norm per layer and its
growth factor with its fit quality; docstring-task and IOI accuracy; the logit lens's agreement with
the final prediction per layer; for learned positions, the principal components of `W_pos` (and a
picture of them, `positional_components.svg`); and, when `saes/` exists, each SAE's metrics, the MMCS
between sizes and the feature catalogue (`saes/catalogue.json`, written by train_saes.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from interp_widgets.compute.patching.task_accuracy import (
    IOI_HELDOUT_NAMES,
    IOI_HELDOUT_TEMPLATES,
    docstring_accuracy,
    ioi_accuracy,
)
from interp_widgets.compute.residual.head_scores import (
    induction_scores,
    previous_token_scores,
    repeated_random_tokens,
    repeated_sequence_loss,
)
from interp_widgets.compute.residual.lens import (
    logit_lens_agreement,
)
from interp_widgets.compute.residual.norms import exponential_fit
from interp_widgets.compute.residual.norms import residual_norms as norms_by_boundary
from interp_widgets.compute.residual.positions import (
    position_embeddings,
    positional_structure,
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


def thresholds(model_dir: Path, result: dict) -> dict:
    """Values the test suite checks the shipped files against: measured now, with margins."""
    from interp_widgets.models.loaders import EMBEDDED_SAE_SIZES
    from interp_widgets.sae import load_sae_from_disk, reconstruction_metrics

    model = load_native_dir(model_dir)
    with torch.inference_mode():
        loss = float(model(HELD_OUT_TEXT, return_type="loss"))
        _, cache = model.run_with_cache(HELD_OUT_TEXT)
    tokens = repeated_random_tokens(model, n_sequences=8, half=60, seed=3)
    first, second = repeated_sequence_loss(model, tokens)
    out = {
        "held_out_text": HELD_OUT_TEXT,
        "held_out_loss_max": round(loss + 0.25, 3),
        "previous_token_score_min": round(0.8 * float(previous_token_scores(model, model.to_tokens(HELD_OUT_TEXT)).max()), 3),
        "induction_score_min": round(0.8 * float(induction_scores(model, tokens).max()), 3),
        "repeat_loss_drop_min": round(0.7 * (first - second), 3),
        "docstring_accuracy_min": max(0.25, round(docstring_accuracy(model, n=60, seed=7) - 0.05, 3)),
        "ioi_accuracy_min": round(ioi_accuracy(model, n=60, seed=7)["accuracy"] - 0.05, 3),
        "ioi_heldout_accuracy_min": round(result["ioi_heldout"]["accuracy"] - 0.05, 3),
        "val_loss_mean_max": round(result["val_loss_mean"] + 0.02, 3),
        "residual_fit": result["residual_fit"],
        "logit_lens_agreement": result["logit_lens_agreement"],
    }
    if "positional" in result:
        pos = result["positional"]
        out["positional_top2_share_min"] = round(sum(pos["variance_share"][:2]) - 0.05, 3)
        out["first_token_z_min"] = round(pos["first_token_z"] - 0.5, 3)
    saes = model_dir / "saes"
    if (saes / "metrics.json").exists():
        hook = json.loads((saes / "metrics.json").read_text())["hook_name"]
        ev = [reconstruction_metrics(load_sae_from_disk(saes / s, dtype=torch.float32), cache[hook][0, 1:])["explained_variance"]
              for s in EMBEDDED_SAE_SIZES]
        out["sae_explained_variance_min"] = round(min(ev) - 0.1, 3)
    (model_dir / "thresholds.json").write_text(json.dumps(out, indent=2))
    return out


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
    norms = norms_by_boundary(model, text, attention_mask=torch.ones_like(text))  # BOS left out; real windows, no padding (some end with EOS)
    result["residual_norms"] = norms.mean().tolist()
    fit = norms.fit()
    after_first = exponential_fit(norms.mean()[1:]) if model.cfg.n_layers > 2 else fit
    result["residual_fit"] = {"factor": fit.factor, "r2": fit.r2, "factor_after_block_0": after_first.factor, "r2_after_block_0": after_first.r2}
    result["logit_lens_agreement"] = logit_lens_agreement(model, text[::4]).tolist()
    result["docstring_accuracy"] = docstring_accuracy(model, n=200, seed=0)
    result["ioi"] = ioi_accuracy(model, n=400, seed=0)
    result["ioi_heldout"] = ioi_accuracy(model, n=400, seed=0, templates=IOI_HELDOUT_TEMPLATES, names=IOI_HELDOUT_NAMES)
    if model.cfg.positional_embedding_type == "standard":
        pos = positional_structure(position_embeddings(model))
        (model_dir / "positional_components.svg").write_text(components_svg(pos["components"][:3]))
        result["positional"] = {k: v for k, v in pos.items() if k not in ("components", "first_token")}  # tensors: the picture, not the card
    return result


def components_svg(components: torch.Tensor, width: int = 520, height: int = 200) -> str:
    """Left: the first principal components of W_pos over position; right: component 1 (x) against 2 (y)."""
    colours = ("#0072B2", "#E69F00", "#009E73")
    half = width // 2 - 10
    scale = float(components.abs().max())
    n = components.shape[1]
    lines = []
    for i, row in enumerate(components):
        points = " ".join(f"{10 + half * j / (n - 1):.1f},{height / 2 - (height / 2 - 20) * float(v) / scale:.1f}" for j, v in enumerate(row))
        lines.append(f'<polyline fill="none" stroke="{colours[i]}" stroke-width="1.2" points="{points}"/>')
        lines.append(f'<text x="{14 + 70 * i}" y="14" font-size="11" fill="{colours[i]}">PC{i + 1}</text>')
    dots = []
    for j in range(n):
        x = width * 3 / 4 + (half / 2 - 10) * float(components[0, j]) / scale
        y = height / 2 - (height / 2 - 20) * float(components[1, j]) / scale
        shade = int(40 + 180 * j / (n - 1))
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="rgb({shade},{60},{255 - shade})"/>')
    caption = (f'<text x="{width * 3 / 4:.0f}" y="14" font-size="11" text-anchor="middle">PC1 (x) against PC2 (y), '
               f'position 1 blue → {n} red</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
            f'<text x="{10 + half / 2:.0f}" y="{height - 4}" font-size="11" text-anchor="middle">position 1 → {n}</text>'
            + "".join(lines) + "".join(dots) + caption + "</svg>\n")


# Per shipped model: tokens per step (batch x context) and the steps of the first two stages (the
# last stage's count comes from its training log in config.json), and what its recipe did.
RECIPES = {
    "embedded": {
        "title": "interp-widgets-embedded",
        "step_tokens": 16 * 256, "natural_steps": 7500, "copy_steps": 750, "script": "recipe.sh",
        "stages": "**natural** — corpus text with "
        "some copy tasks mixed in; it learned a previous-token head but no induction head. **copy** — random blocks of "
        "frequent tokens tiled to the end of the context, nothing else; the layer-1 heads learned to use the previous-token "
        "head (the copy loss fell from 5.3 to 0.8 nats between steps 300 and 500: the induction phase change). **mix** — corpus text "
        "again with 30 % random blocks over the whole vocabulary, 15 % windows with a span repeated later, and 12 % "
        "synthetic Python functions with `:param` docstrings (`scripts/embedded/docstrings.py`).",
    },
    "embedded_6l": {
        "title": "interp-widgets-embedded-6l (`load_model(\"embedded-6l\")`)",
        "step_tokens": 64 * 256, "natural_steps": 10885, "ioi_training": True, "copy_steps": 750, "script": "recipe6.sh", "where": " on one H100 GPU in about 13 minutes",
        "stages": "**natural** — from the 2-layer model's token embedding, unembedding and final LayerNorm "
        "(same tokenizer and width; blocks and positions fresh), corpus text with 15 % repeated random blocks and 15 % windows "
        "with a copied span; unlike the 2-layer model it learned induction heads already here (second-copy loss 0.02 nats by "
        "step 500). **copy** — random blocks of the 512 most frequent tokens only. **mix** — corpus text with 30 % random "
        "blocks over the whole vocabulary, 15 % repeated spans, 12 % synthetic `:param` docstrings and 6 % synthetic "
        "indirect-object sentences in four fixed shapes (an earlier version of `scripts/embedded/ioi.py`), whose names are "
        "disjoint from those measured below.",
        "ioi_attempts": "An attempt to teach it the rule rather than the shapes, on CPU: `scripts/embedded/recipe6_ioi.sh` "
        "fine-tuned these weights on the same mix with procedurally varied IOI sentences (`ioi.py` now: many clause orders, "
        "verbs of giving and saying, both name orders, some non-name answers; 10 % of sequences for 275 steps, then 30 %; "
        "peak learning rate 1.5e-4; 5.7 M tokens, about 80 minutes). It moved the held-out figure from 38 % to 55 % "
        "(logit difference -0.56 to +0.62, the same 400 prompts) at a cost of 0.016 nats of validation loss (the trainer's "
        "validation windows) and 2 points on the training shapes (91 % to 89 %) — far from the 80 % aimed at, so those weights are not shipped. Retraining the mix stage of `recipe6.sh` "
        "(which now draws from the new generator) on a GPU is the next step.",
    },
}


def stage_tokens(recipe: dict, training: dict) -> str:
    """Tokens per stage; the last stage's count comes from its training log in config.json."""
    last = training.get("log", [{}])[-1].get("tokens") if training.get("log") else None
    counts = [recipe["natural_steps"] * recipe["step_tokens"], recipe["copy_steps"] * recipe["step_tokens"]] + ([last] if last else [])
    named = [f"{name} {n / 1e6:.1f} M" for name, n in zip(("natural", "copy", "mix"), counts)]
    return ", ".join(named) + (f"; {sum(counts) / 1e6:.1f} M tokens in all" if last else "")


def table(rows: list[list[str]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def heads_table(scores: list[list[float]]) -> str:
    return table([[f"layer {layer}"] + [f"{v:.2f}" for v in row] for layer, row in enumerate(scores)],
                 ["", *[f"head {h}" for h in range(len(scores[0]))]])


def write_card(model_dir: Path, corpus: Path, result: dict, card: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    shipped_manifest = model_dir.parent / "embedded" / "corpus_manifest.json"
    manifest = json.loads((corpus / "manifest.json" if (corpus / "manifest.json").exists() else shipped_manifest).read_text())
    recipe = RECIPES[model_dir.name]
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
    parts = [
        f"# The embedded model: {recipe['title']}\n",
        "A small transformer trained from scratch by `scripts/embedded/train_model.py` on text from the package registries "
        "(`scripts/embedded/corpus.py`), shipped so that every notebook and test works offline. Every number below was "
        "measured by `scripts/embedded/measure.py` on the shipped fp16 weights.\n",
        "## Architecture\n",
        f"{cfg['n_layers']} layers, d_model {cfg['d_model']}, {cfg['n_heads']} heads of {cfg['d_head']}, "
        f"{mlp_text}, {cfg['positional_embedding_type']} positions, "
        f"context {cfg['n_ctx']}, byte-level BPE vocabulary of {cfg['d_vocab']} (trained on the same corpus), "
        f"LayerNorm, GELU. Loaded as a TransformerLens `TransformerBridge`.\n",
        f"Training, in three stages (`scripts/embedded/{recipe['script']}`{recipe.get('where', '')}, {stage_tokens(recipe, training)}): {recipe['stages']}\n",
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
        residual_text(result, cfg["n_layers"]),
        "## Logit lens\n",
        "Share of positions (natural text, BOS left out) whose top-1 token read off the stream at each boundary — final "
        "LayerNorm recomputed there, then the unembedding — is already the model's final top-1:\n",
        table([[f"{v:.0%}" for v in result["logit_lens_agreement"]]], ["embed", *[f"after block {i}" for i in range(cfg["n_layers"])]]) + "\n",
        "## Docstring task\n",
        f"Heimersheim & Janiak's format, 200 prompts: top-1 accuracy among the four argument names **{result['docstring_accuracy']:.0%}** (chance 25 %). "
        "The argument and function names of these prompts and the words of their `:param` lines never occur in the "
        "synthetic training functions, which draw theirs from disjoint lists; the corpus itself has about 3,800 `:param` lines.\n",
        "## Indirect-object identification\n",
        f"400 prompts in the four measured templates (\"When Mary and John went to the store, John gave a drink to\"), half with the subject "
        f"named first: the indirect object's first token beats the subject's in **{result['ioi']['accuracy']:.0%}** "
        f"(chance 50 %), mean logit difference **{result['ioi']['logit_diff']:.2f}**. "
        + ("The names (`circuits.IOI_NAMES`) never occur in the synthetic training sentences, which draw theirs from a disjoint list.\n"
           if recipe.get("ioi_training") else "This model saw no synthetic IOI sentences in training.\n"),
    ]
    if "ioi_heldout" in result:
        parts.append(
            f"On {len(IOI_HELDOUT_TEMPLATES)} held-out sentence shapes with {len(IOI_HELDOUT_NAMES)} held-out names "
            f"(`circuits.IOI_HELDOUT_TEMPLATES` / `IOI_HELDOUT_NAMES`: \"While Oscar and Nora were cooking dinner, Nora passed "
            f"the salt to\"; the training-text generator can write none of these shapes or names), 400 prompts: "
            f"**{result['ioi_heldout']['accuracy']:.0%}**, mean logit difference **{result['ioi_heldout']['logit_diff']:.2f}**. "
            + (f"What it learned is tied to its training shapes. {recipe['ioi_attempts']}" if "ioi_attempts" in recipe else "") + "\n")
    if "positional" in result:
        parts += ["## Positional embeddings\n", positional_text(result["positional"]), "![The first principal components of W_pos](positional_components.svg)\n"]
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


def residual_text(result: dict, n_layers: int) -> str:
    norms = " → ".join(f"{v:.1f}" for v in result["residual_norms"])
    fit = result["residual_fit"]
    text = (f"Mean norm (BOS left out) before block 0 and after each block: {norms}. An exponential fitted to all of them: "
            f"**{fit['factor']:.2f}× per layer**, R² **{fit['r2']:.2f}** on the log norms")
    if n_layers > 2:
        text += (f"; from the output of block 0 on: {fit['factor_after_block_0']:.2f}× per layer, R² {fit['r2_after_block_0']:.2f}")
    means = result["residual_norms"]
    first_jump = means[1] / means[0] > means[-1] / means[1]
    verdict = ("the growth is close to exponential" if fit["r2"] > 0.9 else
               ("most of the growth is the first block's jump from the small embedding, not a steady factor per layer"
                if first_jump else "the growth is not a steady factor per layer")
               + ": this model does not show the exponential growth of GPT-2 or Pythia")
    if n_layers <= 2:
        verdict += f" (and {n_layers + 1} points are too few to tell an exponential from anything else)"
    return text + f". So {verdict}.\n"


def positional_text(pos: dict) -> str:
    shares = ", ".join(f"{v:.0%}" for v in pos["variance_share"])
    sinusoids = [i for i, share in enumerate(pos["frequency_share"]) if share > 0.5]
    late = max(range(len(pos["position_correlation"])), key=lambda i: abs(pos["position_correlation"][i]))
    pairs = [(i, j) for i in sinusoids for j in sinusoids if i < j and pos["dominant_frequency"][i] == pos["dominant_frequency"][j] and i != late and j != late]
    helix = (f"Components {pairs[0][0] + 1} and {pairs[0][1] + 1} are both mostly one sinusoid of the same frequency: with "
             f"component {late + 1} they trace a helix" if pairs else
             "There is no helix here: no two components besides the \"how late\" one are each mostly one sinusoid of a shared frequency")
    arcs = [i for i in sinusoids if i != late and pos["dominant_frequency"][i] == pos["dominant_frequency"][late]]
    if arcs:
        helix += (f"; component {late + 1} against component {arcs[0] + 1} traces an arc (picture below): position moves "
                  "smoothly along a curve")
    return (f"`W_pos` without position 0, centred: the first principal components explain {shares} of the variance. "
            f"Component {late + 1} is \"how late in the sequence\" (correlation with position {pos['position_correlation'][late]:+.2f}). "
            f"Position 0 sits {pos['first_token_z']:.1f} standard deviations further from the mean than the others (the "
            f"\"is this the first token\" direction). Share of each component's variance in its main Fourier frequency: "
            + ", ".join(f"{v:.0%} (frequency {f})" for v, f in zip(pos["frequency_share"], pos["dominant_frequency"]))
            + f". {helix}.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("interp_widgets/models/embedded"))
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus"))
    parser.add_argument("--streams", type=Path, default=Path("build/model"))
    parser.add_argument("--card", type=Path, default=None)
    parser.add_argument("--card-only", action="store_true", help="rewrite the card from measurements.json, measuring nothing")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.card_only:
        result = json.loads((args.model / "measurements.json").read_text())
        write_card(args.model, args.corpus, result, args.card or args.model / "MODEL_CARD.md")
        return
    result = measure(args.model, args.streams)
    (args.model / "measurements.json").write_text(json.dumps(result, indent=2))
    write_card(args.model, args.corpus, result, args.card or args.model / "MODEL_CARD.md")
    print(json.dumps(thresholds(args.model, result), indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "val_loss"}, indent=1))


if __name__ == "__main__":
    main()
