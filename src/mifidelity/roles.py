"""Stage 5: which speaker is the coach.

In an MI session the coach asks and reflects ("you", "it sounds like", "what
...?") while the client talks about themselves ("I", "my"). Each speaker gets
a coach-likeness score from those cues, weighted by how much they said; the
highest score is the coach. The confidence is a logistic function of the gap
between the two best scores, so a session with little speech, or with two
speakers who talk alike, is reported as uncertain rather than guessed
silently. A label or channel in the config overrides the guess.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import replace
from typing import Sequence

from mifidelity.config import RolesConfig
from mifidelity.errors import MifidelityError
from mifidelity.types import RoleAssignment, Utterance

# Below this confidence the session notes say which speaker is the coach is uncertain.
UNCERTAIN_BELOW = 0.7

_WORD = re.compile(r"[a-z']+")
_SECOND_PERSON = {"you", "your", "you're", "yourself", "you've", "you'd", "you'll", "yours"}
_FIRST_PERSON = {"i", "i'm", "my", "me", "myself", "i've", "i'd", "i'll", "mine"}
_QUESTION_OPENERS = {
    "what", "how", "why", "when", "where", "which", "who", "tell", "could", "would", "can",
    "do", "does", "did", "is", "are", "have", "has", "will", "was", "were",
}
_REFLECTION_CUES = re.compile(
    r"\b(it sounds like|sounds like|it seems|you feel|you're feeling|you're saying|so you|"
    r"you want|you've been|on one hand|on the other hand|part of you|you're not sure|"
    r"you're worried|what i'm hearing)\b"
)


def _coach_cues(text: str) -> tuple[float, int]:
    """Coach-likeness evidence of one utterance and its word count."""
    lowered = text.lower()
    tokens = _WORD.findall(lowered)
    if not tokens:
        return 0.0, 0
    second = sum(t in _SECOND_PERSON for t in tokens)
    first = sum(t in _FIRST_PERSON for t in tokens)
    question = lowered.rstrip().endswith("?") or tokens[0] in _QUESTION_OPENERS
    reflection = bool(_REFLECTION_CUES.search(lowered))
    score = (second - first) / math.sqrt(len(tokens)) + 1.0 * question + 1.0 * reflection
    return score, len(tokens)


def assign_roles(
    utterances: Sequence[Utterance],
    config: RolesConfig | None = None,
    speaker_channel: dict[str, int] | None = None,
) -> RoleAssignment:
    """Decide which speaker is the coach.

    Parameters
    ----------
    utterances:
        The session's utterances (speaker labels set).
    config:
        ``coach_speaker`` or ``coach_channel`` override the guess.
    speaker_channel:
        Speaker label -> audio channel, from the channel diariser.

    Returns
    -------
    RoleAssignment
        Every speaker mapped to coach or client; exactly one coach when anyone spoke.
    """
    config = config or RolesConfig()
    speakers = sorted({u.speaker for u in utterances})
    if not speakers:
        return RoleAssignment(None, {}, 0.0, "no speech")

    if config.coach_speaker is not None:
        if config.coach_speaker not in speakers:
            raise MifidelityError(
                f"roles.coach_speaker '{config.coach_speaker}' is not among the speakers found "
                f"({', '.join(speakers)})"
            )
        return _assignment(config.coach_speaker, speakers, 1.0, "configured speaker")
    if config.coach_channel is not None:
        by_channel = {ch: spk for spk, ch in (speaker_channel or {}).items()}
        if config.coach_channel not in by_channel:
            raise MifidelityError(
                f"roles.coach_channel {config.coach_channel} does not match a diarised channel; "
                "use diarization.engine: channels for one-person-per-channel recordings"
            )
        return _assignment(by_channel[config.coach_channel], speakers, 1.0, "configured channel")

    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for utterance in utterances:
        score, n_words = _coach_cues(utterance.text)
        totals[utterance.speaker] += score
        counts[utterance.speaker] += 1
    # Mean cue score per utterance, shrunk towards 0 for speakers who said little.
    scores = {s: totals[s] / (counts[s] + 2.0) for s in speakers}
    ranked = sorted(speakers, key=lambda s: scores[s], reverse=True)
    if len(ranked) == 1:
        return _assignment(ranked[0], speakers, 0.5, "single speaker")
    gap = scores[ranked[0]] - scores[ranked[1]]
    confidence = 1.0 / (1.0 + math.exp(-4.0 * gap))
    return _assignment(ranked[0], speakers, round(confidence, 3), "language cues")


def _assignment(coach: str, speakers: list[str], confidence: float, method: str) -> RoleAssignment:
    roles = {s: ("coach" if s == coach else "client") for s in speakers}
    return RoleAssignment(coach, roles, confidence, method)


def uncertainty_note(assignment: RoleAssignment) -> str | None:
    """The session note for a guess below :data:`UNCERTAIN_BELOW`, or None when the guess is confident."""
    if assignment.confidence >= UNCERTAIN_BELOW:
        return None
    return (f"Which speaker is the coach is uncertain (confidence {assignment.confidence:.2f}); "
            "set roles.coach_speaker in the config if it is wrong.")


def apply_roles(utterances: Sequence[Utterance], assignment: RoleAssignment) -> list[Utterance]:
    """Copies of the utterances with ``role`` filled in."""
    return [replace(u, role=assignment.roles.get(u.speaker, "client")) for u in utterances]
