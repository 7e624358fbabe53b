"""%load_ext interp_widgets: IPython's display formatter shows models, SAEs, caches and selections; %explore opens the bench."""

import json
import re
from pathlib import Path

import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

import interp_widgets as iw
from interp_widgets.widgets._snapshot import visible

PROMPT = 'Tom <script>alert("x")</script> & Ann'


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    yield ip
    ip.run_line_magic("unload_ext", "interp_widgets")


@pytest.fixture(scope="module")
def objects():
    model, sae = iw.load_model(), iw.load_sae("4x")
    with torch.inference_mode():
        _, cache = model.run_with_cache(PROMPT)
    return model, sae, cache, iw.Selection(model, {"4x": sae}, prompt=PROMPT, feature=7)


def shown(shell, obj):
    data, _ = shell.display_formatter.format(obj)
    return data.get("text/plain", ""), data.get("text/html", "")


def no_script(page):
    assert "<script" not in page.lower() and "onerror" not in page.lower() and "javascript:" not in page.lower()


def test_nothing_changes_without_the_extension_and_everything_after(shell, objects):
    model, sae, cache, selection = objects
    before = [shown(shell, obj) for obj in (model, sae, cache)]
    assert all("hook points" not in text and not page for text, page in before)
    shell.run_line_magic("load_ext", "interp_widgets")
    assert "hook points" in shown(shell, model)[0] and "mean norm" in shown(shell, cache)[0]


def test_a_model_shows_its_architecture_size_placement_and_hooks_by_block(shell, objects):
    model = objects[0]
    shell.run_line_magic("load_ext", "interp_widgets")
    text, page = shown(shell, model)
    no_script(page)
    parameters = sum(p.numel() for p in model.parameters())
    for form in (text, page):
        assert f"{parameters:,}" in form and "cpu, float32" in form and f"{model.cfg.n_ctx} tokens" in form
        assert "hook points, block 0" in form and "hook_resid_pre [batch, pos, 256]" in form
        assert "attn.hook_pattern [batch, 4, pos, pos]" in form and "iw.explore" in form
    assert "1: the same hooks and shapes as block 0" in text  # the second block is folded into one line
    assert "&lt;|endoftext|&gt;" in page and "<|endoftext|>" in text  # the BOS token string, escaped in HTML


def test_an_sae_shows_hook_width_activation_metrics_and_source(shell, objects):
    sae = objects[1]
    shell.run_line_magic("load_ext", "interp_widgets")
    text, page = shown(shell, sae)
    no_script(page)
    metrics = json.loads((Path(sae.source).parent / "metrics.json").read_text())["sizes"]["4x"]
    for form in (text, page):
        assert "blocks.0.hook_resid_post" in form and "1024 features (input 256)" in form and "ReluSAE" in form
        assert f"l0: {metrics['l0']:.4g}" in form and sae.source in form


def test_a_cache_shows_every_hook_with_shape_and_norm(shell, objects):
    cache = objects[2]
    shell.run_line_magic("load_ext", "interp_widgets")
    text, page = shown(shell, cache)
    no_script(page)
    resid = cache["blocks.1.hook_resid_post"]
    expected = f"blocks.1.hook_resid_post [1, {resid.shape[1]}, 256] mean norm {float(resid.norm(dim=-1).mean()):.4g}"
    assert expected in text and expected in page
    assert f"Activation cache: {len(list(cache.keys()))} hooks" in text


def test_a_selection_shows_its_prompt_tokens_escaped(shell, objects):
    selection = objects[3]
    shell.run_line_magic("load_ext", "interp_widgets")
    text, page = shown(shell, selection)
    no_script(page)
    assert "&lt;script&gt;" in page and "&amp;" in page and "feature" in page and ">7<" in page
    tokens = [visible(t) for t in selection.model.to_str_tokens(PROMPT)]
    assert " | ".join(tokens) in text


def test_explore_magic_opens_the_bench_on_the_last_model_or_a_named_one(shell, objects):
    model, sae = objects[0], objects[1]
    shell.run_line_magic("load_ext", "interp_widgets")
    latest = iw.load_model()  # the last model load_model returned
    bench = shell.run_line_magic("explore", "")
    assert bench.selection.model is latest and [tab.label for tab in bench.tabs_shown][0] == "Norms"
    shell.user_ns.update(m=model, saes={"4x": sae})
    bench = shell.run_line_magic("explore", "m saes")
    assert bench.selection.model is model and "Browser" in [tab.label for tab in bench.tabs_shown]


def test_unloading_restores_the_plain_displays(shell, objects):
    model = objects[0]
    shell.run_line_magic("load_ext", "interp_widgets")
    shell.run_line_magic("unload_ext", "interp_widgets")
    text, page = shown(shell, model)
    assert "hook points" not in text and not page
    shell.run_line_magic("load_ext", "interp_widgets")


def test_explore_with_a_typo_says_so_in_one_line(shell, objects):
    """`%explore embeded-6l` or an unknown name: one line naming what was not found (and the nearest names), not a
    chained traceback from the model-hub look-up."""
    from IPython.core.error import UsageError

    shell.run_line_magic("load_ext", "interp_widgets")
    shell.user_ns.update(my_model=objects[0])
    with pytest.raises(UsageError) as typo:
        shell.run_line_magic("explore", "embeded-6l")
    assert str(typo.value).startswith("no variable or model named 'embeded-6l'; did you mean 'embedded-6l'") and "\n" not in str(typo.value)
    with pytest.raises(UsageError) as variable:
        shell.run_line_magic("explore", "my_modle")
    assert "did you mean 'my_model'?" in str(variable.value)
    with pytest.raises(UsageError) as unknown:
        shell.run_line_magic("explore", "no_such_variable")
    message = str(unknown.value)
    assert message.startswith("no variable or model named 'no_such_variable'") and "\n" not in message
    assert unknown.value.__cause__ is None and unknown.value.__suppress_context__
