"""Train the embedded model's SAEs (1x/2x/4x/8x, ReLU + L1, one activation pass) and catalogue features.

    python scripts/embedded/train_saes.py --model interp_widgets/models/embedded --streams build/model
    python scripts/embedded/train_saes.py --model interp_widgets/models/embedded_6l --streams build/model6/natural \
        --hook blocks.2.hook_resid_post --cache build/sae_cache6/activations.npy

Writes `saes/{1x,2x,4x,8x}/` (SAELens format), `saes/metrics.json` (L0, explained variance, CE
loss recovered, dead fraction, MMCS between sizes) and `saes/catalogue.json`: for each concept
(German text, :param names, previous token " and", Title Case, inside a Python string), every
token of held-out text is labelled, and the feature whose activation best separates the concept's
tokens from the rest (AUROC) is reported with its score.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch

from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.models.loaders import load_native_dir
from interp_widgets.sae import (
    ActivationStore,
    ReluSAE,
    TrainConfig,
    compare_dictionaries,
    reconstruction_metrics,
    save_sae,
    spliced_loss,
    train_saes,
)

HOOK = "blocks.0.hook_resid_post"
SIZES = (1, 2, 4, 8)
CTX = 256


def windows(streams: Path, names: list[str], split: str, n: int, bos: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n):
        stream = np.load(streams / f"{names[index % len(names)]}.{split}.npy", mmap_mode="r")
        start = rng.integers(0, len(stream) - CTX)
        rows.append(np.concatenate([[bos], np.asarray(stream[start : start + CTX - 1], dtype=np.int64)]))
    return torch.from_numpy(np.stack(rows))


def ranks_of(scores: torch.Tensor) -> torch.Tensor:
    """Rank of each row within every column of `scores [n, features]` (1 = lowest)."""
    return scores.argsort(dim=0).argsort(dim=0).double() + 1


def auroc(ranks: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """AUROC of every column for boolean `labels [n]`, from the column ranks (Mann-Whitney U)."""
    positives = labels.sum().double()
    negatives = (~labels).sum().double()
    return (ranks[labels].sum(0) - positives * (positives + 1) / 2) / (positives * negatives)


def concept_labels(strs: list[list[str]], sources: list[str]) -> dict[str, tuple[torch.Tensor, str]]:
    """Boolean labels per token (BOS dropped) for each concept, with a sentence saying how they were made."""
    flat = [t for row in strs for t in row]
    source_of = [s for s, row in zip(sources, strs) for _ in row]
    previous = [row[i - 1] if i > 0 else "" for row in strs for i in range(len(row))]
    german = torch.tensor([s in ("fortunes_de", "debian_reference_de") for s in source_of])
    in_string = []
    for row, source in zip(strs, sources):
        quote = None
        for token in row:
            inside = quote is not None
            for ch in token:
                if quote is None and ch in "\"'":
                    quote = ch
                elif quote is not None and ch == quote:
                    quote = None
                elif ch == "\n":
                    quote = None
            in_string.append(bool(source in CODE_SOURCES and inside and quote is not None))
    title = [bool(re.fullmatch(r" ?[A-Z][a-z]+", t)) and bool(re.fullmatch(r" ?[A-Z][a-z]+", p)) for t, p in zip(flat, previous)]
    param = []
    for row in strs:  # `:param` may be split into several tokens: look at the text before each token
        text = ""
        for token in row:
            param.append(text.endswith(":param"))
            text += token
    return {
        "German text": (german, "tokens of the German sources vs all other sources"),
        "inside a Python string": (torch.tensor(in_string), "code tokens between matching quotes on one line vs all other tokens"),
        'previous token " and"': (torch.tensor([p == " and" for p in previous]), 'tokens right after " and" vs all other tokens'),
        "Title Case": (torch.tensor(title), "capitalised word following a capitalised word vs all other tokens"),
        ":param name": (torch.tensor(param), "the token right after `:param` (held-out code and docstring snippets) vs all other tokens"),
    }


CODE_SOURCES = ("python_stdlib", "sqlalchemy", "pymongo", "docstring_snippets")


def held_out_sequences(model, streams: Path, names: list[str], bos: int) -> tuple[list[torch.Tensor], list[str]]:
    """Held-out windows of every source, plus short synthetic docstrings (for the :param concept)."""
    from interp_widgets.compute.patching.task_accuracy import docstring_prompts
    usable = [n for n in names if (streams / f"{n}.val.npy").stat().st_size > 8 * CTX]
    rows = windows(streams, usable, "val", 12 * len(usable), bos, seed=1)
    sequences = list(rows)
    sources = [usable[i % len(usable)] for i in range(len(rows))]
    for prompt, args in docstring_prompts(40, seed=11):
        sequences.append(model.to_tokens(f"{prompt} {args[2]}: the value\n")[0])
        sources.append("docstring_snippets")
    return sequences, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("interp_widgets/models/embedded"))
    parser.add_argument("--streams", type=Path, default=Path("build/model"))
    parser.add_argument("--cache", type=Path, default=Path("build/sae_cache/activations.npy"))
    parser.add_argument("--sequences", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--l1", type=float, default=0.08)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where the activation pass and training run (metrics: on the CPU)")
    parser.add_argument("--out", type=Path, help="write the SAEs here (default: the model's saes/ folder)")
    parser.add_argument("--hook", default=HOOK, help="where the SAEs read the residual stream (the 6-layer model: its middle, blocks.2.hook_resid_post)")
    args = parser.parse_args()
    hook = args.hook
    torch.set_num_threads(2)
    model = load_native_dir(args.model, args.device)
    bos = model.tokenizer.bos_token_id
    names = list(json.loads((args.streams / "streams.json").read_text()))
    train_tokens = windows(args.streams, names, "train", args.sequences, bos, seed=0)
    store = ActivationStore(model, hook, train_tokens, batch_size=2048, model_batch_size=32, cache_path=args.cache)
    d = store.d_in
    saes = [ReluSAE(d, d * m, seed=m, hook_name=hook, model_name=model.cfg.model_name).to(args.device) for m in SIZES]
    config = TrainConfig(total_steps=args.steps, lr=1e-3, l1_coefficient=args.l1, warmup_steps=50, log_every=50,
                         resample_every=250, dead_after_tokens=200_000)
    train_saes(saes, store, config)
    model, saes = model.to("cpu"), [sae.cpu() for sae in saes]

    sequences, sources = held_out_sequences(model, args.streams, names, bos)
    held_out = torch.cat([activations_at(model, seq[None], hook)[0, 1:] for seq in sequences]).float()
    strs = [[str(t) for t in model.to_str_tokens(seq)][1:] for seq in sequences]
    val_tokens = torch.stack([seq for seq in sequences if len(seq) == CTX])
    out = args.out or args.model / "saes"
    metrics = {"hook_name": hook, "train_activations": store.n_activations, "sizes": {}, "mmcs": {}}
    for m, sae in zip(SIZES, saes):
        size = f"{m}x"
        save_sae(sae.half(), out / size)  # shipped in fp16; load_sae gives float32
        sae.float()
        metrics["sizes"][size] = {**reconstruction_metrics(sae, held_out), **spliced_loss(model, sae, val_tokens[:32])}
    for a, sae_a in zip(SIZES, saes):
        metrics["mmcs"][f"{a}x"] = {f"{b}x": compare_dictionaries(sae_a, sae_b).mmcs for b, sae_b in zip(SIZES, saes)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))

    concepts = {name: value for name, value in concept_labels(strs, sources).items() if value[0].sum() >= 10}
    best: dict[str, dict] = {}
    for m, sae in zip(SIZES, saes):
        with torch.no_grad():
            ranks = ranks_of(sae.encode(held_out).float())
        for concept, (labels, how) in concepts.items():
            scores = auroc(ranks, labels)
            feature = int(scores.argmax())
            if concept not in best or scores[feature] > best[concept]["auroc"]:
                best[concept] = {"concept": concept, "sae": f"{m}x", "feature": feature, "auroc": float(scores[feature]),
                                 "check": f"AUROC on {int(labels.sum())} positive / {int((~labels).sum())} negative held-out tokens: {how}"}
    catalogue = list(best.values())
    (out / "catalogue.json").write_text(json.dumps(catalogue, indent=2))
    print(json.dumps({"metrics": metrics["sizes"], "catalogue": catalogue}, indent=1))


if __name__ == "__main__":
    main()
