"""Token-by-token decoding with a key/value cache, with edits applied at hook sites on the way.

Generating n tokens by re-running the whole sequence costs n forward passes over ever longer
sequences. A decoder that keeps each layer's keys and values for the positions it has already
seen runs only the new token through the blocks, attending over that cache: the same numbers
(the model is causal: an earlier position never sees a later one), one position of work per token.

The `TransformerBridge` around a TransformerLens native model (the embedded models, `boot_native`)
keeps no such cache: its `generate(use_past_kv_cache=True)` re-runs the whole sequence every step
(its hooks see `[batch, 9]`, `[batch, 10]`, ... activations; checked on transformer-lens 4.3 and 3.9).
Around a Hugging Face model (transformer-lens 4.3 with transformers 5.x) the bridge's own cache
stays empty on GPT-2 and Llama (its attention bridge looks for `past_key_values` / `layer_past`,
transformers now passes `cache=`), so the bridge's `generate()` returns wrong tokens from the
second token on; nothing here relies on it. `CachedDecoder` runs the model's own modules (the
pieces `compute.core.block_maths.model_maths` reads: native models and the Hugging Face families
listed there; others get `RerunDecoder`) and calls `edit(site, x, positions)` where a TransformerLens hook would fire:
`blocks.L.hook_resid_pre`, `hook_attn_out`, `hook_resid_mid`, `hook_mlp_out`, `hook_resid_post`.
Any other hook or model gets `RerunDecoder`: the whole sequence each step, with real hooks.
Edits mean what the bridge's hooks mean: its `hook_resid_mid` is the MLP's input (`ln2.hook_in`), so an
edit there changes what the MLP reads but not the residual stream the block adds the MLP's output to.

Shapes: B rows decoded in lockstep; new tokens `[B, t]`; absolute `positions [t]`; each layer's
cache `[B, T_max, heads, d_head]`; `forward` returns the logits of the last `keep` new tokens `[B, keep, vocab]`.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.compute.core.hooks import model_device
from interp_widgets.compute.core.prefix_runner import SITE_ALIASES, SUPPORTED_HOOK, PrefixRunner

Edit = Callable[[str, Tensor, Tensor], Tensor]  # (site, x [B, t, d], positions [t]) -> edited x
CACHED_SITES = ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post")


def cached_site(hook: str) -> str | None:
    """The canonical name (`blocks.L.hook_<site>`) of a hook the cached decoder can edit, else None."""
    match = SUPPORTED_HOOK.match(hook)
    if not match:
        return None
    site = SITE_ALIASES.get(match.group(2), match.group(2)).removeprefix("hook_")
    return f"blocks.{int(match.group(1))}.hook_{site}"


def cache_unsupported(model: Any) -> str | None:
    """Why the cached decoder cannot run this model (None: it can)."""
    return PrefixRunner(model, f"blocks.{model.cfg.n_layers - 1}.hook_resid_post").reason


class CachedDecoder:
    """Decode `rows` sequences in lockstep, keeping every layer's keys and values (grouped heads repeated)."""

    engine = "kv-cache"

    def __init__(self, model: Any, rows: int, max_length: int, edit: Edit, sites: Sequence[str]) -> None:
        self.runner = PrefixRunner(model, f"blocks.{model.cfg.n_layers - 1}.hook_resid_post")
        assert self.runner.reason is None, self.runner.reason
        self.maths = self.runner.maths
        self.edit, self.sites = edit, frozenset(sites)
        weight = self.maths.unembed.weight
        shape = [(rows, max_length, block.heads, block.d_head) for block in self.runner.blocks]
        self.keys = [torch.zeros(s, dtype=weight.dtype, device=weight.device) for s in shape]
        self.values = [torch.zeros(s, dtype=weight.dtype, device=weight.device) for s in shape]
        self.length = 0

    def fork(self, rows: Sequence[int], length: int, max_length: int, edit: Edit) -> "CachedDecoder":
        """A decoder whose row i starts from this one's row `rows[i]`, its first `length` positions cached
        (the same sites, edited by `edit`): what follows a shared prompt runs without running the prompt again."""
        forked = object.__new__(CachedDecoder)
        forked.runner, forked.maths, forked.edit, forked.sites = self.runner, self.maths, edit, self.sites
        index = torch.tensor(list(rows), device=self.keys[0].device)

        def take(cache: Tensor) -> Tensor:
            out = cache.new_zeros((len(rows), max_length, *cache.shape[2:]))
            out[:, :length] = cache[index, :length]
            return out

        forked.keys, forked.values = [take(k) for k in self.keys], [take(v) for v in self.values]
        forked.length = length
        return forked

    def _site(self, layer: int, site: str, x: Tensor, positions: Tensor) -> Tensor:
        name = f"blocks.{layer}.hook_{site}"
        return self.edit(name, x, positions) if name in self.sites else x

    def forward(self, tokens: Tensor, keep: int = 1) -> Tensor:
        """Run new tokens `[B, t]` after the cached ones; the logits of the last `keep` of them, `[B, keep, vocab]`."""
        start, t = self.length, tokens.shape[1]
        positions = torch.arange(start, start + t, device=tokens.device)  # [t]
        grid = positions.expand(tokens.shape[0], t)  # [B, t]
        x = self.maths.embed(tokens, grid)  # [B, t, d]
        for layer, block in enumerate(self.runner.blocks):
            x = self._site(layer, "resid_pre", x, positions)
            queries, keys, values = block.queries_keys_values(x, grid)  # [B, t, heads, d_head]
            self.keys[layer][:, start:start + t], self.values[layer][:, start:start + t] = keys, values
            keys, values = self.keys[layer][:, :start + t], self.values[layer][:, :start + t]
            scores = block.scores(torch.einsum("bqhd,bkhd->bhqk", queries, keys))  # [B, heads, t, start + t]
            hidden = block.hidden(positions, torch.arange(start + t, device=tokens.device))  # [t, start + t]
            pattern = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
            mixed = torch.einsum("bhqk,bkhd->bqhd", pattern, values)  # [B, t, heads, d_head]
            attn_out = self._site(layer, "attn_out", block.attention_output(mixed), positions)
            if block.mlp is None:
                x = x + attn_out
            elif block.parallel:
                x = x + attn_out + self._site(layer, "mlp_out", block.mlp_output(x, x), positions)
            else:
                x = x + attn_out
                # the bridge's hook_resid_mid is the MLP's input hook: an edit there reaches the MLP, not the residual
                mlp_in = self._site(layer, "resid_mid", x, positions)
                x = x + self._site(layer, "mlp_out", block.mlp_output(mlp_in, mlp_in), positions)
            x = self._site(layer, "resid_post", x, positions)
        self.length += t
        return self.maths.final(x[:, -keep:])


class RerunDecoder:
    """The same interface for any model and hook: the whole sequence every step, edits as real hooks."""

    engine = "rerun"

    def __init__(self, model: Any, rows: int, max_length: int, edit: Edit, sites: Sequence[str]) -> None:
        self.model, self.edit, self.sites = model, edit, tuple(sites)
        self.tokens: Tensor | None = None

    def forward(self, tokens: Tensor, keep: int = 1) -> Tensor:
        self.tokens = tokens if self.tokens is None else torch.cat([self.tokens, tokens], dim=1)
        positions = torch.arange(self.tokens.shape[1], device=tokens.device)

        def hook_for(site: str) -> Callable[[Tensor, Any], Tensor]:
            return lambda activation, hook: self.edit(site, activation, positions)

        with self.model.hooks(fwd_hooks=[(site, hook_for(site)) for site in self.sites]):
            logits = self.model(self.tokens, return_type="logits")
        return logits[:, -keep:]


_CHECKED: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def cache_reproduces_model(model: Any) -> bool:
    """Whether the cached decoder gives the model's own logits (8 tokens at once, then 4 one by one; once per model)."""
    if model not in _CHECKED:
        tokens = torch.arange(12, device=model_device(model))[None] % int(model.cfg.d_vocab)
        with torch.inference_mode():
            theirs = model(tokens)[0]
            decoder = CachedDecoder(model, 1, 12, lambda site, x, positions: x, ())
            ours = torch.cat([decoder.forward(tokens[:, :8], keep=8)[0]] + [decoder.forward(tokens[:, i:i + 1])[0] for i in range(8, 12)])
        _CHECKED[model] = bool(torch.allclose(ours.float(), theirs.float(), atol=1e-3, rtol=1e-4))
    return _CHECKED[model]


def make_decoder(model: Any, rows: int, max_length: int, edit: Edit, sites: Sequence[str]) -> CachedDecoder | RerunDecoder:
    """The cached decoder when the model and every site allow it (and it reproduces the model), else the rerun decoder."""
    if cache_unsupported(model) is None and all(cached_site(site) == site for site in sites) and cache_reproduces_model(model):
        return CachedDecoder(model, rows, max_length, edit, sites)
    return RerunDecoder(model, rows, max_length, edit, sites)


def sample_next(logits: Tensor, temperature: float, top_p: float, generators: Sequence[torch.Generator]) -> Tensor:
    """Next token ids `[B]` from last-position logits `[B, vocab]`.

    Temperature 0 takes the most likely token. Otherwise the logits are divided by the temperature,
    cut to the smallest set of most likely tokens whose probability reaches `top_p` (nucleus
    sampling), and row b draws from `generators[b]` alone: a row draws the same tokens whatever
    other rows share its batch.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)  # [B, vocab]
    if top_p < 1.0:
        ordered, order = probs.sort(dim=-1, descending=True)
        outside = ordered.cumsum(dim=-1) - ordered >= top_p  # [B, vocab], never the most likely token
        probs = probs.scatter(-1, order, ordered.masked_fill(outside, 0.0))
    draws = [torch.multinomial(probs[row], 1, generator=generators[row]) for row in range(probs.shape[0])]
    return torch.cat(draws)
