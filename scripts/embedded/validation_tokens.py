"""Ship the corpus's validation split as tokens: the default data of the activation index and dashboards.

    python scripts/embedded/validation_tokens.py --corpus build/corpus

Writes `interp_widgets/models/embedded/validation_tokens.npy` (uint16, every source's held-out
documents tokenized with the shipped tokenizer, each document followed by BOS/EOS, sources one
after another) and `validation_sources.json` (each source's kind and `[start, end)` in the stream).
The split is the corpus's own (a hash of each document; corpus.py), so the model never trained on it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

EMBEDDED = Path(__file__).resolve().parents[2] / "interp_widgets" / "models" / "embedded"


def main() -> None:
    from transformers import AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus"))
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(EMBEDDED / "tokenizer"))
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    stream: list[int] = []
    sources = {}
    for name, source in manifest["sources"].items():
        texts = [record["text"] for record in map(json.loads, (args.corpus / f"{name}.jsonl").open(encoding="utf-8"))
                 if record["split"] == "val"]
        start = len(stream)
        for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
            stream.extend(ids + [tokenizer.eos_token_id])
        sources[name] = {"kind": source["kind"], "start": start, "end": len(stream)}
    np.save(EMBEDDED / "validation_tokens.npy", np.asarray(stream, dtype=np.uint16))
    (EMBEDDED / "validation_sources.json").write_text(json.dumps(sources, indent=2) + "\n")
    print(f"{len(stream)} validation tokens from {len(sources)} sources")


if __name__ == "__main__":
    main()
