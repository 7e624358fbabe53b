"""Models: a toy model for tests and demos (the embedded trained default arrives with its loader)."""

from interp_widgets.models.toy import toy_model, toy_tokenizer

__all__ = ["toy_model", "toy_tokenizer"]
