"""The behaviour coder on another collection's human codes (issue 25): mi-forum's gold counsellor sentences.

    .venv/bin/python benchmarks/coder_other_collection.py [--forum ../shared/data/mi-forum] [--model NPZ]

Prints macro-F1 of main behaviour (question / reflection / input / other), question type and
reflection type, as written and lower-cased without punctuation, each sentence coded alone and
after one client turn, and the main-behaviour confusion. About 3 minutes on two cores. Scores
only, never text. See mifidelity.training.forum_behaviour for the mapping.

The shipped coder (model version 6) learnt from these sentences, so with it this is an in-sample
figure; ``--model`` scores another artifact (version 5, AnnoMI only, never saw them). The held-out
figure for the shipped recipe is ``python -m mifidelity.training.evaluate --forum DIR``'s, which
splits the sentences into the folds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.training.forum_behaviour import gold_behaviour_table, load_gold_behaviour  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forum", default="../shared/data/mi-forum", help="mi-forum folder (mi-gold.dev.csv)")
    parser.add_argument("--model", default=None, help="coder artifact (.npz; default: the shipped one)")
    args = parser.parse_args(argv)

    from mifidelity.coding.trained import TrainedCoder

    gold = load_gold_behaviour(args.forum)
    began = time.perf_counter()
    table, confusions = gold_behaviour_table(TrainedCoder(args.model).load(), gold)
    print(f"mi-forum gold: {len(gold)} counsellor sentences; forum's codes: "
          + ", ".join(f"{k} {v}" for k, v in gold["main_behaviour"].value_counts().items()))
    print("\nMacro-F1 (main behaviour 4 codes, question type, reflection type) and main-behaviour F1 per class:\n")
    print(table.to_string())
    for name, confusion in confusions.items():
        print(f"\nMain behaviour, {name} (rows: the forum's code, columns: the coder's):\n")
        print(confusion.to_string())
    print(f"\n{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
