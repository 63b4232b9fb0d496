"""Stage 4: words + speaker turns -> utterances.

Each word belongs to the speaker active at its midpoint (or, in a gap between
turns, to the nearest turn). An utterance is a run of one speaker's words,
split where the pause between two words exceeds ``max_pause``. Every word ends
up in exactly one utterance: none lost, none repeated; utterances are in order
of their start.

Back-channels. A listener's short "mm-hmm", "yeah", "right", "okay" or laugh
inside the other person's turn is neither glued into that turn nor allowed to
cut it in two: it becomes its own short utterance (``backchannel=True``) at its
time, and the speaker's utterance runs on across it. A run of words is a
back-channel when all of it is back-channel vocabulary (:func:`is_backchannel`),
at most :data:`BACKCHANNEL_MAX_WORDS` words over at most
:data:`BACKCHANNEL_MAX_SECONDS`, and it sits inside the other speaker's talk:

* in a short turn of its own that the other speaker's turns touch on both sides
  (no silence between: the diariser heard the two voices back to back, see
  :func:`_islands`), or
* between two runs of the other speaker's words that leave no real pause
  (at most :data:`INSIDE_TURN_GAP`) and where the other speaker was mid-sentence.

Never after a question: "Do you drink?" "Yeah." is an answer, not a back-channel.

Overlap. A one-speaker-per-frame diariser gives such a short island of the
listener every word whose midpoint falls in it, also the words the speaker
kept saying under the "mm-hmm" (tiny.en rarely transcribes the "mm-hmm"
itself). Those words go back to the speaker holding the turn. They, words in
overlapping turns and words outside every turn cannot be attributed from the
turns alone; they are counted in :class:`~mifidelity.types.Alignment` and
reported in the session notes (:func:`attribution_note`), never silently given
to one side.
"""

from __future__ import annotations

import bisect
import heapq
import re
from dataclasses import dataclass
from typing import Sequence

from mifidelity.types import Alignment, SpeakerTurn, Utterance, Word

UNKNOWN_SPEAKER = "SPEAKER_00"

BACKCHANNEL_MAX_WORDS = 3
BACKCHANNEL_MAX_SECONDS = 1.2      # a rendered or spoken "mm-hmm" lasts 0.3-1.2 s
CONTINUOUS_GAP = 0.1               # turns this close leave no silence between them (the VAD's own min_gap)
INSIDE_TURN_GAP = 0.25             # word gaps up to this around a back-channel: the speaker did not stop
OUTSIDE_TOLERANCE = 0.25           # a word farther than this from every turn lies outside them all

_BACKCHANNEL_TOKEN = (
    r"m+-?h+m+|m+-?hm+|mhm+|m+|hmm+|uh-?huh|uh huh|yeah|yes|yep|yup|right|okay|ok|"
    r"laughter|laughs|laughing|laugh"
)
_BACKCHANNEL_RUN = re.compile(rf"(?:(?:{_BACKCHANNEL_TOKEN})(?: |$))+")
_STRIP = "\"'.,!?;:()[]{}<>*…-"


def is_backchannel(texts: Sequence[str]) -> bool:
    """Whether these words are only back-channel vocabulary (mm-hmm, uh-huh, yeah, right, okay, yes, mm, laughter)."""
    tokens = [t.strip(_STRIP).lower() for t in texts]
    tokens = [t for t in tokens if t]
    return 0 < len(tokens) <= BACKCHANNEL_MAX_WORDS + 1 and bool(_BACKCHANNEL_RUN.fullmatch(" ".join(tokens)))


def _ends_question(text: str) -> bool:
    return text.rstrip().endswith("?")


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith((".", "?", "!"))


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


@dataclass
class _Island:
    """A short stretch of one speaker inside another's uninterrupted talk."""

    start: float
    end: float
    speaker: str
    holder: str


def _islands(turns: Sequence[SpeakerTurn]) -> list[_Island]:
    """Short turns (after joining one speaker's turns that touch) with the same other speaker touching both sides.

    Shortest first: in A, B, A, B, A with every piece short, the Bs are islands
    in A's talk once the shorter B is absorbed, rather than the middle A an island in B's.
    An absorbed island joins its two neighbours into one block (a linked list, so
    each step costs a heap operation, not a pass over the session).
    """
    blocks: list[list] = []   # [start, end, speaker, islands inside, previous index, next index, alive]
    for turn in turns:
        if blocks and blocks[-1][2] == turn.speaker and turn.start - blocks[-1][1] <= CONTINUOUS_GAP:
            blocks[-1][1] = max(blocks[-1][1], turn.end)
        else:
            blocks.append([turn.start, turn.end, turn.speaker, [], len(blocks) - 1, len(blocks) + 1, True])
    if blocks:
        blocks[-1][5] = -1

    def island_at(k: int) -> bool:
        p, n = blocks[k][4], blocks[k][5]
        if p < 0 or n < 0:
            return False
        before, (start, end, speaker), after = blocks[p], blocks[k][:3], blocks[n]
        return (before[2] == after[2] != speaker and end - start <= BACKCHANNEL_MAX_SECONDS
                and start - before[1] <= CONTINUOUS_GAP and after[0] - end <= CONTINUOUS_GAP)

    heap = [(b[1] - b[0], k) for k, b in enumerate(blocks) if island_at(k)]
    heapq.heapify(heap)
    while heap:
        _, k = heapq.heappop(heap)
        if not blocks[k][6] or not island_at(k):
            continue
        p, n = blocks[k][4], blocks[k][5]
        before, after = blocks[p], blocks[n]
        before[1] = max(before[1], after[1])
        before[3] += after[3] + [_Island(blocks[k][0], blocks[k][1], blocks[k][2], before[2])]
        before[5] = after[5]
        if after[5] >= 0:
            blocks[after[5]][4] = p
        blocks[k][6] = after[6] = False
        for c in (before[4], before[5]):   # the merged block's neighbours may have become islands
            if c >= 0 and island_at(c):
                heapq.heappush(heap, (blocks[c][1] - blocks[c][0], c))
    return sorted((island for block in blocks if block[6] for island in block[3]), key=lambda i: i.start)


class _Turns:
    """Sorted turns with look-ups that tolerate overlapping turns (which the diarisers do not give, but a file may)."""

    def __init__(self, turns: Sequence[SpeakerTurn]):
        self.turns = sorted(turns, key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]
        self.reach: list[float] = []   # latest end among turns[:i + 1]
        for turn in self.turns:
            self.reach.append(max(turn.end, self.reach[-1] if self.reach else turn.end))
        self.speakers = {t.speaker for t in self.turns}

    def covering(self, time: float) -> list[SpeakerTurn]:
        i = bisect.bisect_right(self.starts, time) - 1
        found = []
        while i >= 0 and self.reach[i] > time:
            if self.turns[i].start <= time < self.turns[i].end:
                found.append(self.turns[i])
            i -= 1
        return found[::-1]

    def distance(self, word: Word) -> float:
        """Seconds between the word's span and the nearest turn (0 when they overlap)."""
        i = bisect.bisect_right(self.starts, word.end)   # turns[:i] start before the word ends
        left = max(0.0, word.start - self.reach[i - 1]) if i > 0 else float("inf")
        right = self.turns[i].start - word.end if i < len(self.turns) else float("inf")
        return min(left, right)

    def neighbours(self, time: float) -> tuple[str | None, str | None]:
        """Speakers of the last turn ending before ``time`` and the first starting after it."""
        i = bisect.bisect_right(self.starts, time)
        before = max((t for t in self.turns[:i] if t.end <= time), key=lambda t: t.end, default=None)
        after = self.turns[i] if i < len(self.turns) else None
        return (before.speaker if before else None), (after.speaker if after else None)


def align(words: Sequence[Word], turns: Sequence[SpeakerTurn], max_pause: float = 1.0) -> Alignment:
    """Group words into utterances, keeping back-channels apart and counting what cannot be attributed.

    Parameters
    ----------
    words:
        Recognised words (any order).
    turns:
        Speaker turns (any order); overlapping turns are allowed and counted as overlap.
    max_pause:
        A silence longer than this (seconds) between two words of the same
        speaker starts a new utterance.

    Returns
    -------
    Alignment
        Utterances in order of start (``role`` unset: :mod:`mifidelity.roles` decides it),
        the number of back-channels and the speech that could not be attributed.
    """
    words = sorted(words, key=lambda w: (w.start, w.end))
    index = _Turns(turns)
    if not index.turns:
        return Alignment(_utterances(words, [UNKNOWN_SPEAKER] * len(words), [False] * len(words), max_pause))

    speakers: list[str] = []
    unsure = [False] * len(words)
    for i, word in enumerate(words):
        covering = index.covering(word.midpoint)
        if len(covering) == 1:
            speakers.append(covering[0].speaker)
        elif covering:
            # Two speakers at once: the turn begun first holds the floor; a short
            # later turn saying back-channel words is the listener.
            holder, *others = covering
            listener = next((t for t in others if t.speaker != holder.speaker
                             and t.end - t.start <= BACKCHANNEL_MAX_SECONDS and is_backchannel([word.text])), None)
            speakers.append(listener.speaker if listener else holder.speaker)
            unsure[i] = any(t.speaker != holder.speaker for t in others) and listener is None
        else:
            speakers.append(speaker_at(word.midpoint, index.turns, index.starts))
            unsure[i] = index.distance(word) > OUTSIDE_TOLERANCE
    backchannel = [False] * len(words)

    _settle_islands(words, speakers, unsure, backchannel, _islands(index.turns))
    _settle_outside(words, speakers, unsure, index)
    _find_backchannel_runs(words, speakers, backchannel, max_pause)

    utterances = _utterances(words, speakers, backchannel, max_pause)
    places = sum(1 for i, flag in enumerate(unsure) if flag and (i == 0 or not unsure[i - 1]))
    return Alignment(
        utterances=utterances,
        backchannels=sum(u.backchannel for u in utterances),
        unattributed_seconds=round(_covered_seconds([w for w, flag in zip(words, unsure) if flag]), 3),
        unattributed_words=sum(unsure),
        unattributed_places=places,
    )


def _settle_islands(words, speakers, unsure, backchannel, islands: list[_Island]) -> None:
    """Back-channel words in an island stay the listener's; the rest go back to the speaker holding the turn."""
    if not islands:
        return
    starts = [island.start for island in islands]
    members: dict[int, list[int]] = {}
    for i, word in enumerate(words):
        k = bisect.bisect_right(starts, word.midpoint) - 1
        if k >= 0 and word.midpoint < islands[k].end and speakers[i] == islands[k].speaker:
            members.setdefault(k, []).append(i)
    for k, inside in members.items():
        first = inside[0]
        if first > 0 and _ends_question(words[first - 1].text):
            continue  # an answer to a question is a turn of its own
        chosen = [i for i in inside if is_backchannel([words[i].text])][:BACKCHANNEL_MAX_WORDS]
        for i in inside:
            if i in chosen:
                backchannel[i] = True
            else:
                speakers[i] = islands[k].holder
                unsure[i] = True


def _settle_outside(words, speakers, unsure, index: _Turns) -> None:
    """Back-channel words outside every turn, between two turns of one speaker, are the other speaker's."""
    if len(index.speakers) != 2:
        return
    i = 0
    while i < len(words):
        if not unsure[i] or index.covering(words[i].midpoint):
            i += 1
            continue
        j = i
        while j + 1 < len(words) and unsure[j + 1] and not index.covering(words[j + 1].midpoint):
            j += 1
        before, after = index.neighbours(words[i].midpoint)
        run = words[i:j + 1]
        if (before is not None and before == after and is_backchannel([w.text for w in run])
                and len(run) <= BACKCHANNEL_MAX_WORDS and run[-1].end - run[0].start <= BACKCHANNEL_MAX_SECONDS):
            other = next(s for s in index.speakers if s != before)
            for k in range(i, j + 1):
                speakers[k] = other
        i = j + 1


def _find_backchannel_runs(words, speakers, backchannel, max_pause: float) -> None:
    """A short back-channel run of one speaker between two runs of the other, who was mid-sentence and did not stop."""
    runs: list[tuple[int, int]] = []   # [first, last] indices of runs of one speaker's ordinary words
    for i in range(len(words)):
        if backchannel[i]:
            continue
        if runs and speakers[runs[-1][1]] == speakers[i]:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    for before, (first, last), after in zip(runs, runs[1:], runs[2:]):
        if speakers[before[1]] != speakers[after[0]]:
            continue
        run = words[first:last + 1]
        previous, following = words[before[1]], words[after[0]]
        if (len(run) <= BACKCHANNEL_MAX_WORDS and run[-1].end - run[0].start <= BACKCHANNEL_MAX_SECONDS
                and is_backchannel([w.text for w in run]) and not _ends_sentence(previous.text)
                and run[0].start - previous.end <= INSIDE_TURN_GAP and following.start - run[-1].end <= INSIDE_TURN_GAP):
            for k in range(first, last + 1):
                backchannel[k] = True


def _utterances(words, speakers, backchannel, max_pause: float) -> list[Utterance]:
    """Runs of one speaker's ordinary words (back-channels do not interrupt them), and each back-channel on its own."""
    utterances: list[Utterance] = []

    def emit(group: list[int], is_backchannel: bool) -> None:
        if group:
            utterances.append(Utterance(
                start=round(words[group[0]].start, 3),
                end=round(max(words[k].end for k in group), 3),
                speaker=speakers[group[0]],
                text=" ".join(words[k].text for k in group),
                backchannel=is_backchannel,
            ))

    current: list[int] = []
    heard: list[int] = []
    for i, word in enumerate(words):
        if backchannel[i]:
            if heard and (speakers[heard[-1]] != speakers[i] or word.start - words[heard[-1]].end > max_pause):
                emit(heard, True)
                heard = []
            heard.append(i)
            continue
        emit(heard, True)   # the other speaker's words come between two back-channels
        heard = []
        if current and (speakers[i] != speakers[current[-1]] or word.start - words[current[-1]].end > max_pause):
            emit(current, False)
            current = []
        current.append(i)
    emit(current, False)
    emit(heard, True)
    return sorted(utterances, key=lambda u: (u.start, u.end))


def _covered_seconds(words: Sequence[Word]) -> float:
    """Seconds covered by the words' spans (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for word in sorted(words, key=lambda w: w.start):
        start = max(word.start, reach)
        if word.end > start:
            total += word.end - start
        reach = max(reach, word.end)
    return total


def attribution_note(alignment: Alignment) -> str | None:
    """The session note for speech the turns could not give to one speaker, or None when there was none."""
    if not alignment.unattributed_words:
        return None
    words = "word" if alignment.unattributed_words == 1 else "words"
    places = "place" if alignment.unattributed_places == 1 else "places"
    return (f"About {alignment.unattributed_seconds:.1f} s of speech ({alignment.unattributed_words} {words} in "
            f"{alignment.unattributed_places} {places}) could not be attributed to one speaker: both people talking "
            "at once, or speech outside every diarised turn. Those words were given to the speaker holding the "
            "turn (or the nearest one); check them in the transcript.")
