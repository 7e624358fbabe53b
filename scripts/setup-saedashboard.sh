#!/usr/bin/env bash
# A fourth environment, for benchmarks only (never CI): SAEDashboard itself (the `sae-dashboard`
# package), which bench_dashboard.py times against our dashboards on the same model, SAE and tokens.
# Its release 0.8.0 pins transformer-lens < 3 (HookedTransformer) and transformers < 4.57, which fit
# neither .venv (transformer-lens 4) nor .venv-saelens (3.9), so it gets its own.
# - torch stays the CPU wheel (torch==2.13.0) unless IW_TORCH_SPEC names another;
# - pyarrow < 21: newer pyarrow needs NumPy 2, and this stack resolves NumPy 1.26;
# - torchvision/torchaudio come in through optional pins but are built for another torch and break
#   `import transformers`; nothing here uses them, so they are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv-saedashboard
[ -x $VENV/bin/python ] || "$PYTHON" -m venv $VENV
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! $VENV/bin/python -c "import sae_dashboard.sae_vis_runner" 2>/dev/null; then
  echo "== installing sae-dashboard 0.8.0 in $VENV"
  constraints=$(mktemp)
  printf '%s\n' "${IW_TORCH_SPEC:-torch==2.13.0}" "pyarrow<21" > "$constraints"
  $VENV/bin/pip install -q -c "$constraints" "${IW_TORCH_SPEC:-torch==2.13.0}" "sae-dashboard==0.8.0" "pyarrow<21"
  $VENV/bin/pip uninstall -q -y torchvision torchaudio || true
  rm -f "$constraints"
  $VENV/bin/python -c "import sae_dashboard.sae_vis_runner"
fi
