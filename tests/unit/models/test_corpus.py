"""The training corpus is reproducible: a source rebuilt from its registry comes out byte-identical
to the one the shipped model was trained on (its manifest ships with the model)."""

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
SHIPPED = json.loads((ROOT / "interp_widgets/models/embedded/corpus_manifest.json").read_text())


def corpus_module():
    spec = importlib.util.spec_from_file_location("corpus", ROOT / "scripts/embedded/corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_manifest_covers_every_kind_with_licence_and_checksums():
    kinds = {source["kind"] for source in SHIPPED["sources"].values()}
    assert {"english", "technical", "german", "code"} <= kinds
    for name, source in SHIPPED["sources"].items():
        assert source["licence"] and source["version"] and len(source["sha256"]) == 64 and len(source["sha256_jsonl"]) == 64, name


def test_split_is_a_fixed_function_of_the_text():
    corpus = corpus_module()
    texts = [f"document number {i} about something" for i in range(5000)]
    splits = [corpus.split_of(text) for text in texts]
    assert splits == [corpus.split_of(text) for text in texts]
    assert 0.01 < splits.count("val") / len(splits) < 0.03  # VAL_PERCENT = 2


@pytest.mark.slow
def test_a_source_rebuilds_byte_identical(tmp_path):
    """Downloads the pinned pymongo wheel from PyPI (1.4 MB) and extracts its Python files again."""
    corpus = corpus_module()
    built = corpus.build(tmp_path, ["pymongo"])["sources"]["pymongo"]
    shipped = SHIPPED["sources"]["pymongo"]
    assert built["sha256"] == shipped["sha256"], "the registry served a different file for the pinned version"
    assert (built["documents"], built["characters"]) == (shipped["documents"], shipped["characters"])
    assert hashlib.sha256((tmp_path / "pymongo.jsonl").read_bytes()).hexdigest() == shipped["sha256_jsonl"]
