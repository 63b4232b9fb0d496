"""The default offline diariser: VAD + speaker embeddings + clustering + smoothing.

Everything it loads ships inside a PyPI wheel, so it runs with no network:

* speech is found with the Silero VAD model bundled in faster-whisper
  (:mod:`mifidelity.diarization.vad`);
* short sliding windows of *speech-only* audio are embedded with Resemblyzer's
  GE2E speaker encoder (weights inside the ``Resemblyzer`` wheel);
* the embeddings are centred on the recording's mean (this removes the channel
  and the "average voice", which dominate raw GE2E vectors and are why naive
  clustering of raw embeddings lands near chance) and clustered spectrally;
* every 10 ms speech frame gets a score per speaker (cosine similarity of the
  windows covering it to each speaker centroid) and a Viterbi pass with a
  speaker-switch penalty picks the best label sequence; centroids are then
  re-estimated from that labelling and the pass repeated (k-means-like
  refinement with temporal smoothing);
* optionally, a per-speaker Gaussian mixture over MFCC frames resegments the
  boundaries at 10 ms resolution.

Memory and time grow linearly with the recording: audio features are computed
in chunks and the quadratic affinity matrix is built over at most
``max_cluster_windows`` windows (a uniform subsample), the rest being assigned
to the resulting centroids.
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from mifidelity.config import DiarizationConfig
from mifidelity.diarization import frontend, vad
from mifidelity.errors import MifidelityError
from mifidelity.types import Diarization, Recording, SpeakerTurn, StageInfo, Word

logger = logging.getLogger(__name__)

MODEL_NAME = "resemblyzer-ge2e"
FRAME_SECONDS = 0.01  # the encoder's mel hop; every decision is made on this grid
SAMPLE_RATE = 16000
_MEL_CHUNK_SECONDS = 300.0
_EMBED_BATCH = 128
# A window shorter than this carries too little voice to embed reliably.
_MIN_EMBED_SECONDS = 0.4
# Resemblyzer's training normalised every utterance to this loudness.
_TARGET_DBFS = -30.0

_encoder = None
_encoder_lock = threading.Lock()


def _package_version() -> str:
    try:
        return metadata.version("Resemblyzer")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def _get_encoder():
    """Load Resemblyzer's GE2E encoder once per process (CPU)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            try:
                from resemblyzer import VoiceEncoder
            except ImportError as exc:
                raise MifidelityError(
                    "the embedding diariser needs the Resemblyzer package "
                    "(pip install Resemblyzer==0.1.4); or use diarization.engine: channels"
                ) from exc
            logger.info("loading Resemblyzer speaker encoder")
            _encoder = VoiceEncoder(device="cpu", verbose=False)
            _encoder.eval()
    return _encoder


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------


def _mel_frames(samples: np.ndarray) -> np.ndarray:
    """Resemblyzer's mel features, (n_frames, 40): frame ``i`` is centred at ``i * 10 ms``."""
    return frontend.mel_power_frames(samples, chunk_seconds=_MEL_CHUNK_SECONDS)


def _embed_windows(mel: np.ndarray, starts: np.ndarray, length: int, threads: int = 1,
                   progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Embed ``mel[s:s+length]`` for each start, in batches; (n, 256) unit vectors."""
    import torch

    encoder = _get_encoder()
    out = np.zeros((len(starts), 256), dtype=np.float32)
    idx = np.arange(length)
    # torch's multi-threaded LSTM collapses (10x slower) when another stage or
    # process already keeps a core busy; the small model runs well on a set
    # thread count, restored afterwards for the rest of the pipeline.
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        with torch.inference_mode():
            for b in range(0, len(starts), _EMBED_BATCH):
                batch = mel[starts[b : b + _EMBED_BATCH, None] + idx[None, :]]
                out[b : b + len(batch)] = encoder(torch.from_numpy(batch)).numpy()
                if progress and (b // _EMBED_BATCH) % 10 == 9:
                    progress(min(1.0, (b + len(batch)) / len(starts)))
    finally:
        torch.set_num_threads(previous)
    return out


# ---------------------------------------------------------------------------
# Clustering
# ---------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _spectral_embedding(emb: np.ndarray, max_k: int, prune: float):
    """Eigen-decomposition of a pruned cosine affinity (normalised Laplacian).

    Returns the eigenvalues (ascending) and eigenvectors of the Laplacian.
    ``prune`` is the fraction of strongest neighbours kept per row; pruning the
    weak similarities is what makes spectral clustering robust on noisy
    short-window embeddings.
    """
    sim = emb @ emb.T
    n = len(sim)
    keep = max(2, int(round(prune * n)))
    # Zero everything but each row's top-`keep` similarities, then symmetrise.
    thresh = -np.partition(-sim, keep - 1, axis=1)[:, keep - 1 : keep]
    aff = np.where(sim >= thresh, np.maximum(sim, 0.0), 0.0)
    aff = 0.5 * (aff + aff.T)
    np.fill_diagonal(aff, 0.0)
    deg = aff.sum(axis=1)
    d = 1.0 / np.sqrt(np.maximum(deg, 1e-9))
    lap = np.eye(n) - (d[:, None] * aff * d[None, :])
    vals, vecs = np.linalg.eigh(lap)
    return vals[: max_k + 1], vecs[:, : max_k + 1]


def _kmeans(x: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)


def _cluster(emb: np.ndarray, num_speakers: int | None, min_k: int, max_k: int, prune: float) -> np.ndarray:
    """Cluster unit embeddings; returns a label per row."""
    n = len(emb)
    if n < 2:
        return np.zeros(n, dtype=int)
    max_k = max(1, min(max_k, n - 1))
    min_k = max(1, min(min_k, max_k))
    top = max_k if num_speakers is None else min(num_speakers, n - 1)
    vals, vecs = _spectral_embedding(emb, max(top, 1), prune)
    if num_speakers is None:
        # Eigengap: the number of near-zero Laplacian eigenvalues is the number
        # of well-separated groups.
        gaps = np.diff(vals[: max_k + 1])
        k = int(np.argmax(gaps[min_k - 1 : max_k]) + min_k)
    else:
        k = max(1, min(num_speakers, n))
    if k == 1:
        return np.zeros(n, dtype=int)
    feats = _unit(vecs[:, :k])
    return _kmeans(feats, k)


# Thresholds of the speaker-count check, from the sample sessions, the pyannote sample and synthetic
# monologue / three-voice recordings (tests/test_inbox_media.py): two-speaker sessions score a
# silhouette of ~0.50 for two groups and ~0.35 for three; three voices ~0.38 and ~0.47; a monologue
# split in two ~0.21 with centroids at cosine ~0.93 (two voices: ~0.70; a real 8 kHz phone call:
# 0.19 and 0.91, hence the careful wording of that note).
_ONE_VOICE_SILHOUETTE, _ONE_VOICE_COSINE = 0.25, 0.90
_THIRD_VOICE_MARGIN, _THIRD_VOICE_SHARE = 0.05, 0.10


def speaker_count_notes(emb_raw: np.ndarray, prune: float, max_windows: int = 1500) -> list[str]:
    """Plain-words notes when a recording diarised into two speakers seems to hold one or three voices.

    Compares how well the window embeddings split into two and into three
    groups (cosine silhouette) and how alike the two groups' voices are.
    """
    from sklearn.metrics import silhouette_score

    if len(emb_raw) > max_windows:
        emb_raw = emb_raw[np.linspace(0, len(emb_raw) - 1, max_windows).round().astype(int)]
    if len(emb_raw) < 12:
        return []
    emb = _unit(emb_raw - emb_raw.mean(axis=0))
    _, vecs = _spectral_embedding(emb, 3, prune)
    labels = {k: _kmeans(_unit(vecs[:, :k]), k) for k in (2, 3)}
    if min(len(np.unique(lab)) for lab in labels.values()) < 2:
        return []
    silhouette = {k: float(silhouette_score(emb_raw, lab, metric="cosine")) for k, lab in labels.items()}
    shares = np.bincount(labels[3], minlength=3) / len(labels[3])
    two = _centroids(emb_raw, labels[2], 2)
    if silhouette[3] - silhouette[2] >= _THIRD_VOICE_MARGIN and shares.min() >= _THIRD_VOICE_SHARE:
        return [f"A third voice seems to be present (about {shares.min():.0%} of the speech). The report "
                "assumes one coach and one client, so that speech is counted as one of them; set "
                "diarization.num_speakers: null in the config to let the diariser find every speaker."]
    if silhouette[2] < _ONE_VOICE_SILHOUETTE and float(two[0] @ two[1]) >= _ONE_VOICE_COSINE:
        return ["The two speakers found sound very much alike: this may be one person speaking throughout "
                "(a monologue), or two similar voices on a poor line. Check who is coach and who is client "
                "in the transcript before acting on the numbers."]
    return []


def _centroids(emb: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    cents = np.zeros((k, emb.shape[1]), dtype=np.float64)
    for j in range(k):
        members = emb[labels == j]
        if len(members):
            cents[j] = members.mean(axis=0)
    return _unit(cents)


# ---------------------------------------------------------------------------
# Temporal smoothing
# ---------------------------------------------------------------------------


def viterbi(scores: np.ndarray, penalty: np.ndarray | float) -> np.ndarray:
    """Best label path maximising summed scores minus a penalty per switch.

    Parameters
    ----------
    scores:
        (T, K) per-step score of each label (higher is better).
    penalty:
        Cost of switching label between step t-1 and t; a scalar or a (T,)
        array (entry 0 unused), so switches can be cheaper across pauses.

    Returns
    -------
    numpy.ndarray
        (T,) integer labels.
    """
    t_len, k = scores.shape
    if t_len == 0:
        return np.zeros(0, dtype=int)
    pen = np.broadcast_to(np.asarray(penalty, dtype=np.float64), (t_len,))
    back = np.zeros((t_len, k), dtype=np.int32)
    dp = scores[0].astype(np.float64).copy()
    ar = np.arange(k)
    for t in range(1, t_len):
        best_prev = int(np.argmax(dp))
        switch = dp[best_prev] - pen[t]
        stay = dp
        use_switch = switch > stay
        back[t] = np.where(use_switch, best_prev, ar)
        dp = np.where(use_switch, switch, stay) + scores[t]
    path = np.zeros(t_len, dtype=int)
    path[-1] = int(np.argmax(dp))
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _frame_scores(win_scores: np.ndarray, starts: np.ndarray, length: int, n_frames: int,
                  taper: bool = False) -> np.ndarray:
    """Average the scores of all windows covering each speech-stream frame.

    With ``taper``, each window's vote is weighted by a triangle peaking at its
    centre: a window speaks best for the frames in its middle, so boundaries
    sharpen and short turns are less swamped by their neighbours.
    """
    k = win_scores.shape[1]
    if taper:
        weight = 1.0 - np.abs(np.linspace(-1, 1, length + 2)[1:-1])
        acc = np.zeros((n_frames, k))
        cnt = np.zeros(n_frames)
        for b in range(0, len(starts), 512):
            idx = (starts[b : b + 512, None] + np.arange(length)[None, :]).clip(max=n_frames - 1)
            np.add.at(acc, idx.ravel(), (weight[None, :, None] * win_scores[b : b + 512, None, :]).reshape(-1, k))
            np.add.at(cnt, idx.ravel(), np.broadcast_to(weight, idx.shape).ravel())
        return acc / np.maximum(cnt, 1e-9)[:, None]
    acc = np.zeros((n_frames + 1, k))
    cnt = np.zeros(n_frames + 1)
    ends = np.minimum(starts + length, n_frames)
    np.add.at(acc, starts, win_scores)
    np.add.at(acc, ends, -win_scores)
    np.add.at(cnt, starts, 1.0)
    np.add.at(cnt, ends, -1.0)
    acc = np.cumsum(acc, axis=0)[:n_frames]
    cnt = np.cumsum(cnt)[:n_frames]
    out = np.zeros((n_frames, k))
    has = cnt > 0.5
    out[has] = acc[has] / cnt[has, None]
    # Frames no window covers (stream edges) copy their nearest covered frame.
    if has.any() and not has.all():
        idx = np.where(has, np.arange(n_frames), -1)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(has))
        idx[idx < 0] = first
        out = out[idx]
    return out


# ---------------------------------------------------------------------------
# Turns
# ---------------------------------------------------------------------------


# Runs of equal labels: the same helper the channel diariser uses.
from mifidelity.diarization.channels import _runs  # noqa: E402


def _clean_mask(mask: np.ndarray, min_speech: int, min_gap: int) -> np.ndarray:
    """Fill gaps shorter than ``min_gap`` frames, then drop islands shorter than ``min_speech``."""
    mask = mask.copy()
    for a, b, v in _runs(mask.astype(int)):
        if v == 0 and b - a < min_gap and a > 0 and b < len(mask):
            mask[a:b] = True
    for a, b, v in _runs(mask.astype(int)):
        if v == 1 and b - a < min_speech:
            mask[a:b] = False
    return mask


def refine_turns_with_words(turns: Sequence[SpeakerTurn], words: Sequence[Word]) -> list[SpeakerTurn]:
    """Snap speaker changes to word boundaries so no word is split between speakers.

    Each word goes to the speaker who holds most of its span (the nearest turn
    if it falls in a gap). Consecutive words of one speaker form a turn from
    the first word's start to the last word's end; a speaker change is placed
    midway between the two words on either side of it. Turns with no words
    (speech the recogniser did not transcribe) are kept where they do not
    overlap a word-based turn.

    Parameters
    ----------
    turns:
        Non-overlapping diarisation turns, in time order.
    words:
        Recognised words (any order).

    Returns
    -------
    list[SpeakerTurn]
        Non-overlapping turns in time order.
    """
    turns = sorted(turns, key=lambda t: t.start)
    words = sorted(words, key=lambda w: w.start)
    if not turns or not words:
        return list(turns)
    starts = np.array([t.start for t in turns])
    ends = np.array([t.end for t in turns])
    labels: list[str] = []
    for w in words:
        overlap = np.minimum(ends, w.end) - np.maximum(starts, w.start)
        if overlap.max() > 0:
            labels.append(turns[int(np.argmax(overlap))].speaker)
        else:
            dist = np.minimum(np.abs(starts - w.midpoint), np.abs(ends - w.midpoint))
            labels.append(turns[int(np.argmin(dist))].speaker)
    groups: list[list] = []  # [start, end, speaker]
    for w, spk in zip(words, labels):
        if groups and groups[-1][2] == spk:
            groups[-1][1] = max(groups[-1][1], w.end)
        else:
            groups.append([w.start, w.end, spk])
    for prev, nxt in zip(groups[:-1], groups[1:]):
        if prev[1] > nxt[0]:
            mid = 0.5 * (prev[1] + nxt[0])
            prev[1] = nxt[0] = mid
    refined = [SpeakerTurn(round(a, 3), round(b, 3), s) for a, b, s in groups if b > a]
    # Keep untranscribed speech outside every word-based turn.
    for t in turns:
        segments = [(t.start, t.end)]
        for r in refined:
            segments = [
                piece
                for a, b in segments
                for piece in ((a, min(b, r.start)), (max(a, r.end), b))
                if piece[1] - piece[0] > 1e-3
            ]
        refined.extend(SpeakerTurn(round(a, 3), round(b, 3), t.speaker) for a, b in segments if b - a >= 0.2)
    refined.sort(key=lambda t: t.start)
    # Join a kept piece to the word-based turn it touches when the speaker is the same.
    merged: list[SpeakerTurn] = []
    for t in refined:
        if merged and merged[-1].speaker == t.speaker and t.start - merged[-1].end < 1e-3:
            merged[-1] = SpeakerTurn(merged[-1].start, max(merged[-1].end, t.end), t.speaker)
        else:
            merged.append(t)
    return merged


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------


class EmbeddingDiarizer:
    """VAD + Resemblyzer window embeddings + spectral clustering + Viterbi smoothing.

    Parameters
    ----------
    config:
        The ``diarization`` section; the engine's knobs are in ``config.embedding``.
    """

    def __init__(self, config: DiarizationConfig):
        self.config = config
        self.opts = config.embedding
        self.info = StageInfo(engine="embedding", model=MODEL_NAME, version=_package_version())

    # -- public --------------------------------------------------------------

    def load(self) -> "EmbeddingDiarizer":
        """Load the speaker encoder now (otherwise on first use)."""
        _get_encoder()
        return self

    def diarize(self, recording: Recording, hook: Callable[[str, float], None] | None = None) -> Diarization:
        """Find who spoke when.

        Parameters
        ----------
        recording:
            The decoded recording (mono ``samples`` at 16 kHz are used).
        hook:
            Optional ``hook(step_name, fraction_done)`` progress callback.

        Returns
        -------
        Diarization
            Non-overlapping turns in time order, labelled ``SPEAKER_00``, ...
        """
        from threadpoolctl import threadpool_limits

        # BLAS/OpenMP pools (numpy, scikit-learn) spin-wait and collapse when
        # another stage shares the CPU; our matrices are small, so cap them.
        with threadpool_limits(limits=self.opts.threads):
            return self._diarize(recording, hook)

    def _diarize(self, recording: Recording, hook: Callable[[str, float], None] | None) -> Diarization:
        report = hook or (lambda step, fraction: None)
        notes: list[str] = []
        if recording.sample_rate != SAMPLE_RATE:
            raise MifidelityError(
                f"the embedding diariser needs {SAMPLE_RATE} Hz audio, got {recording.sample_rate} Hz"
            )
        samples = np.asarray(recording.samples, dtype=np.float32).reshape(-1)
        n_frames = len(samples) // int(FRAME_SECONDS * SAMPLE_RATE)

        report("vad", 0.0)
        speech = self._speech_mask(samples, n_frames)
        report("vad", 1.0)
        if not speech.any():
            notes.append("No speech was found in the recording.")
            return self._result([], notes)

        speech_idx = np.flatnonzero(speech)
        report("embed", 0.0)
        mel = _mel_frames(self._normalise_gain(samples, speech))[:n_frames]
        speech_idx = speech_idx[speech_idx < len(mel)]
        stream = mel[speech_idx]
        length = int(round(self.opts.window / FRAME_SECONDS))
        step = max(1, int(round(self.opts.step / FRAME_SECONDS)))
        if len(stream) < length:
            length = len(stream)
        if length * FRAME_SECONDS < _MIN_EMBED_SECONDS:
            notes.append("Too little speech to tell speakers apart: all of it was given to one speaker.")
            labels = np.zeros(len(speech_idx), dtype=int)
            return self._result(self._turns(labels, speech_idx, n_frames), notes)
        starts = np.arange(0, len(stream) - length + 1, step)
        if starts[-1] != len(stream) - length:
            starts = np.append(starts, len(stream) - length)
        emb_raw = _embed_windows(stream, starts, length, self.opts.threads, lambda f: report("embed", f))
        report("embed", 1.0)

        report("cluster", 0.0)
        labels, k, cents_raw = self._label_stream(emb_raw, starts, length, len(stream), speech_idx, notes)
        if k == 2:
            notes += speaker_count_notes(emb_raw, self.opts.affinity_prune, self.opts.max_cluster_windows)
        report("cluster", 1.0)

        if self.opts.resegment and k > 1:
            report("resegment", 0.0)
            labels = self._resegment(samples, speech_idx, labels, k)
            report("resegment", 1.0)

        labels, names = self._name_speakers(labels, k, emb_raw, cents_raw, notes)
        turns = self._turns(labels, speech_idx, n_frames, names)
        used = {t.speaker for t in turns}
        if len(used) == 1 and (self.config.num_speakers or 2) > 1:
            notes.append("Only one speaker was found in this recording.")
        report("diarize", 1.0)
        return self._result(turns, notes)

    # -- steps ---------------------------------------------------------------

    def _result(self, turns: list[SpeakerTurn], notes: list[str]) -> Diarization:
        for note in notes:
            logger.info("diarisation note: %s", note)
        return Diarization(turns=turns, info=self.info, notes=notes)

    def _speech_mask(self, samples: np.ndarray, n_frames: int) -> np.ndarray:
        """Speech/non-speech per 10 ms frame."""
        probs = vad.speech_probabilities(samples, SAMPLE_RATE)
        mask32 = vad.hysteresis(probs, self.opts.vad_onset, self.opts.vad_offset)
        # Resample the 32 ms VAD decisions onto our 10 ms grid.
        centres = (np.arange(n_frames) + 0.5) * FRAME_SECONDS
        idx = np.minimum((centres / vad.VAD_FRAME_SECONDS).astype(int), max(len(mask32) - 1, 0))
        mask = mask32[idx] if len(mask32) else np.zeros(n_frames, dtype=bool)
        return _clean_mask(
            mask,
            min_speech=int(round(self.opts.min_segment / FRAME_SECONDS)),
            min_gap=int(round(self.opts.min_gap / FRAME_SECONDS)),
        )

    @staticmethod
    def _normalise_gain(samples: np.ndarray, speech: np.ndarray) -> np.ndarray:
        """Scale so speech sits at the loudness the encoder was trained on."""
        hop = int(FRAME_SECONDS * SAMPLE_RATE)
        frames = samples[: len(speech) * hop].reshape(-1, hop)[speech]
        rms = float(np.sqrt(np.mean(frames.astype(np.float64) ** 2))) if len(frames) else 0.0
        if rms < 1e-6:
            return samples
        gain = 10 ** (_TARGET_DBFS / 20) / rms
        return (samples * gain).astype(np.float32)

    def _label_stream(self, emb_raw, starts, length, n_stream, speech_idx, notes):
        """Cluster the window embeddings and label every speech-stream frame."""
        opts = self.opts
        cfg = self.config
        # Centring removes the recording-wide component (channel, mean voice).
        mean = emb_raw.mean(axis=0)
        emb = _unit(emb_raw - mean)

        n = len(emb)
        if n > opts.max_cluster_windows:
            sub = np.linspace(0, n - 1, opts.max_cluster_windows).round().astype(int)
        else:
            sub = np.arange(n)
        if cfg.num_speakers is not None:
            k_req = cfg.num_speakers
        else:
            k_req = None
        sub_labels = _cluster(emb[sub], k_req, cfg.min_speakers, cfg.max_speakers, opts.affinity_prune)
        k = int(sub_labels.max()) + 1 if len(sub_labels) else 1
        cents = _centroids(emb[sub], sub_labels, k)

        # Switching at a pause is cheaper than mid-speech: people take turns at pauses.
        jumps = np.diff(speech_idx[:n_stream], prepend=speech_idx[0]) > 1
        penalty = np.where(jumps, opts.switch_penalty * opts.pause_penalty_factor, opts.switch_penalty)

        labels = np.zeros(n_stream, dtype=int)
        if k == 1:
            return labels, 1, _unit(emb_raw.mean(axis=0, keepdims=True))
        for _ in range(max(1, opts.refine_iterations)):
            win_scores = emb @ cents.T
            frame_scores = _frame_scores(win_scores, starts, length, n_stream, opts.taper)
            labels = viterbi(frame_scores, penalty)
            # Re-estimate centroids from windows whose centre frame carries each label.
            win_labels = labels[np.minimum(starts + length // 2, n_stream - 1)]
            new = _centroids(emb, win_labels, k)
            missing = np.bincount(win_labels, minlength=k) == 0
            new[missing] = cents[missing]
            cents = new
        win_labels = labels[np.minimum(starts + length // 2, n_stream - 1)]
        cents_raw = _centroids(emb_raw, win_labels, k)
        return labels, k, cents_raw

    def _resegment(self, samples, speech_idx, labels, k):
        from mifidelity.diarization.embedding_reseg import gmm_resegment

        return gmm_resegment(samples, speech_idx, labels, k, self.opts)

    def _name_speakers(self, labels, k, emb_raw, cents_raw, notes):
        """Map cluster ids to SPEAKER_xx: the voice-profile match first, then by first appearance."""
        order: list[int] = []
        for lab in labels:
            if lab not in order:
                order.append(int(lab))
                if len(order) == k:
                    break
        profile_path = self.opts.voice_profile
        if profile_path and k > 0:
            profile = load_voice_profile(profile_path)
            sims = cents_raw @ profile
            best = int(np.argmax(sims))
            if best in order:
                order.remove(best)
            order.insert(0, best)
            notes.append(
                f"Voice profile matched SPEAKER_00 (similarity {float(sims[best]):.2f})."
            )
        mapping = {c: i for i, c in enumerate(order)}
        new = np.array([mapping.get(int(x), 0) for x in range(max(k, 1))])[labels]
        names = [f"SPEAKER_{i:02d}" for i in range(max(k, 1))]
        return new, names

    def _turns(self, labels, speech_idx, n_frames, names=None) -> list[SpeakerTurn]:
        names = names or ["SPEAKER_00"]
        timeline = np.full(n_frames, -1, dtype=int)
        timeline[speech_idx[: len(labels)]] = labels
        # A short pause inside one person's speech is part of their turn.
        bridge = int(round(self.opts.bridge_gap / FRAME_SECONDS))
        runs = _runs(timeline)
        for i in range(1, len(runs) - 1):
            a, b, lab = runs[i]
            if lab < 0 and b - a <= bridge and runs[i - 1][2] == runs[i + 1][2] >= 0:
                timeline[a:b] = runs[i - 1][2]
        turns = []
        min_turn = int(round(self.opts.min_segment / FRAME_SECONDS))
        # Short runs of one speaker inside another's speech are absorbed by
        # the Viterbi penalty already; here we only drop tiny islands.
        for a, b, lab in _runs(timeline):
            if lab < 0 or b - a < max(1, min_turn // 2):
                continue
            turns.append(SpeakerTurn(round(a * FRAME_SECONDS, 3), round(b * FRAME_SECONDS, 3), names[lab]))
        return turns


# ---------------------------------------------------------------------------
# Coach voice profiles
# ---------------------------------------------------------------------------


def compute_voice_profile(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A speaker's voice profile: the mean GE2E embedding of their speech.

    Parameters
    ----------
    samples:
        Mono float32 16 kHz audio of one person speaking (ideally 30 s or more).

    Returns
    -------
    numpy.ndarray
        A unit vector of 256 floats.
    """
    if sample_rate != SAMPLE_RATE:
        raise MifidelityError(f"voice profiles need {SAMPLE_RATE} Hz audio")
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    n_frames = len(samples) // int(FRAME_SECONDS * SAMPLE_RATE)
    probs = vad.speech_probabilities(samples)
    mask32 = vad.hysteresis(probs, 0.5, 0.35)
    idx = np.minimum(((np.arange(n_frames) + 0.5) * FRAME_SECONDS / vad.VAD_FRAME_SECONDS).astype(int), len(mask32) - 1)
    speech = mask32[idx]
    if speech.sum() * FRAME_SECONDS < 2.0:
        raise MifidelityError("need at least 2 seconds of speech to build a voice profile")
    mel = _mel_frames(EmbeddingDiarizer._normalise_gain(samples, speech))[:n_frames]
    stream = mel[np.flatnonzero(speech)[: len(mel)]]
    length = min(160, len(stream))
    starts = np.arange(0, len(stream) - length + 1, 80)
    return _unit(_embed_windows(stream, starts, length).mean(axis=0)).astype(np.float32)


def save_voice_profile(profile: np.ndarray, path: str | Path) -> None:
    """Write a voice profile to an ``.npy`` file."""
    np.save(Path(path), np.asarray(profile, dtype=np.float32))


def load_voice_profile(path: str | Path) -> np.ndarray:
    """Read a voice profile written by :func:`save_voice_profile`."""
    try:
        profile = np.load(Path(path))
    except (OSError, ValueError) as exc:
        raise MifidelityError(f"cannot read voice profile {path}: {exc}") from None
    profile = np.asarray(profile, dtype=np.float64).reshape(-1)
    if profile.shape != (256,):
        raise MifidelityError(f"voice profile {path} is not a {MODEL_NAME} embedding (256 floats)")
    return _unit(profile)
