"""Hand-coded sessions for the report tests (no trained model needed), and hostile text."""

import csv
import re
from pathlib import Path

import pandas as pd

from mifidelity.fidelity import FidelityEstimate, GlobalScores
from mifidelity.metrics import compute_metrics
from mifidelity.session import CodedSession
from mifidelity.types import StageInfo

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# Anything that would make a browser fetch from the network: absolute or protocol-relative URLs in src/href/url().
NETWORK_REF = re.compile(r"""(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:|//|ftp:)|url\(\s*["']?(?:https?:|//)|@import""",
                         re.IGNORECASE)



def hand_coded_utterances(rows) -> pd.DataFrame:
    """Utterance table from hand-coded rows: (role, text, code) or (role, text, code, adherence).

    ``code`` is a question / reflection / talk label or "info"; the adherence column is added
    only when the rows give one.
    """
    with_adherence = any(len(row) == 4 for row in rows)
    records = []
    for i, (role, text, code, *rest) in enumerate(rows):
        record = {"start": 3.0 * i, "end": 3.0 * i + 2.5, "speaker": role, "role": role, "text": text,
                  "main_behaviour": None, "question": None, "reflection": None, "giving_information": None,
                  "client_talk": None}
        if with_adherence:
            record["adherence"] = (rest[0] if rest else None) if role == "coach" else None
        if role == "coach":
            record.update(main_behaviour="other", question="none", reflection="none", giving_information=False)
            if code in ("open", "closed"):
                record.update(main_behaviour="question", question=code)
            elif code in ("simple", "complex"):
                record.update(main_behaviour="reflection", reflection=code)
            elif code == "info":
                record.update(main_behaviour="input", giving_information=True)
        else:
            record["client_talk"] = code or "neutral"
        records.append(record)
    return pd.DataFrame(records)


def coded_session(rows, session_id="s1", source="/nowhere/s1.csv", coach="Coach A") -> CodedSession:
    """A session from hand-coded rows (see :func:`hand_coded_utterances`)."""
    frame = hand_coded_utterances(rows)
    return CodedSession(session_id=session_id, source=source, duration_seconds=None, utterances=frame,
                        metrics=compute_metrics(frame), models={"coding": StageInfo("test", "hand", "0")},
                        timings={}, coach=coach)


def hostile_transcript(folder: Path) -> Path:
    path = folder / "hostile.csv"
    rows = [("coach", "What would you like to talk about today?"),
            ("client", f"I really want to stop drinking {HOSTILE} because my health matters to me."),
            ("coach", "You want to stop because your health matters to you."),
            ("client", "Yes, I need to change something."),
            ("coach", "How would you go about it?"),
            ("client", "I could stop buying beer at the shop.")]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start", "end", "role", "text"])
        for i, (role, text) in enumerate(rows):
            writer.writerow([f"{4.0 * i:.1f}", f"{4.0 * i + 3.5:.1f}", role, text])
    return path


# (role, text, code, adherence): code as in support.reports.coded_session; adherence for coach rows.
ROWS = [
    ("coach", "What brings you here today?", "open", "none"),
    ("client", "I want to cut down on drinking.", "change", None),
    ("coach", "You have already made a start by coming here.", None, "affirm"),
    ("coach", "What would you like us to look at first?", "open", "seeking_collaboration"),
    ("client", f"I like a beer after work {HOSTILE}, it relaxes me.", "sustain", None),
    ("coach", f"You really must stop {HOSTILE}, it is ruining your liver.", "info", "persuade"),
    ("client", "Everyone drinks where I work.", "sustain", None),
    ("coach", "That is just an excuse.", None, "confront"),
    ("client", "Maybe it is.", "neutral", None),
    ("coach", "It is your decision what happens next.", None, "emphasizing_autonomy"),
    ("coach", "You want to be around for your kids.", "complex", "none"),
]
# Probabilities of good MI from each construct: indices 60, 40, 55, 65; technical 50, relational 60.
SCORES = GlobalScores(cultivating_change_talk=0.6, softening_sustain_talk=0.4, partnership=0.55, empathy=0.65)


def fidelity_session(session_id="f1", probability: float | None = 0.27, coach="Coach B", rows=ROWS,
                     adherence=True) -> CodedSession:
    frame = hand_coded_utterances(rows)
    if not adherence:
        frame = frame.drop(columns=["adherence"])
    estimate = None if probability is None else FidelityEstimate(SCORES, probability, "session-fidelity.json vtest")
    return CodedSession(session_id=session_id, source="/nowhere/f1.csv", duration_seconds=None, utterances=frame,
                        metrics=compute_metrics(frame), models={"coding": StageInfo("test", "hand", "0")},
                        timings={}, coach=coach, fidelity=estimate)
