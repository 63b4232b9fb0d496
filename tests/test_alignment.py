from mifidelity.alignment import assign_speakers, speaker_at, words_to_utterances
from mifidelity.types import SpeakerTurn, Word

TURNS = [SpeakerTurn(0.0, 2.0, "A"), SpeakerTurn(2.5, 5.0, "B"), SpeakerTurn(5.0, 8.0, "A")]


def w(start, end, text="x"):
    return Word(start, end, text)


def test_word_belongs_to_speaker_at_its_midpoint():
    # Starts in A's turn but its midpoint (2.6) is in B's.
    assert assign_speakers([w(1.9, 3.3)], TURNS) == ["B"]


def test_word_in_gap_goes_to_nearest_turn():
    assert speaker_at(2.1, TURNS) == "A"
    assert speaker_at(2.45, TURNS) == "B"
    assert speaker_at(-1.0, TURNS) == "A"
    assert speaker_at(100.0, TURNS) == "A"


def test_no_turns_gives_one_default_speaker():
    assert assign_speakers([w(0, 1), w(1, 2)], []) == ["SPEAKER_00", "SPEAKER_00"]


def test_utterances_split_at_speaker_change_and_long_pause():
    words = [w(0.0, 0.5, "hello"), w(0.6, 1.0, "there"), w(2.6, 3.0, "hi"), w(5.2, 5.6, "so"),
             w(7.0, 7.4, "anyway")]
    utterances = words_to_utterances(words, TURNS, max_pause=1.0)
    assert [(u.speaker, u.text) for u in utterances] == [
        ("A", "hello there"), ("B", "hi"), ("A", "so"), ("A", "anyway")]
    assert utterances[0].start == 0.0 and utterances[0].end == 1.0


def test_no_word_lost_or_repeated():
    import random

    rng = random.Random(0)
    words, t = [], 0.0
    for i in range(500):
        t += rng.uniform(0.05, 1.5)
        words.append(Word(t, t + 0.3, f"w{i}"))
        t += 0.3
    turns, s = [], 0.0
    while s < t:
        e = s + rng.uniform(0.5, 10)
        turns.append(SpeakerTurn(s, e, rng.choice("AB")))
        s = e + rng.uniform(0, 1)
    rng.shuffle(words)
    utterances = words_to_utterances(words, turns)
    joined = " ".join(u.text for u in utterances).split()
    assert joined == [f"w{i}" for i in range(500)]
    assert all(a.start <= b.start for a, b in zip(utterances, utterances[1:]))


def test_empty_input():
    assert words_to_utterances([], TURNS) == []
