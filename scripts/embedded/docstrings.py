"""Synthetic Python functions with Sphinx docstrings, for the training mix.

Each function documents its arguments in signature order (`:param x: ...`), as real code does; a
model that has read enough of them predicts, after `:param`, the first argument not yet
documented (Heimersheim & Janiak's docstring task). The corpus has only ~3,800 `:param` lines, so
the mix adds these. Their argument names, function names and description words are disjoint from
the ones the docstring-task measurement uses (`DOCSTRING_NAMES`, `DOCSTRING_WORDS` and its five
function names in `interp_widgets.compute.residual.head_scores`), so the accuracy in the model card is measured
on names the model never saw in this role.
"""

from __future__ import annotations

import numpy as np

from interp_widgets.compute.patching.task_accuracy import DOCSTRING_NAMES, DOCSTRING_WORDS

ARGUMENT_NAMES = [name for name in (
    "alpha", "batch", "buffer", "callback", "channel", "chunk", "client", "color", "context", "cursor", "delay",
    "depth", "device", "encoding", "entry", "event", "factor", "flags", "format", "frame", "graph", "group",
    "handler", "header", "host", "image", "kind", "layer", "length", "lines", "locale", "logger", "mask", "matrix",
    "method", "module", "number", "order", "owner", "packet", "page", "parent", "pattern", "payload", "port",
    "position", "radius", "rate", "record", "region", "request", "response", "retries", "row", "scale", "schema",
    "scope", "seed", "session", "shape", "signal", "socket", "start", "step", "stream", "suffix", "tags", "task",
    "threshold", "title", "topic", "total", "unit", "values", "vector", "version", "weight", "window", "worker",
) if name not in DOCSTRING_NAMES]
FUNCTION_NAMES = ["parse", "send", "fetch", "build", "merge", "apply", "emit", "resolve", "compute", "register", "encode", "scan"]
WORDS = [word for word in (
    "this", "that", "some", "any", "each", "every", "optional", "maximum", "minimum", "initial", "final", "raw",
    "parsed", "target", "remote", "local", "shared", "private", "public", "cached", "stored", "incoming", "outgoing",
    "value", "object", "string", "list", "mapping", "callable", "instance", "name", "identifier", "flag", "setting",
    "to", "for", "from", "with", "in", "used", "when", "if", "or", "and",
) if word not in DOCSTRING_WORDS]


def function_source(rng: np.random.Generator) -> str:
    """One function: a signature of 2-6 arguments and a docstring with one `:param` line per argument, in order."""
    arguments = list(rng.choice(ARGUMENT_NAMES, size=int(rng.integers(2, 7)), replace=False))
    signature = ", ".join((["self"] if rng.random() < 0.6 else []) + arguments)
    words = lambda n: " ".join(rng.choice(WORDS, size=n))  # noqa: E731
    lines = [f"def {rng.choice(FUNCTION_NAMES)}({signature}):", f'    """{words(int(rng.integers(2, 6))).capitalize()}.', ""]
    lines += [f"    :param {name}: {words(int(rng.integers(1, 5)))}" for name in arguments]
    if rng.random() < 0.5:
        lines.append(f"    :return: {words(int(rng.integers(1, 4)))}")
    lines += ['    """', f"    return {rng.choice(arguments)}", "", ""]
    body = "\n".join(lines)
    in_class = rng.random() < 0.5
    return "\n".join("    " + line if line else line for line in body.split("\n")) if in_class else body


def docstring_text(rng: np.random.Generator, n_chars: int) -> str:
    """Functions one after another until the text is at least `n_chars` long."""
    text = ""
    while len(text) < n_chars:
        text += function_source(rng)
    return text
