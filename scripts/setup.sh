#!/usr/bin/env bash
# Set up whatever is missing: a virtual environment in .venv, torch, the package with its
# development extras, and the front-end bundle. Safe to run again; it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

# torch: keep one that is there (a GPU build, say); otherwise take the CPU build this
# machine kind has on disk. An unpinned `pip install torch` would pull several GB of CUDA.
if ! python -c "import torch" 2>/dev/null; then
  echo "== installing torch (CPU build)"
  pip install -q "torch==${TORCH_VERSION:-2.13.0}"
fi

# The front-end bundle, built before the package install so the build hook finds it.
if [ ! -d js/node_modules ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
  echo "== installing front-end build tools"
  # The checked-in locks list every optional platform package (esbuild's, rollup's), exactly as
  # `npm install` writes them, so this leaves `git status` clean (tests/unit/packaging checks it).
  (cd js && npm install --no-audit --no-fund --loglevel=error)
fi
echo "== building the front-end"
(cd js && npm run --silent build)

# The JupyterLab / Notebook 7 extension (a saved view shows its snapshot when the kernel is gone),
# built with JupyterLab's extension builder, before the package install that ships it.
if ! python -c "import jupyter_builder" 2>/dev/null; then
  echo "== installing JupyterLab (its extension builder)"
  pip install -q "jupyterlab>=4.1,<5"
fi
if [ ! -d js/labextension/node_modules ] || [ js/labextension/package-lock.json -nt js/labextension/node_modules/.package-lock.json ]; then
  echo "== installing the JupyterLab extension's build tools"
  (cd js/labextension && npm install --no-audit --no-fund --loglevel=error)
fi
if [ ! -f interp_widgets/labextension/package.json ] || [ -n "$(find js/labextension/src js/labextension/package.json -newer interp_widgets/labextension/package.json 2>/dev/null)" ]; then
  echo "== building the JupyterLab extension"
  (cd js/labextension && npm run --silent build >/dev/null 2>&1) || (cd js/labextension && npm run build)
fi

if ! python -c "import interp_widgets, pytest, jupyterlab, playwright" 2>/dev/null || [ pyproject.toml -nt .venv/.interp-widgets-installed ]; then
  echo "== installing interp-widgets and its development extras (multi-device: accelerate, for the device-map test)"
  pip install -q -e ".[dev,multi-device]"
  touch .venv/.interp-widgets-installed
fi
# The editable install copies the extension into the environment; link it instead, so a rebuild shows.
extension=.venv/share/jupyter/labextensions/interp-widgets-labextension
if [ ! -L "$extension" ]; then
  rm -rf "$extension"
  ln -s "$PWD/interp_widgets/labextension" "$extension"
fi
