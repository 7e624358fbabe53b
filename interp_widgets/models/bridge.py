"""Building `TransformerBridge` models on transformer-lens 4.x and 3.9 alike."""

from __future__ import annotations

from typing import Any



def boot_from_config(config: dict[str, Any], tokenizer: Any, device: str | None = None) -> Any:
    """A bridge around a randomly initialised TransformerLens-native model, seeded by `config['seed']`."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    config = {k: v for k, v in config.items() if v is not None or k != "d_mlp"}
    if config.get("init_weights") is False:
        config.pop("seed", None)  # weights are loaded next: skip the seeded initialisation
    model = TransformerBridge.boot_native(TransformerBridgeConfig(**config), tokenizer=tokenizer, device=device)
    model.eval()
    return model
