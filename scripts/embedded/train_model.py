"""Train the embedded model: tokenizer, token streams, and a small transformer, resumably.

    python scripts/embedded/train_model.py --corpus build/corpus --out build/model --max-minutes 60
    (run it again to continue from the last checkpoint; scripts/embedded/recipe.sh runs the stages
    that made the shipped model)

Model: 2 layers, d_model 256, 4 heads, MLPs, rotary positions, context 256, byte-level BPE vocab
4096. Training mix: windows of the corpus sampled by source weight, plus two kinds of sequences
that reward copying from context: a block of random tokens tiled to the end of the context
(`--random-repeat`, `--copy-vocab`, `--copy-period`), and a natural window with one span copied
later (`--span-repeat`). `--copy-warmup` / `--copy-ramp` start with copy blocks only and hand over
to the mix; `--init-from` starts from another run's weights.

What the runs showed: on the mix alone (15-40 % copy blocks) the model learns a previous-token head
but no induction head in 31 M tokens; from scratch on copy blocks alone (rotary) it stalls for 850+
steps on "predict some token already in context" (random tokens give a previous-token head nothing
to gain until the induction head that reads it exists). Starting from the text-trained model, whose
previous-token head is already there, copy blocks alone produce the induction head in ~450 steps;
then whole-vocabulary blocks and the text mix keep it. AdamW with weight decay on the weight
matrices only, linear warm-up, cosine decay; bf16 autocast where the CPU or GPU supports it.
Writes `checkpoint.pt` every `--checkpoint-every` steps and `model.safetensors` (fp16) +
`config.json` + `tokenizer/` for the package.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from docstrings import docstring_text
from ioi import ioi_text

BOS = "<|endoftext|>"
WEIGHTS = {"english": 0.36, "technical": 0.17, "german": 0.1, "code": 0.27, "email": 0.1}
CONFIG = dict(n_layers=2, d_model=256, n_ctx=256, d_head=64, n_heads=4, d_mlp=1024, act_fn="gelu",
              normalization_type="LN", positional_embedding_type="rotary", attn_only=False)


def train_tokenizer(corpus: Path, out: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    def texts():
        for path in sorted(corpus.glob("*.jsonl")):
            for line in path.open(encoding="utf-8"):
                record = json.loads(line)
                if record["split"] == "train":
                    yield record["text"]

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[BOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts(), trainer)
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=BOS, pad_token=BOS).save_pretrained(str(out))


def tokenize_corpus(corpus: Path, tokenizer_dir: Path, out: Path) -> dict:
    """One uint16 token stream per source and split, documents separated by BOS/EOS."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    eos = tokenizer.eos_token_id
    manifest = json.loads((corpus / "manifest.json").read_text())
    info = {}
    for name, source in manifest["sources"].items():
        streams: dict[str, list[int]] = {"train": [], "val": []}
        records = [json.loads(line) for line in (corpus / f"{name}.jsonl").open(encoding="utf-8")]
        encoded = tokenizer([r["text"] for r in records], add_special_tokens=False)["input_ids"]
        for record, ids in zip(records, encoded):
            streams[record["split"]].extend(ids + [eos])
        for split, ids in streams.items():
            np.save(out / f"{name}.{split}.npy", np.asarray(ids, dtype=np.uint16))
        info[name] = {"kind": source["kind"], "train_tokens": len(streams["train"]), "val_tokens": len(streams["val"])}
        print(f"{name:<22} {len(streams['train']):>10} train tokens", flush=True)
    (out / "streams.json").write_text(json.dumps(info, indent=2))
    return info


class Mix:
    """Training sequences `[batch, ctx]`, each led by BOS, drawn from the sources and the copy tasks."""

    def __init__(self, out: Path, split: str, ctx: int, vocab: int, bos: int, seed: int, random_repeat: float, span_repeat: float):
        info = json.loads((out / "streams.json").read_text())
        self.streams = {name: np.load(out / f"{name}.{split}.npy", mmap_mode="r") for name in info}
        kinds = {name: meta["kind"] for name, meta in info.items()}
        sizes = {name: len(stream) for name, stream in self.streams.items()}
        per_kind = {kind: sum(sizes[n] for n in sizes if kinds[n] == kind) for kind in set(kinds.values())}
        self.names = [n for n in self.streams if sizes[n] > ctx]
        weights = np.array([WEIGHTS[kinds[n]] * sizes[n] / per_kind[kinds[n]] for n in self.names])
        self.weights = weights / weights.sum()
        self.ctx, self.vocab, self.bos = ctx, vocab, bos
        self.random_repeat, self.span_repeat = random_repeat, span_repeat
        self.rng = np.random.default_rng(seed)
        self.copy_tokens = np.arange(1, vocab)
        self.period_min, self.period_max = 16, ctx // 2 - 1
        self.synthetic: list[tuple[float, object]] = []
        self.tokenizer = None

    def add_synthetic(self, share: float, text, tokenizer) -> None:
        """Make `share` of the sequences synthetic text, `text(rng, n_chars)` (docstrings.py, ioi.py), taken from the text share."""
        if share > 0:
            self.synthetic.append((share, text))
            self.tokenizer = tokenizer

    def use_frequent_tokens(self, n: int) -> None:
        """Draw the random blocks from the `n` most frequent corpus tokens (BOS excluded) rather than the whole vocabulary."""
        counts = sum(np.bincount(np.asarray(stream), minlength=self.vocab) for stream in self.streams.values())
        counts[self.bos] = 0
        self.copy_tokens = np.argsort(-counts, kind="stable")[:n]

    def window(self, name: str) -> np.ndarray:
        stream = self.streams[name]
        start = self.rng.integers(0, len(stream) - self.ctx)
        return np.asarray(stream[start : start + self.ctx - 1], dtype=np.int64)

    def sequence(self) -> np.ndarray:
        draw = self.rng.random()
        if draw < self.random_repeat:
            block = self.rng.choice(self.copy_tokens, size=self.rng.integers(self.period_min, self.period_max + 1))
            body = np.tile(block, (self.ctx // len(block)) + 1)[: self.ctx - 1]
        elif (text := self.synthetic_text(draw - self.random_repeat)) is not None:
            ids: list[int] = []
            while len(ids) < self.ctx - 1:
                ids += self.tokenizer(text(self.rng, 4 * self.ctx), add_special_tokens=False)["input_ids"]
            body = np.asarray(ids[: self.ctx - 1], dtype=np.int64)
        else:
            body = self.window(self.rng.choice(self.names, p=self.weights))
            if draw < self.random_repeat + sum(share for share, _ in self.synthetic) + self.span_repeat:
                length = int(self.rng.integers(16, 64))
                start = int(self.rng.integers(0, self.ctx // 2 - length))
                at = int(self.rng.integers(start + length, self.ctx - 1 - length))
                body[at : at + length] = body[start : start + length]
        return np.concatenate([[self.bos], body])

    def synthetic_text(self, draw: float):
        """The synthetic generator whose share `draw` (uniform, offset past the copy share) falls in, if any."""
        for share, text in self.synthetic:
            if 0 <= draw < share:
                return text
            draw -= share
        return None

    def batch(self, size: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.sequence() for _ in range(size)]))


def copy_share(step: int, warmup: int, ramp: int, final: float) -> float:
    """Share of sequences that are repeated random blocks at `step`: 1 for `warmup` steps, then a linear ramp down to `final`."""
    if step < warmup:
        return 1.0
    return max(final, 1.0 - (1.0 - final) * (step - warmup) / max(1, ramp))


def model_config(heads: int, attn_only: bool, rotary_dim: int | None, positions: str = "rotary", layers: int = 2,
                 d_model: int = 256) -> dict:
    """The architecture (CONFIG) with these choices; `rotary_dim` None rotates every dimension of a head."""
    d_head = d_model // heads
    config = {**CONFIG, "n_layers": layers, "d_model": d_model, "d_mlp": 4 * d_model, "n_heads": heads, "d_head": d_head,
              "attn_only": attn_only, "positional_embedding_type": positions}
    return {**config, "rotary_dim": rotary_dim or d_head} if positions == "rotary" else config


def build_model(vocab: int, seed: int, config: dict):
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge.sources.native.init import initialize_native_model
    from transformer_lens.model_bridge.sources.native.model import NativeModel

    cfg = TransformerBridgeConfig(**config, d_vocab=vocab, seed=seed)
    model = NativeModel(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        initialize_native_model(model, cfg)
    return model, cfg


def copy_embeddings(model, source: Path) -> None:
    """Copy the token embedding, unembedding and final LayerNorm from a model of the same tokenizer and width.

    A warm start for a new architecture: what a token means at the input and output is shared;
    the blocks (and, here, the position embedding) are learned from scratch.
    """
    from safetensors.torch import load_file

    weights = load_file(str(source / "model.safetensors"))
    state = model.state_dict()
    shared = [name for name in weights if name.startswith(("tok_embed.", "head.", "ln_out.")) and name in state]
    for name in shared:
        if weights[name].shape != state[name].shape:
            raise SystemExit(f"--embeddings-from: {name} is {list(weights[name].shape)} there, {list(state[name].shape)} here")
    model.load_state_dict({**state, **{name: weights[name].float() for name in shared}})
    print(f"embeddings from {source}: {', '.join(shared)}", flush=True)


def lr_at(step: int, total: int, peak: float, warmup: int = 300) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to a tenth of `peak` at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model, out: Path, ctx: int, vocab: int, bos: int, autocast: bool, device: torch.device) -> dict:
    """Validation loss per source, and loss on repeated random tokens (first vs second half)."""
    model.eval()
    result = {}
    val = Mix(out, "val", ctx, vocab, bos, seed=1234, random_repeat=0, span_repeat=0)
    for name in val.names:
        batch = torch.from_numpy(np.stack([np.concatenate([[bos], val.window(name)]) for _ in range(8)])).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(batch)
        result[f"val_loss/{name}"] = float(F.cross_entropy(logits[:, :-1].float().reshape(-1, vocab), batch[:, 1:].reshape(-1)))
    rng = np.random.default_rng(99)
    half = torch.from_numpy(rng.integers(1, vocab, size=(8, 60)))  # as the test suite measures it
    repeated = torch.cat([torch.full((8, 1), bos), half, half], dim=1).to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(repeated)
    losses = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), repeated[:, 1:], reduction="none")
    n = half.shape[1]
    result["repeat/first_half"] = float(losses[:, 1:n].mean())
    result["repeat/second_half"] = float(losses[:, n + 1 :].mean())
    model.train()
    return result


@torch.no_grad()
def evaluate_ioi(model, tokenizer, autocast: bool, device: torch.device, n: int = 100) -> dict:
    """IOI accuracy on the measured training shapes and on the held-out shapes and names (circuits.py)."""
    from interp_widgets.compute.patching.task_accuracy import IOI_HELDOUT_NAMES, IOI_HELDOUT_TEMPLATES, ioi_prompts
    model.eval()
    result = {}
    for name, extra in (("ioi/train_shapes", {}), ("ioi/heldout", {"templates": IOI_HELDOUT_TEMPLATES, "names": IOI_HELDOUT_NAMES})):
        correct = 0
        for prompt, io_token, subject_token in ioi_prompts(tokenizer, n, seed=5, **extra):
            ids = [tokenizer.bos_token_id] + tokenizer(prompt, add_special_tokens=False)["input_ids"]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = model(torch.tensor([ids], device=device))[0, -1].float()
            correct += int(logits[io_token] > logits[subject_token])
        result[name] = correct / n
    model.train()
    return result


UNFINISHED = 3  # exit status of a run that stopped at --max-minutes before its last step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus"))
    parser.add_argument("--out", type=Path, default=Path("build/model"))
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--total-steps", type=int, default=20_000, help="length of the learning-rate schedule")
    parser.add_argument("--stop-at", type=int, help="stop at this step (default: --total-steps); run again with other options to continue")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=300, help="learning-rate warm-up steps")
    parser.add_argument("--random-repeat", type=float, default=0.4)
    parser.add_argument("--span-repeat", type=float, default=0.15)
    parser.add_argument("--docstrings", type=float, default=0.0, help="share of synthetic functions with :param docstrings (docstrings.py)")
    parser.add_argument("--copy-warmup", type=int, default=400, help="steps of repeated random blocks only, before any corpus text")
    parser.add_argument("--copy-ramp", type=int, default=2000, help="steps over which the share of repeated blocks falls from 1 to --random-repeat")
    parser.add_argument("--init-from", type=Path, help="start from these weights (a state dict or a checkpoint) instead of a fresh init")
    parser.add_argument("--copy-vocab", type=int, default=0, help="draw the random blocks from this many most frequent tokens (0: all)")
    parser.add_argument("--copy-period", type=int, nargs=2, default=(16, 127), help="length range of the repeated random blocks")
    parser.add_argument("--rotary-dim", type=int, default=None, help="dimensions of each head that rotate with position (default: all, as in the shipped model); the rest match on content alone")
    parser.add_argument("--positions", choices=("rotary", "standard"), default="rotary", help="rotary: rotate queries and keys; standard: learned absolute embeddings added to the residual stream")
    parser.add_argument("--heads", type=int, default=CONFIG["n_heads"])
    parser.add_argument("--layers", type=int, default=CONFIG["n_layers"])
    parser.add_argument("--d-model", type=int, default=CONFIG["d_model"], help="residual width (MLPs are 4x as wide)")
    parser.add_argument("--tokenizer-from", type=Path, help="use this tokenizer directory (e.g. the shipped model's) instead of training one")
    parser.add_argument("--embeddings-from", type=Path, help="start the token embedding and unembedding (and final LayerNorm) from "
                        "this model directory's weights, which must share the tokenizer and width; everything else starts fresh")
    parser.add_argument("--ioi", type=float, default=0.0, help="share of synthetic indirect-object sentences (ioi.py)")
    parser.add_argument("--attn-only", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-minutes", type=float, default=60)
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = args.out / "tokenizer"
    if args.tokenizer_from and not (tokenizer_dir / "tokenizer.json").exists():
        import shutil

        shutil.copytree(args.tokenizer_from, tokenizer_dir)
    if not (tokenizer_dir / "tokenizer.json").exists():
        print("training the tokenizer", flush=True)
        train_tokenizer(args.corpus, tokenizer_dir, args.vocab)
    if args.embeddings_from and not args.tokenizer_from:
        raise SystemExit("--embeddings-from needs --tokenizer-from with that model's tokenizer: token ids must mean the same")
    if not (args.out / "streams.json").exists():
        tokenize_corpus(args.corpus, tokenizer_dir, args.out)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    vocab, bos = len(tokenizer), tokenizer.bos_token_id
    config = model_config(args.heads, args.attn_only, args.rotary_dim, args.positions, args.layers, args.d_model)
    model, cfg = build_model(vocab, args.seed, config)
    device = torch.device(args.device)
    model.to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "embed" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    checkpoint = args.out / "checkpoint.pt"
    step, tokens_seen, log = 0, 0, []
    mix = Mix(args.out, "train", CONFIG["n_ctx"], vocab, bos, args.seed, args.random_repeat, args.span_repeat)
    mix.period_min, mix.period_max = args.copy_period
    if args.copy_vocab:
        mix.use_frequent_tokens(args.copy_vocab)
    mix.add_synthetic(args.docstrings, docstring_text, tokenizer)
    mix.add_synthetic(args.ioi, ioi_text, tokenizer)
    from interp_widgets.sae.train import bf16_supported, read_checkpoint

    if checkpoint.exists():
        state = read_checkpoint(checkpoint, device, keys=("model", "optimizer", "step"), fix="delete it to start afresh")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, tokens_seen, log = state["step"], state["tokens_seen"], state["log"]
        mix.rng = np.random.default_rng([args.seed, step])
        print(f"resumed at step {step} ({tokens_seen / 1e6:.1f} M tokens)", flush=True)
    elif args.init_from:
        if args.init_from.suffix == ".safetensors":  # exported fp16 weights (another machine's run)
            from safetensors.torch import load_file

            state = {name: tensor.float() for name, tensor in load_file(str(args.init_from)).items()}
        else:
            state = read_checkpoint(args.init_from, "cpu", keys=(), fix="pass another --init-from")
        model.load_state_dict(state.get("model", state))
        print(f"initialised from {args.init_from}", flush=True)
    elif args.embeddings_from:
        copy_embeddings(model, args.embeddings_from)
    autocast = bf16_supported(device)
    forward = torch.compile(model) if args.compile else model
    started = time.time()
    window_start, window_tokens = time.time(), 0

    def save(final: bool = False) -> None:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "tokens_seen": tokens_seen, "log": log}
        torch.save(state, checkpoint.with_suffix(".tmp"))
        os.replace(checkpoint.with_suffix(".tmp"), checkpoint)
        export(model, cfg, config, args, log)

    model.train()
    stop_at = args.stop_at or args.total_steps
    while step < stop_at and (time.time() - started) < args.max_minutes * 60:
        mix.random_repeat = copy_share(step, args.copy_warmup, args.copy_ramp, args.random_repeat)
        batch = mix.batch(args.batch).to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.total_steps, args.lr, args.warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = forward(batch)
        loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, vocab), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens_seen += batch.numel()
        window_tokens += batch.numel()
        if step % 50 == 0:
            rate = window_tokens / (time.time() - window_start)
            print(f"step {step} loss {loss.item():.3f} {tokens_seen / 1e6:.2f} M tokens {rate:.0f} tok/s", flush=True)
            window_start, window_tokens = time.time(), 0
        if step % args.eval_every == 0:
            result = {"step": step, "tokens": tokens_seen, **evaluate(model, args.out, CONFIG["n_ctx"], vocab, bos, autocast, device)}
            if args.ioi > 0:
                result.update(evaluate_ioi(model, tokenizer, autocast, device))
            log.append(result)
            print(json.dumps(result), flush=True)
        if step % args.checkpoint_every == 0:
            save()
    save(final=True)
    print(f"stopped at step {step}, {tokens_seen / 1e6:.1f} M tokens", flush=True)
    if step < stop_at:  # out of time: the weights are unfinished, and a recipe must not go on with them
        print(f"--max-minutes ran out before step {stop_at}: run the same command again to continue", flush=True)
        raise SystemExit(UNFINISHED)


def export(model, cfg, config, args, log) -> None:
    """fp16 weights + config for the package (config keys as TransformerBridgeConfig takes them)."""
    from safetensors.torch import save_file

    weights = {name: tensor.detach().to(torch.float16).contiguous() for name, tensor in model.state_dict().items()}
    save_file(weights, str(args.out / "model.safetensors"))
    config = {**config, "d_vocab": cfg.d_vocab, "seed": args.seed}
    (args.out / "config.json").write_text(json.dumps({"config": config, "training": {"log": log[-1:] if log else []}}, indent=2))


if __name__ == "__main__":
    main()
