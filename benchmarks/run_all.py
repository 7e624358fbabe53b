"""Run every benchmark and write one table (not part of CI: minutes to an hour on a CPU).

Each `benchmarks/bench_*.py` runs in its own process, one after another (never two at once: they
time themselves). A benchmark that takes the shared options (`_shapes.options`) gets `--quick`
and `--device`; the others run as they are (on the CPU) and the table says so. Every benchmark
prints its headline ratio on its last line and, where it measures GPT-2 small's shape, a line
starting with "GPT-2-small-shaped random", and where it measures the path users take (a Hugging Face
GPT-2-small-shaped model loaded with iw.load_model) a line starting with "HF-path GPT-2-small-shaped";
all three go into the table.

Results are kept per device in `benchmarks/results/<device>.json`, and `benchmarks/results/RESULTS.md`
(and the same table between the README's markers) is written from all of them: one column per device that has been run (a GPU column appears only
once `--device cuda` has been run on a real GPU).

Run: .venv/bin/python benchmarks/run_all.py [--quick] [--device cuda] [--only load,index] [--timeout 3600] [--table] [--hf-only]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
TABLE_START = "<!-- run_all table: written by benchmarks/run_all.py from benchmarks/results/RESULTS.md -->\n"
TABLE_END = "<!-- end of run_all table -->\n"
GPT2_PREFIX = "GPT-2-small-shaped random"
HF_GPT2_PREFIX = "HF-path GPT-2-small-shaped GPT2LMHeadModel:"  # the path users take: HF weights through iw.load_model
NO_TRANSFORMER = {"bench_superposition": "n/a (toy model, no transformer)",  # no GPT-2 shape to measure
                  "bench_graph_render": "n/a (draws a graph of a given size, 5,000 nodes; no model)"}


def takes_options(script: Path) -> bool:
    return "options(__doc__" in script.read_text()  # options(__doc__) or options(__doc__, more)


def run(script: Path, quick: bool, device: str, timeout: int, hf_only: bool = False) -> dict[str, object]:
    command = [sys.executable, str(script)]
    shared = takes_options(script)
    if shared:
        command += (["--quick"] if quick else []) + ["--device", device] + (["--hf-only"] if hf_only else [])
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
        failed = done.returncode != 0
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1] if failed else ""
    except subprocess.TimeoutExpired:
        lines, failed, tail = [], True, f"timed out after {timeout} s"
    seconds = time.perf_counter() - start
    headline = lines[-1] if lines and not failed else f"FAILED: {tail}"
    gpt2 = [line for line in lines[:-1] if line.startswith(GPT2_PREFIX) and re.search(r"[\d.]+x|%", line)]
    hf = [line for line in lines if line.startswith(HF_GPT2_PREFIX) and re.search(r"[\d.]+x", line)]
    return {"headline": headline, "gpt2": gpt2[-1] if gpt2 else "", "hf": hf[-1] if hf else "", "seconds": round(seconds, 1),
            "options": shared, "quick": quick and shared, "output": lines}


def table(results: dict[str, dict[str, dict[str, object]]]) -> str:
    devices = sorted(results)
    names = sorted({name for per_device in results.values() for name in per_device})
    rows = ["| benchmark | " + " | ".join(f"{device}: headline (embedded shape) | {device}: GPT-2-small shape | "
                                          f"{device}: HF path (GPT-2 small, iw.load_model)" for device in devices) + " |",
            "|---|" + "---|---|---|" * len(devices)]
    for name in names:
        cells = []
        for device in devices:
            result = results[device].get(name)
            if result is None:
                cells += ["not run", "not run", "not run"]
                continue
            note = (" (--quick)" if result["quick"] else "") + ("" if result["options"] else " (CPU only)")
            cells += [f"{_short(result['headline'])}{note}", _short(result["gpt2"]) or NO_TRANSFORMER.get(name, "not measured"),
                      (_short(str(result.get("hf", ""))) + (" (--quick)" if result.get("hf_quick") else "")).strip()
                      or NO_TRANSFORMER.get(name, "not measured")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def readme_with(readme: str, written: str) -> str:
    """The README with the table between its markers replaced by `written` (RESULTS.md's table)."""
    if TABLE_START not in readme or TABLE_END not in readme:
        raise SystemExit(f"README.md has lost its table markers ({TABLE_START.strip()} ... {TABLE_END.strip()})")
    before, rest = readme.split(TABLE_START, 1)
    return before + TABLE_START + written + TABLE_END + rest.split(TABLE_END, 1)[1]


def _short(line: str) -> str:
    return " ".join(line.replace(GPT2_PREFIX + ":", "").replace(HF_GPT2_PREFIX, "").replace("|", "/").split())


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every benchmark and write one table.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. load,index (bench_ left out)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per benchmark")
    parser.add_argument("--table", action="store_true", help="run nothing: rewrite the table from the kept results")
    parser.add_argument("--hf-only", action="store_true", help="only the HF-path lines of the benchmarks that have them "
                        "(kept beside each benchmark's other figures)")
    args = parser.parse_args()
    scripts = [] if args.table else sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{name.strip()}.py" for name in args.only.split(",")}
        scripts = [script for script in scripts if script.name in wanted]
    RESULTS.mkdir(exist_ok=True)
    kept = RESULTS / f"{args.device}.json"
    results = json.loads(kept.read_text()) if kept.exists() else {}
    if args.hf_only:
        scripts = [script for script in scripts if "hf_options" in script.read_text()]
    for script in scripts:
        print(f"{script.name} ...", flush=True)
        if args.hf_only:
            done = run(script, args.quick, args.device, args.timeout, hf_only=True)
            entry = results.setdefault(script.stem, {"headline": "not run", "gpt2": "", "seconds": 0, "options": True, "quick": False, "output": []})
            entry.update(hf=done["hf"] or done["headline"], hf_quick=bool(done["quick"]), hf_output=done["output"])
            print(f"  {entry['hf']}  ({done['seconds']} s)", flush=True)
            kept.write_text(json.dumps(results, indent=1))
            continue
        results[script.stem] = run(script, args.quick, args.device, args.timeout)
        print(f"  {results[script.stem]['headline']}  ({results[script.stem]['seconds']} s)", flush=True)
        kept.write_text(json.dumps(results, indent=1))
    everything = {path.stem: json.loads(path.read_text()) for path in RESULTS.glob("*.json")}
    written = table(everything)
    (RESULTS / "RESULTS.md").write_text(written)
    README.write_text(readme_with(README.read_text(), written))
    print(written)


if __name__ == "__main__":
    main()
