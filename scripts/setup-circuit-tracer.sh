#!/usr/bin/env bash
# A third, small environment: circuit-tracer's own schema classes (pydantic models of the JSON its
# frontend and Neuronpedia read), to validate the graph files we write (tests/unit/attribution/test_graph_json.py).
# Only circuit_tracer.frontend.graph_models is imported, which needs pydantic alone, so the package
# is installed without its heavy pins (torch, transformer-lens, transformers).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv-circuit-tracer/bin/python ] || "$PYTHON" -m venv .venv-circuit-tracer
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! .venv-circuit-tracer/bin/python -c "import circuit_tracer.frontend.graph_models" 2>/dev/null; then
  echo "== installing circuit-tracer's schema (no dependencies but pydantic) in .venv-circuit-tracer"
  .venv-circuit-tracer/bin/pip install -q "pydantic>=2"
  .venv-circuit-tracer/bin/pip install -q --no-deps circuit-tracer
fi

# --full: circuit-tracer 0.5.0 itself, to run its `attribute` as bench_attribution.py's reference
# (benchmarks/_circuit_tracer_run.py). Its pins (transformer-lens 3.2, transformers 4.57, nnsight, and
# what those import) go into this environment; torch and the rest of the stack are the main
# environment's (a .pth file puts .venv's site-packages after this one's), so no second torch is
# downloaded. Offline after the install: the model and transcoders come from our files.
if [ "${1:-}" = "--full" ]; then
  site=$(.venv-circuit-tracer/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  .venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$site/zz_main_environment.pth"
  if ! .venv-circuit-tracer/bin/python -c "import transformer_lens, circuit_tracer.attribution.attribute, circuit_tracer.replacement_model.replacement_model_transformerlens" 2>/dev/null; then
    echo "== installing circuit-tracer 0.5.0 and its pins in .venv-circuit-tracer (torch from .venv)"
    .venv-circuit-tracer/bin/pip install -q --no-deps "circuit-tracer==0.5.0" "transformer-lens==3.2.1" "transformers==4.57.3" \
      "huggingface-hub==0.36.2" "tokenizers==0.22.1" "datasets==4.4.1" "nnsight==0.8.1" better-abc einops "pydantic>=2"
  fi
  .venv-circuit-tracer/bin/python -c "import circuit_tracer.attribution.attribute" && echo "== circuit-tracer ready"
fi
