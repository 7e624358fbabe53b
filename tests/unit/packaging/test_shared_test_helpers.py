"""Tests share their helpers instead of copying them: a request message is built by tests/widget_requests.py only,
a random GPT-2 by the `random_gpt2` fixture (tests/conftest.py), a theme switch by tests/ui/helpers.py."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
HELPERS = {
    '"kind": "request"': {"widget_requests.py"},
    "GPT2LMHeadModel(GPT2Config(": {"conftest.py"},
    "apputils:change-theme": {"helpers.py"},
}


def test_helpers_are_written_once():
    copies = {text: sorted(str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
                           if text in path.read_text(encoding="utf-8") and path.name not in allowed and path.name != Path(__file__).name)
              for text, allowed in HELPERS.items()}
    assert not any(copies.values()), f"use the shared helper instead of a copy: {copies}"
