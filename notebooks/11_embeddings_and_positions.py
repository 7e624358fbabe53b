# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Token and positional embeddings
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/11_embeddings_and_positions.ipynb)
#
# Checklist topics: **token and positional embeddings** (the helix), and **features as directions / the linear representation hypothesis** seen in the embedding matrix.
#
# The residual stream starts as `W_E[token] + W_pos[position]`. Both are learned tables of directions. Related tokens get nearby directions; positions get a shape of their own (in GPT-2 small a helix: a circle traced by a pair of sinusoidal directions, plus a steady "how late" drift). Everything below is computed from the model loaded in the next cell; the numbers are printed, never typed in.

# %%
# Install if missing (Colab, a fresh kernel). Locally, the README's set-up has done this.
try:
    import interp_widgets
except ImportError:
    # %pip install -q interp-widgets
try:  # Colab renders custom widgets only with its custom widget manager on
    from google.colab import output
    output.enable_custom_widget_manager()
except ImportError:
    pass

# %%
import json

import torch

import interp_widgets as iw
from interp_widgets.compute.residual.positions import positional_picture
from interp_widgets.errors import InterpWidgetsError
from interp_widgets.widgets.positional_embeddings import PositionalEmbeddings

torch.set_grad_enabled(False)
MODEL = "embedded-6l"  # or "gpt2" where the hub can be reached (learned positions; a rotary model such as Pythia has no W_pos: section 3)
model = iw.load_model(MODEL)
numbers = {}  # every number a claim below rests on; tests/notebooks/test_curriculum.py checks the claims against them
print(model.cfg.n_layers, "layers, d_model", model.cfg.d_model, ", vocabulary", model.cfg.d_vocab, ", positions:", model.cfg.positional_embedding_type)

# %% [markdown]
# ## 1. Token embeddings: related tokens, nearby directions
#
# The cosine similarity between rows of `W_E`. For a few words, the nearest other tokens:

# %%
W_E = model.W_E.float()
unit = W_E / W_E.norm(dim=1, keepdim=True)  # [d_vocab, d_model]


def single_token(text):
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[0] if len(ids) == 1 else None


def neighbours(text, k=6):
    token = single_token(text)
    if token is None:
        return None
    similarity = unit @ unit[token]
    return [model.tokenizer.decode([int(i)]) for i in similarity.topk(k + 1).indices[1:]]


for word in [" the", " he", " two", " king", " one"]:
    print(repr(word), "->", neighbours(word))

generator = torch.Generator().manual_seed(0)
a, b = torch.randint(0, len(unit), (2, 5000), generator=generator)
random_cosine = (unit[a] * unit[b]).sum(dim=1)
threshold = float(random_cosine.quantile(0.99))
pairs = [(" the", " The"), (" he", " He"), (" one", " One")]
case_cosines = {f"{x}|{y}": float(unit[single_token(x)] @ unit[single_token(y)]) for x, y in pairs
                if single_token(x) is not None and single_token(y) is not None}
print(f"99th percentile of random token pairs: {threshold:.2f}; case variants: "
      + ", ".join(f"{pair} {value:.2f}" for pair, value in case_cosines.items()))
numbers.update(random_pair_p99=threshold, case_cosines=case_cosines, two_neighbours=neighbours(" two") or [])

# %% [markdown]
# A word and its capitalised form sit closer than 99 % of random token pairs, and a number word's neighbours are other number and quantity words: the model stores "which word, ignoring case" and "a count" as shared directions. That is the linear representation hypothesis at its simplest: a property of a token is a direction, and tokens that share it are nearby. (The exact neighbours depend on the model's training; the cell prints this model's.)

# %% [markdown]
# ## 2. Learned positions: arc, "how late", helix?
#
# `W_pos [n_ctx, d_model]`: the view below shows two of its principal components against each other, one dot per position coloured early (blue) to late (orange), position 0 ringed (it is an outlier, the "first token" direction); then the two components over position, the variance each explains, and a verdict in words. Pick other components with the *x* and *y* menus.

# %%
PositionalEmbeddings.from_model(model)

# %%
picture = positional_picture(model)
for line in picture["verdict"]:
    print(line)
numbers.update(how_late=picture["how_late"], how_late_correlation=picture["position_correlation"][0], helix=picture["helix"],
               top2_share=sum(picture["variance_share"][:2]), first_token_z=picture["first_token_z"])

# %% [markdown]
# On the embedded 6-layer model the first component is a **"how late" direction** (its correlation with position is printed above, near ±1), position 0 stands apart from the rest, and **there is no helix**: no two further components are sinusoids of one frequency. PC1 against PC2 is an **arc**: position moves smoothly along a curve. GPT-2 small, trained on far more text with a 1024-token context, has the helix; switch the `MODEL` line to `"gpt2"` where the hub can be reached and rerun: the same code draws it.

# %% [markdown]
# ## 3. Models without learned positions
#
# The default 2-layer embedded model uses **rotary** positions (as Pythia and Llama do): position is not added to the stream at all but rotates queries and keys inside attention, so there is no `W_pos` to look at. The view says so, and names a model that has one:

# %%
try:
    PositionalEmbeddings.from_model(iw.load_model())
except InterpWidgetsError as error:
    message = str(error)
    print(message)
numbers["rotary_message"] = message

# %% [markdown]
# ## Exercise
#
# Is position information still readable from the residual stream *after* block 0 in the 6-layer model? Fit a least-squares line from the stream after block 0 (`blocks.0.hook_resid_post`) to the position index on a few prompts and report R².
#
# <details><summary>Solution</summary>
#
# ```python
# tokens = iw.models.loaders.validation_tokens(128, max_tokens=128 * 8)
# _, cache = model.run_with_cache(tokens, names_filter="blocks.0.hook_resid_post")
# x = cache["blocks.0.hook_resid_post"][:, 1:].reshape(-1, model.cfg.d_model)  # BOS left out
# y = torch.arange(1, tokens.shape[1]).repeat(tokens.shape[0]).float()
# x1 = torch.cat([x, torch.ones(len(x), 1)], dim=1)
# fit = torch.linalg.lstsq(x1, y[:, None]).solution
# r2 = 1 - ((x1 @ fit).squeeze() - y).var() / y.var()
# print(f"R² {float(r2):.2f}")  # high: the "how late" direction survives block 0
# ```
# </details>

# %%
print("numbers:", json.dumps(numbers))
