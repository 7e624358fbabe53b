"""The prefix runner packs its variants by real positions: per-token maths never runs on padding."""

import torch

from interp_widgets.compute.ablation import leave_one_out
from interp_widgets.compute.core.block_maths import model_maths
from interp_widgets.compute.core.hooks import activations_at
from interp_widgets.models import toy_model


def test_leave_one_out_runs_the_mlp_on_real_suffix_positions_only():
    model = toy_model(seed=3)
    tokens = torch.randint(1, model.cfg.d_vocab, (1, 33), generator=torch.Generator().manual_seed(0))
    tokens[0, 0] = model.tokenizer.bos_token_id
    hook, target = "blocks.1.hook_resid_post", 32
    direction = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(1))
    block = model_maths(model).blocks[0]
    rows: list[int] = []
    mlp = block.mlp
    block.mlp = lambda x: (rows.append(x[..., 0].numel()), mlp(x))[1]
    try:
        leave_one_out(model, tokens, hook, direction, target=target)  # the first call checks the runner on the clean prompt
        rows.clear()
        result = leave_one_out(model, tokens[:, :], hook, direction, target=target - 1)
    finally:
        block.mlp = mlp
    t = target - 1
    # each variant's real suffix: t - i positions for i = 1..t-1 (padded to the longest it would be (t - 1)^2);
    # the clean prompt's run is kept from the first call (same tokens)
    assert sum(rows) == t * (t - 1) // 2
    variant = torch.cat([tokens[0, :5], tokens[0, 6:t + 1]])
    assert abs(float(result.values[5]) - float(activations_at(model, variant[None], hook)[0, -1] @ direction)) < 1e-4
