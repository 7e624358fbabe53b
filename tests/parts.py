"""Optional parts a test needs (a browser, accelerate, nbconvert, a second environment, ...).

`need_module(name, fix)` / `missing(part, fix)`: where a part is missing, the test is skipped with a
reason that starts "missing part:", and the run's summary lists every such part (tests/conftest.py),
so a green run cannot hide that a part of the suite did not run. Where the environment variable
`required_by` is set (`CI` by default: CI installs everything) a missing part fails the test instead;
a part that only one of the two test environments has names its own variable (IW_REQUIRE_SAELENS), or
none (the dev extras, absent from the transformer-lens 3.9 environment by design).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

MISSING = "missing part: "


def missing(part: str, fix: str, required_by: str | None = "CI") -> None:
    """Fail (where `required_by` is set) or skip (listed in the summary): `part` is not installed here; `fix` installs it."""
    if required_by and os.environ.get(required_by):
        pytest.fail(f"{part} is missing in CI: {fix}", pytrace=False)
    pytest.skip(f"{MISSING}{part} ({fix})", allow_module_level=True)


def need_module(name: str, fix: str, required_by: str | None = "CI") -> ModuleType:
    """The module `name`, or `missing(name, fix, required_by)` when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(name, fix, required_by)
        raise  # not reached: missing() skips or fails
