"""A built wheel ships the front-end bundle, the package data and the embedded model within its size budget."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


@pytest.mark.slow
def test_wheel_contains_the_js_bundle(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
        check=True,
    )
    (wheel,) = tmp_path.glob("interp_widgets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "interp_widgets/static/token_highlights.js" in names
    assert "interp_widgets/models/toy_corpus.txt" in names
    # The JupyterLab / Notebook 7 extension and the nbconvert config install into the environment.
    data = "interp_widgets-0.1.0.data/data/"
    extension = data + "share/jupyter/labextensions/interp-widgets-labextension/"
    assert extension + "package.json" in names and extension + "install.json" in names
    assert any(name.startswith(extension + "static/remoteEntry.") for name in names)
    assert data + "etc/jupyter/jupyter_nbconvert_config.json" in names
    assert not any(name.startswith("interp_widgets/labextension/") for name in names)
    bundle = zipfile.ZipFile(wheel).read("interp_widgets/static/token_highlights.js").decode()
    assert "export" in bundle and "innerHTML" not in bundle and "https://" not in bundle
    embedded = "interp_widgets/models/embedded/"
    for name in ["config.json", "model.safetensors", "tokenizer/tokenizer.json", "MODEL_CARD.md", "thresholds.json",
                 "saes/catalogue.json", *(f"saes/{size}/sae_weights.safetensors" for size in ("1x", "2x", "4x", "8x"))]:
        assert embedded + name in names, name
    for folder in (embedded, "interp_widgets/models/embedded_6l/"):
        assert folder + "transcoders/card.json" in names and folder + "transcoders/layer_1/sae_weights.safetensors" in names, folder
    # every embedded folder (both models, their SAEs and transcoders) within one budget
    shipped = sum(info.file_size for info in zipfile.ZipFile(wheel).infolist() if info.filename.startswith("interp_widgets/models/embedded"))
    assert shipped <= 50 * 2**20, f"embedded assets take {shipped / 2**20:.1f} MiB, over the 50 MiB budget"
