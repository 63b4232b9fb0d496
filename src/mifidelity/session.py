"""A coded session: the table of coded utterances plus everything said about it.

This is the one place where utterances become a DataFrame. Columns of
``CodedSession.utterances`` (and of utterances.csv):

``start``, ``end``      seconds (empty when the input had no times)
``speaker``             diariser label (or the input's role for `mifidelity code`)
``role``                coach | client
``text``                what was said
``backchannel``         True for a short "mm-hmm" / "yeah" inside the other person's turn (never a behaviour;
                        coded ``other`` or neutral, see :func:`mifidelity.coding.base.code_backchannels`)
``main_behaviour``      question | reflection | input | other      (coach rows)
``question``            none | open | closed                       (coach rows)
``reflection``          none | simple | complex                    (coach rows)
``giving_information``  True | False                               (coach rows)
``adherence``           none | affirm | seeking_collaboration | emphasizing_autonomy | persuade |
                        persuade_with_permission | confront      (coach rows, from coders that give it)
``client_talk``         change | sustain | neutral                 (client rows)
``<code>_confidence``   probability of the chosen code, when the coder gives one
``probability_*``       probability of each label a session metric counts (open / closed question,
                        simple / complex reflection, change / sustain talk), when the coder gives them
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

import pandas as pd

from mifidelity.coding.base import (
    ADHERENCE_COLUMN,
    BACKCHANNEL_COLUMN,
    CODE_COLUMNS,
    UtteranceCoder,
    applies_to_coach,
    code_backchannels,
)
from mifidelity.coding.change_ruler import ChangeRuler, find_change_ruler
from mifidelity.coding.feeling_words import FeelingWords, find_feeling_words
from mifidelity.fidelity import FidelityEstimate, estimate_fidelity
from mifidelity.metrics import SessionMetrics, compute_metrics, expected_metrics, headline_metrics
from mifidelity.types import RoleAssignment, SpeakerTurn, StageInfo, Utterance

BASE_COLUMNS = ("start", "end", "speaker", "role", "text")


@dataclass
class CodedSession:
    """Everything the outputs (session.json, utterances.csv, report) are made from."""

    session_id: str
    source: str
    duration_seconds: float | None
    utterances: pd.DataFrame
    metrics: SessionMetrics
    models: dict[str, StageInfo]
    timings: dict[str, float]
    roles: RoleAssignment | None = None
    notes: list[str] = field(default_factory=list)
    coach: str | None = None
    recorded_at: datetime | None = None  # when the session took place (None: the report decides, see report.session_facts)
    expected_metrics: dict | None = None  # metrics from the coder's summed probabilities (metrics.expected_metrics)
    fidelity: FidelityEstimate | None = None  # estimated MITI globals and P(good MI) (mifidelity.fidelity)
    speaker_turns: list[SpeakerTurn] | None = None  # the diariser's who-spoke-when (None for a transcript)
    # Moments MI trainers look for, found from the words (and the coach's reflection codes) when not given.
    change_ruler: ChangeRuler | None = None  # scaling questions, the client's number, the follow-up
    feeling_words: FeelingWords | None = None  # the client's feeling words and whether the coach reflected them

    def __post_init__(self) -> None:
        if self.change_ruler is None:
            self.change_ruler = find_change_ruler(self.utterances)
        if self.feeling_words is None:
            self.feeling_words = find_feeling_words(self.utterances)


def utterances_frame(utterances: Sequence[Utterance]) -> pd.DataFrame:
    """Utterances as a DataFrame with the base columns, in the given order."""
    return pd.DataFrame(
        {
            "start": pd.Series([u.start for u in utterances], dtype="float64"),
            "end": pd.Series([u.end for u in utterances], dtype="float64"),
            "speaker": pd.Series([u.speaker for u in utterances], dtype=object),
            "role": pd.Series([u.role for u in utterances], dtype=object),
            "text": pd.Series([u.text for u in utterances], dtype=object),
            BACKCHANNEL_COLUMN: pd.Series([u.backchannel for u in utterances], dtype=bool),
        }
    )


def code_utterances(frame: pd.DataFrame, coder: UtteranceCoder) -> pd.DataFrame:
    """Add the coder's columns to an utterance table, blanking codes that do not apply to a role."""
    codes = coder.code(list(frame["role"]), list(frame["text"].fillna("")))
    if len(codes) != len(frame):
        raise RuntimeError(f"coder returned {len(codes)} rows for {len(frame)} utterances")
    codes = codes.reset_index(drop=True)
    coded = pd.concat([frame.reset_index(drop=True), codes], axis=1)
    is_coach = coded["role"] == "coach"
    for column in coded.columns:
        coach_column = applies_to_coach(column)
        if coach_column is not None:
            coded[column] = coded[column].astype(object).where(is_coach if coach_column else ~is_coach, None)
    coded = code_backchannels(coded)
    ordered = list(BASE_COLUMNS) + list(CODE_COLUMNS) + ([ADHERENCE_COLUMN] if ADHERENCE_COLUMN in coded else [])
    extras = [c for c in coded.columns if c not in ordered and c != BACKCHANNEL_COLUMN]
    return coded[ordered + extras + ([BACKCHANNEL_COLUMN] if BACKCHANNEL_COLUMN in coded else [])]


def build_session(
    *,
    session_id: str,
    source: str,
    utterances: Sequence[Utterance],
    coder: UtteranceCoder,
    duration_seconds: float | None = None,
    models: dict[str, StageInfo] | None = None,
    timings: dict[str, float] | None = None,
    roles: RoleAssignment | None = None,
    notes: Sequence[str] = (),
    coach: str | None = None,
    recorded_at: datetime | None = None,
    speaker_turns: Sequence[SpeakerTurn] | None = None,
) -> CodedSession:
    """Code the utterances, compute the metrics and estimate the session's fidelity.

    Parameters
    ----------
    session_id:
        Names the output folder.
    source:
        The recording or transcript the session was made from.
    utterances:
        In time (or input) order, each with its role.
    coder:
        Codes each utterance (:func:`mifidelity.coding.get_coder`).
    duration_seconds:
        The recording's length; None for a transcript without audio.
    models:
        The engine and model of each stage before coding (the coder's and the fidelity model's are added).
    timings:
        Seconds per stage so far (the pipeline passes the stages that ended before the session is written).
    roles:
        Which speaker is the coach, when the pipeline decided it.
    notes:
        Caveats for the report (uncertain roles, no speech, ...).
    coach:
        The coach's name for the report header.
    recorded_at:
        When the session took place; None lets the report decide (see ``report.session_facts.session_date``).
    speaker_turns:
        The diariser's turns, for ``diarization.rttm`` (who spoke when, at the diariser's resolution:
        short exchanges that the recogniser's words join into one utterance stay apart).
    """
    coded = code_utterances(utterances_frame(utterances), coder)
    counted = compute_metrics(coded, duration_seconds)
    fidelity = estimate_fidelity(coded, counted)  # it takes its expected counts from coded (fidelity.feature_counts)
    expected = expected_metrics(coded)
    return CodedSession(
        session_id=session_id,
        source=source,
        duration_seconds=duration_seconds,
        utterances=coded,
        metrics=headline_metrics(counted, expected),
        models={**(models or {}), "coding": coder.info,
                **({"fidelity": StageInfo("logistic", fidelity.model, "AnnoMI + HLQC high/low")} if fidelity else {})},
        timings=timings if timings is not None else {},
        roles=roles,
        notes=list(notes) + ([fidelity.caveat] if fidelity is not None and fidelity.caveat else []),
        coach=coach,
        recorded_at=recorded_at,
        expected_metrics=expected,
        fidelity=fidelity,
        speaker_turns=list(speaker_turns) if speaker_turns is not None else None,
    )
