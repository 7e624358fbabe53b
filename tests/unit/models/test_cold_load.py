"""The cold load of the embedded model: weights from the file only, one tokenizer, imports settled for the GC."""

import json
import os
import subprocess
import sys

import torch

import interp_widgets as iw
from interp_widgets.models.loaders import embedded_dir


def test_every_weight_comes_from_the_file():
    """Random initialisation is skipped, so a parameter the file did not fill would hold garbage: none may."""
    from safetensors.torch import load_file

    model = iw.load_model()
    weights = load_file(str(embedded_dir() / "model.safetensors"))
    checked = 0
    for name, parameter in model.original_model.named_parameters():
        plain = name.replace("._original_component", "")
        if plain in weights:
            torch.testing.assert_close(parameter.detach(), weights[plain].to(parameter.dtype), atol=0, rtol=0)
            checked += 1
        else:
            assert plain.endswith("bias") and not parameter.any(), f"{name} is neither in the file nor a zero bias"
    assert checked >= len(weights) - 2


def test_the_tokenizer_prepends_bos_like_the_saved_one():
    from transformers import AutoTokenizer

    model = iw.load_model()
    saved = AutoTokenizer.from_pretrained(str(embedded_dir() / "tokenizer"))
    text = "def f(x):\n    return x + 1  # Hallo Welt"
    assert model.to_tokens(text)[0].tolist() == [saved.bos_token_id] + saved(text, add_special_tokens=False).input_ids


PROBE = "import gc, json, interp_widgets as iw; iw.load_model(); print(json.dumps(gc.get_freeze_count()))"


def frozen_after_load(**env: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_imports_are_frozen_out_of_the_collector_once_and_can_be_left_alone():
    assert frozen_after_load() > 100_000  # transformers' and torch's module-level objects
    assert frozen_after_load(INTERP_WIDGETS_GC_FREEZE="0") == 0
