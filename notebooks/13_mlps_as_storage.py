# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # MLPs as key-value storage
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/13_mlps_as_storage.ipynb)
#
# Checklist topic: **MLPs as key-value storage** (Geva et al. 2021), with the **logit lens** as the tool.
#
# An MLP neuron is a pair of vectors: an input row of `W_in` (the **key**: which residual directions make it fire) and an output row of `W_out` (the **value**: what it writes when it fires). Read the value through the unembedding, `W_out[n] @ W_U`, and you see which next tokens the neuron promotes: the logit lens applied to one neuron. That is a hypothesis; **ablation** tests it: zero the neuron where it fires and the promoted token's log-prob should fall, much more than a typical token's.
#
# The search below runs on the embedded 6-layer model and prints what it finds.

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
from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.models.loaders import validation_tokens

torch.set_grad_enabled(False)
MODEL = "embedded-6l"  # or "gpt2" / "EleutherAI/pythia-70m" where the hub can be reached
model = iw.load_model(MODEL)
tokenizer = model.tokenizer
numbers = {}  # every number a claim below rests on; tests/notebooks/test_curriculum.py checks the claims against them
layer = model.cfg.n_layers - 1  # the last block: its MLP writes straight into the logits (through the final layer norm)
hook = f"blocks.{layer}.mlp.hook_post"
tokens = validation_tokens(128, max_tokens=128 * 32, bos=tokenizer.bos_token_id)  # the embedded corpus's held-out split, [32, 128]
if not MODEL.startswith("embedded"):  # another model: the same text, in its own tokenizer, cut to one length
    from transformers import AutoTokenizer

    text = AutoTokenizer.from_pretrained(iw.models.loaders.embedded_dir("embedded-6l") / "tokenizer").batch_decode(tokens[:, 1:])
    tokens = torch.stack([model.to_tokens(t)[0, :96] for t in text])

# %% [markdown]
# ## 1. Values through the logit lens
#
# For every neuron of the last MLP, `W_out[n] @ W_U` is its direct effect on each token's logit (ignoring the final layer norm's scale, which is the same for all tokens at a position). A **storage** neuron has a peaked effect: a few tokens far above the rest. We rank neurons by how many standard deviations their top token stands out, among neurons that fire on 0.2-10 % of held-out tokens (rarer ones have too few examples to check, commoner ones are not about one thing).

# %%
W_out = model.blocks[layer].mlp.W_out.float()  # [d_mlp, d_model]
direct = W_out @ model.W_U.float()  # [d_mlp, d_vocab]: each neuron's value, read as logits
z = (direct - direct.mean(dim=1, keepdim=True)) / direct.std(dim=1, keepdim=True)
activation = activations_at(model, tokens, hook).float()  # [batch, pos, d_mlp]
firing = (activation > 0.5).float().mean(dim=(0, 1))
eligible = (firing > 0.002) & (firing < 0.1)
score = torch.where(eligible, z.max(dim=1).values, torch.tensor(float("-inf")))
for n in score.topk(5).indices.tolist():
    print(f"neuron {layer}.{n}: top token {tokenizer.decode([int(z[n].argmax())])!r} at {float(z[n].max()):.1f} sd; "
          f"promotes {[tokenizer.decode([int(t)]) for t in direct[n].topk(5).indices]}, fires on {float(firing[n]):.1%} of tokens")
neuron = int(score.argmax())
promoted = int(direct[neuron].argmax())

# %% [markdown]
# ## 2. Keys: where it fires
#
# The contexts where the chosen neuron is most active (the token it fires on is the last one shown):

# %%
flat = activation[..., neuron].flatten()
for index in flat.topk(8).indices.tolist():
    row, position = divmod(index, tokens.shape[1])
    print(f"  {float(flat[index]):5.2f}  {tokenizer.decode(tokens[row, max(0, position - 8): position + 1])!r}")

# %% [markdown]
# ## 3. Ablation: does the value do what the logit lens says?
#
# On the sequences holding its 64 strongest activations, run the model with the neuron zeroed (a forward hook on `hook_post`) and compare each next-token log-prob with the clean run, at the positions where it fired most.

# %%
rows = sorted({index // tokens.shape[1] for index in flat.topk(64).indices.tolist()})
batch = tokens[rows]


def zero_neuron(value, hook):
    value[..., neuron] = 0.0
    return value


clean = model(batch).float().log_softmax(dim=-1)  # [rows, pos, vocab]
ablated = model.run_with_hooks(batch, fwd_hooks=[(hook, zero_neuron)]).float().log_softmax(dim=-1)
where = activation[rows][..., neuron] >= flat.topk(64).values[-1]  # [rows, pos]: the strongest activations
drop = (clean - ablated)[where]  # [k, vocab]: log-prob lost per token
typical = float(drop.abs().median())
print(f"neuron {layer}.{neuron}, promoting {tokenizer.decode([promoted])!r}: zeroing it lowers that token's log-prob by "
      f"{float(drop[:, promoted].mean()):.2f} nats on average where it fires most; the median |change| over all tokens is {typical:.3f}")
numbers.update(neuron=neuron, promoted=tokenizer.decode([promoted]), z=float(z[neuron].max()),
               promoted_drop=float(drop[:, promoted].mean()), typical_change=typical,
               promoted_rank_of_drop=int((drop.mean(dim=0) > drop[:, promoted].mean()).sum()))
print(f"the promoted token's drop ranks {numbers['promoted_rank_of_drop'] + 1} of {model.cfg.d_vocab} tokens")

# %% [markdown]
# The logit lens predicted it: zeroing the neuron costs its promoted token far more log-prob than a typical token (the printed drop against the median change), and that token is among the most affected of the whole vocabulary. The neuron is a key-value pair: a context pattern in, a token out.
#
# The same check works on an SAE feature (its decoder row instead of `W_out[n]`): `interp_widgets.compute.features.logit_lens` reads it, and `iw.FeatureDashboard` shows it next to the feature's top examples (notebook 05).

# %% [markdown]
# ## Exercise
#
# Neurons in earlier blocks act on the logits only through later blocks, so their direct effect `W_out[n] @ W_U` says less. Compare: for block 0's MLP, how large is the best neuron's z-score, and does ablating it move its "promoted" token as much?
#
# <details><summary>Solution</summary>
#
# ```python
# early = model.blocks[0].mlp.W_out.float() @ model.W_U.float()
# z0 = (early - early.mean(1, keepdim=True)) / early.std(1, keepdim=True)
# print(float(z0.max()))  # usually lower than the last block's best; repeat section 3 with hook = "blocks.0.mlp.hook_post"
# ```
# </details>

# %%
print("numbers:", json.dumps(numbers))
