"""How long a new user waits for a teaching notebook: each executed offline, as `jupyter nbconvert
--execute` runs it, against its budget of 90 s (notebook 01's short training run, FULL = False, and each
curriculum lesson 10-15).

The kernel's own CPU time is the headline (first cell to last, measured inside the kernel), because
on a shared machine wall time follows the neighbours' load; wall time is printed beside it. The
tests check that these notebooks run and say what they claim (tests/notebooks/); speed is judged
here, not by a timed test.

Run: .venv/bin/python benchmarks/bench_notebooks.py [--quick] [--only 01_sae_training,10_superposition]
(--quick: notebook 01 and the first lesson only)
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _shapes import options  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BUDGET_S = 90.0
TIMED = ["01_sae_training", "10_superposition", "11_embeddings_and_positions", "12_detokenization_and_gates",
         "13_mlps_as_storage", "14_layer_norm_and_norm_growth", "15_where_saes_fall_short"]
CLOCK = "import time as _clock\n_cpu0 = _clock.process_time()"
CLOCK_END = "print('cpu seconds:', _clock.process_time() - _cpu0)"


def execute(name: str) -> tuple[float, float]:
    """(kernel CPU seconds, wall seconds) of one run of notebooks/<name>.ipynb."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(CLOCK))
    notebook.cells.append(nbformat.v4.new_code_cell(CLOCK_END))
    started = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    wall = time.perf_counter() - started
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].get("outputs", []) if o.output_type == "stream")
    return float(re.search(r"cpu seconds: ([\d.]+)", printed).group(1)), wall


def main() -> None:
    args = options(__doc__, lambda parser: parser.add_argument("--only", default="", help="comma-separated notebook names"))
    names = [n for n in args.only.split(",") if n] or (TIMED[:2] if args.quick else TIMED)
    worst = (0.0, "")
    for name in names:
        cpu, wall = execute(name)
        print(f"{name}: {cpu:.1f} s CPU in the kernel, {wall:.1f} s wall (budget {BUDGET_S:.0f} s)")
        worst = max(worst, (cpu, name))
    print(f"slowest notebook {worst[1]}: {worst[0]:.1f} s CPU of its {BUDGET_S:.0f} s budget ({worst[0] / BUDGET_S:.2f}x the budget)")


if __name__ == "__main__":
    main()
