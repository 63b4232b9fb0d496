"""Stage 5: which speaker is the coach.

By voice first. When the session's coach is known (``--coach NAME``,
``INBOX/<coach>/``) and has a voice profile (:mod:`mifidelity.coach_voices`),
each diarised speaker's voice is compared with it (cosine similarity of mean
GE2E embeddings, a :class:`~mifidelity.types.VoiceMatch`). The closest speaker
is the coach when it is close enough to be the same person
(:data:`VOICE_MIN_SIMILARITY`); the confidence is a logistic function of the
margin over the second closest speaker (:data:`VOICE_MARGIN_SCALE`).

By what is said second. In an MI session the coach asks and reflects ("you",
"it sounds like", "what ...?") while the client talks about themselves ("I",
"my"). Each speaker gets a coach-likeness score from those cues, weighted by
how much they said; the highest score is the coach. The confidence is a
logistic function of the gap between the two best scores, so a session with
little speech, or with two speakers who talk alike, is reported as uncertain
rather than guessed silently. Back-channels ("mm-hmm") say nothing of a role
and are left out.

Together. A sure voice (confidence at least :data:`UNCERTAIN_BELOW`) decides;
an unsure one decides with the language cues when they agree, and otherwise
the more confident of the two decides. Agreeing evidence adds up (independent
evidence, even odds); a disagreement becomes a session note and lowers the
confidence when the voice was unsure. A label or channel in the config
overrides all of it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import replace
from typing import Sequence

from mifidelity.config import RolesConfig
from mifidelity.errors import MifidelityError
from mifidelity.types import RoleAssignment, Utterance, VoiceMatch

# Below this confidence the session notes say which speaker is the coach is uncertain
# (and a session this unsure never updates a coach's voice profile).
UNCERTAIN_BELOW = 0.7
# Resemblyzer cosine similarity of mean embeddings. On real speech (the AMI excerpts in
# /work/shared/data/real-speech, 7 speakers heard in two excerpts) the same person scored
# 0.75-0.93 and the closest other person 0.61-0.77; the same person beat everyone else by
# 0.10-0.21. Below the floor the coach's voice is not taken to be in the session at all.
VOICE_MIN_SIMILARITY = 0.75
# Confidence = logistic(margin / scale): a margin of 0.03 gives 0.70, 0.05 gives 0.81, 0.10 gives 0.95.
VOICE_MARGIN_SCALE = 0.035

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
    voice: VoiceMatch | None = None,
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
    voice:
        Each speaker's similarity to the coach's voice profile, when the coach has one.

    Returns
    -------
    RoleAssignment
        Every speaker mapped to coach or client; exactly one coach when anyone spoke.
        With ``voice``, ``evidence`` holds the voice's and the language's own verdicts.
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

    if len(speakers) == 1:
        return _assignment(speakers[0], speakers, 0.5, "single speaker")
    by_language, language_confidence = _by_language(utterances, speakers)
    if voice is None:
        return _assignment(by_language, speakers, language_confidence, "language cues")
    return _with_voice(voice, speakers, by_language, language_confidence)


def _by_language(utterances: Sequence[Utterance], speakers: list[str]) -> tuple[str, float]:
    """The coach by what each speaker said, and the confidence."""
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for utterance in utterances:
        if utterance.backchannel:
            continue
        score, n_words = _coach_cues(utterance.text)
        totals[utterance.speaker] += score
        counts[utterance.speaker] += 1
    # Mean cue score per utterance, shrunk towards 0 for speakers who said little.
    scores = {s: totals[s] / (counts[s] + 2.0) for s in speakers}
    ranked = sorted(speakers, key=lambda s: scores[s], reverse=True)
    gap = scores[ranked[0]] - scores[ranked[1]]
    return ranked[0], round(1.0 / (1.0 + math.exp(-4.0 * gap)), 3)


def _with_voice(voice: VoiceMatch, speakers: list[str], by_language: str, language_confidence: float) -> RoleAssignment:
    """Voice first, language second (see the module docstring)."""
    language = {"coach_speaker": by_language, "confidence": language_confidence}
    similarity = {s: voice.similarity[s] for s in speakers if s in voice.similarity}
    ranked = sorted(similarity, key=lambda s: similarity[s], reverse=True)
    heard = {"coach": voice.coach, "similarity": {s: round(similarity[s], 3) for s in ranked}}
    if len(ranked) < 2:
        evidence = {"voice": {**heard, "recognised": False}, "language": language}
        return _assignment(by_language, speakers, language_confidence, "language cues", evidence, [
            f"The coach {voice.coach} was not looked for by voice: too little speech of each speaker to compare "
            "voices; roles were decided by what was said."])
    best, second = ranked[0], ranked[1]
    if similarity[best] < VOICE_MIN_SIMILARITY:
        evidence = {"voice": {**heard, "recognised": False}, "language": language}
        return _assignment(by_language, speakers, language_confidence, "language cues", evidence, [
            f"The voice of coach {voice.coach} was not recognised in this session (closest speaker "
            f"{similarity[best]:.2f}, same voice is {VOICE_MIN_SIMILARITY:.2f} or more); roles were decided by what "
            "was said."])
    margin = similarity[best] - similarity[second]
    voice_confidence = round(1.0 / (1.0 + math.exp(-margin / VOICE_MARGIN_SCALE)), 3)
    evidence = {"voice": {**heard, "recognised": True, "coach_speaker": best, "confidence": voice_confidence},
                "language": language}
    if best == by_language:
        combined = _odds(voice_confidence, language_confidence)
        method = "voice" if voice_confidence >= UNCERTAIN_BELOW else "voice and language cues"
        return _assignment(best, speakers, combined, method, evidence)
    if voice_confidence >= UNCERTAIN_BELOW:
        coach, confidence, method = best, voice_confidence, "voice"
    elif language_confidence > voice_confidence:
        coach, confidence, method = by_language, _odds(language_confidence, 1 - voice_confidence), "language cues"
    else:
        coach, confidence, method = best, _odds(voice_confidence, 1 - language_confidence), "voice"
    decided = "the voice decided" if method == "voice" else "what was said decided, the voice being unsure"
    note = (f"By voice {best} is coach {voice.coach} (confidence {voice_confidence:.2f}); by what was said "
            f"{by_language} sounds more like the coach (confidence {language_confidence:.2f}); {decided}.")
    return _assignment(coach, speakers, confidence, method, evidence, [note])


def _odds(a: float, b: float) -> float:
    """Two independent pieces of evidence for the same answer, from even odds."""
    agree, disagree = a * b, (1 - a) * (1 - b)
    return round(agree / (agree + disagree), 3) if agree + disagree > 0 else 0.5


def _assignment(coach: str, speakers: list[str], confidence: float, method: str,
                evidence: dict | None = None, notes: list[str] | None = None) -> RoleAssignment:
    roles = {s: ("coach" if s == coach else "client") for s in speakers}
    return RoleAssignment(coach, roles, confidence, method, evidence or {}, notes or [])


def uncertainty_note(assignment: RoleAssignment) -> str | None:
    """The session note for a guess below :data:`UNCERTAIN_BELOW`, or None when the guess is confident."""
    if assignment.confidence >= UNCERTAIN_BELOW:
        return None
    return (f"Which speaker is the coach is uncertain (confidence {assignment.confidence:.2f}); "
            "set roles.coach_speaker in the config if it is wrong.")


def apply_roles(utterances: Sequence[Utterance], assignment: RoleAssignment) -> list[Utterance]:
    """Copies of the utterances with ``role`` filled in."""
    return [replace(u, role=assignment.roles.get(u.speaker, "client")) for u in utterances]
