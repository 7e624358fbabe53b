"""A built wheel ships the front-end bundle and the package data."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


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
    bundle = zipfile.ZipFile(wheel).read("interp_widgets/static/token_highlights.js").decode()
    assert "export" in bundle and "innerHTML" not in bundle and "https://" not in bundle
