# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Detokenization and logical gates
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/12_detokenization_and_gates.ipynb)
#
# Checklist topics: **detokenization** and **logical gates** (and, through pair removal, **moving information: AND vs OR circuits**).
#
# A tokenizer splits rare words into pieces (the first cell prints how this model's splits " Democrats"). The model's early layers have to glue the pieces back into a word, *detokenization*: neurons that fire on the second piece of a split word, reading the piece before it. Gluing is a logical operation on tokens, and removing tokens tells the two kinds apart: an **AND** needs both inputs (removing either one kills the activation), an **OR** needs either (removing one barely matters, removing both kills it).
#
# Everything below searches the embedded 6-layer model for its own examples; nothing is hand-picked, and the cells print what they found.

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
from interp_widgets.compute.ablation.removal import pairwise_removal
from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.compute.core.readouts import NeuronReadout
from interp_widgets.models.loaders import validation_tokens

torch.set_grad_enabled(False)
MODEL = "embedded-6l"  # or "gpt2" / "EleutherAI/pythia-70m" where the hub can be reached
model = iw.load_model(MODEL)
tokenizer = model.tokenizer
numbers = {}  # every number a claim below rests on; tests/notebooks/test_curriculum.py checks the claims against them
tokens = validation_tokens(128, max_tokens=128 * 48, bos=tokenizer.bos_token_id)  # the embedded corpus's held-out split, [48, 128]
if not MODEL.startswith("embedded"):  # another model: the same text, in its own tokenizer, cut to one length
    from transformers import AutoTokenizer

    text = AutoTokenizer.from_pretrained(iw.models.loaders.embedded_dir("embedded-6l") / "tokenizer").batch_decode(tokens[:, 1:])
    tokens = torch.stack([model.to_tokens(t)[0, :96] for t in text])
pieces = [tokenizer.decode([i]) for i in range(model.cfg.d_vocab)]
print(tokens.shape, "held-out tokens;", repr(" Democrats"), "->", [tokenizer.decode([i]) for i in tokenizer(" Democrats", add_special_tokens=False)["input_ids"]])

# %% [markdown]
# ## 1. A detokenization neuron
#
# Label every position: is this token the **second piece of a split word** (a piece without a leading space, right after a word-start piece such as " Democ")? Then, for every neuron of block 0's MLP, take its 200 largest activations and ask what share of them sit on second pieces. A neuron that glues pieces should score far above the base rate.

# %%
word_start = torch.tensor([p.startswith(" ") and p[1:].isalpha() for p in pieces])
continues = torch.tensor([p[:1].isalpha() for p in pieces])
second_piece = word_start[tokens[:, :-1]] & continues[tokens[:, 1:]]  # [batch, pos - 1]: token at pos + 1
hook = "blocks.0.mlp.hook_post"
activations = activations_at(model, tokens, hook)[:, 1:].float().reshape(-1, model.cfg.d_mlp)  # [positions, d_mlp]; runs block 0 only
labels = second_piece.reshape(-1)
top = activations.topk(200, dim=0).indices  # [200, d_mlp]
precision = labels[top].float().mean(dim=0)  # share of each neuron's top 200 on second pieces
neuron = int(precision.argmax())
base_rate = float(labels.float().mean())
print(f"base rate: {base_rate:.1%} of positions are second pieces")
print(f"neuron 0.{neuron}: {float(precision[neuron]):.0%} of its 200 largest activations are on second pieces "
      f"({float(precision[neuron]) / base_rate:.1f}x the base rate)")
for index in activations[:, neuron].topk(8).indices.tolist():
    row, position = divmod(index, tokens.shape[1] - 1)
    context = tokenizer.decode(tokens[row, max(0, position - 3): position + 1])
    print(f"  {float(activations[index, neuron]):5.2f}  {context!r} + {pieces[int(tokens[row, position + 1])]!r}")
numbers.update(detok_neuron=neuron, detok_precision=float(precision[neuron]), detok_base_rate=base_rate)

# %% [markdown]
# Read the printed contexts: the neuron's strongest activations are on the second piece of words the tokenizer split, and its share of second pieces among its top 200 activations is several times the base rate (both printed above).
#
# See it on a prompt: the highlights below are that neuron's activation on each token.

# %%
prompt = "The Democrats met the centrists over a cocktail in Brandenburg."
iw.TokenHighlights.from_model(model, prompt, hook=hook, directions=neuron, names=[f"neuron 0.{neuron}"])

# %% [markdown]
# ## 2. AND vs OR: removing tokens in pairs
#
# For a neuron at a target position, remove each earlier token alone (its **drop** = clean − ablated activation), then every pair of the most important ones together. With drops as fractions of the clean activation:
#
# - **AND**: each token alone already removes most of it (both are needed), and removing both removes no more than that: the interaction `joint − drop A − drop B` is **negative**.
# - **OR**: each alone removes little (the other one still suffices), both together remove most of it: the interaction is **positive**.
#
# We scan the largest activations of blocks 1-2's MLP neurons on a few held-out snippets and keep the clearest example of each.

# %%
candidates = []
for hook_name in [f"blocks.{layer}.mlp.hook_post" for layer in (1, 2) if layer < model.cfg.n_layers]:
    for row in range(6):
        prompt_tokens = tokens[row : row + 1, :32]
        act = activations_at(model, prompt_tokens, hook_name)[0].float().clone()  # [pos, d_mlp]
        act[:3] = float("-inf")  # targets need two earlier tokens
        for index in act.flatten().topk(10).indices.tolist():
            target, unit = divmod(index, act.shape[1])
            clean = float(act[target, unit])
            pairs = pairwise_removal(model, prompt_tokens, hook_name, NeuronReadout(unit), target=target, top_k=3)
            single, joint = pairs.single / clean, pairs.joint / clean
            for i in range(len(single)):
                for j in range(i + 1, len(single)):
                    a, b, both = float(single[i]), float(single[j]), float(joint[i, j])
                    candidates.append(dict(hook=hook_name, row=row, target=target, neuron=unit, a=pairs.positions[i], b=pairs.positions[j],
                                           drop_a=a, drop_b=b, joint=both, interaction=both - a - b,
                                           and_score=min(a, b) - abs(both - max(a, b)), or_score=both - 2 * max(a, b)))
gates = {"AND": max(candidates, key=lambda c: c["and_score"]), "OR": max(candidates, key=lambda c: c["or_score"])}
for kind, c in gates.items():
    text = tokens[c["row"]]
    print(f"{kind}: {c['hook']} neuron {c['neuron']} at {pieces[int(text[c['target']])]!r} in "
          f"{tokenizer.decode(text[1 : c['target'] + 1])[-60:]!r}")
    print(f"   remove {pieces[int(text[c['a']])]!r} alone: drop {c['drop_a']:.0%}; remove {pieces[int(text[c['b']])]!r} alone: "
          f"{c['drop_b']:.0%}; both: {c['joint']:.0%}; interaction {c['interaction']:+.0%} of the clean activation")
numbers.update(gates={k: {key: v for key, v in c.items() if key in ("drop_a", "drop_b", "joint", "interaction")} for k, c in gates.items()})

# %% [markdown]
# The AND example: each of its two tokens alone removes most of the activation and the interaction is negative. The OR example: each alone removes little, both together most of it, and the interaction is positive. (The same numbers, clicked token by token, are what `iw.FeatureAblation` shows; notebook 02 explains the view.)

# %%
c = gates["OR"]
text = tokenizer.decode(tokens[c["row"], 1 : c["target"] + 1])  # the snippet up to the target, BOS added back by the view
same = model.to_tokens(text)[0].tolist() == tokens[c["row"], : c["target"] + 1].tolist()
iw.FeatureAblation.from_model(model, text, feature=c["neuron"], hook=c["hook"], target=c["target"] if same else None)

# %% [markdown]
# ## Exercise
#
# Find a neuron in block 0 that fires on the *third* piece of a word split into three or more pieces. Does removing the first piece or the second piece hurt it more?
#
# <details><summary>Solution</summary>
#
# ```python
# third = word_start[tokens[:, :-2]] & continues[tokens[:, 1:-1]] & continues[tokens[:, 2:]]  # [batch, pos - 2]
# labels3 = third.reshape(-1)
# acts3 = activations_at(model, tokens, hook)[:, 2:].float().reshape(-1, model.cfg.d_mlp)
# share = labels3[acts3.topk(200, dim=0).indices].float().mean(dim=0)
# n3 = int(share.argmax()); print(n3, float(share[n3]))
# # then pairwise_removal(model, prompt, hook, NeuronReadout(n3), target=...) on one of its top contexts
# ```
# Usually the piece right before the target matters most: block 0's attention mostly looks one token back.
# </details>

# %%
print("numbers:", json.dumps(numbers))
