"""Facts about a session that its table does not hold: when it took place, how long it was, where its recording is."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from mifidelity.audio import AUDIO_EXTENSIONS
from mifidelity.session import CodedSession


def session_date(session: CodedSession) -> tuple[datetime, str]:
    """When the session took place, and how that is known.

    ``recorded_at`` when the pipeline set it; else the original recording's
    modification time when the source is a reachable audio file (``process``);
    else now, the time of coding (``code``).
    """
    recorded = session.recorded_at
    if recorded is not None:
        return (recorded if recorded.tzinfo else recorded.astimezone()), "recorded"
    source = Path(str(session.source or ""))
    if source.suffix.lower() in AUDIO_EXTENSIONS:
        try:
            return datetime.fromtimestamp(source.stat().st_mtime).astimezone(), "recording file date"
        except OSError:
            pass
    return datetime.now().astimezone(), "coded"


def session_duration(session: CodedSession) -> float | None:
    """The recording's length, else the end of the last utterance when every utterance has times, else ``None``."""
    if session.duration_seconds:
        return float(session.duration_seconds)
    frame = session.utterances
    if len(frame) and {"start", "end"} <= set(frame.columns) and frame[["start", "end"]].notna().all(axis=None):
        return float(frame["end"].max())
    return None


def find_recording(source: str | None) -> Path | None:
    """The original recording when it is reachable: the source itself, or an audio file beside a transcript
    with the same name (``s1.csv`` -> ``s1.wav``; ``s1.truth.csv`` -> ``s1.truth.wav``, else ``s1.mp3``).

    Audio is what :data:`mifidelity.audio.AUDIO_EXTENSIONS` names. Should several files fit, the
    full name goes before the shorter one and suffixes go in alphabetical order, so the choice
    never depends on the order of a set.
    """
    if not source:
        return None
    path = Path(source)
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        return path if path.is_file() else None
    stems = dict.fromkeys((path.stem, path.stem.split(".")[0]))
    for stem in stems:
        for suffix in sorted(AUDIO_EXTENSIONS):
            candidate = path.with_name(stem + suffix)
            if candidate.is_file():
                return candidate
    return None


TRANSCRIPT_SUFFIX = ".csv"  # what `mifidelity code` reads (transcript_input.read_transcript_csv)


def coded_from_transcript(source: str | None) -> bool:
    """Whether the session was coded from a transcript (``mifidelity code``) rather than from a recording.

    Such a session never had a recording of its own; an audio file beside the transcript may still be
    played (:func:`find_recording`). The report says which (``SessionReport.from_transcript``).
    """
    return bool(source) and Path(source).suffix.lower() == TRANSCRIPT_SUFFIX


def player_note(source: str | None) -> str:
    """What the report says in place of the audio player when no recording can be played."""
    if coded_from_transcript(source):
        return ("This session was coded from a transcript, so there is no recording to play; "
                "click an utterance to highlight it.")
    return "The original recording is not reachable from here; click an utterance to highlight it."


def recording_url(recording: Path | None, report_dir: Path | None) -> str | None:
    """A URL for the report's audio player: relative to the report's folder when known, else ``file:``."""
    if recording is None:
        return None
    recording = recording.resolve()
    if report_dir is not None:
        try:
            relative = os.path.relpath(recording, Path(report_dir).resolve())
            return "/".join(quote(part) for part in Path(relative).parts)
        except ValueError:  # another drive on Windows
            pass
    return recording.as_uri()


def roles_text(session: CodedSession) -> str | None:
    """The report's roles line: who is the coach, what decided it and how sure it was (None without roles)."""
    roles = session.roles
    if roles is None or roles.coach_speaker is None:
        return None
    voice, language = roles.evidence.get("voice") or {}, roles.evidence.get("language") or {}
    how = {"voice": f"by voice ({voice.get('coach', 'the coach')}'s voice profile)",
           "voice and language cues": "by voice and by what was said, together",
           "language cues": "by what was said",
           "configured speaker": "as configured (roles.coach_speaker)",
           "configured channel": "as configured (roles.coach_channel)",
           "single speaker": "the only speaker found"}.get(roles.method, roles.method)
    text = f"{roles.coach_speaker} is the coach, {how}; confidence {roles.confidence:.2f}"
    if roles.method == "voice" and language:
        if language.get("coach_speaker") == roles.coach_speaker:
            text += "; what was said agrees"
        else:
            text += (f"; what was said pointed to {language['coach_speaker']} "
                     f"(confidence {language['confidence']:.2f})")
    elif voice and not voice.get("recognised"):
        text += f"; {voice.get('coach', 'the coach')}'s voice was not recognised"
    return text
