"""SAEDashboard itself, timed on our model, SAE and tokens (run by bench_dashboard.py in .venv-saedashboard).

SAEDashboard 0.8 runs on transformer-lens 2's `HookedTransformer` (`HookedSAETransformer`) and an
SAELens `SAE`. This script rebuilds our model as one: the same config, and our native weights
(`config.json` + `model.safetensors`, the embedded models' format) rearranged into
`HookedTransformer`'s per-head layout; rotary positions rotate adjacent pairs, as the native model
does. The SAE directory is already in SAELens' format. `--check` writes the model's activations at
the SAE's hook for a few sequences, so the caller can confirm both sides run the same model.

Run (by bench_dashboard.py): .venv-saedashboard/bin/python benchmarks/_saedashboard_probe.py
    MODEL_DIR SAE_DIR TOKENS.npy FEATURES [--check OUT.npy]
FEATURES: comma-separated feature ids, given to one `SaeVisRunner.run`. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import einops  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def hooked_state_dict(native: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Our native weights (nn.Linear layout: [out, in]) in `HookedTransformer`'s names and per-head shapes."""
    heads = cfg["n_heads"]
    state = {"embed.W_E": native["tok_embed.weight"], "ln_final.w": native["ln_out.weight"], "ln_final.b": native["ln_out.bias"],
             "unembed.W_U": native["head.weight"].T,
             "unembed.b_U": native.get("head.bias", torch.zeros(cfg["d_vocab"]))}
    if "pos.weight" in native:
        state["pos_embed.W_pos"] = native["pos.weight"]
    for layer in range(cfg["n_layers"]):
        ours, theirs = f"layers.{layer}.", f"blocks.{layer}."
        for norm in ("ln1", "ln2"):
            state[f"{theirs}{norm}.w"] = native[f"{ours}{norm}.weight"]
            state[f"{theirs}{norm}.b"] = native[f"{ours}{norm}.bias"]
        for name in ("q", "k", "v"):
            # [(heads d_head), d_model] -> [heads, d_model, d_head]
            state[f"{theirs}attn.W_{name.upper()}"] = einops.rearrange(native[f"{ours}attn.{name}.weight"], "(h d) m -> h m d", h=heads)
            state[f"{theirs}attn.b_{name.upper()}"] = einops.rearrange(native[f"{ours}attn.{name}.bias"], "(h d) -> h d", h=heads)
        state[f"{theirs}attn.W_O"] = einops.rearrange(native[f"{ours}attn.o.weight"], "m (h d) -> h d m", h=heads)
        state[f"{theirs}attn.b_O"] = native[f"{ours}attn.o.bias"]
        state[f"{theirs}mlp.W_in"] = native[f"{ours}mlp.fc_in.weight"].T
        state[f"{theirs}mlp.b_in"] = native[f"{ours}mlp.fc_in.bias"]
        state[f"{theirs}mlp.W_out"] = native[f"{ours}mlp.fc_out.weight"].T
        state[f"{theirs}mlp.b_out"] = native[f"{ours}mlp.fc_out.bias"]
    return {name: tensor.float().contiguous() for name, tensor in state.items()}


def load_model(model_dir: str):
    from safetensors.torch import load_file
    from sae_lens import HookedSAETransformer
    from transformer_lens import HookedTransformerConfig

    cfg = json.loads(open(os.path.join(model_dir, "config.json")).read())["config"]
    keep = ("n_layers", "d_model", "n_ctx", "d_head", "n_heads", "d_mlp", "d_vocab", "act_fn", "normalization_type",
            "positional_embedding_type", "rotary_dim", "attn_only")
    hooked_cfg = HookedTransformerConfig(**{k: cfg[k] for k in keep if cfg.get(k) is not None},
                                         rotary_adjacent_pairs=True, default_prepend_bos=False)
    model = HookedSAETransformer(hooked_cfg)
    state = hooked_state_dict(load_file(os.path.join(model_dir, "model.safetensors")), cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    buffers = {name for name, _ in model.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise SystemExit(f"weights do not fit HookedTransformer: missing {sorted(set(missing) - buffers)[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("sae_dir")
    parser.add_argument("tokens")
    parser.add_argument("features")
    parser.add_argument("--check", help="write the activations at the SAE's hook for the first 4 sequences here")
    args = parser.parse_args()
    from sae_dashboard.sae_vis_data import SaeVisConfig
    from sae_dashboard.sae_vis_runner import SaeVisRunner
    from sae_lens import SAE

    tokens = torch.from_numpy(np.load(args.tokens)).long()  # [sequences, context]
    model = load_model(args.model_dir)
    sae = SAE.load_from_disk(args.sae_dir, device="cpu", dtype="float32")
    hook = sae.cfg.metadata.hook_name
    if getattr(sae.cfg, "rescale_acts_by_decoder_norm", None) is False:
        # SaeVisRunner folds the decoder norms into the encoder, which SAELens refuses for a TopK SAE
        # unless it rescales by them; our decoder rows have unit norm, so rescaling changes nothing.
        norms = sae.W_dec.norm(dim=-1)
        if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
            raise SystemExit("this TopK SAE's decoder rows are not unit norm; SAEDashboard would change its codes")
        sae.cfg.rescale_acts_by_decoder_norm = True
    out: dict[str, float] = {"tokens": tokens.numel()}
    if args.check:
        with torch.inference_mode():
            _, cache = model.run_with_cache(tokens[:4], names_filter=hook)
        np.save(args.check, cache[hook].numpy())
    features = [int(f) for f in args.features.split(",")]
    cfg = SaeVisConfig(hook_point=hook, features=features, minibatch_size_features=256, minibatch_size_tokens=64,
                       device="cpu", dtype="float32", verbose=False)
    start = time.perf_counter()
    data = SaeVisRunner(cfg).run(encoder=sae, model=model, tokens=tokens)
    out["run_s"] = time.perf_counter() - start
    if sorted(data.feature_data_dict) != sorted(features):
        raise SystemExit(f"SAEDashboard returned {len(data.feature_data_dict)} dashboards for {len(features)} features")
    out["n_features"] = len(features)
    out["per_feature_s"] = out["run_s"] / len(features)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
