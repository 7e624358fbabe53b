#!/usr/bin/env bash
# The second environment: sae-lens, which pins transformer-lens < 4 (so 3.9), with this package.
# Used by the test command for SAELens interop and to run the unit tests on transformer-lens 3.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv-saelens/bin/python ] || "$PYTHON" -m venv .venv-saelens
. .venv-saelens/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! python -c "import torch" 2>/dev/null; then
  pip install -q "torch==${TORCH_VERSION:-2.13.0}"
fi
if ! python -c "import sae_lens, interp_widgets, pytest" 2>/dev/null || [ pyproject.toml -nt .venv-saelens/.installed ]; then
  echo "== installing sae-lens and interp-widgets in .venv-saelens"
  pip install -q -e ".[multi-device]" sae-lens pytest
  touch .venv-saelens/.installed
fi
