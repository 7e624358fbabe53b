"""Words a new user reads (issue 36, items 10 and 13): neurons named L0N586, a neuron's ablation view says
"neuron", a chosen target is not described as the peak, out-of-range messages name the SAE properly, graph text
stays on one line, `save` points at the button that is there, snapshots say what they hold."""

import pytest

import interp_widgets as iw
from interp_widgets.compute.steering.steer import Neuron, Steer

PROMPT = "We bought bread and butter, salt and pepper."


@pytest.fixture(scope="module")
def model():
    return iw.load_model()


def test_a_neuron_is_named_like_L0N586_not_like_an_activation(model):
    view = iw.SteeringView.from_model(model, "The weather today is", Steer(None, Neuron(0, 586), 2.0), max_new_tokens=2)
    assert view.steers[0]["label"] == "L0N586" and "neuron 0.586" not in view.to_text()
    assert Neuron(1, 7).label == "L1N7"


def test_a_neuron_ablation_says_neuron_and_a_chosen_target_is_not_the_peak(model):
    view = iw.FeatureAblation.from_model(model, PROMPT, 3, hook="blocks.0.mlp.hook_post", target=4)
    assert view.readout_kind == "neuron" and view.target_given and view.target == 4
    assert "(chosen)" in view.to_text() and "largest" not in view.to_text().splitlines()[1]
    peak = iw.FeatureAblation.from_model(model, PROMPT, (iw.load_sae("4x"), 495))
    assert peak.readout_kind == "feature" and not peak.target_given and "where the feature is largest" in peak.to_text()


def test_an_unnamed_saes_out_of_range_message_reads_well(model):
    with pytest.raises(iw.InterpWidgetsError) as error:
        iw.FeatureAblation.from_model(model, "bread and butter", (iw.load_sae("4x"), -1))
    message = str(error.value)
    assert "out of range for this SAE, which has 1024 features (0 to 1023)" in message
    assert "the  SAE" not in message and "()" not in message and "stay on an SAE" not in message


def test_graph_text_keeps_tokens_on_one_line():
    from interp_widgets.widgets._snapshot import one_line

    assert one_line("a\nb\x18c\td") == "a\u21b5b\u2418c\u2192d"
    assert one_line("Output \" the\" -> token @3 'x'") == "Output \" the\" -> token @3 'x'"  # ordinary text unchanged


def test_save_points_at_the_save_button(model):
    view = iw.TokenHighlights.from_model(model, PROMPT, hook="blocks.0.hook_resid_post", directions=[3])
    with pytest.raises(iw.InterpWidgetsError) as error:
        view.save("x.png")
    assert "\u2913" in str(error.value) and "\u2630" not in str(error.value)
    assert "\u2630" not in type(view).save.__doc__


def test_every_snapshot_says_edits_made_in_the_view_are_not_in_it(model):
    view = iw.TokenHighlights.from_model(model, PROMPT, hook="blocks.0.hook_resid_post", directions=[3])
    data, _ = view._repr_mimebundle_()
    assert "edits made in the view after that (a prompt typed in it, a click) are not in this snapshot" in data["text/html"]
    assert data["text/html"].count("iw-snapshot-edits") == 1


def test_a_newline_token_keeps_the_graphs_path_list_one_path_a_line(model):
    import re

    view = iw.GraphView.from_model(model, iw.load_transcoders("embedded"), "Roses are red.\nViolets are blue.\n")
    html_paths = re.search(r"<pre>(.*?)</pre>", view.to_static_html(), flags=re.S).group(1)
    assert len(html_paths.splitlines()) == 5 and "\u21b5" in html_paths  # five paths, five lines; a newline shown as ↵
    lines = view.to_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("strongest paths")) + 1
    assert all(re.match(r"  \d\.\d{4} [+-]  \S", line) for line in lines[start : start + 10])  # each path one line
