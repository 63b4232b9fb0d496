"""Feeling words: the emotions a client names, and whether the coach reflected the feeling.

Reflecting feelings is one of the skills MI trainers look for: the client says "i'm just so
frustrated with myself", and the coach's next turn names that feeling or a close one ("you're
angry at yourself for letting it slide"). Which words are emotions is not decided here but by a
maintained lexicon from a package: the NRC Word-Emotion Association Lexicon (EmoLex, Mohammad &
Turney 2013) as shipped by ``nrclex`` (its JSON is read directly, so nothing is downloaded at run
time and TextBlob / NLTK corpora are not needed); words are reduced to their dictionary form with
``simplemma`` (its English data ships in the wheel) so "scared" finds "scare". See
:data:`LEXICON` for the versions and licence terms (research use; commercial use needs NRC's licence).

EmoLex says which emotions a word is *associated* with ("doctor": trust, "money": joy), so a word
from it counts as a named feeling only

- when it carries one of :data:`EMOTIONS` (EmoLex's eight less trust and anticipation, the two
  that most often mark mere associations), and
- when it stands where a feeling is said: after a form of *feel* ("i feel guilty", "made me feel
  stupid", "i'm feeling so tired") or of *be* / *get* whose subject is the client ("i'm worried",
  "i was scared", "i get angry", "it makes me angry"), with intensifiers or a filler "like" in
  between ("i'm kind of really worried"; but "i feel like [a clause]" names no feeling). A
  word EmoLex marks only negative or positive ("stressed", "tired") counts after *feel* only.
- A negation in front ("i'm not angry", "i don't feel guilty") means the feeling is not counted.

For the coach, any form of *be*, *feel*, *sound* or *seem* frames a feeling ("that must be scary",
"sounds like you're worried", "it's frustrating"). The client's feeling counts as **reflected** when
one utterance of the coach's next two turns (:data:`REPLY_TURNS`, at most :data:`REPLY_UTTERANCES`
utterances, back-channels skipped) says the same word in any form, or names a feeling that shares an
emotion with it, or is coded a complex reflection and names any feeling. Nothing here logs
transcript text.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources

import pandas as pd

from mifidelity.coding.base import REFLECTION_COLUMN, backchannel_flags

EMOTIONS = ("anger", "fear", "sadness", "joy", "disgust", "surprise")
# EmoLex marks some words only positive or negative ("stress", "tired", "calm"); after a form of
# "feel" such a word still names a feeling ("i feel tired"); elsewhere it is too often a topic.
SENTIMENTS = ("negative", "positive")
REPLY_TURNS = 2  # the coach's next turns after the client's feeling ...
REPLY_UTTERANCES = 3  # ... at most this many coach utterances in all


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


LEXICON = {
    "name": "NRC Word-Emotion Association Lexicon (EmoLex), Mohammad & Turney 2013",
    "package": f"nrclex {_version('nrclex')} (MIT; its lexicon data (c) National Research Council Canada)",
    "licence": "EmoLex: free for research and education; commercial use needs a licence from NRC Canada",
    "lemmatiser": f"simplemma {_version('simplemma')} (MIT)",
    "emotions": list(EMOTIONS),
}

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Words that may stand between the frame and the feeling ("i'm kind of really worried").
_INTENSIFIERS = frozenset(
    "so really very just bit little kind of sort kinda sorta pretty quite too more less most even all totally "
    "absolutely extremely super also still always sometimes real um uh lot actually definitely probably "
    "somewhat fairly".split())
_NEGATIONS = frozenset("not never no hardly nt dont didnt doesnt isnt wasnt arent werent aint cant wont havent "
                       "hasnt wouldnt couldnt".split())
_BE = frozenset("am was were been be being get gets got become becomes became is are".split())
_FEEL = frozenset("feel feels felt feeling".split())
_CLIENT_SUBJECTS = frozenset("i i'm im i've ive i'd id i'll me myself".split())
_CLIENT_BE = frozenset(("i'm", "im"))
# Between the client as subject and the frame: "i have been", "i would get", "i just feel".
_AUXILIARIES = frozenset(
    "have 've has had will would could can might may do did don't dont didn't didnt just really always never "
    "not nt also kinda still sometimes gonna going to start started starting tend used usually often".split())
# "it makes me angry", "that gets me down": the client is the one who feels.
_CAUSATIVES = frozenset("make makes made making get gets got leave leaves left drive drives drove".split())
_COACH_FRAMES = frozenset(("sound", "sounds", "sounded", "seem", "seems", "seemed", "you're", "youre",
                           "it's", "its", "that's", "thats", "you"))


@lru_cache(maxsize=1)
def lexicon() -> dict[str, frozenset[str]]:
    """EmoLex as nrclex ships it: word -> its emotions and sentiments."""
    raw = json.loads(resources.files("nrclex.data").joinpath("nrc_en.json").read_text(encoding="utf-8"))
    return {word: frozenset(affects) for word, affects in raw.items()}


@lru_cache(maxsize=20000)
def dictionary_form(word: str) -> str:
    """The word as EmoLex lists it: itself if listed, else its lemma ("scared" -> "scare")."""
    if word in lexicon():
        return word
    import simplemma  # its English data loads on first use (about 0.2 s)

    return simplemma.lemmatize(word, lang="en")


@dataclass(frozen=True)
class NamedFeeling:
    """A feeling named in one utterance."""

    word: str  # as said, lower case
    lemma: str  # as EmoLex lists it
    emotions: tuple[str, ...]  # its emotions among EMOTIONS (empty for a sentiment-only word)
    negated: bool


@dataclass(frozen=True)
class ClientFeeling:
    """A feeling the client named, and the coach's answer to it; utterances are row positions."""

    utterance: int
    word: str
    emotions: tuple[str, ...]
    reflected: bool
    reflection_utterance: int | None  # the coach utterance that reflected it
    coach_word: str | None  # the feeling word the coach used


@dataclass(frozen=True)
class FeelingWords:
    """The client's feelings in a session (session.json's ``feeling_words``)."""

    feelings: tuple[ClientFeeling, ...]
    negated: int  # feelings said with a negation ("not angry"): not counted

    def as_dict(self) -> dict:
        """JSON-safe: which lexicon, counts (zero when there are none) and the feelings."""
        by_emotion = Counter(e for f in self.feelings for e in f.emotions)
        return {
            "lexicon": LEXICON,
            "count": len(self.feelings),
            "reflected": sum(f.reflected for f in self.feelings),
            "client_utterances": len({f.utterance for f in self.feelings}),
            "negated_not_counted": self.negated,
            "by_emotion": {e: by_emotion.get(e, 0) for e in EMOTIONS},
            "feelings": [{"utterance": f.utterance, "word": f.word, "emotions": list(f.emotions),
                          "reflected": f.reflected, "reflection_utterance": f.reflection_utterance,
                          "coach_word": f.coach_word} for f in self.feelings],
        }


def named_feelings(text: str, speaker: str = "client") -> list[NamedFeeling]:
    """The feelings an utterance names, in order (``speaker``: client or coach frames)."""
    words = _TOKEN.findall(str(text).lower().replace("\u2019", "'").replace("n't", " nt"))
    found = []
    for k, word in enumerate(words):
        if word in _INTENSIFIERS or word in _BE or word in _FEEL or word in _NEGATIONS:
            continue
        lemma = dictionary_form(word)
        affects = lexicon().get(lemma)
        if not affects:
            continue
        j = k - 1
        while j >= 0 and (words[j] in _INTENSIFIERS or words[j] in _NEGATIONS
                          or (words[j] == "a" and k - j <= 3 and words[j + 1] in ("bit", "little", "lot"))
                          # a filler ("i'm like really scared"), but not "i feel like [a clause]"
                          or (words[j] == "like" and j > 0 and words[j - 1] not in _FEEL)):
            j -= 1
        frame = _frame(words, j, speaker)
        if frame is None:
            continue
        # "i'm watching", "i'm hanging out": a verb in its -ing form after "be" is an action, not a feeling.
        if frame == "be" and speaker == "client" and word.endswith("ing"):
            continue
        emotions = tuple(e for e in EMOTIONS if e in affects)
        if not emotions and not (frame == "feel" and affects & set(SENTIMENTS)):
            continue
        negated = any(w in _NEGATIONS for w in words[max(0, j - 3):k])
        found.append(NamedFeeling(word, lemma, emotions, negated))
    return found


def _frame(words: list[str], j: int, speaker: str) -> str | None:
    """``feel`` or ``be`` when words[j] frames a feeling for this speaker, else None."""
    if j < 0:
        return None
    frame = words[j]
    if speaker == "coach":
        if frame in _FEEL:
            return "feel"
        return "be" if frame in _BE or frame in _COACH_FRAMES else None
    if frame in _CLIENT_BE or (frame == "me" and j > 0 and words[j - 1] in _CAUSATIVES):
        return "be"
    if frame not in _BE and frame not in _FEEL:
        return None
    s = j - 1
    while s >= 0 and s >= j - 4 and words[s] in _AUXILIARIES:
        s -= 1
    if s < 0 or words[s] not in _CLIENT_SUBJECTS:
        return None
    return "feel" if frame in _FEEL else "be"


def find_feeling_words(utterances: pd.DataFrame) -> FeelingWords:
    """The client's named feelings and whether the coach reflected each.

    Parameters
    ----------
    utterances:
        The coded-utterance table (:mod:`mifidelity.session`), or any table with ``role`` and
        ``text`` (optionally ``backchannel`` and the coach's ``reflection`` code), in order.
    """
    roles = [str(r) for r in utterances["role"]]
    texts = ["" if t is None or t != t else str(t) for t in utterances["text"]]
    backchannel = backchannel_flags(utterances)
    reflection = list(utterances[REFLECTION_COLUMN]) if REFLECTION_COLUMN in utterances else [None] * len(roles)
    feelings, negated = [], 0
    for i, role in enumerate(roles):
        if role != "client" or backchannel[i]:
            continue
        seen = set()
        for feeling in named_feelings(texts[i], "client"):
            if feeling.negated:
                negated += 1
                continue
            if feeling.lemma in seen:
                continue
            seen.add(feeling.lemma)
            reply, coach_word = _reflection(feeling, _coach_reply(i, roles, backchannel), texts, reflection)
            feelings.append(ClientFeeling(i, feeling.word, feeling.emotions, reply is not None, reply, coach_word))
    return FeelingWords(tuple(feelings), negated)


def _coach_reply(i: int, roles: list[str], backchannel: list[bool]) -> list[int]:
    """The coach utterances of the next :data:`REPLY_TURNS` coach turns after utterance ``i``
    (back-channels skipped; a transcript without them often has a coach "mm-hmm" as a turn of its own)."""
    reply, turns, previous = [], 0, "client"
    for j in range(i + 1, len(roles)):
        if backchannel[j]:
            continue
        if roles[j] == "coach":
            turns += previous != "coach"
            if turns > REPLY_TURNS or len(reply) == REPLY_UTTERANCES:
                break
            reply.append(j)
        previous = roles[j]
    return reply


def _reflection(feeling: NamedFeeling, reply: list[int], texts: list[str], reflection: list) -> tuple[int | None, str | None]:
    """The first coach utterance of the reply that reflects ``feeling``, and the word it used."""
    for j in reply:
        said = [dictionary_form(w) for w in _TOKEN.findall(texts[j].lower().replace("n't", " nt"))]
        if feeling.lemma in said and not any(f.negated and f.lemma == feeling.lemma
                                             for f in named_feelings(texts[j], "coach")):
            return j, feeling.word
        for named in named_feelings(texts[j], "coach"):
            if named.negated:
                continue
            if set(named.emotions) & set(feeling.emotions) or (reflection[j] == "complex" and named.emotions):
                return j, named.word
    return None, None
