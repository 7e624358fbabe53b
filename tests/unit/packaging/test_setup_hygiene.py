"""A newcomer's first steps (issue 36, item 14): set-up leaves `git status` clean (the front-end locks already hold
what `npm install` writes), the README says how to install and start near its top, and the notebooks show no
image that needs the network (an offline Colab badge is a broken image)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
LOCKS = [ROOT / "js" / "package-lock.json", ROOT / "js" / "labextension" / "package-lock.json"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_locks_hold_every_optional_platform_package_npm_install_writes(lock):
    """`npm install` adds each optional dependency (esbuild's and rollup's per-platform binaries) to the lock when
    the lock lacks it: a lock missing them is rewritten by the first set-up, and shows as modified."""
    packages = json.loads(lock.read_text())["packages"]
    missing = []
    for where, entry in packages.items():
        for name in entry.get("optionalDependencies", {}):
            # npm resolves a dependency in the nearest node_modules up from the package that needs it
            parts = where.split("node_modules/")
            candidates = ["node_modules/".join(parts[:i]) + f"node_modules/{name}" for i in range(len(parts), 0, -1)]
            if not any(candidate in packages for candidate in candidates):
                missing.append(f"{name} (for {where or 'the root'})")
    assert not missing, f"{lock.name} lacks {len(missing)} optional packages npm install would add, e.g. {missing[:3]}"


def test_the_readme_says_how_to_install_and_start_near_its_top():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first = "\n".join(lines[:30])
    assert "bash scripts/lab.sh" in first and "iw.explore(" in first and "pip install" in first


def test_no_notebook_shows_an_image_from_the_network():
    for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        text = source.read_text(encoding="utf-8")
        images = re.findall(r"!\[[^\]]*\]\((https?://[^)]+)\)|<img[^>]+src=[\"']https?://", text)
        assert not images, f"{source.name} shows {images} (a broken image offline): use a text link"
