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
