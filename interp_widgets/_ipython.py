"""`%load_ext interp_widgets`: rich displays for the objects a researcher holds, and `%explore`.

After `%load_ext interp_widgets`, typing a name in a cell shows

- a model (TransformerLens HookedTransformer or TransformerBridge): architecture, parameter count,
  device and dtype, context, its hook points grouped by block with their shapes, and how to open
  the workbench;
- an SAE (ours or SAELens'): hook, width, activation, metrics when they are known, where it came from;
- an activation cache: every hook with its shape and mean vector norm;
- a `Selection`: its SAE, feature, prompt (as tokens) and target.

Each as plain text and as static HTML (no script; every string, token strings included, escaped).
`%explore [model] [saes]` opens the workbench (`iw.explore`) on the named model (a variable, or a
name for `iw.load_model`) or, without one, on the model `iw.load_model` returned last. Without
the extension nothing changes; `%unload_ext interp_widgets` removes the displays again.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Callable

from interp_widgets.widgets._snapshot import NO_MATHS, visible

BLOCK_ROWS = 40  # hooks listed per group before the rest is counted
CACHE_GROUPS = 16  # blocks listed in a cache's display
STYLE = ("font-family:monospace;font-size:12px;border-collapse:collapse")


def _rows_html(rows: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th style=\"text-align:left;padding-right:1em\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)


def _page(title: str, facts: list[tuple[str, str]], sections: list[tuple[str, list[str]]], footer: str = "") -> tuple[str, str]:
    """The text and the HTML form of one description: a title, key facts, titled lists of lines, a footer."""
    text = [title] + [f"  {k}: {v}" for k, v in facts]
    body = [f"<div class=\"iw-describe {NO_MATHS}\"><b>{html.escape(title)}</b><table style=\"{STYLE}\">{_rows_html(facts)}</table>"]
    for heading, lines in sections:
        text += [heading] + [f"  {line}" for line in lines]
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        body.append(f"<details><summary>{html.escape(heading)}</summary><ul style=\"{STYLE}\">{items}</ul></details>")
    if footer:
        text.append(footer)
        body.append(f"<div><small>{html.escape(footer)}</small></div>")
    return "\n".join(text), "".join(body) + "</div>"


def _shape(dims: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _block_of(name: str, seen_block: bool) -> str:
    parts = name.split(".")
    if parts[0] == "blocks" and len(parts) > 2:
        return f"block {parts[1]}"
    return "after the blocks" if seen_block else "before the blocks"


def _grouped(shapes: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, list[str]]]:
    """Hooks by block (`blocks.3.attn.hook_z` -> block 3), in forward order; blocks with the same hooks and shapes
    as block 0 folded into one line after it."""
    groups: dict[str, list[str]] = {}
    for name, dims in shapes:
        key = _block_of(name, any(k.startswith("block ") for k in groups))
        short = ".".join(name.split(".")[2:]) if key.startswith("block ") else name
        groups.setdefault(key, []).append(f"{short} {_shape(dims)}")
    blocks = [k for k in groups if k.startswith("block ")]
    same = [k for k in blocks[1:] if groups[k] == groups[blocks[0]]]
    out = []
    for key, lines in groups.items():
        if key in same:
            continue
        shown = lines[:BLOCK_ROWS] + ([f"… {len(lines) - BLOCK_ROWS} more"] if len(lines) > BLOCK_ROWS else [])
        out.append((f"hook points, {key} ({len(lines)})", shown))
        if blocks and key == blocks[0] and same:
            out.append(("hook points, later blocks", [f"{', '.join(k.removeprefix('block ') for k in same)}: the same hooks and shapes as {key}"]))
    return out


def describe_model(model: Any) -> tuple[str, str]:
    from interp_widgets.compute.core.describe import hook_shapes, model_facts

    facts = model_facts(model)
    rows = [("architecture", facts.pop("architecture")), ("parameters", f"{facts.pop('parameters'):,}"),
            ("device, dtype", f"{facts.pop('device')}, {facts.pop('dtype')}"), ("context", f"{facts.pop('context')} tokens")]
    name = facts.pop("name")
    rows += [(key, str(value)) for key, value in facts.items()]
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None and getattr(tokenizer, "bos_token", None):
        rows.append(("BOS token", repr(visible(str(tokenizer.bos_token)))))
    return _page(f"Model {name}", rows, _grouped(hook_shapes(model)),
                 "Open the workbench on it: iw.explore(model, saes) — or %explore with this extension.")


def describe_sae(sae: Any) -> tuple[str, str]:
    from interp_widgets.compute.core.readouts import sae_hook_name

    cfg = getattr(sae, "cfg", None)
    width = getattr(sae, "d_sae", None) or getattr(cfg, "d_sae", "?")
    d_in = getattr(sae, "d_in", None) or getattr(cfg, "d_in", "?")
    activation = getattr(cfg, "architecture", None) or type(sae).__name__
    if callable(activation):
        activation = activation()
    k = getattr(cfg, "k", None)
    rows = [("hook", str(sae_hook_name(sae) or "not recorded")), ("width", f"{width} features (input {d_in})"),
            ("activation", f"{activation}{f', top {k}' if k else ''} ({type(sae).__name__})")]
    source = getattr(sae, "source", None) or getattr(getattr(cfg, "metadata", None), "release", None)
    rows.append(("source", str(source or "not recorded (set sae.source = '...' to show where it came from)")))
    metrics = _known_metrics(sae, source)
    lines = [f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}" for name, value in metrics.items()]
    return _page("Sparse autoencoder", rows, [("metrics", lines)] if lines else [],
                 "" if lines else "metrics: none recorded (interp_widgets.sae.metrics measures them; set sae.metrics = {...} to show them)")


def _known_metrics(sae: Any, source: Any) -> dict[str, Any]:
    """`sae.metrics` if set, else the metrics.json beside the SAE's folder (the embedded SAEs keep theirs there)."""
    metrics = getattr(sae, "metrics", None)
    if isinstance(metrics, dict):
        return metrics
    if source and Path(str(source)).is_dir():
        path = Path(str(source))
        sidecar = path.parent / "metrics.json"
        if sidecar.exists():
            try:
                return dict(json.loads(sidecar.read_text()).get("sizes", {}).get(path.name, {}))
            except (ValueError, AttributeError):
                return {}
    return {}


def describe_cache(cache: Any) -> tuple[str, str]:
    from interp_widgets.compute.core.describe import cache_norms

    rows = cache_norms(cache)
    groups: dict[str, list[str]] = {}
    for name, shape, norm in rows:
        key = _block_of(name, any(k.startswith("block ") for k in groups))
        groups.setdefault(key, []).append(f"{name} {_shape(shape)} mean norm {norm:.4g}")
    sections = [(f"{key}: hook, shape, mean vector norm", lines) for key, lines in list(groups.items())[:CACHE_GROUPS]]
    if len(groups) > CACHE_GROUPS:
        sections.append(("more", [f"… {len(groups) - CACHE_GROUPS} more blocks (cache[name] holds every tensor)"]))
    return _page(f"Activation cache: {len(rows)} hooks", [("hooks", str(len(rows))), ("blocks", str(sum(k.startswith("block ") for k in groups)))],
                 sections)


def describe_selection(selection: Any) -> tuple[str, str]:
    from interp_widgets.compute.core.hooks import token_strings

    tokens = [visible(t) for t in token_strings(selection.model, selection.prompt)] if selection.prompt else []
    rows = [("SAE", f"{selection.sae or 'none'} of {sorted(selection.saes) or 'no SAEs'}"), ("feature", str(selection.feature)),
            ("prompt", selection.prompt), ("target", "where the feature peaks" if selection.target < 0 else f"position {selection.target}")]
    return _page("Selection (shared by linked views)", rows, [("prompt tokens", [" | ".join(tokens)])] if tokens else [],
                 "Views follow it: iw.TokenHighlights.from_selection(selection), …; or iw.explore(model, saes).")


# (module, class) -> description; looked up by name so nothing is imported until such an object is shown
DESCRIBED: dict[tuple[str, str], Callable[[Any], tuple[str, str]]] = {
    ("transformer_lens.model_bridge.transformer_bridge", "TransformerBridge"): describe_model,  # transformer-lens 4.x
    ("transformer_lens.model_bridge.bridge", "TransformerBridge"): describe_model,  # 3.9
    ("transformer_lens.HookedTransformer", "HookedTransformer"): describe_model,
    ("interp_widgets.sae.model", "SparseAutoencoder"): describe_sae,
    ("sae_lens.saes.sae", "SAE"): describe_sae,
    ("sae_lens.sae", "SAE"): describe_sae,
    ("transformer_lens.ActivationCache", "ActivationCache"): describe_cache,
    ("interp_widgets.widgets.selection", "Selection"): describe_selection,
}


def _as_html(describe: Callable[[Any], tuple[str, str]]) -> Callable[[Any], str]:
    return lambda obj: describe(obj)[1]


def _as_text(describe: Callable[[Any], tuple[str, str]]) -> Callable[[Any, Any, bool], None]:
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(describe(obj)[0])

    return printer


def load_ipython_extension(ipython: Any) -> None:
    """Register the displays and `%explore` (called by `%load_ext interp_widgets`)."""
    formatters = ipython.display_formatter.formatters
    for (module, name), describe in DESCRIBED.items():
        formatters["text/html"].for_type_by_name(module, name, _as_html(describe))
        formatters["text/plain"].for_type_by_name(module, name, _as_text(describe))
    ipython.register_magic_function(_explore_magic(ipython), "line", "explore")


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the displays again (`%unload_ext interp_widgets`)."""
    formatters = ipython.display_formatter.formatters
    for mime in ("text/html", "text/plain"):
        for (module, name) in DESCRIBED:
            formatters[mime].deferred_printers.pop((module, name), None)
            for cls in list(formatters[mime].type_printers):
                if getattr(cls, "__module__", None) == module and cls.__name__ == name:
                    formatters[mime].type_printers.pop(cls)


def _explore_magic(ipython: Any) -> Callable[[str], Any]:
    def explore(line: str) -> Any:
        """%explore [model] [saes]: open the workbench on a model (a variable or a name for iw.load_model; default:
        the one iw.load_model returned last), with the SAEs in the variable `saes` if given."""
        from IPython.core.error import UsageError

        from interp_widgets.models.loaders import last_loaded_model
        from interp_widgets.widgets.workbench import explore as open_bench

        words = line.split()
        if len(words) > 2:
            raise UsageError("%explore [model] [saes]: at most a model and a variable holding SAEs.")
        namespace = ipython.user_ns
        if words:
            model = namespace[words[0]] if words[0] in namespace else _model_named(words[0], namespace)
        else:
            model = last_loaded_model()
            if model is None:
                raise UsageError("no model yet: load one (model = iw.load_model()) or name it: %explore embedded-6l")
        saes = None
        if len(words) == 2:
            if words[1] not in namespace:
                raise UsageError(f"no variable {words[1]!r} holding SAEs: pass one SAE or a dict of named SAEs.")
            saes = namespace[words[1]]
        return open_bench(model, saes)

    return explore


def _model_named(name: str, namespace: dict[str, Any]) -> Any:
    """The model `name` names for `iw.load_model` (embedded, a directory, a hub name); a typo gets one line
    with the closest variable or model names, not a traceback from the hub look-up."""
    import difflib

    from IPython.core.error import UsageError

    from interp_widgets.errors import InterpWidgetsError
    from interp_widgets.models.loaders import EMBEDDED_MODELS, load_model

    known = [*EMBEDDED_MODELS, *(key for key in namespace if not key.startswith("_") and key.isidentifier())]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else f" (embedded models: {', '.join(EMBEDDED_MODELS)})"
    if close and not Path(name).expanduser().exists():  # a typo of a known name: no hub look-up
        raise UsageError(f"no variable or model named {name!r}{hint}")
    try:
        return load_model(name)
    except InterpWidgetsError as error:
        raise UsageError(f"no variable or model named {name!r}{hint} ({str(error).split('. ')[0].rstrip('.')}.)") from None
