"""Does the session estimate hold beyond the collection it learnt from? Held-out groups, not held-out rows.

Runs every validation scheme of :mod:`mifidelity.training.fidelity` (the session model
refitted in each split, nothing of the held-out group seen in training):

- ``pooled``: 5-fold by group over AnnoMI + HLQC (a video transcribed twice is one group), repeated;
- ``collection``: leave-one-collection-out (AnnoMI -> HLQC, HLQC -> AnnoMI);
- ``topic``: leave-one-topic-out on AnnoMI;
- ``style``: trained on clean (punctuated) text only, scored on held-out groups' ASR-style text;

and prints, per held-out collection and text version: P(good MI) AUC, Brier against the base
rate, how often "most likely good" / "most likely poor" is right, low sessions told "likely good"
and high ones "likely poor", whole sessions by length, the first 4/8/16 coach volleys of each
session, reliability by quintile, and the session R:Q against the R:Q counted from AnnoMI's expert
codes (Spearman). No utterance text is printed. The figures go into docs/model-card-fidelity.md.

Usage::

    python benchmarks/fidelity_generalisation.py --coder-oof OOF.npz [--annomi DIR] [--hlqc DIR] [--repeats 3] \
        [--report docs/fidelity-generalisation.md] [--write] [--plot docs/fidelity_reliability.png]

(``--coder-oof``: out-of-fold AnnoMI coder probabilities from
``python -m mifidelity.training.evaluate --save-probabilities``; every option of the
training command is accepted.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.training.fidelity import main  # noqa: E402

if __name__ == "__main__":
    main()
