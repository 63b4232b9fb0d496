"""Who spoke when, in the formats the field uses: RTTM, WebVTT and SubRip.

* ``diarization.rttm``: NIST RTTM, one ``SPEAKER`` line per speaker turn: the diariser's
  turns when the session comes from a recording (:func:`role_named_turns`), else
  consecutive utterances of one speaker joined across short pauses. The speaker field
  is the role, ``coach`` or ``client``; a third voice keeps the diariser's label, so a
  scorer (pyannote.metrics, dscore) sees three speakers, not two.
* ``transcript.vtt``: WebVTT, one cue per utterance with a ``<v Coach>`` /
  ``<v Client>`` voice tag, so the transcript plays as captions beside a
  video-call recording. Cue text is escaped as WebVTT requires (``&``, ``<``, ``>``).
* ``transcript.srt``: SubRip, one numbered cue per utterance, the speaker
  written before the text.

All three need times: a transcript read without times (``mifidelity code`` on a
file with no start/end) has none, and :func:`has_times` says so.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import pandas as pd

from mifidelity.types import SpeakerTurn

# Consecutive utterances of one speaker separated by a pause up to this long are one RTTM turn
# (the embedding diariser's `bridge_gap`; the aligner splits one turn at pauses over 1 s).
TURN_BRIDGE_SECONDS = 1.0


def has_times(utterances: pd.DataFrame) -> bool:
    """Whether every utterance has a start and an end (captions and RTTM need them)."""
    if utterances.empty:
        return True
    times = pd.to_numeric(utterances["start"], errors="coerce"), pd.to_numeric(utterances["end"], errors="coerce")
    return bool(times[0].notna().all() and times[1].notna().all())


def speaker_names(utterances: pd.DataFrame) -> list[str]:
    """The name each row's speaker goes by: ``coach``, ``client`` (the client with most speech), else the label.

    A diariser label has one role; a transcript read with ``mifidelity code`` may use one
    ``speaker`` value for rows of both roles, and then each row goes by its own role.
    """
    roles_of = utterances.groupby("speaker", sort=False)["role"].agg(lambda r: set(r))
    speech = (utterances["end"].astype(float) - utterances["start"].astype(float)).groupby(utterances["speaker"]).sum()
    clients = [s for s in speech.sort_values(ascending=False).index if roles_of[s] == {"client"}]
    names = []
    for speaker, role in zip(utterances["speaker"], utterances["role"]):
        if role == "coach" or len(roles_of[speaker]) > 1 or (clients and speaker == clients[0]):
            names.append(str(role))
        else:
            names.append(str(speaker))
    return names


def speaker_turns(utterances: pd.DataFrame, bridge: float = TURN_BRIDGE_SECONDS) -> list[SpeakerTurn]:
    """Utterances joined into turns: one speaker, uninterrupted by another, pauses up to ``bridge`` s."""
    named = utterances.assign(speaker_name=speaker_names(utterances)).sort_values("start", kind="stable")
    spans = ((float(r.start), float(r.end), r.speaker_name) for r in named.itertuples(index=False))
    return _joined(spans, bridge)


def _joined(spans, bridge: float) -> list[SpeakerTurn]:
    """``(start, end, name)`` spans in time order as turns; one name's spans at most ``bridge`` s apart join."""
    turns: list[SpeakerTurn] = []
    for start, end, who in spans:
        if turns and turns[-1].speaker == who and start - turns[-1].end <= bridge:
            turns[-1] = SpeakerTurn(turns[-1].start, max(end, turns[-1].end), who)
        else:
            turns.append(SpeakerTurn(start, end, who))
    return turns


def _rttm_field(value: str) -> str:
    """RTTM fields are separated by whitespace: a name with spaces keeps them as underscores."""
    return re.sub(r"\s+", "_", value.strip()) or "session"


def role_named_turns(turns: Sequence[SpeakerTurn], roles: dict[str, str]) -> list[SpeakerTurn]:
    """The diariser's turns named as :func:`speaker_names` names utterances.

    ``coach`` for the coach's voice, ``client`` for the client voice with the most speech,
    the diariser's label for any other voice (``roles``: diariser label -> role). Touching
    turns that end up with one name are joined; pauses are kept, as the diariser found them.
    """
    speech: dict[str, float] = {}
    for turn in turns:
        speech[turn.speaker] = speech.get(turn.speaker, 0.0) + turn.end - turn.start
    clients = sorted((s for s in speech if roles.get(s) == "client"), key=lambda s: -speech[s])
    names = {s: "coach" if roles.get(s) == "coach" else "client" if clients and s == clients[0] else s for s in speech}
    return _joined(((t.start, t.end, names[t.speaker]) for t in sorted(turns, key=lambda t: t.start)), 1e-6)


def rttm_text(utterances: pd.DataFrame, file_id: str, turns: Sequence[SpeakerTurn] | None = None,
              roles: dict[str, str] | None = None) -> str:
    """RTTM lines for the session's speaker turns (``file_id`` is the session id).

    With the diariser's ``turns`` and its ``roles`` (label -> role) the lines are those turns
    (:func:`role_named_turns`); without, the utterances joined into turns (:func:`speaker_turns`).
    """
    uri = _rttm_field(file_id)
    chosen = role_named_turns(turns, roles or {}) if turns else speaker_turns(utterances)
    lines = [f"SPEAKER {uri} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {_rttm_field(t.speaker)} <NA> <NA>"
             for t in chosen if t.end > t.start]
    return "\n".join(lines) + ("\n" if lines else "")


def _clock(seconds: float, decimal: str) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _voice(name: str) -> str:
    return name.capitalize() if name in ("coach", "client") else name


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    """Cue text on one line: a blank line would end the cue early."""
    return " ".join(str(text).split())


def _cues(utterances: pd.DataFrame):
    named = utterances.assign(speaker_name=speaker_names(utterances)).sort_values("start", kind="stable")
    for row in named.itertuples(index=False):
        start, end = float(row.start), float(row.end)
        if not (math.isfinite(start) and math.isfinite(end)):
            continue
        yield start, max(end, start + 0.001), _voice(row.speaker_name), _one_line(row.text)


def vtt_text(utterances: pd.DataFrame) -> str:
    """A WebVTT file: one cue per utterance with a voice tag (``<v Coach>``)."""
    blocks = ["WEBVTT"]
    for number, (start, end, voice, text) in enumerate(_cues(utterances), start=1):
        blocks.append(f"{number}\n{_clock(start, '.')} --> {_clock(end, '.')}\n"
                      f"<v {_vtt_escape(voice)}>{_vtt_escape(text)}")
    return "\n\n".join(blocks) + "\n"


def srt_text(utterances: pd.DataFrame) -> str:
    """A SubRip file: numbered cues, the speaker before the text."""
    blocks = [f"{number}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{voice}: {text}"
              for number, (start, end, voice, text) in enumerate(_cues(utterances), start=1)]
    return "\n\n".join(blocks) + ("\n" if blocks else "")
