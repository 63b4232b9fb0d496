"""Stage 4: words + speaker turns -> utterances.

Each word belongs to the speaker active at its midpoint (or, in a gap between
turns, to the nearest turn). An utterance is a run of one speaker's words,
split where the pause between two words exceeds ``max_pause``. Every word ends
up in exactly one utterance, in time order: none lost, none repeated.
"""

from __future__ import annotations

import bisect
from typing import Sequence

from mifidelity.types import SpeakerTurn, Utterance, Word

UNKNOWN_SPEAKER = "SPEAKER_00"


def speaker_at(time: float, turns: Sequence[SpeakerTurn], starts: Sequence[float] | None = None) -> str:
    """The speaker talking at ``time``, or of the nearest turn when nobody is.

    ``turns`` must be sorted by start and non-overlapping; ``starts`` (their start
    times) may be passed to avoid rebuilding it for every word.
    """
    if not turns:
        return UNKNOWN_SPEAKER
    starts = starts if starts is not None else [t.start for t in turns]
    i = bisect.bisect_right(starts, time) - 1
    if i >= 0 and turns[i].start <= time < turns[i].end:
        return turns[i].speaker
    # In a gap: choose whichever neighbouring turn is closer in time.
    before = turns[i] if i >= 0 else None
    after = turns[i + 1] if i + 1 < len(turns) else None
    if before is None:
        return after.speaker
    if after is None:
        return before.speaker
    return before.speaker if time - before.end <= after.start - time else after.speaker


def assign_speakers(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> list[str]:
    """One speaker label per word (by the word's midpoint)."""
    ordered = sorted(turns, key=lambda t: t.start)
    starts = [t.start for t in ordered]
    return [speaker_at(w.midpoint, ordered, starts) for w in words]


def words_to_utterances(
    words: Sequence[Word], turns: Sequence[SpeakerTurn], max_pause: float = 1.0
) -> list[Utterance]:
    """Group words into utterances.

    Parameters
    ----------
    words:
        Recognised words in time order.
    turns:
        Non-overlapping speaker turns (any order).
    max_pause:
        A silence longer than this (seconds) between two words of the same
        speaker starts a new utterance.

    Returns
    -------
    list of Utterance
        In time order; ``role`` is left unset (decided by :mod:`mifidelity.roles`).
    """
    words = sorted(words, key=lambda w: (w.start, w.end))
    speakers = assign_speakers(words, turns)
    utterances: list[Utterance] = []
    current: list[Word] = []
    current_speaker: str | None = None

    def flush() -> None:
        if current:
            utterances.append(
                Utterance(
                    start=round(current[0].start, 3),
                    end=round(current[-1].end, 3),
                    speaker=current_speaker,
                    text=" ".join(w.text for w in current),
                )
            )

    for word, speaker in zip(words, speakers):
        if current and (speaker != current_speaker or word.start - current[-1].end > max_pause):
            flush()
            current = []
        current_speaker = speaker
        current.append(word)
    flush()
    return utterances
