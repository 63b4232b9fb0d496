"""What the words say: directive, warning, lecture, confront, minimising, advice, summary and scaling cues.

The trained coder learnt its codes from AnnoMI's written, punctuated demonstrations, where a
coach who tells a client what to do is rare and a question usually ends in "?". On plain
speech (lower case, no punctuation, long turns) it codes "you need to stop drinking before it
kills you" a reflection, "it will pass it's not a big deal" a question, and a lecture as
adherence ``none``; the other way round, a summary ("let me sum up what I heard ...") becomes
Persuade and an importance ruler a Seek.

This module reads a few kinds of language from the words alone (:data:`CUES`; never from "?"
or politeness) and moves probability mass where a cue is found: a directive, warning, lecture
or advice moves most of P(reflection) and P(question) to input and most of P(none), P(affirm),
P(seek) and P(autonomy) to Persuade; a confrontation or minimising remark moves them to other
and Confront; a summary moves the other behaviours to (complex) reflection and Persuade /
Confront to none; a ruler moves the other behaviours to question and Seek / Persuade /
Confront to none; a permission phrase turns Persuade into Persuade with Permission. The shares
are in :data:`MOVES`, the one table of constants. Each row keeps its sum, so the probability
columns, the hard codes taken from them and the session sums stay consistent, and the joint
decision (:mod:`mifidelity.coding.model`) runs on the moved probabilities as before.

A cue that reads like the coach's own stance ("you need to ...", "you'll lose ...") is
ignored when a reflective frame comes before it ("you feel you need to ...", "you're worried
you'll lose ...", "it sounds like ... you need to ..."), when it sits in a relative clause ("the
motivation you need to ...") or in a sentence that opens with a question word ("what's the
first thing you might try"), and when its sentence ends in "?" in punctuated text
(:data:`FRAME_WORDS`, :data:`REFLECTIVE_FRAME`, :data:`QUESTION_OPENERS`). When in doubt, no
cue: MITI's rule too (no code rather than Confront).

Used by :class:`mifidelity.coding.trained.TrainedCoder` between the network and the joint
decision (:func:`mifidelity.coding.model.joint_behaviour`, :func:`~mifidelity.coding.model.joint_adherence`);
``benchmarks/plain_speech_codes.py`` measures it (docs/model-card.md, "Plain speech").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mifidelity.coding.base import (ADHERENCE_COLUMN, ADHERENCE_LABELS, LABELS, MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN,
                                    REFLECTION_COLUMN)
from mifidelity.coding.features import strip_asr

PLAIN_SPEECH_VERSION = "2"  # recorded in the coder's version (session.json "models")

# Words that, within FRAME_WINDOW words before a stance cue, make it the client's view reflected
# or a question about it ("you feel like you have to", "you're afraid you'll lose", "do you think
# you should").
FRAME_WORDS = frozenset("""
feel feels feeling felt think thinks thinking thought said say says saying know knows knowing knew sounds sound
seems seem believe wonder wondering wondered realise realize realised realized realises realizes decided sure
reckon reckons guess suppose understand understands worried worry worrying afraid scared fear fears frightened
concerned hope hoping wish wishing if whether because cause reason reasons do does did what how why when where
which who would wanted want wants told tell
""".split())
FRAME_WINDOW = 4
# Anywhere earlier in the sentence, these make what follows the client's view given back.
REFLECTIVE_FRAME = re.compile(
    r"\b(?:sounds? like|it seems|seems like|you feel|you felt|you said|you mentioned|you think|part of you"
    r"|what i hear|what i(?:'m| m| am) hearing|i hear you"
    r"|you(?:'re| re| are) (?:feeling|saying|telling me|thinking|worried|afraid|scared|concerned|wondering))\b")
# A sentence that opens (after fillers) with one of these is a question: a stance cue later in it is
# asked about, not taken ("what's the first thing you might try", "can i suggest you come back").
QUESTION_OPENERS = frozenset("""
what what's whats how how's why when where who which whose do does did is are was were can could would will
have has should shall may
""".split())
FILLERS = frozenset("so okay ok well right now um uh er erm and but yeah yes mm hmm alright then also".split())
# "the X you need to", "everything you need to": a relative clause, not an instruction.
DETERMINERS = frozenset("the a an any every some this that these those your my".split())
RELATIVE_HEADS = frozenset("everything anything something nothing all whatever things stuff".split())


@dataclass(frozen=True)
class Cue:
    """A kind of language, found by ``pattern`` in lower-cased text without punctuation."""

    pattern: re.Pattern
    stance: bool  # the coach's own stance: ignored after a reflective or question frame, or in a "?" sentence


def _cue(*alternatives: str, stance: bool = True) -> Cue:
    """A cue found by any of ``alternatives`` (regular expressions)."""
    return Cue(re.compile("|".join(f"(?:{a})" for a in alternatives)), stance)


_YOU_ARE = r"you(?:'re| re| are)"
_YOU_WILL = r"you(?:'ll| ll| will| are going to|'re going to| re going to)"
_OPENING = r"^(?:(?:so|okay|ok|well|right|now|look|listen|honestly|seriously|really|please|um|uh|er|and|but|then|just)\s+)*"
_OPENING_NOT_SO = _OPENING.replace("so|", "")  # "so you have to ..." gives back the client's situation
_I_THINK = r"(?:(?:i think|i really think|i'd say|i reckon) )?"  # the coach's view, not a frame around the client's

CUES: dict[str, Cue] = {
    # telling the client what to do. "you need to / must / should ..." anywhere; "you have to / you've
    # got to" only to open a sentence ("so you have to provide for your kids" gives back the client's
    # situation); "you must be / like ..." guesses, it does not direct.
    "directive": _cue(
        r"\b" + _I_THINK + r"you(?: really| just| seriously| honestly| definitely| absolutely)?"
        r"(?: (?:need to|must(?! be| have been| like| feel| think)|should|ought to|had better|d better|better)|'d better)"
        r" (?!be proud|feel|decide|choose|figure|work out|ask yourself)\w+",
        _OPENING_NOT_SO + r"you(?: really| just)?(?: (?:have to|have got to|ve got to|got to|gotta)|'ve got to) "
        r"(?!be proud|feel|decide|choose|figure|work out|ask yourself)\w+",
        r"\bi (?:want|need) you to\b",
        r"\bwhat you (?:need|have|ought|should|must) (?:to )?do is\b",
        _OPENING + r"(?:stop|quit|cut (?:down|back|out)|throw|get rid of|give up|make sure|avoid|stay away|put (?:down|away)"
        r"|swap|switch to|don't (?!you\b|worry|know|get me|mind|think)|do not (?!worry|know))\b"),
    # a consequence held over the client
    "warning": _cue(
        r"\bif you (?:keep|carry on|continue|go on|don't|do not|won't|never)\b.*"
        r" (?:" + _YOU_WILL + r"|you could|you might|you may)\b",
        r"\b(?:keep|carry on|go on)(?: \w+){0,4} and (?:" + _YOU_WILL + r"|you could|you might)\b",
        r"\b(?:is|are|it's|that's|its|thats) going to (?:kill|ruin|destroy|wreck|cost) you",
        r"\bgoing to (?:kill|ruin|destroy|wreck) your\b",
        r"\bbefore it (?:kills|ruins|destroys) you",
        r"\b(?:" + _YOU_WILL + r"|you could) (?:lose|end up|die|kill|ruin|have a (?:heart attack|stroke)"
        r"|get (?:sick|ill|cancer|diabetes))\b"),
    # arguing the point
    "lecture": _cue(
        r"\byou (?:have|need|ve got|'ve got|got) to (?:understand|realise|realize|accept|face|wake up"
        r"|take (?:this|it|that) seriously)",
        r"\blet me tell you\b",
        r"\bthe (?:thing|fact|truth|reality|problem) is\b",
        r"\bthat's the (?:reality|truth|fact)\b",
        r"\bthe only (?:way|thing|answer)\b",
        r"\byou can't (?:keep|go on|carry on|continue|just)\b",
        r"\byou ought to\b"),
    # advice the coach puts forward
    "advice": _cue(
        r"\b" + _I_THINK + r"you should (?!be proud)\w+",
        r"\byou (?:could|might) (?:try|want to try|think about|consider|want to consider)\b",
        r"\bwhat i(?:'d| would) do is\b",
        r"\bif i were you\b",
        r"\bmy advice\b",
        r"\bi(?:'d| would)? (?:suggest|recommend|advise)\b",
        r"\bthe best thing (?:to do |you can do |for you )?(?:would be|is)\b",
        r"\bwhy don't you just\b",
        r"^(?:(?:so|okay|ok|well|right|now|um|uh|and|then|maybe)\s+)*try (?!to (?:imagine|remember|think|picture))\w+"),
    # options and what works for others
    "suggestion": _cue(
        r"\bone (?:thing|option|idea) (?:you could|you might|to try|that might help|that could help"
        r"|that helps (?:a lot of |many |some )?people)",
        r"\b(?:one|another) option is\b",
        r"\b(?:some|many|lots of|a lot of|other) people (?:find|found|have found) (?:it )?(?:helps|helpful|useful|that)\b"),
    # the coach offers it for the client to take or leave
    "permission": _cue(
        r"\bif you(?:'d| would)? (?:like|want)\b",
        r"\bif (?:it's|that's|its|thats) (?:okay|ok|alright|all right)\b",
        r"\bwould it be (?:okay|ok|alright|all right)\b",
        r"\bsince you asked\b",
        r"\byou asked (?:me |about )",
        r"\bsee what you think\b",
        r"\b(?:up to you|your (?:call|choice|decision))\b",
        r"\byou know (?:best|yourself best)\b",
        r"\bonly if you\b",
        r"\btake it or leave it\b",
        r"\byou(?:'ve| ve)? (?:said|mentioned|asked) (?:that )?you (?:wanted|want|would like) (?:some )?"
        r"(?:ideas|suggestions|advice|tips)",
        stance=False),
    # disagreeing, labelling, blaming, doubting
    "confront": _cue(
        r"\b" + _YOU_ARE + r" (?:just )?(?:making excuses|in denial|lying|kidding yourself|fooling yourself|not even trying"
        r"|being (?:selfish|silly|ridiculous|stupid|lazy|childish|dramatic))",
        r"\bcome on\b(?! (?:board|in|over|up|back|down|along|through|to|by|out|home))",
        r"\bthat'?s not true\b",
        r"\bi don't believe (?:you|that|it)\b",
        r"\bshould be ashamed\b",
        r"\b(?:that's|it's|you're|that is|this is) (?:just )?(?:selfish|irresponsible|ridiculous|pathetic|lazy|stupid)\b",
        r"\byou never (?:actually |even |really )?(?:do|try|listen|follow|stick)\b",
        r"\bno excuses\b"),
    # making light of what the client brings
    "minimising": _cue(
        r"\b(?:not|isn't|it's not|that's not|its not) (?:a |such a |that )?big (?:a )?deal\b",
        r"\bno big deal\b",
        r"\bit(?:'s| s| is) (?:nothing|not that bad|not so bad)\b",
        r"\bit(?:'s| s| is) (?:only|just) (?:a couple|a few|a little|a bit|one|two)\b",
        r"\bit(?:'ll| ll| will) (?:pass|sort itself out|be fine)\b",
        r"\boverreacting\b",
        r"\bmak(?:e|ing) (?:such )?a (?:fuss|big thing)\b",
        r"\bevery(?:body|one) (?:feels|does|goes through) (?:that|this|it|like that)\b"),
    # gathering what the client said
    "summary": _cue(
        r"\b(?:sum|summarise|summarize|recap) (?:up|this|that|it|things|what)",
        r"\bsumming up\b",
        r"\bin summary\b",
        r"\bpull (?:this |that |it |a few things |some things |things )?(?:all )?together\b",
        r"\bputting (?:it|this|that) (?:all )?together\b",
        r"\bsee if i(?:'ve| ve| have)? (?:got|understood|heard)\b",
        r"\bmake sure i(?:'ve| ve| have)? (?:got|understood|heard|have)\b",
        r"\bso far you(?:'ve| ve| have) (?:told|said)\b",
        r"\bwhat i(?:'m| am) hearing is\b",
        stance=False),
    # importance, confidence and readiness rulers
    "scaling": _cue(
        r"\bon a scale\b",
        r"\b(?:zero|0|one|1) (?:to|and) (?:ten|10)\b",
        r"\bhow (?:important|confident|ready|sure|committed|motivated|willing) (?:is it|are you|would you|do you)\b",
        r"\bwhy (?:a|an) \w+ and not\b",
        r"\bfrom (?:a|an) (?:zero|one|two|three|four|five|six|seven|eight|nine|ten|\d+) to (?:a|an)\b",
        stance=False),
}


def _to(target: str, sources: Sequence[str], share: float) -> tuple[tuple[str, str, float], ...]:
    return tuple((source, target, share) for source in sources)


# The one table of constants: per cue, task -> (from label, to label, share of the from-label's
# probability that moves). Cues apply in this order; every row keeps its sum.
_PUT_FORWARD = (("reflection", "input", 0.9), ("question", "input", 0.8))   # an input, not a reflection or question
_AS_REMARK = (("reflection", "other", 0.9), ("question", "other", 0.8))      # a remark, not a reflection or question
_NOT_ADHERENT = ("none", "affirm", "seeking_collaboration", "emphasizing_autonomy")
_PERSUADES = {MAIN_BEHAVIOUR_COLUMN: _PUT_FORWARD, ADHERENCE_COLUMN: _to("persuade", _NOT_ADHERENT, 0.8)}
# The client's turn before a coach volley: asking for advice, or (in a short turn) agreeing to hear it.
# MITI 4.2.1 codes advice the client asked for or agreed to as Persuade with Permission, which the
# adherence coder cannot see: it reads each utterance alone.
CLIENT_ASKS_FOR_ADVICE = re.compile(
    r"\bwhat (?:should|shall|can|could|do) i do\b|\bwhat would you do\b"
    r"|\bwhat (?:do|would) you (?:suggest|recommend|advise|think i should)\b"
    r"|\b(?:any|got any|have any) (?:tips|ideas|suggestions|advice|pointers)\b"
    r"|\b(?:can|could|would) you (?:give|tell|offer) me (?:some |any |a few )?(?:advice|ideas|tips|suggestions)\b"
    r"|\bi(?:'m| m| am) open to (?:suggestions|ideas|advice)\b"
    r"|\bi(?:'d| d| would) (?:like|love) (?:to hear|to know|some) (?:what|your|some|ideas|advice|tips|suggestions)\b"
    r"|\btell me what (?:you|i)(?:'d| d)? (?:think|would|should|do)\b|\bwhat (?:have|do|did) other people (?:do|done|try|tried)\b")
_YES = r"yes|yeah|yep|sure|okay|ok|alright|all right|go on"
CLIENT_AGREES = re.compile(
    r"^(?:(?:" + _YES + r"|oh|well)\s+)*(?:go ahead|tell me|please"
    r"|i(?:'d| d| would) like that|(?:that would|that'd|thatd) be (?:great|good|helpful|useful))\b")
AGREEMENT_MAX_WORDS = 8
# The coach asking to share or suggest something; a plain "yes" or "sure" to it is permission given.
COACH_OFFERS = re.compile(
    r"\b(?:can|could|may) i (?:tell|share|give|suggest|offer|make)\b|\bmind if i\b"
    r"|\bwould it be (?:all right|alright|okay|ok|fine) (?:if|for me to)\b"
    r"|\b(?:would|do) you (?:like|want) (?:to hear|me to (?:tell|share|suggest|give)|some (?:ideas|information|suggestions|tips))\b")
CLIENT_SAYS_YES = re.compile(r"^(?:" + _YES + r"|of course|fine|please|go ahead)\b")
CONTEXT_CUES = ("asked_for_advice",)  # found by detect_all from the turns before, not by detect


def asks_for_advice(client_text: str, coach_before: str = "") -> bool:
    """Whether a client turn asks for the coach's advice or, in a short turn, agrees to hear it (a plain
    "yes" counts when ``coach_before``, the coach's last utterance before it, offered to share or suggest)."""
    plain = strip_asr(client_text)
    if CLIENT_ASKS_FOR_ADVICE.search(plain):
        return True
    if len(plain.split()) > AGREEMENT_MAX_WORDS:
        return False
    return bool(CLIENT_AGREES.search(plain)) or (bool(CLIENT_SAYS_YES.search(plain))
                                                 and bool(COACH_OFFERS.search(strip_asr(coach_before))))


_CONFRONTS = {MAIN_BEHAVIOUR_COLUMN: _AS_REMARK, ADHERENCE_COLUMN: _to("confront", _NOT_ADHERENT, 0.8)}
_PERMITTED = {ADHERENCE_COLUMN: (("persuade", "persuade_with_permission", 0.8),)}
MOVES: dict[str, dict[str, tuple[tuple[str, str, float], ...]]] = {
    "directive": _PERSUADES,
    "warning": _PERSUADES,
    "lecture": _PERSUADES,
    "advice": _PERSUADES,
    # put forward, but often offered to take or leave: the adherence code is left to the network
    "suggestion": {MAIN_BEHAVIOUR_COLUMN: _PUT_FORWARD},
    "confront": _CONFRONTS,
    "minimising": _CONFRONTS,
    # after the stance cues: advice offered to take or leave, or asked for, is Persuade with Permission
    "permission": _PERMITTED,
    "asked_for_advice": _PERMITTED,
    "summary": {MAIN_BEHAVIOUR_COLUMN: _to("reflection", ("question", "input", "other"), 0.8),
                REFLECTION_COLUMN: (("simple", "complex", 0.5),),
                ADHERENCE_COLUMN: _to("none", ("persuade", "persuade_with_permission", "confront"), 0.9)},
    # AnnoMI's experts code number rulers closed, "how important is it ..." open: the network's split stays
    "scaling": {MAIN_BEHAVIOUR_COLUMN: _to("question", ("reflection", "input", "other"), 0.9),
                ADHERENCE_COLUMN: _to("none", ("seeking_collaboration", "persuade", "persuade_with_permission", "confront"),
                                 0.9)},
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _framed(before: str, cue_text: str) -> bool:
    """Whether a reflective or question frame comes within FRAME_WINDOW words before a cue, or a cue that
    starts with "you" sits in a relative clause ("the motivation you need to ...", "everything you need to ...")."""
    words = before.split()
    if any(word in FRAME_WORDS for word in words[-FRAME_WINDOW:]):
        return True
    return cue_text.startswith("you") and ((len(words) >= 1 and words[-1] in RELATIVE_HEADS)
                                          or (len(words) >= 2 and words[-2] in DETERMINERS))


def _question_from(plain: str) -> int | None:
    """Where a sentence that opens (after fillers) with a question word starts; ``None`` for other sentences."""
    position = 0
    for word in plain.split():
        if word not in FILLERS:
            return position if word in QUESTION_OPENERS else None
        position += len(word) + 1
    return None


def _not_the_coach_s(plain: str, start: int) -> bool:
    """Whether a stance cue found at ``start`` reflects the client's view, sits in a relative clause or is asked about."""
    before = plain[:start]
    question = _question_from(plain)
    return (_framed(before, plain[start:]) or bool(REFLECTIVE_FRAME.search(before))
            or (question is not None and start > question))


def detect(text: str) -> frozenset[str]:
    """The cues found in one utterance (names from :data:`CUES`)."""
    found = set()
    for sentence in _SENTENCE_END.split(str(text or "").strip()):
        asks = sentence.rstrip().endswith("?")
        plain = strip_asr(sentence)
        if not plain:
            continue
        for name, cue in CUES.items():
            if name in found:
                continue
            for match in cue.pattern.finditer(plain):
                if cue.stance and (asks or _not_the_coach_s(plain, match.start())):
                    continue
                found.add(name)
                break
    return frozenset(found)


def detect_all(roles: Sequence[str], texts: Sequence[str]) -> list[frozenset[str]]:
    """Cues per utterance; client utterances get none (the cues describe what a coach does). Every
    utterance of a coach volley that follows a client turn asking for advice, or saying yes to the coach's
    offer to share or suggest something (:func:`asks_for_advice`), also gets ``asked_for_advice``."""
    out, asked, coach_before = [], False, ""
    for role, text in zip(roles, texts):
        if role == "coach":
            cues = detect(text)
            out.append(cues | {"asked_for_advice"} if asked else cues)
            coach_before = text
        else:
            asked = asks_for_advice(text, coach_before)
            out.append(frozenset())
    return out


def move(probabilities: np.ndarray, cues: Sequence[frozenset[str]], task: str, labels: Sequence) -> np.ndarray:
    """``probabilities`` (n, k) of ``task`` with each row's cues' :data:`MOVES` applied (rows keep their sum)."""
    out = np.array(probabilities, dtype=float, copy=True)
    labels = list(labels)
    for row, names in enumerate(cues):
        for name in MOVES:
            if name not in names:
                continue
            for source, target, share in MOVES[name].get(task, ()):
                moved = out[row, labels.index(source)] * share
                out[row, labels.index(source)] -= moved
                out[row, labels.index(target)] += moved
    return out


def adjust_behaviour(probs: dict[str, np.ndarray], cues: Sequence[frozenset[str]],
                     labels: dict[str, tuple] | None = None) -> dict[str, np.ndarray]:
    """Behaviour probabilities (task -> (n, k), before :func:`~mifidelity.coding.model.joint_behaviour`) after the cues."""
    labels = labels or LABELS
    out = dict(probs)
    for task in (MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN):
        if task in probs:
            out[task] = move(probs[task], cues, task, labels[task])
    return out


def adjust_adherence(adherence: np.ndarray, cues: Sequence[frozenset[str]]) -> np.ndarray:
    """Adherence probabilities (n, 7) in :data:`~mifidelity.coding.base.ADHERENCE_LABELS` order after the cues."""
    return move(adherence, cues, ADHERENCE_COLUMN, ADHERENCE_LABELS)
