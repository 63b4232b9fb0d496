"""Coach voice profiles: knowing the coach by voice across their sessions.

A profile is one coach's mean GE2E speaker embedding (256 floats: no audio,
nothing that can be played back or transcribed) and how it was built, in
``<profiles>/<coach>.npz``; ``<profiles>`` is ``roles.voice_profiles`` or, by
default, ``OUT/.voices`` beside the sessions. Folder and files are owner-only
and replaced atomically; a lock file serialises updates from parallel runs.

A profile begins with an enrolment clip (``mifidelity coaches enroll NAME CLIP``)
or with the first session of the coach (``--coach NAME`` or ``INBOX/<coach>/``)
whose roles were decided confidently (:data:`mifidelity.roles.UNCERTAIN_BELOW`),
and every later confident session updates it: a running mean in which a new
contribution weighs ``1 / (n + 1)`` with ``n`` capped at :data:`MAX_CONTRIBUTIONS`,
so an old voice or microphone fades out and one odd session cannot swamp the
profile. A recording counts once, however often it is processed. A session in
which the coach's voice was not recognised, or in which voice and language
disagree, never updates the profile: a wrong speaker must not be learnt.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mifidelity.config import RolesConfig
from mifidelity.errors import MifidelityError
from mifidelity.files import PRIVATE_FILE_MODE, private_dir, write_private_atomic
from mifidelity.types import SAMPLE_RATE, RoleAssignment, SpeakerTurn, VoiceMatch

logger = logging.getLogger(__name__)

PROFILE_FORMAT = "mifidelity-voice-profile-1"
MAX_CONTRIBUTIONS = 20
MAX_SOURCES = 1000           # content hashes remembered, so a recording counts once
DEFAULT_FOLDER = ".voices"   # inside OUT
# Letters and digits of any script, then also space . ' - _ ; at most 64; no separators, no leading dot.
_NAME = re.compile(r"[^\W_][\w .'-]{0,63}")


def profile_file_name(name: str) -> str:
    """The file name of ``name``'s profile; a name that is not safe as a file name is a user error."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith((" ", ".")) or ".." in name:
        raise MifidelityError(
            f"coach name {name!r} cannot name a voice profile: use letters, digits, spaces and . ' - _ "
            "(at most 64, starting with a letter or digit)"
        )
    return f"{name}.npz"


@dataclass
class VoiceProfile:
    """One coach's voice: the running mean of their embeddings and where it came from."""

    name: str
    embedding: np.ndarray            # running mean of unit vectors (not itself unit length)
    sessions: int = 0
    clips: int = 0
    updated: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def contributions(self) -> int:
        return self.sessions + self.clips

    @property
    def unit(self) -> np.ndarray:
        return self.embedding / max(float(np.linalg.norm(self.embedding)), 1e-12)

    def add(self, embedding: np.ndarray, source: str | None, kind: str) -> "VoiceProfile":
        """This profile with one more contribution (``kind``: ``session`` or ``clip``)."""
        n = min(self.contributions, MAX_CONTRIBUTIONS)
        mean = self.embedding + (np.asarray(embedding, dtype=np.float64) - self.embedding) / (n + 1)
        sources = (self.sources + ((source,) if source else ()))[-MAX_SOURCES:]
        return VoiceProfile(self.name, mean, self.sessions + (kind == "session"), self.clips + (kind == "clip"),
                            datetime.now().astimezone().isoformat(timespec="seconds"), sources)


class VoiceProfiles:
    """The coach voice profiles in one folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @classmethod
    def for_output(cls, out_dir: str | Path | None, config: RolesConfig) -> "VoiceProfiles":
        """``roles.voice_profiles`` if set, else ``OUT/.voices``."""
        if config.voice_profiles:
            return cls(Path(config.voice_profiles).expanduser())
        if out_dir is None:
            raise MifidelityError("say where the voice profiles are: --out OUT (they live in OUT/.voices) "
                                  "or roles.voice_profiles in the config")
        return cls(Path(out_dir) / DEFAULT_FOLDER)

    def path(self, name: str) -> Path:
        return self.folder / profile_file_name(name)

    def get(self, name: str) -> VoiceProfile | None:
        """``name``'s profile, or None when there is none."""
        path = self.path(name)
        if not path.is_file():
            return None
        return _read(path, name)

    def list(self) -> list[VoiceProfile]:
        """Every profile in the folder, by name (files that are not profiles are skipped)."""
        found = []
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.npz")):
            try:
                profile_file_name(path.stem)
                found.append(_read(path, path.stem))
            except MifidelityError as exc:
                logger.warning("skipping %s: %s", path.name, exc)
        return found

    def enroll(self, name: str, embedding: np.ndarray, replace: bool = False) -> VoiceProfile:
        """Add a clip's embedding to ``name``'s profile (a new profile if there is none, or with ``replace``)."""
        with self._locked():
            current = None if replace else self.get(name)
            profile = (current or _empty(name)).add(embedding, None, "clip")
            self._write(profile)
        return profile

    def learn(self, name: str, embedding: np.ndarray, source: str) -> VoiceProfile | None:
        """Add a session's embedding of the coach; None when this recording (``source``: its hash) already counted."""
        with self._locked():
            current = self.get(name) or _empty(name)
            if source in current.sources:
                return None
            profile = current.add(embedding, source, "session")
            self._write(profile)
        return profile

    def forget(self, name: str) -> bool:
        """Delete ``name``'s profile; False when there was none."""
        path = self.path(name)
        with self._locked():
            try:
                path.unlink()
            except FileNotFoundError:
                return False
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.folder)
        lock = self.folder / ".lock"
        with open(os.open(lock, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE), "rb+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, profile: VoiceProfile) -> None:
        from mifidelity.diarization.speaker_encoder import MODEL_NAME

        buffer = io.BytesIO()
        np.savez(buffer, format=np.array(PROFILE_FORMAT), model=np.array(MODEL_NAME), name=np.array(profile.name),
                 embedding=profile.embedding.astype(np.float64), sessions=np.array(profile.sessions),
                 clips=np.array(profile.clips), updated=np.array(profile.updated),
                 sources=np.array(profile.sources, dtype=str))
        write_private_atomic(self.path(profile.name), buffer.getvalue())


def _empty(name: str) -> VoiceProfile:
    from mifidelity.diarization.speaker_encoder import EMBEDDING_SIZE

    return VoiceProfile(name, np.zeros(EMBEDDING_SIZE))


def _read(path: Path, name: str) -> VoiceProfile:
    from mifidelity.diarization.speaker_encoder import EMBEDDING_SIZE, MODEL_NAME

    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != PROFILE_FORMAT or str(data["model"]) != MODEL_NAME:
                raise ValueError(f"not a {PROFILE_FORMAT} of {MODEL_NAME}")
            embedding = np.asarray(data["embedding"], dtype=np.float64).reshape(-1)
            if embedding.shape != (EMBEDDING_SIZE,) or not np.isfinite(embedding).all():
                raise ValueError("the embedding is not 256 finite floats")
            return VoiceProfile(name, embedding, int(data["sessions"]), int(data["clips"]), str(data["updated"]),
                                tuple(str(s) for s in data["sources"]))
    except (OSError, ValueError, KeyError) as exc:
        raise MifidelityError(f"cannot read the voice profile {path}: {exc}") from None


# -- sessions --------------------------------------------------------------------------------------------


@dataclass
class CoachVoiceCheck:
    """A session's speakers' voices compared with its coach's profile (before roles are decided)."""

    coach: str
    voices: dict[str, np.ndarray]          # speaker -> voice embedding (unit vector)
    match: VoiceMatch | None = None        # None: no profile yet, or nothing to compare
    notes: list[str] = field(default_factory=list)


def check_coach_voice(profiles: VoiceProfiles, coach: str, samples: np.ndarray, sample_rate: int,
                      turns: Sequence[SpeakerTurn]) -> CoachVoiceCheck:
    """Embed each diarised speaker and, if ``coach`` has a profile, how close each is to it.

    A coach name that cannot name a profile, or an unreadable profile, is a note,
    not a failure: the session is still processed, with roles by language.
    """
    from mifidelity.diarization.voice_profile import speaker_embeddings

    try:
        profile = profiles.get(coach)
    except MifidelityError as exc:
        return CoachVoiceCheck(coach, {}, None, [f"The coach was not looked for by voice: {exc}."])
    voices = speaker_embeddings(samples, turns, sample_rate)
    match = None
    if profile is not None and voices:
        match = VoiceMatch(coach, {s: round(float(v @ profile.unit), 4) for s, v in voices.items()})
    return CoachVoiceCheck(coach, voices, match)


def learn_coach_voice(profiles: VoiceProfiles, check: CoachVoiceCheck, roles: RoleAssignment,
                      source: str) -> str:
    """Update the coach's profile from a session whose roles are confident and consistent; what happened, in words."""
    from mifidelity.roles import UNCERTAIN_BELOW

    coach = roles.coach_speaker
    if coach is None or coach not in check.voices or len(roles.roles) < 2:
        return "not learnt: the coach's speech was too short to embed"
    if roles.confidence < UNCERTAIN_BELOW:
        return f"not learnt: roles uncertain ({roles.confidence:.2f})"
    voice, language = roles.evidence.get("voice"), roles.evidence.get("language")
    if check.match is not None:
        if voice is None or not voice.get("recognised"):
            return "not learnt: the coach's voice was not recognised in this session"
        if language is not None and language.get("coach_speaker") != voice.get("coach_speaker"):
            return "not learnt: voice and language disagree"
    try:
        learnt = profiles.learn(check.coach, check.voices[coach], source)
    except MifidelityError as exc:
        return f"not learnt: {exc}"
    if learnt is None:
        return "not learnt: this recording already counted"
    return f"learnt ({learnt.sessions} sessions, {learnt.clips} clips)"


def enroll_from_recording(profiles: VoiceProfiles, name: str, path: str | Path, sample_rate: int = SAMPLE_RATE,
                          ffmpeg: str = "ffmpeg", replace: bool = False) -> VoiceProfile:
    """Build or extend ``name``'s profile from a recording of the coach alone (any format ffmpeg reads)."""
    from mifidelity.audio import load_recording
    from mifidelity.diarization.voice_profile import compute_voice_profile

    profile_file_name(name)   # a bad name fails before the audio is decoded
    recording = load_recording(path, sample_rate, ffmpeg)
    return profiles.enroll(name, compute_voice_profile(recording.samples, recording.sample_rate), replace=replace)
