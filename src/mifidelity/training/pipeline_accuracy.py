"""How accurate the pipeline's stages are against a reference: measures shared by the tests and the benchmarks.

Word error rate (jiwer), diarisation error rate (pyannote.metrics), the
share of speech time given to the right role, and how well the coder's codes
on a pipeline transcript agree with reference codes. (The coder's own
cross-validation on AnnoMI is :mod:`mifidelity.training.evaluate`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import jiwer
import numpy as np
import pandas as pd

from mifidelity.coding.base import CODE_COLUMNS
from mifidelity.types import SpeakerTurn

_WER_NORMALISE = jiwer.Compose([
    jiwer.ToLowerCase(),
    jiwer.SubstituteRegexes({r"(?<=\w)-(?=\w)": " "}),  # "mm-hmm" and "mm hmm" are the same words
    jiwer.RemovePunctuation(),
    jiwer.RemoveMultipleSpaces(),
    jiwer.Strip(),
])


def normalise_words(text: str) -> str:
    """Lower case, no punctuation, single spaces: what WER is computed on."""
    return _WER_NORMALISE(text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """jiwer's WER after :func:`normalise_words` on both sides."""
    return float(jiwer.wer(normalise_words(reference), normalise_words(hypothesis)))


def role_at(times: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """The role speaking at each time (from a table with start, end, role), '' where nobody is."""
    roles = np.full(len(times), "", dtype=object)
    for start, end, role in table[["start", "end", "role"]].itertuples(index=False):
        roles[(times >= start) & (times < end)] = role
    return roles


def role_time_accuracy(truth: pd.DataFrame, predicted: pd.DataFrame, resolution: float = 0.01) -> float:
    """Share of the truth's speech time for which the predicted utterances give the same role.

    Speech time that no predicted utterance covers counts as wrong.
    """
    times = np.arange(0.0, float(truth["end"].max()), resolution)
    expected = role_at(times, truth)
    speech = expected != ""
    if not speech.any():
        return float("nan")
    return float((role_at(times, predicted)[speech] == expected[speech]).mean())


def _reference_value(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    return value


def codes_by_overlap(pipeline: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Reference codes for a pipeline's utterances: each takes the codes of the truth turn it overlaps most.

    ``pipeline`` needs ``start``, ``end`` and ``role``; ``truth`` needs ``start``, ``end`` and the code
    columns. Returns ``start``, ``end``, ``role`` and the code columns (``None`` where the truth turn has
    no code; ``giving_information`` as bool).
    """
    coded = pipeline[["start", "end", "role"]].copy().reset_index(drop=True)
    for column in CODE_COLUMNS:
        coded[column] = pd.Series([None] * len(coded), dtype=object)
    for i, row in coded.iterrows():
        overlap = (np.minimum(truth["end"], row["end"]) - np.maximum(truth["start"], row["start"])).clip(lower=0)
        best = truth.loc[overlap.idxmax()]
        for column in CODE_COLUMNS:
            coded.at[i, column] = _reference_value(best[column])
    return coded


def code_truth_text(truth: pd.DataFrame, coder) -> pd.DataFrame:
    """A coder's codes of the truth transcript's own text and turns (the reference point for a pipeline transcript)."""
    from mifidelity.session import code_utterances

    return code_utterances(truth[["start", "end", "role", "text"]].assign(speaker=truth["role"]), coder)


def code_agreement(reference: pd.DataFrame, coded: pd.DataFrame) -> dict[str, dict]:
    """Per code: rows compared, accuracy and macro-F1 (over the labels present) of ``coded`` against ``reference``.

    Rows are compared where both tables have a value (a code applies to the role in both), so a
    role swapped by diarisation is left out here and measured by :func:`role_time_accuracy`.
    """
    from sklearn.metrics import f1_score

    out = {}
    for column in CODE_COLUMNS:
        pairs = [(_reference_value(r), _reference_value(c)) for r, c in zip(reference[column], coded[column])]
        pairs = [(str(r), str(c)) for r, c in pairs if r is not None and c is not None]
        if not pairs:
            out[column] = {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan")}
            continue
        truth, predicted = zip(*pairs)
        out[column] = {
            "n": len(pairs),
            "accuracy": float(np.mean([r == c for r, c in pairs])),
            "macro_f1": float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)),
        }
    return out


def turns_to_annotation(turns: Iterable[SpeakerTurn]):
    """Our speaker turns as a pyannote ``Annotation``."""
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for turn in turns:
        annotation[Segment(turn.start, turn.end)] = turn.speaker
    return annotation


def read_rttm(path: str | Path):
    """The single ``Annotation`` in an RTTM file."""
    from pyannote.database.util import load_rttm

    annotations = load_rttm(str(path))
    if len(annotations) != 1:
        raise ValueError(f"{path} holds {len(annotations)} recordings; expected one")
    return next(iter(annotations.values()))


def diarization_error_rate(reference, turns: Iterable[SpeakerTurn], collar: float = 0.0,
                           skip_overlap: bool = False) -> dict:
    """pyannote.metrics' DER with its components (seconds), over the reference's extent."""
    from pyannote.core import Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=skip_overlap)
    uem = Timeline([reference.get_timeline().extent()])
    detail = metric(reference, turns_to_annotation(turns), detailed=True, uem=uem)
    return dict(detail)
