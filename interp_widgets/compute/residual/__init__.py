"""The residual stream across depth and the heads that read it: norms per layer and their
growth (`norms`), the logit lens (`lens`), attention patterns for a view
(`attention_patterns`), head role scores (`head_scores`) and learned position embeddings
(`positions`).
"""

from interp_widgets.compute.residual.norms import (  # noqa: F401
    ExponentialFit, exponential_fit, boundary_hooks, ResidualNorms, real_token_mask, residual_norms, mean_residual_norms, growth_factor,
)
from interp_widgets.compute.residual.lens import (  # noqa: F401
    LogitLens, layer_logits, logit_lens, token_rank, logit_lens_agreement,
)
from interp_widgets.compute.residual.attention_patterns import (  # noqa: F401
    check_layer, check_head, layer_patterns, pack_lower_triangle, unpack_lower_triangle,
)
from interp_widgets.compute.residual.head_scores import (  # noqa: F401
    attention_patterns, previous_token_score, previous_token_scores, repeated_random_tokens, induction_score, duplicate_token_score, bos_score, HEAD_SCORE_LABELS, head_scores, induction_scores, repeated_sequence_loss,
)
from interp_widgets.compute.residual.positions import (  # noqa: F401
    HOW_LATE_MIN_CORRELATION, SINUSOID_MIN_SHARE, position_embeddings, positional_structure, positional_picture, verdict,
)

__all__ = [
    "ExponentialFit",
    "HEAD_SCORE_LABELS",
    "HOW_LATE_MIN_CORRELATION",
    "LogitLens",
    "ResidualNorms",
    "SINUSOID_MIN_SHARE",
    "attention_patterns",
    "bos_score",
    "boundary_hooks",
    "check_head",
    "check_layer",
    "duplicate_token_score",
    "exponential_fit",
    "growth_factor",
    "head_scores",
    "induction_score",
    "induction_scores",
    "layer_logits",
    "layer_patterns",
    "logit_lens",
    "logit_lens_agreement",
    "mean_residual_norms",
    "pack_lower_triangle",
    "position_embeddings",
    "positional_picture",
    "positional_structure",
    "previous_token_score",
    "previous_token_scores",
    "real_token_mask",
    "repeated_random_tokens",
    "repeated_sequence_loss",
    "residual_norms",
    "token_rank",
    "unpack_lower_triangle",
    "verdict",
]
