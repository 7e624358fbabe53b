"""Writes 00_quickstart.ipynb (outputs stripped). Edit here, then run: python notebooks/make_quickstart.py"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell(
        "# interp-widgets quickstart\n\n"
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/00_quickstart.ipynb)\n\n"
        "Live widgets for looking inside transformer language models. This notebook runs offline: "
        "the model below is built from a config on this machine, no download needed.\n\n"
        "**Arc:** load a model → colour a prompt's tokens by a neuron, a direction or an SAE feature → "
        "edit the prompt inside the widget → the same view from plain data (CircuitsVis' API) → what bad input looks like."
    ),
    new_code_cell(
        "# Install if missing (Colab, a fresh kernel). Locally, the README's set-up has done this.\n"
        "try:\n"
        "    import interp_widgets\n"
        "except ImportError:\n"
        "    %pip install -q interp-widgets\n"
        "try:  # Colab renders custom widgets only with its custom widget manager on\n"
        "    from google.colab import output\n"
        "    output.enable_custom_widget_manager()\n"
        "except ImportError:\n"
        "    pass"
    ),
    new_markdown_cell(
        "## 1. A model\n\n"
        "`toy_model()` is a 2-layer `TransformerBridge` with random weights and a small BPE tokenizer: "
        "everything works, but the values mean nothing. The trained embedded model replaces it as the default "
        "once it ships; any TransformerLens model (GPT-2, Pythia, …) works the same way."
    ),
    new_code_cell(
        "import torch\n"
        "import interp_widgets as iw\n\n"
        "torch.set_grad_enabled(False)\n"
        "model = iw.models.toy_model()\n"
        "print(model.cfg.n_layers, 'layers, d_model', model.cfg.d_model)"
    ),
    new_markdown_cell(
        "## 2. Token highlights from a model\n\n"
        "Each token is coloured by a value read at a hook point: here two neurons of the residual stream after "
        "block 0 and a random direction. Hover a token for its position and value; the buttons switch series. "
        "**Type a new prompt in the box and press Enter**: the kernel re-tokenizes and recomputes, running the "
        "model only up to the block it needs."
    ),
    new_code_cell(
        "direction = torch.randn(model.cfg.d_model)\n"
        "view = iw.TokenHighlights.from_model(\n"
        "    model,\n"
        "    \"The residual stream is a shared memory: heads read from it and write to it.\",\n"
        "    hook=\"blocks.0.hook_resid_post\",\n"
        "    directions=[3, 17, direction],\n"
        "    names=[\"neuron 3\", \"neuron 17\", \"random direction\"],\n"
        ")\n"
        "view"
    ),
    new_markdown_cell("The widget is also a Python object: change its prompt from code, read its values back."),
    new_code_cell(
        "view.set_prompt(\"Mr and Mrs Dursley, of number four, Privet Drive\")\n"
        "print(view.to_text()[:400])"
    ),
    new_markdown_cell(
        "## 3. From plain data, with CircuitsVis' arguments\n\n"
        "`interp_widgets.tokens.colored_tokens(tokens, values)` takes the same arguments as "
        "`circuitsvis.tokens.colored_tokens`: switch by changing the import. Token strings are always shown as "
        "text, so markup in a token is harmless."
    ),
    new_code_cell(
        "from interp_widgets.tokens import colored_tokens, colored_tokens_multi\n\n"
        "tokens = [\"<b>not bold</b>\", \" tab\\t\", \" new\\nline\", \" plain\"]\n"
        "colored_tokens(tokens, [0.9, -0.4, 0.1, -1.0])"
    ),
    new_code_cell(
        "colored_tokens_multi(tokens, torch.tensor([[1.0, 0.0], [0.5, 0.2], [0.0, 0.8], [-0.3, 1.0]]), labels=[\"first\", \"second\"])"
    ),
    new_markdown_cell(
        "## 4. Bad input gets a clear error\n\nA misspelt hook name, for instance, names the closest valid ones."
    ),
    new_code_cell(
        "try:\n"
        "    iw.TokenHighlights.from_model(model, \"Hello\", hook=\"blocks.0.hook_resid_pst\", directions=0)\n"
        "except iw.InterpWidgetsError as error:\n"
        "    print(error)"
    ),
    new_markdown_cell(
        "## Recap\n\n"
        "- `TokenHighlights.from_model(model, prompt, hook, directions)` — a neuron (int), a vector, or `(sae, feature)`.\n"
        "- Edit the prompt inside the widget; the kernel answers, errors show in the widget.\n"
        "- `colored_tokens` / `colored_tokens_multi` — CircuitsVis' arguments, a live widget.\n"
        "- A saved notebook keeps a static snapshot of the last view, readable without a kernel."
    ),
]

notebook = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
Path(__file__).with_name("00_quickstart.ipynb").write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
