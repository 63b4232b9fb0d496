"""Chunks: consecutive utterances of a session laid end to end as one attention sequence.

The context coder (:mod:`mifidelity.coding.context`) runs layer 6 and its heads per chunk. A
chunk holds its target utterances plus two utterances of context before and one after; this
module decides the chunks and builds, for each, which word piece may attend to which (masks),
how a key relates to the query's utterance (relation ids) and how word pieces pool into
utterances. Training (:mod:`mifidelity.training.train`) and coding share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# Visible context at layer 6: last word pieces of the previous two utterances, first of the next.
PREV_TOKENS = (48, 32)
NEXT_TOKENS = 24
# Relations of a key word piece to the query's utterance; +4 when the speaker differs.
RELATIONS = ("self", "previous", "previous2", "next")
N_RELATIONS = 2 * len(RELATIONS)
# A chunk of consecutive utterances (targets plus their context) is one attention sequence.
# Attention costs grow with the square of the chunk and the repeated context with the number
# of chunks: 384 word pieces was the fastest (165 utterances per second against 39 at 1536);
# the codes do not depend on it (tested).
CHUNK_TOKENS = 384
EDGE_TOKENS = 3  # word pieces pooled as an utterance's "first" and "last" (after CLS, before SEP)


def pack_rows(lengths: Sequence[int], width: int) -> list[list[int]]:
    """Utterance indices packed into rows of at most ``width`` word pieces (first fit, longest first).

    For passes in which an utterance attends to itself only: a row is one attention sequence with a
    block-diagonal mask, so attention costs about ``width`` per word piece and padding is little.
    An utterance longer than ``width`` gets a row of its own.
    """
    room = np.zeros(0, dtype=np.int64)
    rows: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        fits = np.flatnonzero(room >= lengths[i])
        if len(fits):
            rows[fits[0]].append(i)
            room[fits[0]] -= lengths[i]
        else:
            rows.append([i])
            room = np.append(room, width - lengths[i])
    return rows


@dataclass
class Chunk:
    """Consecutive utterances of one session laid end to end, with their attention structure."""

    utterances: np.ndarray  # session-local indices of every utterance in the chunk (targets + context)
    targets: np.ndarray  # positions (into ``utterances``) whose codes this chunk produces
    token_utt: np.ndarray  # per token: position of its utterance in ``utterances``
    token_pos: np.ndarray  # per token: index within its utterance
    lengths: np.ndarray  # per utterance in the chunk


def make_chunks(lengths: Sequence[int], max_tokens: int = CHUNK_TOKENS) -> list[Chunk]:
    """Split a session into chunks of consecutive target utterances plus 2 previous / 1 next of context."""
    n = len(lengths)
    chunks = []
    start = 0
    while start < n:
        end = start + 1
        while end < n:
            lo, hi = max(0, start - 2), min(n, end + 2)
            if sum(lengths[lo:hi]) > max_tokens:
                break
            end += 1
        lo, hi = max(0, start - 2), min(n, end + 1)
        utterances = np.arange(lo, hi)
        lens = np.array([lengths[i] for i in utterances])
        token_utt = np.repeat(np.arange(len(utterances)), lens)
        token_pos = np.concatenate([np.arange(m) for m in lens])
        chunks.append(Chunk(utterances, np.arange(start - lo, end - lo), token_utt, token_pos, lens))
        start = end
    return chunks


def chunk_structure(chunk: Chunk, roles: Sequence[str]):
    """Attention masks, relation ids and pooling matrix of a chunk (torch tensors)."""
    import torch

    tu = torch.from_numpy(chunk.token_utt)
    tp = torch.from_numpy(chunk.token_pos)
    lens = torch.from_numpy(chunk.lengths)
    speaker = torch.tensor([roles[i] == "coach" for i in chunk.utterances])
    q_utt, k_utt = tu.unsqueeze(1), tu.unsqueeze(0)
    k_len = lens[tu].unsqueeze(0)
    k_pos = tp.unsqueeze(0)
    offset = k_utt - q_utt
    self_mask = offset == 0
    prev1 = (offset == -1) & (k_pos >= k_len - PREV_TOKENS[0])
    prev2 = (offset == -2) & (k_pos >= k_len - PREV_TOKENS[1])
    nxt = (offset == 1) & (k_pos < NEXT_TOKENS)
    context_mask = self_mask | prev1 | prev2 | nxt
    relation = torch.zeros(offset.shape, dtype=torch.long)
    relation[prev1] = 1
    relation[prev2] = 2
    relation[nxt] = 3
    differs = speaker[tu].unsqueeze(1) != speaker[tu].unsqueeze(0)
    relation = relation + 4 * differs.long()
    # Pooling weights (utterances x tokens): cls, mean, first, last of each utterance.
    n_utt, n_tok = len(chunk.utterances), len(tu)
    starts = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.long), lens[:-1]]), 0)
    inner = (lens - 2).clamp(min=0)
    edge = inner.clamp(max=EDGE_TOKENS)
    owner = tu.unsqueeze(0) == torch.arange(n_utt).unsqueeze(1)
    pos = tp.unsqueeze(0)
    mean = owner.float()
    first = owner & (pos >= 1) & (pos < 1 + edge.unsqueeze(1))
    last = owner & (pos >= (lens - 1 - edge).unsqueeze(1)) & (pos < (lens - 1).unsqueeze(1))
    first = torch.where((inner > 0).unsqueeze(1), first, owner).float()
    last = torch.where((inner > 0).unsqueeze(1), last, owner).float()
    cls = (torch.arange(n_tok).unsqueeze(0) == starts.unsqueeze(1)).float()
    norm = lambda w: w / w.sum(1, keepdim=True).clamp(min=1.0)  # noqa: E731
    pool = torch.stack([cls, norm(mean), norm(first), norm(last)])  # (4, n_utt, n_tok)
    return self_mask, context_mask, relation, pool
