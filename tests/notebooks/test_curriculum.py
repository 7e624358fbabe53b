"""The curriculum notebooks (10-15): each runs offline (its time budget: benchmarks/bench_notebooks.py), and every numeric or named
claim in its markdown has a named assertion here against the numbers the notebook itself printed
(its last cell prints them as `numbers: {...}`). The one line that switches a notebook to GPT-2 or
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
