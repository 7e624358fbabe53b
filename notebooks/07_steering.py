# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Steering: turn a feature up while the model writes
#
# [Open in Colab](https://colab.research.google.com/github/interp-widgets/interp-widgets/blob/main/notebooks/07_steering.ipynb)
#
# Having found a feature, the first thing to try is to *push* it: add a multiple of its direction to the residual stream while the model generates, and read what changes. Neuronpedia's steer view does this on a GPU server; here it runs live in the notebook, on the model in the kernel.
#
# A steer edits the activation `x` at one hook along a direction `u` (unit length) with strength `s`: **add** (`x + s·u`), **set** the projection on `u` to `s`, or **cap** the projection at `s` from above. The direction is an SAE feature's decoder row, a neuron's output weights, or any vector. The default and the steered run are decoded together in one batch with a key/value cache, each with its own seeded generator, so with the same seed the two runs differ only because of the steer.
#
# **Arc:** the German feature, live → how much German, against strength → capping it on German text → the "previous token ' and'" feature and the rate of " and" → a strength sweep in one batch.

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
import re

import numpy as np
import torch

import interp_widgets as iw
from interp_widgets.compute.steering.steer import Steer, generate, sweep
torch.set_grad_enabled(False)
model = iw.load_model()
catalogue = {entry["concept"]: entry for entry in iw.models.feature_catalogue()}
german, after_and = catalogue["German text"], catalogue['previous token " and"']
german_sae, and_sae = iw.load_sae(german["sae"]), iw.load_sae(after_and["sae"])
print(f"German text: {german['sae']} SAE, feature {german['feature']}; previous token ' and': {after_and['sae']} SAE, feature {after_and['feature']}")

# %% [markdown]
# ## 1. The German feature, live
#
# Left the default completion, right the steered one, streamed token by token. **Drag the strength slider**: both runs are generated again (a newer request stops the older generation). The first token where they differ is outlined; hover a token for its log-prob under both runs and the feature's activation at the step that produced it (the colour bar says what the colours are). The slider spans ± 2 × the largest activation the feature reaches on the prompt and on 32k held-out tokens (its activation index: ±5.23 here, printed below); a starting strength outside that range widens it to the strength, so this view, started at 10 where German shows at once, spans ±10.

# %%
index = iw.models.held_out_index(model, german_sae, max_tokens=32_768, progress=False)
prompt = "The weather today is"
view = iw.SteeringView.from_model(model, prompt, Steer(None, (german_sae, german["feature"]), 10.0), max_new_tokens=32,
                                  temperature=0.8, index=index)
view

# %% [markdown]
# The same in code. `generate` returns both runs; each token's log-prob under its own run and under the other one says how unusual the steered text looks to the plain model.

# %%
result = generate(model, prompt, [Steer(None, (german_sae, german["feature"]), 10.0)], max_new_tokens=32, temperature=0.8)
print("default:", repr(result.unsteered.text))
print("steered:", repr(result.steered.text))
print(f"first different token: {result.first_divergence}; mean log-prob of the steered text under the default run "
      f"{result.steered.other_logprobs.mean():.2f} (its own run: {result.steered.logprobs.mean():.2f})")
limit = view.steers[0]["limit"]
print(f"largest activation seen: {limit / 2:.2f}, so the slider's own range is ±{limit:.2f} (this view's: ±{max(limit, 10.0):.2f}, "
      "as it starts at 10)")

# %% [markdown]
# ## 2. How much German, against strength
#
# We count German words in the steered completions: words with an umlaut or ß, or one of the commonest German function words. Four English prompts, two seeds each, nine strengths; each (prompt, seed) is one batch of nine steered runs plus the default (`sweep`).

# %%
GERMAN_WORDS = set("der die das und ist nicht ein eine einen einem einer zu mit sich auf für von den dem des im ich sie wir er es "
                   "auch sind wird werden oder aber wenn als wie noch nur bei aus nach so kann man hat haben war".split())


def german_share(text):
    """The share of words that look German (an umlaut or ß, or a common German function word)."""
    words = re.findall(r"[A-Za-zÄÖÜäöüß]+", text)
    return sum(w.lower() in GERMAN_WORDS or bool(re.search("[äöüßÄÖÜ]", w)) for w in words) / max(1, len(words))


PROMPTS = ["The weather today is", "My favourite book is about", "In the morning I usually", "The committee decided that"]
STRENGTHS = [-30, -20, -10, -5, 0, 5, 10, 20, 30]


def measure(sae, feature, score):
    """Mean `score(steered completion)` per strength over the prompts and two seeds (temperature 0.8)."""
    table = [[score(r.steered) for r in sweep(model, p, [Steer(None, (sae, feature), 0.0)], STRENGTHS, max_new_tokens=32,
                                              temperature=0.8, seed=seed)]
             for p in PROMPTS for seed in range(2)]
    return np.mean(table, axis=0)


german_by_strength = measure(german_sae, german["feature"], lambda run: german_share(run.text))
for strength, share in zip(STRENGTHS, german_by_strength):
    print(f"strength {strength:+4d}: {share:5.0%} German words  {'#' * round(40 * share)}")

# %% [markdown]
# Negative strengths leave English text English (there is no German to remove). The slider's own range (±5.23, twice the feature's largest activation) is already enough to change the text: at +5 about a third of the words are German (37 % in the table), at +10 about half, and by +30 every word is German — German-looking, that is: umlauts and suffixes glued onto fragments, what a 2-layer model makes of "write German now".
#
# ## 3. Capping the feature on German text
#
# `method="cap"` clamps the projection on the feature's direction at the strength from above, at every position. Note that the projection of the residual stream on a decoder direction is not the feature's activation: on English text it sits below zero, so a cap at 0 still leaves a German-ish stream (the result is mixed: a quarter to a third of the words stay German), while a cap at -5 takes the German out (no German word left in either prompt's runs).

# %%
capped_shares = {}
for german_prompt in ["Die Katze sitzt auf dem", "Wenn das Wetter morgen schön ist, dann"]:
    for cap in [0.0, -5.0]:
        runs = [generate(model, german_prompt, [Steer(None, (german_sae, german["feature"]), cap, "cap")], max_new_tokens=32,
                         temperature=0.8, seed=seed) for seed in range(2)]
        plain, capped = (np.mean([german_share(getattr(r, side).text) for r in runs]) for side in ("unsteered", "steered"))
        capped_shares[f"{german_prompt} | cap {cap:+.0f}"] = float(capped)
        print(f"{german_prompt!r}, cap at {cap:+.0f}: {plain:4.0%} German words by default, {capped:4.0%} capped"
              f"  -> {runs[0].steered.text[:50]!r}")

# %% [markdown]
# ## 4. The "previous token ' and'" feature and the rate of " and"
#
# This feature fires on the token right *after* " and". Turning it up tells the model that the last token was " and" when it was not; turning it down tells it the opposite. What happens to how often the model writes " and"?

# %%
AND = model.to_single_token(" and")
and_rate = measure(and_sae, after_and["feature"], lambda run: float(np.mean(np.array(run.ids) == AND)) if run.ids else 0.0)
for strength, rate in zip(STRENGTHS, and_rate):
    print(f"strength {strength:+4d}: {rate:6.1%} of tokens are ' and'  {'#' * round(400 * rate)}")

# %% [markdown]
# Turned up, " and" disappears (no " and" from +5 on): a model that believes it has just written " and" does not write it again ("and and" is rare). Turned down, " and" tends to come more often than without the steer (in this run 1.6 % of tokens at −30 against 0.4 % without the steer), but with only eight 32-token completions per strength (about 250 tokens) that side is noisy (−10 gives 0.4 % again); run more seeds for a firmer curve.
#
# ## 5. A sweep in one batch
#
# `sweep_points=n` generates n strengths across the slider's range in the same batch as the two runs above: small multiples of the completions, and charts of the feature's mean activation and the completion's mean log-prob (under its own run and under the default run) against strength.

# %%
iw.SteeringView.from_model(model, "In the morning I usually", Steer(None, (and_sae, after_and["feature"]), -10.0), max_new_tokens=24,
                           temperature=0.8, sweep_points=7)

# %% [markdown]
# The numbers the text above quotes, in one line (`tests/notebooks/test_curriculum.py` checks each claim against it):

# %%
import json

print("numbers:", json.dumps({"slider_limit": limit, "view_range": max(limit, 10.0), "strengths": STRENGTHS,
                              "german_share": [float(v) for v in german_by_strength], "capped_share": capped_shares,
                              "and_rate": [float(v) for v in and_rate]}))
