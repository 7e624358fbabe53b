"""Byte tokens read as text: a character split over several byte-level tokens (an emoji, CJK) shows whole on its
first token and as its bytes in hex on the others, never as one "\ufffd" per token (issue 36, item 11)."""

import interp_widgets as iw
from interp_widgets.compute.core.hooks import token_strings

PROMPT = "I love \U0001f355 and \u5bff\u53f8"  # "I love 🍕 and 寿司"


def test_a_character_split_into_byte_tokens_shows_whole_on_its_first_token():
    model = iw.load_model()
    shown, raw = token_strings(model, PROMPT), [str(t) for t in model.to_str_tokens(PROMPT)]
    assert raw.count("\ufffd") >= 6 and len(shown) == len(raw)  # one string per token, as before
    assert "\ufffd" not in "".join(shown)
    pizza = shown.index("\U0001f355")
    assert shown[pizza + 1 : pizza + 4] == ["<0x9F>", "<0x8D>", "<0x95>"]  # 🍕 is F0 9F 8D 95 in UTF-8
    assert "\u5bff" in shown and "\u53f8" in shown
    assert token_strings(model, "plain text here") == [str(t) for t in model.to_str_tokens("plain text here")]


def test_views_show_the_joined_characters():
    model = iw.load_model()
    view = iw.TokenHighlights.from_model(model, PROMPT, hook="blocks.0.hook_resid_post", directions=[3])
    assert "\U0001f355" in view.tokens and "\ufffd" not in "".join(view.tokens)
    grid = iw.LogitLensGrid.from_model(model, PROMPT)
    assert grid.tokens == token_strings(model, PROMPT)
