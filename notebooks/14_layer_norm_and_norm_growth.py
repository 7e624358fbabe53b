# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Layer norm and norm growth
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/14_layer_norm_and_norm_growth.ipynb)
#
# Checklist topics: **layer norm and norm growth**, and the **residual stream as shared memory**.
#
# Every block reads the residual stream through a layer norm (LN): it subtracts the mean, divides by the norm, then scales and shifts per dimension. So a block sees only the stream's **direction**, never its size. In GPT-2 and Pythia the stream's norm grows roughly exponentially with depth: a later block must write larger vectors to be heard over what is already there, and an old write fades in *relative* size without ever being erased.
#
# This notebook measures both on the embedded models, honestly: **they do not show exponential growth**. Their norm jumps after the first block and then barely grows. We show that with the numbers, and show steady growth where it exists: in a deeper random-weight model here, and in GPT-2 where the hub can be reached.

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
from interp_widgets.compute.residual.norms import residual_norms
from interp_widgets.models.loaders import hub_reachable, validation_tokens

torch.set_grad_enabled(False)
MODEL = "embedded-6l"  # or "gpt2" where the hub can be reached
model = iw.load_model(MODEL)
numbers = {}  # every number a claim below rests on; tests/notebooks/test_curriculum.py checks the claims against them

# %% [markdown]
# ## 1. Layer norm sees directions only
#
# Scale a vector by 10 and the layer norm's output does not change (up to float error): that is the whole point of it.

# %%
ln = model.blocks[1].ln1
x = torch.randn(4, 8, model.cfg.d_model, generator=torch.Generator().manual_seed(0))  # [batch, pos, d_model]
difference = float((ln(x) - ln(10 * x)).abs().max())
print(f"largest |LN(x) - LN(10 x)| over {x.numel()} numbers: {difference:.1e}")
numbers["ln_scale_invariance"] = difference

# %% [markdown]
# ## 2. The stream's norm across depth, on the embedded models
#
# Mean L2 norm of the stream (BOS left out: its norm is an outlier) at every layer boundary, on held-out text, for both embedded models; and the exponential fitted to it (factor per layer and R² on the log norms).

# %%
measured = {}
for name in ["embedded", "embedded-6l"]:
    m = model if name == MODEL else iw.load_model(name)
    tokens = validation_tokens(128, max_tokens=128 * 8, bos=m.tokenizer.bos_token_id)
    result = residual_norms(m, tokens)
    mean, fit = result.mean(), result.fit()
    measured[name] = mean
    print(f"{name}: " + ", ".join(f"{label} {float(v):.1f}" for label, v in zip(result.labels, mean))
          + f"  | fit x{fit.factor:.2f} per layer, R² {fit.r2:.2f}")
six = measured["embedded-6l"]
jump, later = float(six[1] / six[0]), float(six[-1] / six[1])
per_layer_later = later ** (1 / (len(six) - 2))
print(f"6-layer model: block 0 multiplies the norm by {jump:.1f}; the other {len(six) - 2} blocks together by {later:.2f} "
      f"({per_layer_later:.2f} per block)")
numbers.update(first_block_jump=jump, later_growth=later, later_growth_per_block=per_layer_later,
               norms_6l=[float(v) for v in six], norms_2l=[float(v) for v in measured["embedded"]])

# %% [markdown]
# The first block lifts the small embedding many times over (the printed jump), and after that the norm changes little from block to block (the printed factor per block is close to 1; look at the list: it need not even rise every time). An exponential fits poorly. These small models were trained briefly; GPT-2's steady factor per layer is a property they do not have, and the lesson should not pretend otherwise.
#
# The view shows it per position and per block, and what each block writes (notebook 04 explains it):

# %%
iw.ResidualNorms.from_model(model, ["The residual stream is a shared memory that every layer reads and writes."], names=["prose"])

# %% [markdown]
# ## 3. Where the norm does grow
#
# **A deeper random-weight model.** Eight blocks with random weights: each block adds a write that is unrelated to the stream, so the norms add up like a random walk and the stream grows steadily with depth. That is growth without learning, a baseline to keep in mind, not GPT-2's mechanism.

# %%
random_model = iw.models.toy_model(seed=0, n_layers=8, d_model=64)
random_tokens = torch.randint(1, random_model.cfg.d_vocab, (4, 64), generator=torch.Generator().manual_seed(0))
random_tokens[:, 0] = random_model.tokenizer.bos_token_id
random_norms = residual_norms(random_model, random_tokens).mean()
print("random 8-block model:", [round(float(v), 2) for v in random_norms])
numbers["random_norms"] = [float(v) for v in random_norms]

# %% [markdown]
# **GPT-2 small**, where the hub can be reached: the norm grows by a steady factor per layer (Heimersheim & Turner's observation); the cell measures it rather than quoting it.

# %%
if hub_reachable():
    gpt2 = iw.load_model("gpt2")
    result = residual_norms(gpt2, gpt2.to_tokens(["The residual stream is a shared memory that every layer reads and writes."]))
    print("GPT-2 small:", [round(float(v), 1) for v in result.mean()], f"fit x{result.fit().factor:.2f} per layer, R² {result.fit().r2:.2f}")
else:
    print("the model hub cannot be reached from here: GPT-2's growth is not measured in this run")

# %% [markdown]
# ## Exercise
#
# Layer norm divides by the norm, so when the stream grows, a fixed-size write from an early block counts for less at later blocks. On the 6-layer model, what fraction of the stream's norm at the last boundary is block 0's attention output? (Hint: `iw.ResidualNorms` computes what each block writes; `model.run_with_cache` gives `blocks.0.hook_attn_out` and `blocks.5.hook_resid_post`.)
#
# <details><summary>Solution</summary>
#
# ```python
# tokens = validation_tokens(128, max_tokens=128 * 4, bos=model.tokenizer.bos_token_id)
# _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in ("blocks.0.hook_attn_out", "blocks.5.hook_resid_post"))
# share = cache["blocks.0.hook_attn_out"][:, 1:].norm(dim=-1) / cache["blocks.5.hook_resid_post"][:, 1:].norm(dim=-1)
# print(float(share.mean()))
# ```
# </details>

# %%
print("numbers:", json.dumps(numbers))
