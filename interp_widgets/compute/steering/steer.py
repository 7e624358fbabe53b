"""Steering: generate with a direction pushed into the residual stream, side by side with the plain run.

Having found a feature, researchers turn it up while the model writes and read what changes.
A steer edits the activation `x [d]` at one hook, at chosen positions, along a direction `d`
(unit vector `u = d / |d|`), with strength `s`:

- `method="add"`: `x + s·u` (the classic steering vector);
- `method="set"`: `x - (x·u)u + s·u`, the projection on `u` replaced by `s`;
- `method="cap"`: `x - max(0, x·u - s)·u`, the projection clamped at `s` from above.

The direction is an SAE feature `(sae, index)` (its decoder row `W_dec[index]`, at the SAE's hook),
a `Neuron(layer, index)` (its output weights `W_out[layer][index]`, at that block's output
`blocks.L.hook_resid_post`) or a vector at a hook you name. `positions`: "all" (prompt and
generated tokens), "prompt", or "generated" (the positions holding generated tokens, so the first
new token, read at the prompt's last position, is not steered).

`generate` decodes the unsteered and the steered run in one batch with a key/value cache
(`compute.core.decoding`), each row with its own seeded generator (so the unsteered run is the one you
get alone), then scores each run's tokens under the other run. `sweep` does the same for n
strengths in one batch. For every generated token: its log-prob under its own run and under the
other, and each steer's activation at the position that predicted it (an SAE feature's activation,
else the projection `x·u`), read after the steers there, as the rest of the model sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Generator, Sequence

import numpy as np
import torch
from torch import Tensor

from interp_widgets.compute.core.decoding import CachedDecoder, cached_site, make_decoder, sample_next
from interp_widgets.compute.core.hooks import activations_at, model_device, resolve_hook_name, token_strings, tokenize
from interp_widgets.compute.core.readouts import SAEFeatureReadout, sae_hook_name, sae_shape
from interp_widgets.compute.steering.sampling import check_sampling, stop_rule
from interp_widgets.errors import InterpWidgetsError

METHODS = ("add", "set", "cap")
POSITIONS = ("all", "prompt", "generated")


@dataclass(frozen=True)
class Neuron:
    """An MLP neuron; steering it moves the residual stream along its output weights `W_out[layer][index]`."""

    layer: int
    index: int

    @property
    def label(self) -> str:
        return neuron_label(self.layer, self.index)


def neuron_label(layer: int, index: int) -> str:
    """A neuron's name as Neuronpedia writes it, `L0N586` (layer 0, neuron 586): "neuron 0.586" read as an activation."""
    return f"L{int(layer)}N{int(index)}"


@dataclass(frozen=True, eq=False)
class Steer:
    """One edit while generating (see the module doc). `hook` None: the direction's own hook."""

    hook: str | None
    direction: Any
    strength: float
    method: str = "add"
    positions: str = "all"


@dataclass(frozen=True)
class Completion:
    """One run's generated tokens.

    ids, tokens, text   the new tokens (ids, strings, decoded text)
    logprobs            `[n]` each token's log-prob under this run
    other_logprobs      `[n]` the same tokens' log-probs under the other run (teacher-forced)
    activations         `[n_steers, n]` each steer's activation at the position that predicted the token
    strengths           the steers' strengths in this run; None for the unsteered run
    """

    ids: list[int]
    tokens: list[str]
    text: str
    logprobs: np.ndarray
    other_logprobs: np.ndarray
    activations: np.ndarray
    strengths: tuple[float, ...] | None


@dataclass(frozen=True)
class SteeringResult:
    """The unsteered and the steered completion of one prompt; `first_divergence` the first differing token (None: same)."""

    prompt_tokens: list[str]
    unsteered: Completion
    steered: Completion
    steer_labels: list[str]
    engine: str

    @property
    def first_divergence(self) -> int | None:
        for index, (a, b) in enumerate(zip(self.unsteered.ids, self.steered.ids)):
            if a != b:
                return index
        same = len(self.unsteered.ids) == len(self.steered.ids)
        return None if same else min(len(self.unsteered.ids), len(self.steered.ids))


@dataclass(frozen=True)
class TokenEvent:
    """One decoding step, for streaming: row 0 is unsteered, row i > 0 the i-th steered run."""

    step: int
    ids: list[int]
    tokens: list[str]
    logprobs: list[float]
    activations: list[list[float]]  # [row][steer]
    finished: list[bool]


@dataclass(frozen=True, eq=False)
class PreparedSteer:
    """A checked steer: its canonical hook, unit direction `[d]` and how to read its activation."""

    site: str
    unit: Tensor
    method: str
    positions: str
    strength: float
    label: str
    read: Callable[[Tensor], Tensor]  # x [B, d] -> [B]
    feature: int | None = None  # an SAE feature's index (its activation index gives the slider's range), else None


def generate(model: Any, prompt: str, steers: Sequence[Steer], max_new_tokens: int = 32, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0, stop: Any = None, on_token: Callable[[TokenEvent], None] | None = None
             ) -> SteeringResult:
    """The unsteered and the steered completion of `prompt`, decoded together (see the module doc).

    `stop`: token ids and/or strings; a run ends after the token that produces one (kept).
    `on_token(event)` is called after every step (streaming; raise from it to abandon the generation).
    """
    steps = generate_tokens(model, prompt, steers, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed,
                            stop=stop)
    return _drain(steps, on_token)[0]


def sweep(model: Any, prompt: str, steers: Sequence[Steer], strengths: Sequence[float], max_new_tokens: int = 32,
          temperature: float = 0.0, top_p: float = 1.0, seed: int = 0, stop: Any = None, which: int = 0,
          on_token: Callable[[TokenEvent], None] | None = None) -> list[SteeringResult]:
    """`generate` at each strength of steer `which` (the others as given), all in one batch: one result per strength."""
    steps = generate_tokens(model, prompt, steers, strengths=strengths, which=which, max_new_tokens=max_new_tokens,
                            temperature=temperature, top_p=top_p, seed=seed, stop=stop)
    return _drain(steps, on_token)


def generate_tokens(model: Any, prompt: str, steers: Sequence[Steer | PreparedSteer], *, strengths: Sequence[float] | None = None,
                    which: int = 0, max_new_tokens: int = 32, temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
                    stop: Any = None) -> Generator[TokenEvent, None, list[SteeringResult]]:
    """The generation as it happens, token by token: yields a `TokenEvent` per step and returns `sweep`'s results
    (`strengths` None: one steered run at the steers' own strengths). `steers` may be prepared already
    (`prepare_steer`: a caller that also reads their sites or ranges checks each once). Input is checked before the first step."""
    prepared = [steer if isinstance(steer, PreparedSteer) else prepare_steer(model, steer) for steer in _as_list(steers)]
    if strengths is None:
        rows = [tuple(p.strength for p in prepared)]
    else:
        if not 0 <= which < len(prepared):
            raise InterpWidgetsError(f"which={which} names no steer: there are {len(prepared)} (0 to {len(prepared) - 1}).")
        if len(strengths) == 0:
            raise InterpWidgetsError("the sweep needs at least one strength.")
        for strength in strengths:
            _check_strength(strength)
        rows = [tuple(float(strength) if i == which else p.strength for i, p in enumerate(prepared)) for strength in strengths]
    prompt_ids = tokenize(model, prompt)[0]  # [P]
    check_sampling(max_new_tokens, temperature, top_p, seed, prompt_ids.shape[0], model.cfg.n_ctx)
    return _run(model, prompt_ids, prepared, rows, max_new_tokens, temperature, top_p, seed, stop_rule(model, stop))


def _drain(steps: Generator[TokenEvent, None, list[SteeringResult]], on_token: Callable[[TokenEvent], None] | None
           ) -> list[SteeringResult]:
    while True:
        try:
            event = next(steps)
        except StopIteration as done:
            return done.value
        if on_token is not None:
            on_token(event)


# ---- checking the input ------------------------------------------------------------------------


def _as_list(steers: Any) -> list[Steer | PreparedSteer]:
    steers = [steers] if isinstance(steers, (Steer, PreparedSteer)) else list(steers)
    if not steers or not all(isinstance(s, (Steer, PreparedSteer)) for s in steers):
        raise InterpWidgetsError("pass one or more Steer(hook, direction, strength, method, positions) objects.")
    return steers


def _check_strength(strength: Any) -> None:
    if isinstance(strength, Tensor) and strength.numel() == 1:
        strength = strength.item()
    if isinstance(strength, bool) or not isinstance(strength, Real) or not math.isfinite(float(strength)):
        raise InterpWidgetsError(f"the steering strength must be a finite number, got {strength!r}.")


def _hook_width(model: Any, hook: str) -> int:
    if cached_site(hook) is not None:
        return int(model.cfg.d_model)
    one_token = torch.zeros((1, 1), dtype=torch.long, device=model_device(model))
    activation = activations_at(model, one_token, hook)
    if activation.ndim != 3:
        raise InterpWidgetsError(f"hook {hook!r} gives activations of shape {list(activation.shape[2:])} per token, not one "
                                 "vector: steer at a residual-stream, attention-output or MLP-output hook.")
    return int(activation.shape[-1])


def _direction(model: Any, steer: Steer) -> tuple[str | None, Tensor, str, Callable[[Tensor], Tensor] | None]:
    """`(default hook, vector [d], label, SAE reader or None)` of a steer's direction."""
    direction = steer.direction
    if isinstance(direction, tuple) and len(direction) == 2 and isinstance(direction[1], (int, np.integer)):
        sae, index = direction
        d_sae = sae_shape(sae)[1]
        if not 0 <= int(index) < d_sae:
            raise InterpWidgetsError(f"feature index {index} is out of range: the SAE has {d_sae} features (0 to {d_sae - 1}).")
        reader = SAEFeatureReadout(sae, int(index))
        return sae_hook_name(sae), sae.W_dec[int(index)].detach().float(), f"feature {int(index)}", reader.read
    if isinstance(direction, Neuron):
        n_layers, d_mlp = model.cfg.n_layers, getattr(model.cfg, "d_mlp", None)
        if not 0 <= direction.layer < n_layers:
            raise InterpWidgetsError(f"neuron layer {direction.layer} is out of range: the model has layers 0 to {n_layers - 1}.")
        if not d_mlp or not 0 <= direction.index < d_mlp:
            raise InterpWidgetsError(f"neuron {direction.index} is out of range: layer {direction.layer}'s MLP has {d_mlp or 0} neurons.")
        vector = model.W_out[direction.layer][direction.index].detach().float()
        return f"blocks.{direction.layer}.hook_resid_post", vector, direction.label, None
    if isinstance(direction, (np.ndarray, Tensor)):
        return None, torch.as_tensor(direction).detach().float(), "direction", None
    raise InterpWidgetsError(f"cannot steer along {type(direction).__name__}: pass an SAE feature as (sae, index), "
                             "a Neuron(layer, index) or a vector (tensor of shape [d_model]).")


def prepare_steer(model: Any, steer: Steer) -> PreparedSteer:
    """The steer checked against the model (method, positions, strength, direction, hook and its width) and made ready:
    its site, unit direction and activation reader. Everything that steers, sizes or labels a steer starts here, once."""
    if steer.method not in METHODS:
        raise InterpWidgetsError(f"unknown steering method {steer.method!r}: use one of {', '.join(METHODS)}.")
    if steer.positions not in POSITIONS:
        raise InterpWidgetsError(f"unknown positions {steer.positions!r}: use one of {', '.join(POSITIONS)}.")
    _check_strength(steer.strength)
    own_hook, vector, label, sae_read = _direction(model, steer)
    if steer.hook is None and own_hook is None:
        raise InterpWidgetsError("a vector steer needs a hook: Steer('blocks.0.hook_resid_post', vector, strength).")
    hook = resolve_hook_name(model, steer.hook if steer.hook is not None else own_hook)
    site = cached_site(hook) or hook
    if sae_read is not None and own_hook is not None and (cached_site(own_hook) or own_hook) != site:
        raise InterpWidgetsError(f"the SAE was trained on {own_hook!r} but the steer is at {hook!r}: pass hook={own_hook!r} (or None).")
    width = _hook_width(model, hook)
    if vector.ndim != 1 or vector.shape[0] != width:
        raise InterpWidgetsError(f"the direction has shape {list(vector.shape)} but hook {hook!r} has width {width}: "
                                 f"pass a vector of shape [{width}].")
    norm = float(vector.norm())
    if not math.isfinite(norm) or norm == 0:
        raise InterpWidgetsError("the direction is zero or contains NaN/infinite entries: it has no direction to steer along.")
    unit = (vector / norm).to(model_device(model))
    read = sae_read or (lambda x, unit=unit: x @ unit.to(x.dtype))
    feature = int(steer.direction[1]) if sae_read is not None else None
    return PreparedSteer(site, unit, steer.method, steer.positions, float(steer.strength), f"{label} ({steer.method})", read, feature)


# ---- decoding ----------------------------------------------------------------------------------


class _Plan:
    """The edits of every row at every site: row b uses `strengths[b]` (None: unsteered)."""

    def __init__(self, prepared: list[PreparedSteer], rows: Sequence[tuple[float, ...] | None], prompt_length: int, device: Any):
        self.prepared, self.prompt_length = prepared, prompt_length
        self.sites = list(dict.fromkeys(p.site for p in prepared))
        self.on = torch.tensor([row is not None for row in rows], device=device)  # [B]
        self.strengths = torch.tensor([row if row is not None else [0.0] * len(prepared) for row in rows],
                                      device=device).reshape(len(rows), len(prepared))  # [B, n_steers]
        self.reads = torch.zeros(len(prepared), len(rows), device=device)  # [n_steers, B] at the last position

    def _where(self, steer: PreparedSteer, positions: Tensor) -> Tensor:
        if steer.positions == "prompt":
            return positions < self.prompt_length
        if steer.positions == "generated":
            return positions >= self.prompt_length
        return torch.ones_like(positions, dtype=torch.bool)

    def __call__(self, site: str, x: Tensor, positions: Tensor) -> Tensor:
        """Edit `x [B, t, d]` at `site` for every row and steer there, then read the steers' activations."""
        for index, steer in enumerate(self.prepared):
            if steer.site != site:
                continue
            mask = self.on[:, None] & self._where(steer, positions)[None, :]  # [B, t]
            unit, strength = steer.unit.to(x.dtype), self.strengths[:, index].to(x.dtype)[:, None, None]  # [d], [B, 1, 1]
            if steer.method == "add":
                moved = x + strength * unit
            elif steer.method == "set":
                moved = x - (x @ unit)[..., None] * unit + strength * unit
            else:
                moved = x - ((x @ unit)[..., None] - strength).clamp(min=0) * unit
            x = torch.where(mask[..., None], moved, x)
        for index, steer in enumerate(self.prepared):
            if steer.site == site:
                self.reads[index] = steer.read(x[:, -1]).float()
        return x


def _run(model: Any, prompt_ids: Tensor, prepared: list[PreparedSteer], steered_rows: list[tuple[float, ...]], max_new_tokens: int,
         temperature: float, top_p: float, seed: int, stop_rule: tuple[set[int], list[str]]
         ) -> Generator[TokenEvent, None, list[SteeringResult]]:
    rows: list[tuple[float, ...] | None] = [None, *steered_rows]
    ids, logprobs, activations, decoder = yield from _decode(model, prompt_ids, prepared, rows, max_new_tokens, temperature,
                                                             top_p, seed, *stop_rule)
    engine = decoder.engine
    # each steered run's tokens under the unsteered run, and the unsteered tokens under each steered run
    pairs = [(None, ids[r]) for r in range(1, len(rows))] + [(rows[r], ids[0]) for r in range(1, len(rows))]
    with torch.inference_mode():  # the prompt's keys and values: each pair's run's own, from the decoding
        crossed = _score(model, prompt_ids, prepared, pairs, (decoder, [0] * (len(rows) - 1) + list(range(1, len(rows)))))
    n = len(steered_rows)

    def completion(row: int, other: np.ndarray) -> Completion:
        row_ids = ids[row]
        tokens = token_strings(model, row_ids) if row_ids else []
        return Completion(row_ids, tokens, model.tokenizer.decode(row_ids), logprobs[row], other,
                          activations[:, row, : len(row_ids)], rows[row])

    prompt_tokens = token_strings(model, prompt_ids)
    labels = [p.label for p in prepared]
    return [SteeringResult(prompt_tokens, completion(0, crossed[n + r]), completion(r + 1, crossed[r]), labels, engine)
            for r in range(n)]


def _decode(model: Any, prompt_ids: Tensor, prepared: list[PreparedSteer], rows: list[tuple[float, ...] | None], max_new_tokens: int,
            temperature: float, top_p: float, seed: int, stop_ids: set[int], stop_texts: list[str]
            ) -> Generator[TokenEvent, None, tuple[list[list[int]], list[np.ndarray], np.ndarray, Any]]:
    """Decode all rows in lockstep, yielding each step: per row its ids and log-probs, activations `[n_steers, B, n]`,
    the decoder used (its `engine` names it). (Inference mode is entered per step, never across a yield.)"""
    device, batch = prompt_ids.device, len(rows)
    plan = _Plan(prepared, rows, prompt_ids.shape[0], device)
    decoder = make_decoder(model, batch, prompt_ids.shape[0] + max_new_tokens, plan, plan.sites)
    generators = [torch.Generator(device=device).manual_seed(int(seed)) for _ in range(batch)]
    with torch.inference_mode():
        logits = decoder.forward(prompt_ids.expand(batch, -1))[:, -1]  # [B, vocab]
    chosen, chosen_logprobs, reads = [], [], []
    lengths: list[int | None] = [None] * batch
    for step in range(max_new_tokens):
        reads.append(plan.reads.clone())
        with torch.inference_mode():
            next_ids = sample_next(logits, temperature, top_p, generators)  # [B]
            chosen_logprobs.append(torch.log_softmax(logits.float(), dim=-1).gather(-1, next_ids[:, None])[:, 0])
        chosen.append(next_ids)
        so_far = torch.stack(chosen, dim=1).tolist()  # [B, step + 1]
        for row in range(batch):
            if lengths[row] is None and (so_far[row][-1] in stop_ids or
                                         (stop_texts and any(s in model.tokenizer.decode(so_far[row]) for s in stop_texts))):
                lengths[row] = step + 1
        yield TokenEvent(step, next_ids.tolist(), [str(t) for t in model.to_str_tokens(next_ids)], chosen_logprobs[-1].tolist(),
                         reads[-1].T.tolist(), [length is not None for length in lengths])
        if all(length is not None for length in lengths) or step == max_new_tokens - 1:
            break
        with torch.inference_mode():
            logits = decoder.forward(next_ids[:, None])[:, -1]
    ids = [row[: length or len(row)] for row, length in zip(torch.stack(chosen, dim=1).tolist(), lengths)]
    logprobs = torch.stack(chosen_logprobs, dim=1).cpu().numpy()  # [B, n]
    return ids, [logprobs[r, : len(ids[r])] for r in range(batch)], torch.stack(reads, dim=-1).cpu().numpy(), decoder


def _score(model: Any, prompt_ids: Tensor, prepared: list[PreparedSteer], pairs: list[tuple[tuple[float, ...] | None, list[int]]],
           prompt_cache: tuple[Any, list[int]] | None = None) -> list[np.ndarray]:
    """Teacher-forced log-probs `[n]` of each pair's tokens under that pair's run (one batched forward).

    `prompt_cache`: (the decoder that generated, the row of it whose run each pair's is): a cached decoder's
    prompt keys and values are reused, so only the generated tokens (and the prompt's last) run again."""
    longest = max(len(tokens) for _, tokens in pairs)
    if longest == 0:
        return [np.zeros(0, dtype=np.float32) for _ in pairs]
    prompt_length = prompt_ids.shape[0]
    batch = torch.zeros(len(pairs), prompt_length + longest, dtype=torch.long, device=prompt_ids.device)
    batch[:, :prompt_length] = prompt_ids
    for row, (_, tokens) in enumerate(pairs):
        batch[row, prompt_length: prompt_length + len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    plan = _Plan(prepared, [strengths for strengths, _ in pairs], prompt_length, prompt_ids.device)
    if prompt_cache is not None and isinstance(prompt_cache[0], CachedDecoder) and prompt_length > 1:
        decoder = prompt_cache[0].fork(prompt_cache[1], prompt_length - 1, batch.shape[1], plan)
        logits = decoder.forward(batch[:, prompt_length - 1:], keep=longest + 1)[:, :-1]
    else:
        decoder = make_decoder(model, len(pairs), batch.shape[1], plan, plan.sites)
        logits = decoder.forward(batch, keep=longest + 1)[:, :-1]  # [pairs, longest, vocab]
    scores = torch.log_softmax(logits.float(), dim=-1).gather(-1, batch[:, prompt_length:, None])[..., 0].cpu().numpy()
    return [scores[row, : len(tokens)] for row, (_, tokens) in enumerate(pairs)]
