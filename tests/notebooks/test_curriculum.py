"""The curriculum notebooks (10-15): each runs offline (its time budget: benchmarks/bench_notebooks.py), and every numeric or named
claim in its markdown has a named assertion here against the numbers the notebook itself printed
(its last cell prints them as `numbers: {...}`); the same for the numbers notebooks 00-08 quote (at the end). The one line that switches a notebook to GPT-2 or
Pythia (`MODEL = ...`) is run on a random-weight GPT-2-shaped model."""

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
CURRICULUM = ["10_superposition", "11_embeddings_and_positions", "12_detokenization_and_gates", "13_mlps_as_storage",
              "14_layer_norm_and_norm_growth", "15_where_saes_fall_short"]
SWITCHABLE = ["11_embeddings_and_positions", "12_detokenization_and_gates", "13_mlps_as_storage", "14_layer_norm_and_norm_growth"]
CLOCK = "import time as _clock\n_cpu0 = _clock.process_time()"
CLOCK_END = "print('cpu seconds:', _clock.process_time() - _cpu0)"


def run(name: str, substitute: tuple[str, str] | None = None) -> dict:
    """Execute a notebook (optionally with one source line replaced); its numbers, CPU and wall time, errors."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if substitute is not None:
        hits = [cell for cell in notebook.cells if substitute[0] in cell.source]
        assert len(hits) == 1, f"{name}: the switch line {substitute[0]!r} must appear exactly once"
        hits[0].source = hits[0].source.replace(*substitute)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(CLOCK))
    notebook.cells.append(nbformat.v4.new_code_cell(CLOCK_END))
    started = time.monotonic()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    wall = time.monotonic() - started
    text = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "stream")
    errors = [f"{o.ename}: {o.evalue}" for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    found = re.search(r"^numbers: (.*)$", text, flags=re.M)
    cpu = re.search(r"^cpu seconds: ([\d.]+)$", text, flags=re.M)
    return {"numbers": json.loads(found.group(1)) if found else None, "cpu": float(cpu.group(1)) if cpu else None,
            "wall": wall, "errors": errors, "text": text}


@pytest.fixture(scope="module")
def runs():
    return {}


def ran(runs, name):
    if name not in runs:
        runs[name] = run(name)
    result = runs[name]
    assert not result["errors"], result["errors"]
    return result


@pytest.mark.parametrize("name", CURRICULUM)
def test_runs_offline_and_prints_its_numbers(runs, name):
    # how long it takes (its 90 s budget) is benchmarks/bench_notebooks.py's to judge, not a test's
    result = ran(runs, name)
    assert result["numbers"] is not None, f"{name} printed no numbers line"


@pytest.fixture(scope="module")
def gpt2_shaped(random_gpt2):
    """A random-weight GPT-2 saved as a hub model is, with the toy tokenizer: what `MODEL = "gpt2"` would load."""
    return random_gpt2(n_layer=2, n_embd=64, n_positions=128)[0]


@pytest.mark.parametrize("name", SWITCHABLE)
def test_the_switch_line_runs_on_a_gpt2_shaped_model(gpt2_shaped, name):
    result = run(name, ('MODEL = "embedded-6l"', f'MODEL = {str(gpt2_shaped)!r}'))
    assert not result["errors"], result["errors"]
    assert result["numbers"] is not None


# ---- 10: superposition ----------------------------------------------------------------------

def test_10_pentagon_antipodal_pair_and_dense_identity(runs):
    n = ran(runs, "10_superposition")["numbers"]
    assert n["pentagon_gap_error"] <= 5  # "five directions 72° apart"
    assert n["pentagon_norm_spread"] <= 0.10  # "all with the same norm"
    assert n["antipodal_cosine"] < -0.95  # "an antipodal pair"
    assert n["dense_off_diagonal"] < 0.1 and n["dense_diagonal_error"] < 0.1  # "Wᵀ W is (close to) the identity"


def test_10_live_toy_dense_against_sparse(runs):
    n = ran(runs, "10_superposition")["numbers"]
    assert n["toy_dense_dims"] > 0.9  # "Dense features: m/‖W‖² near 1"
    assert 0.2 < n["toy_sparse_dims"] < 0.4  # "Sparse: about 0.3 ... below the pentagon's 2/5"


def test_10_phase_diagram_has_the_three_phases_where_the_lesson_says(runs):
    n = ran(runs, "10_superposition")["numbers"]
    assert n["phase_dense_low"] == "not represented"  # "Dense and unimportant: the second feature is dropped"
    assert n["phase_dense_high"] == "own dimension"  # "Dense and important: it takes the dimension"
    assert set(n["phase_sparse_row"]) == {"superposition"}  # "Sparse: both share the dimension ... whatever their importance"


def test_10_trajectory_and_mcs(runs):
    n = ran(runs, "10_superposition")["numbers"]
    assert n["plateau_steps"] >= 500 and n["plateau_final_dimensionality"] <= 0.6  # "for a long stretch ... then gives it up"
    assert n["trajectory_dims_end"] < n["trajectory_dims_start"]  # "it falls as more features are packed in"
    assert n["trajectory_represented_end"] > 5  # more features than the 5 dimensions are represented
    assert n["mcs_mean"] > n["same_feature_mean"]  # "The MCS is well above the same-feature cosine"
    assert n["mcs_mean"] < 0.95  # "this one is spread out", not piled at 1


# ---- 11: embeddings and positions -----------------------------------------------------------

def test_11_related_tokens_are_nearby(runs):
    n = ran(runs, "11_embeddings_and_positions")["numbers"]
    assert n["case_cosines"] and all(v > n["random_pair_p99"] for v in n["case_cosines"].values())  # "closer than 99 % of random pairs"
    number_words = {" one", " three", " four", " five", " several", " few", " many", " six", " both", " some"}
    assert number_words & set(n["two_neighbours"])  # "a number word's neighbours are other number and quantity words"


def test_11_positions_how_late_no_helix_first_token_apart(runs):
    n = ran(runs, "11_embeddings_and_positions")["numbers"]
    assert 0 in n["how_late"] and abs(n["how_late_correlation"]) > 0.9  # "the first component is a how-late direction"
    assert n["helix"] is False  # "there is no helix"
    assert n["first_token_z"] > 2  # "position 0 stands apart from the rest"
    assert "rotary" in n["rotary_message"] and "embedded-6l" in n["rotary_message"]  # "The view says so, and names a model that has one"


# ---- 12: detokenization and gates -----------------------------------------------------------

def test_12_detokenization_neuron_is_far_above_the_base_rate(runs):
    n = ran(runs, "12_detokenization_and_gates")["numbers"]
    assert n["detok_precision"] > 2 * n["detok_base_rate"]  # "several times the base rate"


def test_12_and_and_or_examples(runs):
    gates = ran(runs, "12_detokenization_and_gates")["numbers"]["gates"]
    both = gates["AND"]
    assert min(both["drop_a"], both["drop_b"]) >= 0.5 and both["interaction"] < 0  # "each alone removes most; interaction negative"
    either = gates["OR"]
    assert max(either["drop_a"], either["drop_b"]) <= 0.35  # "each alone removes little"
    assert either["joint"] >= 0.6 and either["interaction"] > 0  # "both together most of it; interaction positive"


# ---- 13: MLPs as storage --------------------------------------------------------------------

def test_13_the_logit_lens_prediction_survives_ablation(runs):
    n = ran(runs, "13_mlps_as_storage")["numbers"]
    assert n["promoted_drop"] > 5 * n["typical_change"]  # "far more log-prob than a typical token"
    assert n["promoted_rank_of_drop"] < 20  # "among the most affected of the whole vocabulary"


# ---- 14: layer norm and norm growth ---------------------------------------------------------

def test_14_layer_norm_is_scale_invariant(runs):
    assert ran(runs, "14_layer_norm_and_norm_growth")["numbers"]["ln_scale_invariance"] < 1e-3


def test_14_norm_jumps_after_block_0_then_barely_grows(runs):
    n = ran(runs, "14_layer_norm_and_norm_growth")["numbers"]
    assert n["first_block_jump"] > 3  # "the first block lifts the small embedding many times over"
    assert n["later_growth_per_block"] < 1.25  # "after that the norm changes little from block to block"


def test_14_random_deep_model_grows_steadily(runs):
    norms = ran(runs, "14_layer_norm_and_norm_growth")["numbers"]["random_norms"]
    assert all(b > a for a, b in zip(norms, norms[1:])) and norms[-1] > 3 * norms[0]  # "grows steadily with depth"


# ---- 15: where SAEs fall short --------------------------------------------------------------

def test_15_every_sae_is_lossy(runs):
    sizes = ran(runs, "15_where_saes_fall_short")["numbers"]["sizes"]
    for size, row in sizes.items():
        assert row["ce_spliced"] > row["ce_clean"] and row["ce_loss_recovered"] < 1, size  # "No SAE recovers all of the loss"
        assert row["explained_variance"] < 0.9, size  # "more than a tenth of the variance unexplained"


def test_15_size_dead_and_dense(runs):
    sizes = ran(runs, "15_where_saes_fall_short")["numbers"]["sizes"]
    l0 = [sizes[s]["l0"] for s in ("1x", "2x", "4x", "8x")]
    assert l0 == sorted(l0)  # "L0 rises with width"
    assert sizes["8x"]["dead_fraction"] > sizes["1x"]["dead_fraction"]  # "The widest dictionary has the most dead features"
    assert sizes["8x"]["dead_fraction"] == max(row["dead_fraction"] for row in sizes.values())
    assert sizes["1x"]["dense_fraction"] == max(row["dense_fraction"] for row in sizes.values())  # "The narrowest has the most dense"


def test_15_feature_splitting(runs):
    n = ran(runs, "15_where_saes_fall_short")["numbers"]
    assert n["split_4x"] >= 5 and n["max_children"] >= 2  # "Several 4x features have two or more close 8x children"
    assert 0 < n["matched_8x"] < 2048 and n["mmcs_8x_4x"] < 0.9  # "two humps: shared and new features"


def test_readme_maps_every_checklist_topic():
    readme = (NOTEBOOKS / "README.md").read_text()
    topics = ["features as directions", "superposition", "residual stream", "logit lens", "positional embeddings",
              "detokenization", "induction heads", "IOI", "docstring", "patching", "AND vs OR", "key-value", "logical gates",
              "layer norm", "norm growth", "SAEs"]
    for topic in topics:
        assert topic.lower() in readme.lower(), topic
    for name in CURRICULUM:
        assert f"{name}.ipynb" in readme, name


# ---- 00-08: the numbers their prose quotes -----------------------------------------------------
# Notebooks 00-08 are executed once per session (tests/notebooks/executed.py, shared with test_notebooks.py).
# Each quoting numbers prints them last as `numbers: {...}`; a named test checks each claim against them, and one
# test checks that every measured-looking number in the prose (a decimal, a percentage, a figure with thousands
# separators) is one the notebook printed, or a setting its own code uses.

LESSONS = ["00_quickstart", "01_sae_training", "02_feature_ablation", "03_patching", "04_residual_stream",
           "05_feature_dashboards", "06_attribution_graphs", "07_steering", "08_graph_view"]
QUOTED = re.compile(r"(?<![\w.])(\d[\d,]*\.\d+|\d[\d,]*\s?%|\d{1,3}(?:,\d{3})+)")
SETTINGS_ELSEWHERE = {
    # a number the prose gives that is a default of a function the notebook calls, checked against that default here
    ("06_attribution_graphs", "95 %"): ("interp_widgets.compute.attribution.attribute", "attribute", "logit_probability", 0.95),
}


def lesson(name: str) -> dict:
    """The executed lesson: its printed text, its code, its prose, and its `numbers` line (None if it has none)."""
    from tests.notebooks.executed import executed, printed

    notebook = executed(f"{name}.ipynb")
    errors = [f"{o.ename}: {o.evalue}" for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    text = printed(notebook)
    found = re.search(r"^numbers: (.*)$", text, flags=re.M)
    return {"text": text, "numbers": json.loads(found.group(1)) if found else None,
            "code": "\n".join(c.source for c in notebook.cells if c.cell_type == "code"),
            "prose": "\n".join(re.sub(r"\]\([^)]*\)", "]", c.source) for c in notebook.cells if c.cell_type == "markdown")}


def _forms(number: str) -> tuple[list[str], list[str]]:
    """How a quoted number may appear in printed text, and (for a setting) in code."""
    plain = number.replace("\u2009", " ").replace(" ", "")
    if plain.endswith("%"):
        value = plain[:-1].replace(",", "")
        return [f"{value}%", f"{value} %"], [repr(float(value) / 100).rstrip("0").rstrip("."), repr(round(float(value) / 100, 4))]
    digits = plain.replace(",", "")
    return [plain, digits], [digits, f"{int(digits):_}"] if digits.isdigit() else [digits]


@pytest.mark.parametrize("name", LESSONS)
def test_every_number_the_prose_quotes_is_printed_or_set_in_its_code(name):
    result = lesson(name)
    missing = []
    for number in QUOTED.findall(result["prose"]):
        if (name, number) in SETTINGS_ELSEWHERE:
            module, function, parameter, value = SETTINGS_ELSEWHERE[(name, number)]
            import importlib
            import inspect

            assert inspect.signature(getattr(importlib.import_module(module), function)).parameters[parameter].default == value
            continue
        printed_forms, code_forms = _forms(number)
        in_output = any(re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", result["text"]) for form in printed_forms)
        in_code = any(re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", result["code"]) for form in code_forms)
        if not (in_output or in_code):
            missing.append(number)
    assert not missing, f"{name}: the prose quotes {missing}, which no cell prints and no setting in its code is"


def test_every_notebook_a_text_refers_to_exists():
    names = {path.name[:2] for path in NOTEBOOKS.glob("[0-9][0-9]_*.py")}
    texts = {path.name: path.read_text(encoding="utf-8") for path in NOTEBOOKS.glob("[0-9][0-9]_*.py")}
    texts["README.md"] = (NOTEBOOKS.parent / "README.md").read_text(encoding="utf-8")
    for where, text in texts.items():
        for cited in re.findall(r"[Nn]otebooks? (\d\d)\b", text):
            assert cited in names, f"{where} cites notebook {cited}, which does not exist"


def test_01_the_demo_saes_are_barely_trained_and_the_shipped_ones_share_features():
    n = lesson("01_sae_training")["numbers"]
    assert n["steps"] == 150 and not n["full"]  # "After 150 steps"
    assert abs(n["mmcs_demo"] - n["mmcs_chance"]) < 0.1  # "close to what untrained dictionaries give by chance"
    assert n["mmcs_shipped"] > n["mmcs_chance"] + 0.2  # "The shipped SAEs ... well above chance"


def test_02_the_title_case_feature_barely_moves_of():
    n = lesson("02_feature_ablation")["numbers"]
    assert n["of_logprob_changes"] and all(abs(v) < 0.1 for v in n["of_logprob_changes"])  # "a few hundredths of a nat"
    assert 0.75 < n["title_case_auroc"] < 0.85  # "AUROC 0.80 in its catalogue"


def test_03_ioi_accuracies_and_the_readme_quote_them():
    n = lesson("03_patching")["numbers"]
    assert 0.4 <= n["ioi_2l"] <= 0.6  # "the 2-layer model does not do this task (about chance, one right name in two)"
    assert n["ioi_seen"] > 0.9  # "91 % with names it never saw in that role"
    assert n["ioi_heldout"] < 0.5 and n["ioi_heldout_logit_diff"] < 0  # "no better than chance ... logit difference below zero"
    assert n["heldout_pair_gap"] <= 0  # "the clean run does not prefer the right name by more than the corrupt run"
    readme = (NOTEBOOKS.parent / "README.md").read_text(encoding="utf-8")
    assert f"{round(100 * n['ioi_seen'])} % on the four sentence shapes" in readme
    assert f"{round(100 * n['ioi_heldout'])} % on ten held-out shapes" in readme


def test_03_noising_is_printed_on_the_views_scale():
    text = lesson("03_patching")["text"]
    noise = text[text.index("\nnoise (change as a fraction") + 1:].splitlines()[1]
    assert "-1.00" in noise  # the changed position: fully broken, as the view's map cell (-1.000) says, not "+0.00"


def test_04_norm_fit_and_positions():
    n = lesson("04_residual_stream")["numbers"]
    assert 0.3 < n["norm_r2"] < 0.7  # "an exponential fits poorly (R² 0.484)"
    assert n["mean_norms"][1] > 4 * n["mean_norms"][0]  # "the first block lifts the norm far above the small embedding"
    assert n["pc1_position_correlation"] < -0.9 and n["first_token_z"] > 3  # "how late" (near -1); "position 0 stands apart"


def test_06_and_08_give_one_share_for_one_path():
    six, eight = lesson("06_attribution_graphs")["numbers"], lesson("08_graph_view")["numbers"]
    same = [path.rsplit(" -> ", 1)[0] for path in (six["top_path"], eight["top_path"])]  # (the logit is labelled two ways)
    assert same[0] == same[1]  # the same prompt, transcoders and pruning: the same strongest path ...
    assert six["top_path_share"] == pytest.approx(eight["top_path_share"], rel=1e-3)  # ... with one share (defined once)
    assert six["logit_coverage"] >= 0.95 or six["n_logits"] == 10  # "until they cover 95 % of the probability, at most 10"


def test_07_steering_strengths_the_prose_names():
    n = lesson("07_steering")["numbers"]
    strengths, german, rate = n["strengths"], dict(zip(n["strengths"], n["german_share"])), dict(zip(n["strengths"], n["and_rate"]))
    assert 5 < n["slider_limit"] < 10 and n["view_range"] == 10  # "±5.23 here"; "started at 10 ... spans ±10"
    assert all(german[s] == 0 for s in strengths if s < 0)  # "Negative strengths leave English text English"
    assert 0.25 <= german[5] <= 0.45 and 5 < n["slider_limit"]  # "within the slider's own range ... at +5 about a third"
    assert 0.4 <= german[10] <= 0.6 and german[30] == 1.0  # "at +10 about half, and by +30 every word"
    capped = n["capped_share"]
    assert all(v == 0 for k, v in capped.items() if k.endswith("cap -5"))  # "a cap at -5 takes the German out"
    assert all(0.2 <= v <= 0.35 for k, v in capped.items() if k.endswith("cap +0"))  # "a quarter to a third ... stay German"
    assert all(rate[s] == 0 for s in strengths if s >= 5)  # "no ' and' from +5 on"
    assert rate[-30] > rate[0] and rate[-10] == rate[0]  # "1.6 % at −30 against 0.4 %"; "−10 gives 0.4 % again"


def test_08_intervention_and_index_claims():
    n = lesson("08_graph_view")["numbers"]
    assert n["d_after"] < n["d_before"] / 5 and n["d_rank_after"] > 0  # "' D' drops from the most likely token to an unlikely one"
    assert max(n["error_losses"]) > 0.2  # "the top tokens lose a good part of their probability"
    assert n["index_tokens"] <= 8192 and n["index_tokens"] % 64 == 0  # "whole 64-token contexts up to index_tokens=8192"
