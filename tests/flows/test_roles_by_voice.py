"""Issue 18: a coach enrolled by voice keeps the right role where what is said points the other way.

A two-voice session is rendered in which the CLIENT asks almost every question
("What would you do in my position?") and the coach answers, so the language
cues (questions, "you") take the client for the coach. The coach (Piper's joe)
is enrolled from a separate clip of their voice with `mifidelity coaches enroll`;
the client is another male voice (flite's rms). Then the real `mifidelity
process --coach` runs on the session. The voice must decide, the session must
say that what was said disagreed (that verdict alone is the wrong one: the test
can fail), and the disagreement must not be learnt into the profile.
"""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from mifidelity.training.pipeline_accuracy import role_time_accuracy
from support import ROOT
from support.dialogue import needs_tts, render_dialogue, render_voice

pytestmark = [pytest.mark.slow, needs_tts]

CLIENT_ASKS = [
    ("client", "Can I ask you something first? How long have you been doing this kind of work?"),
    ("coach", "About twelve years now. I started in a hospital clinic."),
    ("client", "And do you think people like me really manage to cut down?"),
    ("coach", "Many do. I have seen a lot of people change their drinking."),
    ("client", "What would you do if you were in my position?"),
    ("coach", "I would want to know what matters most to me first."),
    ("client", "Do you drink yourself? Have you ever had to stop?"),
    ("coach", "I keep my own life out of our sessions, but I hear the question."),
    ("client", "Is it normal to feel this nervous about it? Are you going to tell my doctor?"),
    ("coach", "Everything here stays between us. Nerves are very common at the start."),
    ("client", "So what happens next? Would you give me a plan to follow?"),
    ("coach", "We can make one together, step by step."),
]
COACH_CLIP = ("Good morning. Before we begin, I want to say a little about how these sessions work. "
              "We meet for about fifty minutes, and what we talk about stays in this room. "
              "My job is to listen, to understand what matters to you, and to help you find your own way forward.")


def mifidelity(*args):
    command = [sys.executable, "-m", "mifidelity.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    work = tmp_path_factory.mktemp("voice")
    truth = render_dialogue(CLIENT_ASKS, work / "client_asks.wav", {"coach": "piper:joe", "client": "flite:rms"})
    render_voice(COACH_CLIP, work / "robin_clip.wav", "piper:joe")
    (work / "rules.yaml").write_text("coding: {engine: rules}\n")
    out = work / "out"
    enrolled = mifidelity("coaches", "enroll", "Robin", work / "robin_clip.wav", "--out", out)
    assert enrolled.returncode == 0, enrolled.stderr
    processed = mifidelity("process", work / "client_asks.wav", "--coach", "Robin", "--out", out,
                           "--config", work / "rules.yaml")
    assert processed.returncode == 0, processed.stderr
    return out, truth


def test_the_voice_decides_and_gets_the_roles_right(session):
    out, truth = session
    summary = json.loads((out / "client_asks" / "session.json").read_text())
    roles = summary["roles"]
    assert roles["method"] == "voice" and roles["confidence"] >= 0.9
    voice, language = roles["evidence"]["voice"], roles["evidence"]["language"]
    assert voice["recognised"] and voice["coach_speaker"] == roles["coach_speaker"]
    # What was said alone takes the questioning client for the coach, and is sure of it.
    assert language["coach_speaker"] != roles["coach_speaker"] and language["confidence"] >= 0.9
    assert any("by what was said" in note and "the voice decided" in note for note in summary["notes"])
    utterances = pd.read_csv(out / "client_asks" / "utterances.csv")
    assert role_time_accuracy(truth, utterances) >= 0.9
    assert role_time_accuracy(truth, utterances.assign(role=utterances["role"].map(
        {"coach": "client", "client": "coach"}))) <= 0.1   # the language cues' verdict


def test_a_disagreement_is_not_learnt(session):
    out, _ = session
    listed = mifidelity("coaches", "list", "--out", out)
    assert listed.returncode == 0, listed.stderr
    robin = next(line.split() for line in listed.stdout.splitlines() if line.startswith("Robin"))
    assert robin[1:3] == ["0", "1"]   # 0 sessions, 1 clip
