"""Hook points: which names a model has, and running the model only as far as one of them.

A TransformerLens model (``TransformerBridge`` or ``HookedTransformer``) exposes its activations
at named hook points such as ``blocks.2.hook_resid_post``. To read one activation we add a
forward hook that saves it, inside a context manager that always removes the hook again, and
stop the forward pass after the block that owns the hook point: there is no need to compute the
layers above it.
"""

from __future__ import annotations

import difflib
import functools
import re
import weakref
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from interp_widgets.errors import InterpWidgetsError

_HOOK_NAMES: "weakref.WeakKeyDictionary[Any, tuple[str, ...]]" = weakref.WeakKeyDictionary()
_BLOCK = re.compile(r"^blocks\.(\d+)\.")
_EMBEDDING_HOOKS = ("hook_embed", "hook_pos_embed", "embed.", "pos_embed.", "hook_tokens")


def hook_names(model: Any) -> tuple[str, ...]:
    """Every hook name that fires in a forward pass, aliases included (cached per model).

    Found by running the model once on a single token: this is exact for any model class and
    any transformer-lens version, and costs one tiny forward pass.
    """
    names = _HOOK_NAMES.get(model)
    if names is None:
        bos = getattr(model.tokenizer, "bos_token_id", None) if getattr(model, "tokenizer", None) else None
        one_token = torch.tensor([[bos if bos is not None else 0]], device=model_device(model))
        with torch.inference_mode():
            _, cache = model.run_with_cache(one_token)
        names = tuple(cache.keys())
        _HOOK_NAMES[model] = names
    return names


def resolve_hook_name(model: Any, hook_name: str) -> str:
    """Check a hook name against the model; a wrong one gets the closest valid names."""
    names = hook_names(model)
    if hook_name in names:
        return hook_name
    close = difflib.get_close_matches(hook_name, names, n=4, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    n_layers = getattr(model.cfg, "n_layers", "?")
    raise InterpWidgetsError(
        f"hook {hook_name!r} is not a hook point of this model ({n_layers} layers).{hint} "
        "`interp_widgets.compute.hook_names(model)` lists them all."
    )


def stop_layer(model: Any, hook_name: str) -> int | None:
    """The `stop_at_layer` that still runs the block owning `hook_name` (None: run everything)."""
    match = _BLOCK.match(hook_name)
    if match:
        layer = int(match.group(1)) + 1
        return layer if layer < model.cfg.n_layers else None
    if hook_name.startswith(_EMBEDDING_HOOKS):
        return 0
    return None


def tokenize(model: Any, prompt: str, prepend_bos: bool | None = None) -> Tensor:
    """Tokens of a prompt, `[1, pos]`, checked against the model's context length.

    BOS: `prepend_bos=None` follows the model (`cfg.default_prepend_bos`), as transformer-lens'
    `to_tokens` does: BOS first where the model was trained with it (GPT-2, Llama, Gemma, the
    embedded models), none where it was not (Pythia, Qwen, Phi, BLOOM, Granite).
    """
    if not isinstance(prompt, str):
        raise InterpWidgetsError(f"the prompt must be a string, got {type(prompt).__name__}.")
    if not prompt:
        raise InterpWidgetsError("the prompt is empty: type some text first.")
    tokens = model.to_tokens(prompt, prepend_bos=prepend_bos, truncate=False)
    n_ctx = model.cfg.n_ctx
    if tokens.shape[-1] > n_ctx:
        raise InterpWidgetsError(
            f"the prompt is {tokens.shape[-1]} tokens long but the model's context is {n_ctx} tokens: "
            "shorten the prompt."
        )
    return tokens


def starts_with_bos(model: Any, tokens: Tensor) -> bool:
    """Whether `tokens [1, pos]` begin with the tokenizer's BOS (the position no ablation removes)."""
    bos = getattr(getattr(model, "tokenizer", None), "bos_token_id", None)
    return bos is not None and tokens.shape[-1] > 0 and int(tokens.reshape(-1)[0]) == int(bos)


def as_tokens(model: Any, prompt_or_tokens: str | Tensor | Sequence[int]) -> Tensor:
    """`[1, pos]` token ids from a prompt (BOS as the model was trained: see `tokenize`) or from ids given as they are."""
    if isinstance(prompt_or_tokens, str):
        return tokenize(model, prompt_or_tokens)
    tokens = torch.as_tensor(prompt_or_tokens, dtype=torch.long)
    tokens = tokens[None] if tokens.ndim == 1 else tokens
    if tokens.ndim != 2 or tokens.shape[0] != 1 or tokens.shape[1] == 0:
        raise InterpWidgetsError(f"give one prompt: a string or token ids of shape [pos] or [1, pos], got {list(tokens.shape)}.")
    if tokens.shape[1] > model.cfg.n_ctx:
        raise InterpWidgetsError(f"the prompt is {tokens.shape[1]} tokens long but the model's context is {model.cfg.n_ctx} tokens: shorten the prompt.")
    if int(tokens.max()) >= model.cfg.d_vocab or int(tokens.min()) < 0:
        raise InterpWidgetsError(f"token ids must lie in 0..{model.cfg.d_vocab - 1} (this model's vocabulary).")
    return tokens


REPLACEMENT = "\ufffd"  # what a token that is only part of a character's UTF-8 bytes decodes to on its own
MAX_CHARACTER_TOKENS = 4  # a character is at most 4 UTF-8 bytes, so at most 4 byte tokens


def token_strings(model: Any, prompt_or_tokens: str | Tensor | Sequence[int]) -> list[str]:
    """Each token's text (`model.to_str_tokens`), with byte tokens made readable.

    Byte-level BPE splits a character it has no token for (an emoji, most CJK) into byte tokens;
    decoded one by one each is "\ufffd". Here the first token of such a run shows the whole
    character (the run decoded together: "🍕") and each following one its own bytes in hex,
    `<0x8D>` (the form byte-fallback tokenizers use), so the positions stay one per token.
    `prompt_or_tokens`: a prompt (BOS prepended, as `to_str_tokens` does) or ids `[pos]` / `[1, pos]`.
    """
    ids = [int(i) for i in as_tokens(model, prompt_or_tokens)[0]]
    texts = [str(t) for t in model.to_str_tokens(torch.tensor(ids))]
    i = 0
    while i < len(ids):
        if REPLACEMENT not in texts[i]:
            i += 1
            continue
        for end in range(i + 2, min(len(ids), i + MAX_CHARACTER_TOKENS) + 1):
            joined = model.tokenizer.decode(ids[i:end])
            if REPLACEMENT not in joined:
                texts[i] = joined
                for k in range(i + 1, end):
                    raw = _token_bytes(model.tokenizer, ids[k])
                    texts[k] = "".join(f"<0x{b:02X}>" for b in raw) if raw is not None else texts[k]
                i = end
                break
        else:
            i += 1
    return texts


def _token_bytes(tokenizer: Any, token_id: int) -> bytes | None:
    """The raw bytes of one token of a byte-level BPE (GPT-2's byte-to-character map) or a byte-fallback
    tokenizer (`<0x8D>`); None for other tokenizers."""
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    if not isinstance(piece, str):
        return None
    fallback = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    table = _byte_level_table()
    return bytes(table[ch] for ch in piece) if piece and all(ch in table for ch in piece) else None


@functools.lru_cache(maxsize=1)
def _byte_level_table() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: each byte stands for a printable character; this maps it back."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), ord("\u00ff") + 1)]
    characters, shifted = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            characters.append(256 + shifted)
            shifted += 1
    return {chr(c): b for b, c in zip(printable, characters)}


def pack_texts(model: Any, texts: Sequence[str], context: int) -> Tensor:
    """Tokenize texts, join them and cut the stream into sequences `[n_seq, context]`, each led by BOS."""
    tokenizer = model.tokenizer
    bos = tokenizer.bos_token_id
    if context < 2:
        raise InterpWidgetsError(f"context must be at least 2 tokens, got {context}.")
    if context > model.cfg.n_ctx:
        raise InterpWidgetsError(f"context {context} is longer than the model's {model.cfg.n_ctx} tokens.")
    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        if tokenizer.eos_token_id is not None:
            stream.append(tokenizer.eos_token_id)
    body = context - 1
    n_seq = len(stream) // body
    if n_seq == 0:
        raise InterpWidgetsError(
            f"the texts give {len(stream)} tokens, fewer than one sequence of {context}: add text or shorten the context."
        )
    rows = torch.tensor(stream[: n_seq * body], dtype=torch.long).view(n_seq, body)
    return torch.cat([torch.full((n_seq, 1), bos, dtype=torch.long), rows], dim=1)


def recorder(store: dict[Any, Tensor], key: Any) -> Callable[[Tensor, Any], None]:
    """A forward hook that keeps the activation it sees in `store[key]` and changes nothing (e.g. an MLP's
    input, for a hook later in the same pass that replaces the MLP's output)."""
    def hook(activation: Tensor, hook: Any) -> None:
        store[key] = activation

    return hook


def activations_at(model: Any, tokens: Tensor, hook_name: str) -> Tensor:
    """The activation at `hook_name` for `tokens` `[batch, pos]`, running only as far as needed.

    Returns the activation as the hook sees it, e.g. `[batch, pos, d_model]` for a residual hook.
    """
    hook_name = resolve_hook_name(model, hook_name)
    saved: dict[str, Tensor] = {}

    def save(activation: Tensor, hook: Any) -> None:
        saved["activation"] = activation.detach()

    stop = stop_layer(model, hook_name)
    with torch.inference_mode(), model.hooks(fwd_hooks=[(hook_name, save)]):
        if stop is None:
            model(tokens, return_type=None)
        else:
            model(tokens, stop_at_layer=stop)
    if "activation" not in saved:
        raise InterpWidgetsError(f"hook {hook_name!r} did not fire in the forward pass.")
    return saved["activation"]


def model_device(model: Any) -> torch.device:
    """The device of a model's parameters (CPU for a model without any)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def one_token_id(model: Any, token: str | int, role: str = "token") -> int:
    """The id of a token given as one-token text (e.g. " Mary") or as an id, checked; `role` names it in the error."""
    if isinstance(token, int):
        if not 0 <= token < model.cfg.d_vocab:
            raise InterpWidgetsError(f"{role} id {token} is outside the vocabulary (0 to {model.cfg.d_vocab - 1}).")
        return token
    ids = model.tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [model.tokenizer.decode([i]) for i in ids]
        raise InterpWidgetsError(f"the {role} {token!r} is not one token: it splits into {pieces}. Choose a single token.")
    return int(ids[0])
