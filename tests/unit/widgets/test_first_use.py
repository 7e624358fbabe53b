"""What a new user hit in notebooks 01-05 (issue 20), checked through the widgets' request handlers."""

from pathlib import Path

import pytest
import torch

import interp_widgets as iw
from interp_widgets.compute.ablation.removal import default_replacement, leave_one_out
from interp_widgets.compute.core.hooks import one_token_id
from tests.widget_requests import ask

HOOK = "blocks.0.hook_resid_post"
PROMPT = "salt and pepper, bread and butter, fish and chips"


@pytest.fixture(scope="module")
def model_and_sae():
    return iw.load_model(), iw.load_sae("4x")


def test_default_replacement_is_one_token_of_the_vocabulary(toy, model_and_sae):
    for model in (toy, model_and_sae[0]):
        text = default_replacement(model)
        token_id = one_token_id(model, text, "replacement")  # raises unless it is one token
        assert model.tokenizer.decode([token_id]) == text


def test_replace_mode_turns_on_with_a_real_default_token(model_and_sae):
    model, sae = model_and_sae
    view = iw.FeatureAblation.from_model(model, PROMPT, (sae, 495), name="4x")
    assert view.replacement == default_replacement(model)  # shown in the box before replace is chosen
    reply = ask(view, "set", mode="replace", replacement="")  # what the menu sends with an empty box
    assert reply["ok"], reply
    assert view.mode == "replace" and view.replacement == default_replacement(model)
    expected = leave_one_out(model, PROMPT, HOOK, (sae, 495), target=view.target, mode="replace", replacement=view.replacement)
    torch.testing.assert_close(torch.as_tensor(view.drops)[1 : view.target], expected.drop[1 : view.target])
    toggled = ask(view, "toggle", position=1)
    assert toggled["ok"], toggled


def test_a_new_prompt_renames_the_series_that_was_named_for_the_old_one(toy):
    view = iw.ResidualNorms.from_model(toy, ["Some prose about cats.", "def f(x): return x"], names=["prose", "code"])
    assert view.series_names[:2] == ["prose", "code"]
    reply = ask(view, "set", prompt="The dog barked.")
    assert reply["ok"], reply
    assert view.series_names[:2] == ["The dog barked.", "code"] and "prose" not in view.to_text()
    models = iw.ResidualNorms.from_model([toy, toy], "Some prose.", names=["a", "b"])
    ask(models, "set", prompt="Other words.")
    assert models.series_names == ["a", "b"]  # these names tell models apart: they stay


def test_the_text_form_names_the_chosen_target_and_how_it_was_chosen(model_and_sae):
    model, sae = model_and_sae
    view = iw.FeatureAblation.from_model(model, PROMPT, (sae, 495), name="4x")
    single = leave_one_out(model, PROMPT, HOOK, (sae, 495))
    assert f"target {single.target} {single.tokens[single.target]!r} (where the feature is largest)" in view.to_text()
    assert ask(view, "set", target=3)["ok"]
    assert f"target 3 {view.tokens[3]!r} (chosen)" in view.to_text()


def test_attention_view_labels_where_each_score_is_measured(toy):
    view = iw.AttentionView.from_model(toy, "The cat sat on the mat.")
    labels = dict(zip(view.score_names, view.score_labels))
    assert "repeated random tokens" in labels["induction"] and "on the prompt" in labels["previous_token"]
    assert labels["induction"] in view.to_text()


def test_switching_to_a_smaller_sae_past_its_end_keeps_the_view_and_says_what_to_do(model_and_sae):
    model, sae = model_and_sae
    saes = {"1x": iw.load_sae("1x"), "4x": sae}
    view = iw.FeatureAblation.from_model(model, PROMPT, ("4x", 495), saes=saes)
    reply = ask(view, "set", sae="1x")
    assert not reply["ok"]
    d_sae = saes["1x"].W_dec.shape[0]
    assert f"0 to {d_sae - 1}" in reply["error"] and f"the nearest is {d_sae - 1}" in reply["error"] and "4x" in reply["error"]
    assert view.sae_name == "4x" and view.feature == 495  # kept
    assert ask(view, "set", sae="1x", feature=d_sae - 1)["ok"] and view.sae_name == "1x"


def test_a_training_view_before_its_first_log_shows_that_it_waits():
    view = iw.widgets.TrainingView(sae_names=["1x", "2x", "4x"])
    assert "waiting for the first logged training step" in view.to_text()
    assert "waiting for the first logged training step" in view.to_static_html()  # no error before the first log
    view.update([[{"step": 10, "nmse": 0.5, "l0": 3.0, "dead_fraction": 0.0}]] * 3)
    assert "waiting" not in view.to_text() and "<svg" in view.to_static_html()


def test_an_html_export_leaves_out_the_selection_and_keeps_the_state_script_closed(toy):
    import json
    import re

    nbformat = pytest.importorskip("nbformat", reason="nbformat and nbconvert come with the dev extras")
    HTMLExporter = pytest.importorskip("nbconvert").HTMLExporter
    from traitlets.config import Config

    from interp_widgets.nbconvert import WIDGET_STATE_MIME

    selection = iw.Selection(toy, {}, prompt="a secret prompt")
    state = {
        selection.model_id: {"model_name": "WidgetModel", "model_module": "@jupyter-widgets/base", "model_module_version": "2.0.0",
                             "state": selection.get_state()},
        "foreign": {"model_name": "TextModel", "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
                    "state": {"value": "x <!-- y <script>alert(1)</script> z"}},
    }
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("selection")])
    notebook.metadata["widgets"] = {WIDGET_STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}
    config = Config({"HTMLExporter": {"preprocessors": ["interp_widgets.nbconvert.SnapshotPreprocessor"],
                                      "filters": {"escape_html_script": "interp_widgets.nbconvert.escape_html_script"}}})
    body, _ = HTMLExporter(config=config).from_notebook_node(notebook)
    assert "a secret prompt" not in body  # the model-only Selection's state is left out
    script = re.search(rf'<script type="{re.escape(WIDGET_STATE_MIME)}">(.*?)</script>', body, flags=re.S).group(1)
    assert "<" not in script  # nothing in it can open a comment or a script in HTML's script data
    assert json.loads(script)["state"]["foreign"]["state"]["value"] == "x <!-- y <script>alert(1)</script> z"
    assert json.loads((Path(__file__).parents[3] / "jupyter-config" / "jupyter_nbconvert_config.json").read_text())[
        "HTMLExporter"]["filters"]["escape_html_script"] == "interp_widgets.nbconvert.escape_html_script"
