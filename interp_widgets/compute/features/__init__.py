"""What an SAE feature does over a corpus: the activation index (`index`, sharded for long
corpora in `shards`), dashboards built from it (`dashboard`) and the feature logit lens
(`logit_lens`).
"""

from interp_widgets.compute.features.index import (  # noqa: F401
    ActivationIndex, dataset_tokens, build_index,
)
from interp_widgets.compute.features.shards import (  # noqa: F401
    PAD_POSITION, stream_sequences, merge_top, shard_top, ShardedIndex, build_sharded_index,
)
from interp_widgets.compute.features.dashboard import (  # noqa: F401
    Example, Bin, Dashboard, feature_dashboard, FeatureTable, feature_table, features_on_token, features_on_prompt,
)
from interp_widgets.compute.features.logit_lens import (  # noqa: F401
    FeatureLogitLens, direction_of, token_scores, outlier_tokens, ordinary_texts, unseen_tokens, feature_logit_lens, next_token_probability,
)

__all__ = [
    "ActivationIndex",
    "Bin",
    "Dashboard",
    "Example",
    "FeatureLogitLens",
    "FeatureTable",
    "PAD_POSITION",
    "ShardedIndex",
    "build_index",
    "build_sharded_index",
    "dataset_tokens",
    "direction_of",
    "feature_dashboard",
    "feature_logit_lens",
    "feature_table",
    "features_on_prompt",
    "features_on_token",
    "merge_top",
    "next_token_probability",
    "ordinary_texts",
    "outlier_tokens",
    "shard_top",
    "stream_sequences",
    "token_scores",
    "unseen_tokens",
]
