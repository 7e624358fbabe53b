"""circuit-tracer itself as bench_attribution.py's reference: export a model, its transcoders and a
prompt, run circuit-tracer 0.5.0's `attribute` in its own environment (benchmarks/_circuit_tracer_run.py
under .venv-circuit-tracer, built by `bash scripts/setup-circuit-tracer.sh --full`), and compare its
adjacency with ours, nodes matched by (layer, position, feature)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv-circuit-tracer" / "bin" / "python"
CONFIG_FIELDS = ("n_layers", "d_model", "n_ctx", "d_head", "n_heads", "d_mlp", "d_vocab", "act_fn", "normalization_type",
                 "positional_embedding_type", "rotary_dim", "attn_only", "default_prepend_bos")


def available() -> str:
    """'' when circuit-tracer's environment is there, else why not."""
    if not PYTHON.exists():
        return "circuit-tracer's environment is not built (bash scripts/setup-circuit-tracer.sh --full)"
    probe = subprocess.run([str(PYTHON), "-c", "import circuit_tracer.attribution"], capture_output=True, text=True)
    return "" if probe.returncode == 0 else f"circuit-tracer does not import there: {probe.stderr.strip().splitlines()[-1]}"


def hooked_transformer_weights(model: Any) -> dict[str, torch.Tensor]:
    """The bridge's weights under HookedTransformer's names (what circuit-tracer's replacement model loads)."""
    f32 = lambda t: t.detach().float().cpu().contiguous()  # noqa: E731
    weights = {"embed.W_E": f32(model.W_E), "ln_final.w": f32(model.ln_final.w), "ln_final.b": f32(model.ln_final.b),
               "unembed.W_U": f32(model.W_U), "unembed.b_U": f32(model.b_U)}
    if model.cfg.positional_embedding_type == "standard":
        weights["pos_embed.W_pos"] = f32(model.W_pos)
    for layer, block in enumerate(model.blocks):
        for site in ("ln1", "ln2"):
            weights[f"blocks.{layer}.{site}.w"], weights[f"blocks.{layer}.{site}.b"] = f32(getattr(block, site).w), f32(getattr(block, site).b)
        for name in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O"):
            weights[f"blocks.{layer}.attn.{name}"] = f32(getattr(model, name)[layer])
        for name in ("W_in", "b_in", "W_out", "b_out"):
            weights[f"blocks.{layer}.mlp.{name}"] = f32(getattr(model, name)[layer])
    return weights


def run(model: Any, transcoders: list[Any], tokens: torch.Tensor, max_features: int | None, batch_size: int = 256) -> dict[str, Any]:
    """circuit-tracer's seconds and graph (features [F, 3], logit token ids, adjacency) on the same model, transcoders and tokens."""
    with tempfile.TemporaryDirectory(prefix="iw-ct-") as folder:
        folder = Path(folder)
        config = {name: getattr(model.cfg, name) for name in CONFIG_FIELDS if getattr(model.cfg, name, None) is not None}
        if config.get("positional_embedding_type") == "rotary":  # the native bridge rotates adjacent pairs (checked: the logits agree)
            config["rotary_adjacent_pairs"] = True
        with torch.inference_mode():
            last_logits = model(tokens[None])[0, -1].float().cpu()
        case = {"config": config, "weights": hooked_transformer_weights(model), "tokens": tokens.cpu(), "last_logits": last_logits,
                "transcoders": [{"W_enc": tc.W_enc.detach().float().cpu(), "W_dec": tc.W_dec.detach().float().cpu(),
                                 "b_enc": tc.b_enc.detach().float().cpu(), "b_dec": tc.b_dec.detach().float().cpu(), "k": int(tc.k)}
                                for tc in transcoders],
                "input_hook": "mlp.hook_in", "max_features": max_features, "batch_size": batch_size,
                "special_tokens": {name: getattr(model.tokenizer, name) for name in ("bos_token", "eos_token", "pad_token", "unk_token")
                                   if getattr(model.tokenizer, name, None) is not None}}
        torch.save(case, folder / "case.pt")
        model.tokenizer.save_pretrained(str(folder / "tokenizer"))
        start = time.perf_counter()
        done = subprocess.run([str(PYTHON), str(ROOT / "benchmarks" / "_circuit_tracer_run.py"), str(folder)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"circuit-tracer failed:\n{done.stderr[-3000:]}")
        result = torch.load(folder / "result.pt", weights_only=True)  # plain tensors, numbers and dicts
        result["process_s"] = time.perf_counter() - start
        return result


def agreement(ours: Any, theirs: dict[str, Any], learned_positions: bool) -> dict[str, float]:
    """Edges matched by node: features by (layer, position, feature), then errors, tokens and logits in order.
    Returns the largest difference over a row's norm, the share of their features we also have, and logits equal (1/0).
    With learned positions the token columns are left out: circuit-tracer's token node is W_E[token] alone, ours
    W_E[token] + W_pos[position] (so that every node is its edges plus its bias)."""
    index = {tuple(f): i for i, f in enumerate(ours.features.tolist())}
    shared = [(index[tuple(f)], j) for j, f in enumerate(theirs["features"].tolist()) if tuple(f) in index]
    n_rest = ours.n_nodes - ours.n_features
    same_logits = float(torch.equal(ours.logit_tokens.cpu(), theirs["logit_tokens"].cpu()))
    ours_nodes = torch.tensor([i for i, _ in shared] + list(range(ours.n_features, ours.n_nodes)))
    their_nodes = torch.tensor([j for _, j in shared] + list(range(len(theirs["features"]), len(theirs["features"]) + n_rest)))
    a, b = ours.adjacency[ours_nodes][:, ours_nodes], theirs["adjacency"][their_nodes][:, their_nodes]
    if learned_positions:
        tokens = torch.arange(len(shared) + ours.n_layers * ours.n_pos, len(shared) + (ours.n_layers + 1) * ours.n_pos)
        a[:, tokens], b[:, tokens] = 0, 0
    rows = torch.cat([torch.arange(len(shared)), torch.arange(len(ours_nodes) - ours.logit_tokens.numel(), len(ours_nodes))])
    norms = a[rows].norm(dim=1).clamp_min(1e-12)
    return {"relative": float(((a[rows] - b[rows]).norm(dim=1) / norms).max()), "feature_overlap": len(shared) / max(len(theirs["features"]), 1),
            "same_logits": same_logits}
