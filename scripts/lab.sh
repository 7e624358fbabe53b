#!/usr/bin/env bash
# Set up what is missing, then open JupyterLab on the quickstart notebook.
# It prints the quickstart's own URL (not the Launcher's) and opens it where there is a browser.
# The notebook path is given from the repository root: jupyter resolves it against the working
# directory, not --notebook-dir. Extra arguments go to jupyter lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
PORT=${IW_LAB_PORT:-$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
TOKEN=${IW_LAB_TOKEN:-$(python -c 'import secrets; print(secrets.token_hex(16))')}
args=(--notebook-dir=notebooks "--port=$PORT" --ServerApp.port_retries=0 "--IdentityProvider.token=$TOKEN")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
if [ -z "${DISPLAY:-}" ] && [ -z "${BROWSER:-}" ] && [ "$(uname)" = Linux ]; then
    args+=(--no-browser --ip=127.0.0.1)
fi
echo "== the quickstart notebook: http://127.0.0.1:$PORT/lab/tree/00_quickstart.ipynb?token=$TOKEN"
exec jupyter lab "${args[@]}" "$@" notebooks/00_quickstart.ipynb
