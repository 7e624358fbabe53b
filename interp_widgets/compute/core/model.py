"""The one type every view and technique takes as "the model": what this package uses of a
TransformerLens model, written down as a Protocol.

Any object with these members works: a TransformerLens 4.x `TransformerBridge` (from a config or a
saved Hugging Face model), a 3.9 `HookedTransformer`, the embedded default model. The members are
the ones `compute/` calls; a technique that needs more (weights such as `W_U`, `blocks`) says so in
its own docstring. It is a structural type, for readers and type checkers: nothing here checks an
object at run time (the loaders and each technique raise `InterpWidgetsError` on a model they cannot
use).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Model(Protocol):
    """A language model with TransformerLens hook points: `blocks.{l}.hook_resid_pre`, `hook_embed`, …"""

    cfg: Any
    """n_layers, d_model, n_heads, d_head, d_vocab, n_ctx, act_fn, normalization_type, device, dtype."""
    tokenizer: Any
    """A Hugging Face tokenizer (its `decode` gives the token strings every view shows)."""

    def to_tokens(self, input: Any, prepend_bos: bool | None = ...) -> torch.Tensor:
        """Token ids `[batch, pos]` of a string or list of strings (BOS first unless told otherwise)."""
        ...

    def to_str_tokens(self, input: Any, prepend_bos: bool | None = ...) -> Any:
        """The token strings of a prompt or of token ids."""
        ...

    def run_with_cache(self, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, Any]:
        """`(logits [batch, pos, d_vocab], cache)`; `names_filter=` keeps only the hooks asked for."""
        ...

    def hooks(self, fwd_hooks: Any = ..., *args: Any, **kwargs: Any) -> AbstractContextManager[Any]:
        """A context manager that adds forward hooks `[(hook_name, fn)]` and always removes them."""
        ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Logits `[batch, pos, d_vocab]` of a prompt or token ids (`stop_at_layer=` runs only as far as needed)."""
        ...
