#!/usr/bin/env bash
# Set up what is missing, then open JupyterLab on the quickstart notebook.
# Where there is no browser, JupyterLab prints the URL to open. The notebook path is given from
# the repository root: jupyter resolves it against the working directory, not --notebook-dir.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
args=(--notebook-dir=notebooks)
[ "$(id -u)" = 0 ] && args+=(--allow-root)
if [ -z "${DISPLAY:-}" ] && [ -z "${BROWSER:-}" ] && [ "$(uname)" = Linux ]; then
    args+=(--no-browser --ip=127.0.0.1)
    echo "== no browser here: open the URL JupyterLab prints below, then 00_quickstart.ipynb (or add /tree/00_quickstart.ipynb after /lab)"
fi
exec jupyter lab "${args[@]}" "$@" notebooks/00_quickstart.ipynb
