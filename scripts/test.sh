#!/usr/bin/env bash
# Set up what is missing (Chromium included), then run the whole suite: front-end unit tests,
# then pytest (maths, wire, widget state, packaging, notebooks, and the real-browser test), then
# SAELens interop and the unit tests again on transformer-lens 3.9 in a second environment.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate

# Debian's Chromium for the browser test (Playwright's own browser download cannot work here).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export IW_CHROMIUM="${IW_CHROMIUM:-$(command -v chromium)}"

echo "== front-end: type check and unit tests"
(cd js && npm run --silent typecheck && npx vitest run --reporter=dot)
(cd js/labextension && npm run --silent typecheck)

echo "== python: pytest (transformer-lens 4)"
python -m pytest -q -p no:cacheprovider "$@"

echo "== python: SAELens interop and unit tests (transformer-lens 3.9 + sae-lens)"
deactivate
bash scripts/setup-saelens.sh
IW_REQUIRE_SAELENS=1 .venv-saelens/bin/python -m pytest -q -p no:cacheprovider -m "not slow" tests/saelens tests/unit

echo "== python: circuit-tracer's schema validates our graph files (its own small environment)"
bash scripts/setup-circuit-tracer.sh
IW_REQUIRE_CIRCUIT_TRACER=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/unit/attribution/test_graph_json.py
