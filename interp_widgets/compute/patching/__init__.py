"""Activation patching: clean and corrupt runs, every component at every position, both
directions (`activation`), over the component registry (`components`) and the batched engines
(`engines`); prompt pairs (`tasks`), task accuracy (`task_accuracy`) and the workbench's default
pair (`default_pair`).
"""

from interp_widgets.compute.patching.activation import (  # noqa: F401
    LogitDiff, AnswerProb, UserMetric, as_metric, single_token, PatchingResult, token_pair, patch, attribution_patch, patched_logits, patch_both_ways, patched_predictions,
)
from interp_widgets.compute.patching.components import (  # noqa: F401
    Cell, Start, Component, component,
)
from interp_widgets.compute.patching.engines import (  # noqa: F401
    ROWS_PER_CHUNK, Pace, HookEngine, row_patcher, evaluate, NativeEngine, fast_engine, checked_engine,
)
from interp_widgets.compute.patching.tasks import (  # noqa: F401
    COMMON_NAMES, PromptPair, one_token_words, ioi_pair, docstring_pair, differing_positions, suggest_replacements, special_token_warnings,
)
from interp_widgets.compute.patching.task_accuracy import (  # noqa: F401
    DOCSTRING_NAMES, DOCSTRING_WORDS, IOI_NAMES, IOI_PLACES, IOI_OBJECTS, IOI_TEMPLATES, IOI_HELDOUT_NAMES, IOI_HELDOUT_TEMPLATES, docstring_prompts, docstring_accuracy, ioi_prompts, ioi_accuracy,
)
from interp_widgets.compute.patching.default_pair import (  # noqa: F401
    CANDIDATES, corrupt_prompt, patching_pair,
)

__all__ = [
    "AnswerProb",
    "CANDIDATES",
    "COMMON_NAMES",
    "Cell",
    "Component",
    "DOCSTRING_NAMES",
    "DOCSTRING_WORDS",
    "HookEngine",
    "IOI_HELDOUT_NAMES",
    "IOI_HELDOUT_TEMPLATES",
    "IOI_NAMES",
    "IOI_OBJECTS",
    "IOI_PLACES",
    "IOI_TEMPLATES",
    "LogitDiff",
    "NativeEngine",
    "Pace",
    "PatchingResult",
    "PromptPair",
    "ROWS_PER_CHUNK",
    "Start",
    "UserMetric",
    "as_metric",
    "attribution_patch",
    "checked_engine",
    "component",
    "corrupt_prompt",
    "differing_positions",
    "docstring_accuracy",
    "docstring_pair",
    "docstring_prompts",
    "evaluate",
    "fast_engine",
    "ioi_accuracy",
    "ioi_pair",
    "ioi_prompts",
    "one_token_words",
    "patch",
    "patch_both_ways",
    "patched_logits",
    "patched_predictions",
    "patching_pair",
    "row_patcher",
    "single_token",
    "special_token_warnings",
    "suggest_replacements",
    "token_pair",
]
