"""Reading transcripts that already exist, for `mifidelity code`.

A transcript is a CSV with a ``role`` column (coach | client; "therapist" and
"counsellor" are read as coach) and a ``text`` column, optionally ``start`` and
``end`` in seconds, a ``speaker`` column and a ``backchannel`` column (true/false,
as ``utterances.csv`` of a processed recording has it: a back-channel is never
a behaviour and never ends a volley). Every input row becomes exactly one
:class:`~mifidelity.types.Utterance`, in input order: the same hand-off the
recording pipeline gives the coder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mifidelity.errors import MifidelityError
from mifidelity.files import find_files
from mifidelity.types import Utterance

ROLE_SYNONYMS = {
    "coach": "coach", "therapist": "coach", "counsellor": "coach", "counselor": "coach",
    "interviewer": "coach", "client": "client", "patient": "client",
}
# Spellings of the optional ``backchannel`` column; an empty cell is false.
FLAG_VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def find_transcripts(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into a list of transcript files: a folder means every ``.csv`` inside it
    (recursively, sorted, symbolic links not followed); a file named explicitly is taken as it is."""
    return find_files(paths, (".csv",))


def read_transcript_csv(path: str | Path) -> list[Utterance]:
    """Read and validate a transcript CSV.

    Returns
    -------
    list[Utterance]
        One per input row, in input order, with its role; ``start`` and ``end`` are None
        where the input has no times; ``speaker`` is the input's speaker, else its role.

    Raises
    ------
    MifidelityError
        If the file is missing, not a CSV, lacks ``role``/``text``, or has an unknown role, bad
        times or a ``backchannel`` cell that is not true/false.
    """
    path = Path(path)
    if not path.is_file():
        raise MifidelityError("file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MifidelityError(f"not a readable CSV transcript ({type(exc).__name__})") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in ("role", "text") if c not in raw.columns]
    if missing:
        raise MifidelityError(f"the transcript needs the columns role and text; missing: {', '.join(missing)}")

    roles = raw["role"].str.strip().str.lower().map(ROLE_SYNONYMS)
    unknown = raw.loc[roles.isna(), "role"]
    if len(unknown):
        first = int(unknown.index[0]) + 2  # 1-based, after the header line
        raise MifidelityError(
            f"row {first} has role '{unknown.iloc[0]}'; roles must be coach or client"
        )
    speakers = raw["speaker"] if "speaker" in raw.columns else roles
    return [
        Utterance(start=_or_none(start), end=_or_none(end), speaker=speaker, text=text, role=role,
                  backchannel=backchannel)
        for start, end, speaker, role, text, backchannel in zip(
            _seconds(raw, "start"), _seconds(raw, "end"), speakers, roles, raw["text"], _flags(raw, "backchannel"))
    ]


def _flags(raw: pd.DataFrame, column: str) -> pd.Series:
    if column not in raw.columns:
        return pd.Series([False] * len(raw), dtype=bool)
    values = raw[column].str.strip().str.lower().map(FLAG_VALUES)
    if values.isna().any():
        row = int(values.isna().idxmax())
        raise MifidelityError(f"column {column} must be true or false; row {row + 2} is '{raw[column].iloc[row]}'")
    return values.astype(bool)


def _seconds(raw: pd.DataFrame, column: str) -> pd.Series:
    if column not in raw.columns:
        return pd.Series([float("nan")] * len(raw), dtype="float64")
    values = pd.to_numeric(raw[column].replace("", None), errors="coerce")
    bad = raw[column].ne("") & values.isna()
    if bad.any():
        raise MifidelityError(f"column {column} must hold seconds; row {int(bad.idxmax()) + 2} does not")
    return values.astype("float64")


def _or_none(seconds: float) -> float | None:
    return None if pd.isna(seconds) else float(seconds)
