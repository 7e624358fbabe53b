"""Runs circuit-tracer's own `attribute` on a model and transcoders exported by bench_attribution.py.

Run in circuit-tracer's environment (scripts/setup-circuit-tracer.sh --full), never imported by the
package: `python benchmarks/_circuit_tracer_run.py <folder>`. The folder holds `case.pt` (the
HookedTransformerConfig's fields, a HookedTransformer state dict, per-layer transcoder weights in
our orientation, the prompt's tokens, settings) and `tokenizer/`. It builds circuit-tracer's
transformer-lens replacement model from the config, loads the weights, wraps the transcoders in
its SingleLayerTranscoder / TranscoderSet (activation: ReLU then TopK, as ours), checks the model's
logits against ours, times `attribute` (after one warm-up), and writes `result.pt`: seconds, the
selected features as (layer, position, feature), the logit token ids and the adjacency matrix.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torch import nn


class ReluTopK(nn.Module):
    """Our transcoders' activation: the k largest of ReLU(pre), the rest zero."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        values = pre.clamp_min(0)
        top = values.topk(self.k, dim=-1)
        return torch.zeros_like(values).scatter(-1, top.indices, top.values)


def main(folder: Path) -> None:
    from transformer_lens import HookedTransformerConfig
    from transformers import AutoTokenizer

    from circuit_tracer import attribute
    from circuit_tracer.replacement_model import ReplacementModel
    from circuit_tracer.transcoder.single_layer_transcoder import SingleLayerTranscoder, TranscoderSet

    torch.set_num_threads(1)
    case = torch.load(folder / "case.pt", weights_only=True)  # plain tensors, numbers, strings and dicts
    transcoders = {}
    for layer, weights in enumerate(case["transcoders"]):
        d, F = weights["W_enc"].shape
        tc = SingleLayerTranscoder(d, F, ReluTopK(weights["k"]), layer, device=torch.device("cpu"), dtype=torch.float32)
        tc.load_state_dict({"W_enc": weights["W_enc"].T.contiguous(), "W_dec": weights["W_dec"], "b_enc": weights["b_enc"],
                            "b_dec": weights["b_dec"]}, strict=False)
        transcoders[layer] = tc
    transcoder_set = TranscoderSet(transcoders, feature_input_hook=case["input_hook"], feature_output_hook="mlp.hook_out", scan="bench")
    config = HookedTransformerConfig(**case["config"])
    settings_file = folder / "tokenizer" / "tokenizer_config.json"  # written by transformers 5: name a class 4.57 has
    settings_file.write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", **case["special_tokens"]}))
    tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
    model = ReplacementModel.from_config(config, transcoder_set, backend="transformerlens", tokenizer=tokenizer)
    expected = model.state_dict()  # circuit-tracer wraps the MLPs and the unembedding: blocks.l.mlp.old_mlp.W_in, ...
    weights = {name: case["weights"][name.replace(".old_mlp", "").replace(".old_unembed", "")] for name in expected
               if name.replace(".old_mlp", "").replace(".old_unembed", "") in case["weights"]}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [name for name in missing if not name.startswith("transcoders") and "IGNORE" not in name and "mask" not in name
               and "rotary" not in name]
    if missing:
        raise SystemExit(f"weights missing from the export: {missing[:5]}")
    model.eval()
    tokens = case["tokens"]
    with torch.inference_mode():
        logits = model(tokens[None])[0, -1]
    logit_gap = float((logits - case["last_logits"]).abs().max())
    settings = dict(max_n_logits=10, desired_logit_prob=0.95, batch_size=case["batch_size"], max_feature_nodes=case["max_features"])
    attribute(tokens[:8], model, **settings)  # warm-up
    start = time.perf_counter()
    graph = attribute(tokens, model, **settings)
    seconds = time.perf_counter() - start
    selected = graph.active_features[graph.selected_features]
    torch.save({"seconds": seconds, "features": selected.cpu(), "logit_tokens": graph.logit_token_ids.cpu() if not callable(graph.logit_token_ids)
                else graph.logit_token_ids().cpu(), "adjacency": graph.adjacency_matrix.float().cpu(), "n_active": int(graph.active_features.shape[0]),
                "logit_gap": logit_gap}, folder / "result.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
