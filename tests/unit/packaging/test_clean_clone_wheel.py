"""`pip install` from a git URL or an sdist works: a wheel builds from a clean copy of the repository
(nothing built, no node_modules) with build isolation, and so does a wheel from the sdist built from it.
Only the package registries are used (PyPI for the build requirements, npm for the front-end)."""

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
EXTENSION = "interp_widgets-0.1.0.data/data/share/jupyter/labextensions/interp-widgets-labextension/"


def clean_copy(destination: Path) -> Path:
    """The committed tree at HEAD, as `pip install git+...` sees it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to copy HEAD from")
    destination.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    assert not (destination / "interp_widgets" / "static").exists() and not (destination / "js" / "node_modules").exists()
    return destination


def pip_wheel(source: Path, out: Path) -> Path:
    """`pip wheel --no-deps` with build isolation (pip's default), as `pip install` of a URL or sdist does."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("interp_widgets-*.whl")
    return wheel


def widget_entries(tree: Path) -> list[str]:
    """Every widget's front-end entry (js/<widget>.ts), each bundled into interp_widgets/static/<widget>.js."""
    entries = sorted(path.stem for path in (tree / "js").glob("*.ts") if not path.name.endswith(".d.ts"))
    assert len(entries) >= 10
    return entries


def assert_complete(wheel: Path, entries: list[str]) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [entry for entry in entries if f"interp_widgets/static/{entry}.js" not in names]
    assert not missing, f"{wheel.name} lacks the bundles of {missing}"
    assert EXTENSION + "package.json" in names and EXTENSION + "install.json" in names
    assert any(name.startswith(EXTENSION + "static/remoteEntry.") for name in names), "the labextension is not built"
    assert "interp_widgets/models/embedded/model.safetensors" in names


@pytest.mark.slow
def test_wheel_and_sdist_build_from_a_clean_clone(tmp_path):
    tree = clean_copy(tmp_path / "clone")
    entries = widget_entries(tree)
    # The direct route: pip install git+URL / pip install . (the npm builds run inside the isolated build).
    assert_complete(pip_wheel(tree, tmp_path / "direct"), entries)

    # The sdist route: the sdist ships the built front-end, so its wheel needs no npm.
    clean_copy(tmp_path / "clone-for-sdist")
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path / "sdist"), str(tmp_path / "clone-for-sdist")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = (tmp_path / "sdist").glob("interp_widgets-*.tar.gz")
    shipped = tarfile.open(sdist).getnames()
    assert any(name.endswith("interp_widgets/labextension/package.json") for name in shipped)
    assert_complete(pip_wheel(sdist, tmp_path / "from-sdist"), entries)
