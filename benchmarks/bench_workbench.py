"""The lazy workbench: opening `iw.explore` costs about what its first visible view costs alone, and switching
to an up-to-date tab computes and sends nothing.

    .venv/bin/python benchmarks/bench_workbench.py [--repeats 15] [--quick]   (--quick: 5 repeats)

Measured in one process on the embedded 2-layer model (short prompt) and the 6-layer one (a paragraph),
each with its 4x SAE, every import and first-use cost paid first (each view built once), then
interleaved repeats with the garbage collector off while timing (as timeit does); medians and minimums
printed, the headline ratio from the minimums (timeit's advice: slower runs time the machine's other
processes, and this machine is shared):

- the first visible view alone: `TokenHighlights.from_selection(Selection(...))`, what a user
  would build by hand;
- opening the bench: `iw.explore(model, saes, prompt)` (the selection, the controls, ten tab slots
  and that same first view);
- an eager bench for comparison, once: every tab's view built at open (what laziness saves);
- switching tabs: after every tab was shown once, switching between up-to-date tabs, counting the
  recomputes (BaseWidget._apply) and the messages the views send to the front-end.

GPT-2 small's shape (the "GPT-2-small-shaped random" line): the same open costs on the random
GPT-2-small-shaped model (`_shapes.gpt2_small_shaped`) with a random TopK SAE (d_sae 6,144, L0 32)
at blocks.6.hook_resid_post, the 6-layer setting's paragraph as the prompt, at most GPT2_REPEATS
repeats (a view costs more there). No eager bench there: building every tab at open took 349 s in
one try on this 2-core CPU (against 0.22 s for the first view), which is the point of laziness.

The last line is the headline: the open cost as a multiple of the first view alone (target <= 1.2x).
Measured (2 shared CPU cores, 25 runs): see the README's Benchmarks section.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import GPT2_LABEL, GPT2_SMALL, gpt2_small_shaped, options  # noqa: E402

PROMPT = "When Mary and John went to the store, John gave a drink to"
INDEX_TOKENS = 64 * 20


PARAGRAPH = " ".join([PROMPT + "."] * 4) + " The drink was cold, and Mary thanked him for it"
SETTINGS = {  # name -> (model, SAE, prompt)
    "2-layer, short prompt": ("default", "4x", PROMPT),
    "6-layer, paragraph": ("embedded-6l", "embedded-6l/4x", PARAGRAPH),
}
GPT2_REPEATS = 5


def gpt2_setting(device: str):
    """The random GPT-2-small-shaped model and a random TopK SAE (L0 32) at its middle residual stream."""
    from interp_widgets.sae.model import TopKSAE

    model = gpt2_small_shaped(device)
    sae = TopKSAE(GPT2_SMALL["d_model"], 8 * GPT2_SMALL["d_model"], k=32, hook_name="blocks.6.hook_resid_post", seed=0)
    return model, {"topk": sae.to(model.cfg.device)}


def open_costs(iw, model, saes, prompt, repeats, eager=True):
    """Median and min seconds of the first view alone and of the lazy bench (interleaved; the garbage collector off
    while timing, as timeit does), and of one eager bench (every view built: slow on the bigger setting; `eager=False`
    skips it)."""
    def view_alone():
        return iw.TokenHighlights.from_selection(iw.Selection(model, saes, prompt=prompt, index_tokens=INDEX_TOKENS))

    def lazy_bench():
        return iw.explore(model, saes, prompt=prompt, index_tokens=INDEX_TOKENS)

    def eager_bench():
        bench = lazy_bench()
        for tab in bench.tabs_shown:
            bench.show(tab.label)
        return bench

    (eager_bench() if eager else lazy_bench()).selection.index()  # every import, first-use cost and the index paid before timing
    times: dict[str, list[float]] = {"view alone": [], "lazy bench": [], **({"eager bench": []} if eager else {})}
    for repeat in range(repeats):
        for name, build in (("view alone", view_alone), ("lazy bench", lazy_bench), ("eager bench", eager_bench)):
            if name == "eager bench" and (repeat or not eager):
                continue
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            widget = build()
            times[name].append(time.perf_counter() - start)
            gc.enable()
            for view in getattr(widget, "views", {}).values():
                view.close()
            widget.close()
    return {name: (statistics.median(values), min(values)) for name, values in times.items()}


def switch_counts(iw, model, saes, repeats):
    """Recomputes and messages while switching between up-to-date tabs, and after a new prompt."""
    from interp_widgets.widgets._base import BaseWidget

    counts = {"computes": 0, "sends": 0}
    apply, send = BaseWidget._apply, BaseWidget.send

    def counting_apply(self, inputs):
        counts["computes"] += 1
        return apply(self, inputs)

    def counting_send(self, *a, **k):
        counts["sends"] += 1
        return send(self, *a, **k)

    bench = iw.explore(model, saes, prompt=PROMPT, index_tokens=INDEX_TOKENS)
    for tab in bench.tabs_shown:
        bench.show(tab.label)
    BaseWidget._apply, BaseWidget.send = counting_apply, counting_send
    try:
        start = time.perf_counter()
        switches = 0
        for _ in range(repeats):
            for tab in bench.tabs_shown:
                bench.show(tab.label)
                switches += 1
        switch_ms = (time.perf_counter() - start) / switches * 1000
        up_to_date = dict(counts)
        bench.selection.choose(prompt="The cat sat on the mat")  # only the view on screen recomputes now
        after = counts["computes"] - up_to_date["computes"]
    finally:
        BaseWidget._apply, BaseWidget.send = apply, send
    return switches, switch_ms, up_to_date, after, len(bench.tabs_shown)


def report(setting: str, costs, repeats: int) -> tuple[float, float | None, float, float]:
    """Prints a setting's costs; returns (lazy / alone, eager / alone or None, lazy - alone in ms, medians' ratio),
    the ratios of the fastest runs as timeit advises: slower runs measure the other processes on the machine."""
    print(f"{setting}:")
    for name, (median, least) in costs.items():
        runs = 1 if name == "eager bench" else repeats
        print(f"  {name:>12}: {median * 1000:8.1f} ms median, {least * 1000:8.1f} ms min ({runs} runs)")
    alone, lazy = costs["view alone"], costs["lazy bench"]
    eager = costs["eager bench"][1] / alone[1] if "eager bench" in costs else None
    return lazy[1] / alone[1], eager, (lazy[1] - alone[1]) * 1000, lazy[0] / alone[0]


def summary(lazy: float, eager: float | None, extra: float, median: float) -> str:
    return f"{lazy:.2f}x (+{extra:.1f} ms; medians {median:.2f}x" + (f"; eager {eager:.0f}x)" if eager is not None else ")")


def main() -> None:
    args = options(__doc__, lambda parser: parser.add_argument("--repeats", type=int, default=None, help="15, or 5 with --quick"))
    repeats = args.repeats or (5 if args.quick else 15)
    torch.set_num_threads(1)

    import interp_widgets as iw

    model, saes = gpt2_setting(args.device)
    gpt2_repeats = min(repeats, GPT2_REPEATS)
    costs = open_costs(iw, model, saes, PARAGRAPH, gpt2_repeats, eager=False)
    gpt2 = report(f"{GPT2_LABEL}, paragraph ({len(model.to_str_tokens(PARAGRAPH))} tokens)", costs, gpt2_repeats)
    del model, saes
    ratios = {}
    for setting, (model_name, sae_name, prompt) in SETTINGS.items():
        model, saes = iw.load_model(model_name, device=args.device), {"4x": iw.load_sae(sae_name).to(args.device)}
        costs = open_costs(iw, model, saes, prompt, repeats)
        ratios[setting] = report(f"{setting} ({len(model.to_str_tokens(prompt))} tokens)", costs, repeats)
    switches, switch_ms, up_to_date, after, n_tabs = switch_counts(iw, iw.load_model(device=args.device),
                                                                   {"4x": iw.load_sae("4x").to(args.device)}, repeats)
    print(f"switching to an up-to-date tab: {switch_ms:.3f} ms, {up_to_date['computes']} recomputes and "
          f"{up_to_date['sends']} messages in {switches} switches")
    print(f"a new prompt with all {n_tabs} tabs built: {after} recompute (the view on screen; the others catch up when shown)")
    print(f"{GPT2_LABEL}: opening the bench / its first visible view alone, paragraph, TopK SAE, fastest runs "
          f"(target <= 1.2x) = {summary(*gpt2)}")
    parts = "; ".join(f"{setting}: {summary(*ratio)}" for setting, ratio in ratios.items())
    print(f"headline: opening the bench / its first visible view alone, fastest runs (target <= 1.2x) = {parts}; "
          f"an up-to-date tab switch: {up_to_date['computes']} recomputes, {up_to_date['sends']} messages")


if __name__ == "__main__":
    main()
