"""One writer per output format, behind one factory (:func:`get_writers`).

A writer turns a :class:`~mifidelity.session.CodedSession` into the text of one
file in the session folder. ``outputs.formats`` in the config (or ``--formats``)
chooses which are written; the default writes them all. Adding a format is one
entry in :data:`WRITERS`.

| format | file | content |
|---|---|---|
| json | session.json | metrics, estimates, verdict, models, timings, roles, notes |
| csv | utterances.csv | one row per utterance with its codes |
| txt | transcript.txt | readable, speaker-labelled, timestamped |
| html | report.html | the session report (self-contained) |
| rttm | diarization.rttm | who spoke when, speakers named by role (NIST RTTM) |
| vtt | transcript.vtt | captions with ``<v Coach>`` / ``<v Client>`` voice tags (WebVTT) |
| srt | transcript.srt | captions, the speaker before the text (SubRip) |

RTTM and the captions need times: for a transcript without them they are skipped
and the skip is logged (file names only, never transcript text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, get_args

from mifidelity.config import OutputFormat
from mifidelity.errors import MifidelityError
from mifidelity.outputs.captions import rttm_text, srt_text, vtt_text
from mifidelity.outputs.summary import session_summary, transcript_text
from mifidelity.session import CodedSession

ALL_FORMATS: tuple[str, ...] = get_args(OutputFormat)


@dataclass(frozen=True)
class SessionWriter:
    """How one format is named and made.

    ``render(session, folder)`` returns the file's text; ``folder`` is where the
    session folder will finally be (the report links the recording relative to it).
    """

    format: str
    filename: str
    render: Callable[[CodedSession, Path], str]
    needs_times: bool = False


def _json(session: CodedSession, _folder: Path) -> str:
    return json.dumps(session_summary(session), indent=2, default=str) + "\n"


def _html(session: CodedSession, folder: Path) -> str:
    from mifidelity.report import render_session_report  # the report imports plotting: load it only when asked

    return render_session_report(session, report_dir=folder)


WRITERS: dict[str, SessionWriter] = {w.format: w for w in (
    SessionWriter("json", "session.json", _json),
    SessionWriter("csv", "utterances.csv", lambda session, _folder: session.utterances.to_csv(index=False)),
    SessionWriter("txt", "transcript.txt", lambda session, _folder: transcript_text(session)),
    SessionWriter("html", "report.html", _html),
    SessionWriter("rttm", "diarization.rttm", lambda session, _folder: rttm_text(
        session.utterances, session.session_id, session.speaker_turns,
        dict(session.roles.roles) if session.roles is not None else None), needs_times=True),
    SessionWriter("vtt", "transcript.vtt", lambda session, _folder: vtt_text(session.utterances), needs_times=True),
    SessionWriter("srt", "transcript.srt", lambda session, _folder: srt_text(session.utterances), needs_times=True),
)}
assert tuple(WRITERS) == ALL_FORMATS


def parse_formats(text: str) -> list[str]:
    """``"json,vtt"`` (the CLI's ``--formats``) as a checked list; ``all`` means every format."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return list(ALL_FORMATS)
    return [w.format for w in get_writers(names)]


def get_writers(formats: Sequence[str] | None = None) -> list[SessionWriter]:
    """The writers for ``formats`` (None = all), in the table's order, each once."""
    if formats is None:
        return list(WRITERS.values())
    unknown = sorted(set(formats) - set(WRITERS))
    if unknown:
        raise MifidelityError(f"unknown output format {', '.join(unknown)}: choose from {', '.join(ALL_FORMATS)}")
    if not formats:
        raise MifidelityError(f"no output format chosen: choose from {', '.join(ALL_FORMATS)}")
    return [w for name, w in WRITERS.items() if name in formats]
