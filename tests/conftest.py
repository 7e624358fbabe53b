import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def toy():
    """A tiny random TransformerBridge (2 layers, d_model 64) with a small BPE tokenizer."""
    from interp_widgets.models import toy_model

    return toy_model(seed=0)


@pytest.fixture(scope="session")
def random_gpt2(tmp_path_factory):
    """Make a random-weight GPT-2 saved the way `save_pretrained` saves a hub model, with the toy
    tokenizer (what `load_model("gpt2")` would read, built offline): `random_gpt2(n_layer=2, n_embd=32)`
    -> `(directory, the Hugging Face model in eval mode)`. Each shape is built once per session."""
    made = {}

    def make(n_layer: int = 2, n_embd: int = 64, n_head: int = 4, n_positions: int = 128):
        key = (n_layer, n_embd, n_head, n_positions)
        if key not in made:
            from transformers import GPT2Config, GPT2LMHeadModel

            from interp_widgets.models import toy_tokenizer

            tokenizer = toy_tokenizer()
            torch.manual_seed(0)
            model = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=n_positions, vocab_size=len(tokenizer),
                                               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))
            path = tmp_path_factory.mktemp(f"gpt2-{n_layer}l-{n_embd}d")
            model.save_pretrained(path)
            tokenizer.save_pretrained(path)
            made[key] = (path, model.eval())
        return made[key]

    return make


def pytest_terminal_summary(terminalreporter):
    """List the parts of the suite that did not run because something is not installed here (tests/parts.py)."""
    from tests.parts import MISSING

    parts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(MISSING):
            parts[reason[len(MISSING):]] = parts.get(reason[len(MISSING):], 0) + 1
    if parts:
        terminalreporter.section("missing parts: these tests did not run", sep="=", yellow=True, bold=True)
        for part, count in sorted(parts.items()):
            terminalreporter.line(f"{count:4d} skipped: {part}")
