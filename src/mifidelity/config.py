"""Pipeline configuration: the schema that `configs/default.yaml` is validated against.

Every knob lives here with its default; the YAML file documents each one.
Unknown keys are rejected, so a typo in a config file is an error, not a
silently ignored setting.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mifidelity.engines import engine_names
from mifidelity.errors import MifidelityError
from mifidelity.types import SAMPLE_RATE

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


# The engine names each section accepts: the registries' keys (mifidelity.engines), so a new engine is one entry
# there and a wrong name is an error that lists the right ones.
AsrEngine = Literal[engine_names("asr")]
DiarizationEngine = Literal[engine_names("diarization")]
CodingEngine = Literal[engine_names("coding")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudioConfig(_Section):
    sample_rate: int = Field(SAMPLE_RATE, description=f"Rate the models consume; Whisper needs {SAMPLE_RATE}.")
    ffmpeg: str = Field("ffmpeg", description="ffmpeg executable used to decode recordings.")


class AsrConfig(_Section):
    engine: AsrEngine = "faster-whisper"
    model: str = Field("tiny.en", description="Model name (bundled, cached or on a hub: tiny.en ... large-v3) or a folder.")
    language: str | None = Field("en", description="Spoken language; null = detect.")
    compute_type: str = Field("int8", description="CTranslate2 compute type on the CPU.")
    beam_size: int = Field(1, ge=1, description="1 = greedy decoding (fastest).")
    vad_filter: bool = Field(True, description="Skip non-speech with faster-whisper's bundled VAD.")
    cpu_threads: int = Field(0, ge=0, description="CPU threads per worker; 0 = the cores shared out among the workers.")
    workers: int = Field(
        0, ge=0, description="Pieces of a recording transcribed at the same time (faster-whisper), each by its own "
        "worker; 0 = 2 where the machine has 2 or more cores, else 1.",
    )
    download_root: str | None = Field(None, description="Where named models are cached.")
    local_files_only: bool = Field(
        True, description="Never reach a hub at run time; only local caches and bundled models."
    )


class EmbeddingDiarizerConfig(_Section):
    window: float = Field(0.75, gt=0, description="Seconds of speech per speaker embedding.")
    step: float = Field(0.2, gt=0, description="Hop between embedding windows, seconds.")
    min_segment: float = Field(0.3, ge=0, description="Drop speech islands shorter than this.")
    voice_profile: str | None = Field(
        None, description="A coach voice profile (.npy embedding, or a coaches .npz) to label the coach's cluster."
    )
    min_gap: float = Field(
        0.1, ge=0, description="VAD: non-speech gaps shorter than this count as speech, seconds."
    )
    bridge_gap: float = Field(
        0.3, ge=0, description="Output: join one speaker's turns separated by a pause up to this long, seconds."
    )
    vad_onset: float = Field(0.4, gt=0, lt=1, description="Silero speech probability that starts speech.")
    vad_offset: float = Field(
        0.25, gt=0, lt=1, description="Silero speech probability below which speech ends."
    )
    vad_low_onset: float | None = Field(
        0.1, gt=0, lt=1,
        description="Quieter or less certain speech starts above this Silero probability: it is not embedded "
        "but takes the nearest confident frame's speaker (room microphones, soft voices); null = off.",
    )
    vad_low_offset: float = Field(
        0.1, gt=0, lt=1, description="Silero probability below which that quieter speech ends."
    )
    switch_penalty: float = Field(
        12.0, ge=0,
        description="Viterbi cost of a speaker change (in frame-scores; higher = fewer, longer turns).",
    )
    pause_penalty_factor: float = Field(
        0.25, ge=0, le=1, description="Multiplier on switch_penalty for a change at a pause."
    )
    taper: bool = Field(
        True, description="Weight each window's vote towards its centre frames (sharper boundaries)."
    )
    refine_iterations: int = Field(
        3, ge=1, description="Rounds of centroid re-estimation + Viterbi relabelling."
    )
    score_space: Literal["auto", "centred", "raw"] = Field(
        "auto",
        description="Embeddings the frame scores and the refinement compare: centred on the recording's mean "
        "(as the clustering), raw GE2E vectors (right when one voice dominates), or auto: raw, then centred "
        "if the speakers found share the speech evenly (docs/benchmarks.md).",
    )
    affinity_prune: float = Field(
        0.3, gt=0, le=1, description="Fraction of nearest windows kept per row in spectral clustering."
    )
    one_voice_check: bool = Field(
        True,
        description="With num_speakers 2: keep a recording whose speech is one voice as one speaker instead of "
        "splitting that voice in two (both the eigengap and the likeness of the halves must say so; "
        "docs/benchmarks.md).",
    )
    max_cluster_windows: int = Field(
        2000, ge=10,
        description="Cluster at most this many windows (a uniform subsample); bounds memory on long audio.",
    )
    resegment: bool = Field(
        True, description="Refine boundaries with per-speaker MFCC Gaussian mixtures (10 ms resolution)."
    )
    threads: int = Field(
        1, ge=1, description="CPU threads for the speaker encoder (1 is fastest when other work shares the CPU)."
    )
    reseg_iterations: int = Field(3, ge=1, description="Rounds of GMM resegmentation.")
    reseg_components: int = Field(16, ge=1, description="Gaussians per speaker in resegmentation.")
    reseg_penalty: float = Field(
        40.0, ge=0, description="Viterbi cost of a speaker change during resegmentation (log-likelihood units)."
    )
    reseg_smooth: int = Field(
        15, ge=1, description="Frames (10 ms) of log-likelihood averaging before resegmentation Viterbi."
    )
    reseg_clip: float = Field(
        10.0, gt=0, description="Floor on per-frame log-likelihood differences, so outlier frames cannot dominate."
    )


class PyannoteDiarizerConfig(_Section):
    pipeline: str = Field(
        "pyannote/speaker-diarization-community-1",
        description="A pyannote.audio pipeline name (needs HF_TOKEN and a hub) or a local folder.",
    )


class DiarizationConfig(_Section):
    engine: DiarizationEngine = Field(
        "auto", description="auto = channels for one-person-per-channel stereo, otherwise embedding."
    )
    num_speakers: int | None = Field(2, ge=1, description="Known speaker count; null = estimate.")
    min_speakers: int = Field(1, ge=1)
    max_speakers: int = Field(4, ge=1)
    embedding: EmbeddingDiarizerConfig = EmbeddingDiarizerConfig()
    pyannote: PyannoteDiarizerConfig = PyannoteDiarizerConfig()

    @model_validator(mode="after")
    def _speaker_bounds(self) -> "DiarizationConfig":
        if self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        return self


class AlignmentConfig(_Section):
    max_pause: float = Field(1.0, gt=0, description="Split one speaker's words at pauses longer than this.")


class RolesConfig(_Section):
    coach_speaker: str | None = Field(None, description="Diariser label of the coach, if known.")
    coach_channel: int | None = Field(None, ge=0, description="Channel of the coach (stereo recordings).")
    voice: bool = Field(
        True, description="With a coach name (--coach, INBOX/<coach>/): know the coach by voice first, "
        "and learn their voice from sessions with confident roles.",
    )
    voice_profiles: str | None = Field(
        None, description="Folder of coach voice profiles (embeddings only, owner-only); null = OUT/.voices."
    )


class CodingConfig(_Section):
    engine: CodingEngine = "trained"
    model_path: str | list[str] | None = Field(
        None, description="Trained coder artifact, or a list of them whose probabilities are averaged; "
        "null = the bundled ones (two seeds of one recipe).",
    )


# Files a session folder can hold; one writer each in mifidelity.outputs.writers.
OutputFormat = Literal["json", "csv", "txt", "html", "rttm", "vtt", "srt"]


class OutputsConfig(_Section):
    formats: list[OutputFormat] = Field(
        list(get_args(OutputFormat)), min_length=1,
        description="Files written per session (mifidelity.outputs.writers); the overview reads json, the portal json, csv and html.",
    )


class CacheConfig(_Section):
    enabled: bool = True
    directory: str | None = Field(
        None, description="Where stage results are cached; null = OUT/.cache (owner-only)."
    )


class InboxConfig(_Section):
    """`mifidelity watch`: the drop folder service (see docs/deploy.md)."""

    stable_seconds: float = Field(
        10.0, ge=0,
        description="A file is taken only after its size and modification time have not changed for this long.",
    )
    interval: float = Field(30.0, gt=0, description="Seconds between two scans of the inbox.")
    max_concurrency: int = Field(1, ge=1, description="Recordings processed at the same time by one watcher.")
    max_attempts: int = Field(
        3, ge=1, description="Tries (over all watcher runs) before a recording that keeps failing goes to failed/."
    )
    retry_delays: list[float] = Field(
        [10.0, 60.0], description="Seconds to wait before each in-run retry of a transient error (Prefect task retries)."
    )
    heartbeat_seconds: float = Field(
        15.0, gt=0, description="Seconds between two renewals of a claim by the worker processing the recording.",
    )
    stale_after_minutes: float = Field(
        2.0, gt=0,
        description="A claim not renewed for this long (its machine or process died) is taken back by the next scan.",
    )
    @model_validator(mode="before")
    @classmethod
    def _lease_was_replaced(cls, values):
        if isinstance(values, dict) and "lease_seconds" in values:
            raise ValueError("inbox.lease_seconds is gone: claims are now renewed while a recording is processed; "
                             "set inbox.stale_after_minutes (default 2) instead")
        return values

    @model_validator(mode="after")
    def _stale_after_spans_heartbeats(self):
        # A live worker must be able to miss a couple of renewals (a busy CPU, a slow database) and keep its claim.
        if self.stale_after_minutes * 60 < 3 * self.heartbeat_seconds:
            raise ValueError("inbox.stale_after_minutes must be at least three inbox.heartbeat_seconds")
        return self

    database_url: str | None = Field(
        None, description="Ledger database (SQLAlchemy URL, e.g. postgresql+psycopg://...); null = sqlite in OUT/.ledger.sqlite.",
    )


class PipelineConfig(_Section):
    audio: AudioConfig = AudioConfig()
    asr: AsrConfig = AsrConfig()
    diarization: DiarizationConfig = DiarizationConfig()
    alignment: AlignmentConfig = AlignmentConfig()
    roles: RolesConfig = RolesConfig()
    coding: CodingConfig = CodingConfig()
    outputs: OutputsConfig = OutputsConfig()
    cache: CacheConfig = CacheConfig()
    inbox: InboxConfig = InboxConfig()

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the named sections (all if none), for cache keys."""
        data = self.model_dump(mode="json")
        if sections:
            data = {s: data[s] for s in sections}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read and validate a YAML config; ``None`` reads ``configs/default.yaml`` (or built-in defaults).

    Raises
    ------
    MifidelityError
        If the file is missing, is not YAML, or does not match the schema.
    """
    if path is None:
        if not DEFAULT_CONFIG_PATH.exists():
            return PipelineConfig()
        path = DEFAULT_CONFIG_PATH
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise MifidelityError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise MifidelityError(f"config file {path} is not valid YAML: {exc}") from None
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise MifidelityError(f"config file {path} is invalid: {problems}") from None
