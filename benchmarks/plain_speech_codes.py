"""Plain-speech cues (``mifidelity.coding.plain_speech``): the coder's codes with and without them.

    .venv/bin/python benchmarks/plain_speech_codes.py [--annomi ../shared/data/annomi] \\
        [--coder-oof /tmp/oof/coder-oof.npz] [--forum ../shared/data/mi-forum] [--skip speed,...]

Five measurements, each before (the network's codes, ``TrainedCoder(plain_speech=False)``) and
after (the shipped coder, cues weighed in):

1. ``testset``: the hand-written plain-speech set (``tests/coding/data/plain_speech.csv``), per
   category: main behaviour right (input and other count as one: "a statement") and adherence
   right (Persuade and Confront count as one: "MI-non-adherent"), each utterance coded on its own
   and after a client turn.
2. ``annomi``: AnnoMI out-of-fold (the coder's probabilities saved by ``python -m
   mifidelity.training.evaluate --save-probabilities``, row-aligned with ``load_annomi``):
   the cues applied on top, macro-F1 of main behaviour / question / reflection against the
   experts, clean text and lower-cased without punctuation.
3. ``gold``: mi-forum's human-coded counsellor sentences (``mi-gold.dev.csv``): adherence macro-F1
   of the whole shipped coder (each sentence coded alone), as written and ``strip_asr``.
   The shipped adherence coder was trained on these sentences, so the "before" is in-sample: the
   measurement says whether the cues spoil codes the model had learnt.
4. ``spoken``: the held-out spoken adherence test (written for the adherence coder, never trained
   on), whole coder, macro-F1 over the seven codes.
5. ``speed``: utterances per second of ``TrainedCoder.code`` on AnnoMI sessions with and without the
   cues, and the cost of the cues alone per utterance.

Never prints utterance text from the data sets (counts and scores only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "tests" / "coding" / "data" / "plain_speech.csv"
SECTIONS = ("testset", "annomi", "gold", "spoken", "speed")
STATEMENT = ("input", "other")
NON_ADHERENT = ("persuade", "confront")
# Client turns put before each coach utterance of the test set in the "in context" run.
CLIENT_TURNS = ("i don't know i just like having a drink after work it calms me down", "yeah i suppose",
                "my wife keeps going on about it")


# --------------------------------------------------------------------------- 1. the hand-written set


def test_set_codes(coder, frame: pd.DataFrame, context: bool) -> pd.DataFrame:
    """The coder's codes for each test utterance: on its own, or after a client turn (one session)."""
    if context:
        roles, texts = [], []
        for index, text in enumerate(frame["text"]):
            roles += ["client", "coach"]
            texts += [CLIENT_TURNS[index % len(CLIENT_TURNS)], text]
        return coder.code(roles, texts).iloc[1::2].reset_index(drop=True)
    return pd.concat([coder.code(["coach"], [text]) for text in frame["text"]], ignore_index=True)


def right_answers(frame: pd.DataFrame, codes: pd.DataFrame) -> pd.DataFrame:
    """Per utterance: category, main behaviour right, adherence right (statements and non-adherent codes grouped)."""
    def same(wanted, got, group):
        return (got in group) if wanted in group else got == wanted

    return pd.DataFrame({
        "category": frame["note"].str.split(":").str[0].str.strip(),
        "main": [same(w, g, STATEMENT) for w, g in zip(frame["main_behaviour"], codes["main_behaviour"])],
        "adherence": [same(w, g, NON_ADHERENT) for w, g in zip(frame["adherence"], codes["adherence"])],
    })


def test_set_section(before, after, path: Path) -> None:
    frame = pd.read_csv(path, keep_default_na=False)
    print(f"\n## Hand-written plain-speech set ({len(frame)} coach utterances, {path.name})")
    for context in (False, True):
        tables = {name: right_answers(frame, test_set_codes(coder, frame, context))
                  for name, coder in (("before", before), ("after", after))}
        joined = pd.concat({name: table.groupby("category")[["main", "adherence"]].mean()
                            for name, table in tables.items()}, axis=1)
        joined.loc["ALL"] = [tables[n][c].mean() for n, c in joined.columns]
        print(f"\n{'after a client turn' if context else 'each utterance alone'}: share right "
              "(main: input/other = statement; adherence: persuade/confront = non-adherent)")
        print(joined.round(2).to_string())


# --------------------------------------------------------------------------- 2. AnnoMI out of fold


def annomi_section(annomi: str, oof: str) -> None:
    from mifidelity.coding.base import LABELS
    from mifidelity.coding.plain_speech import CUES, adjust_behaviour, detect_all
    from mifidelity.training.data import load_annomi
    from mifidelity.training.fidelity import coder_probabilities
    from mifidelity.training.scores import (confusion, counts_from_labels, hard_labels, session_agreement,
                                                   session_metric_table, task_scores)
    from mifidelity.training.train import version_texts

    data = load_annomi(annomi)
    saved = coder_probabilities(oof, data)
    roles = data["role"].tolist()
    print(f"\n## AnnoMI out of fold ({int((data['role'] == 'coach').sum())} coach utterances; {Path(oof).name})")
    print("macro-F1 against the experts       main   question reflection client_talk giving_info")
    expert_labels = {t: data[t].to_numpy() for t in LABELS}
    expert = session_metric_table(data, counts_from_labels(data, expert_labels))
    counts = pd.DataFrame(counts_from_labels(data, expert_labels)).groupby(data["transcript_id"].to_numpy()).sum()
    enough = pd.DataFrame({"R:Q": (counts["open"] + counts["closed"]) >= 3,
                           "%CR": (counts["simple"] + counts["complex"]) >= 3,
                           "%OQ": (counts["open"] + counts["closed"]) >= 3,
                           "%CT": (counts["change"] + counts["sustain"]) >= 3})
    changed = {}
    for version, probs in saved.items():
        cues = detect_all(roles, version_texts(data["text"], version))
        adjusted = adjust_behaviour(probs, cues, LABELS)
        for name, table in (("before", probs), ("after", adjusted)):
            predicted = hard_labels(data, table)
            scores = task_scores(data, predicted)
            print(f"{version + ', ' + name:<33}" + " ".join(f"{scores[t]:>10.3f}" for t in
                                                             ("main_behaviour", "question", "reflection", "client_talk",
                                                              "giving_information")))
            agreement = session_agreement(expert, session_metric_table(data, counts_from_labels(data, predicted)), enough)
            print(f"{'':<33}session R:Q from counted codes: r {agreement.loc['R:Q', 'r']:.3f}, "
                  f"median abs. error {agreement.loc['R:Q', 'MAE']:.3f} ({int(agreement.loc['R:Q', 'n'])} sessions)")
            if name == "before":
                first = predicted
        coach = np.array([r == "coach" for r in roles])
        fired = {name: int(sum(name in c for c, k in zip(cues, coach) if k)) for name in CUES}
        moved = int(np.sum(first["main_behaviour"][coach] != predicted["main_behaviour"][coach]))
        wanted = data["main_behaviour"].to_numpy()[coach]
        better = int(np.sum((predicted["main_behaviour"][coach] == wanted) & (first["main_behaviour"][coach] != wanted)))
        worse = int(np.sum((predicted["main_behaviour"][coach] != wanted) & (first["main_behaviour"][coach] == wanted)))
        changed[version] = (fired, moved, better, worse)
        print(f"  {version}: coach utterances with a cue: " + ", ".join(f"{k} {v}" for k, v in fired.items()))
        print(f"  {version}: main behaviour changed on {moved} (now agreeing with the experts {better}, "
              f"no longer agreeing {worse})")
        print(f"  confusion after, {version}, main behaviour (rows expert):")
        print("  " + confusion(data, predicted, "main_behaviour").to_string().replace("\n", "\n  "))


# --------------------------------------------------------------------------- 3./4. adherence


def adherence_scores(coder, texts: list[str], labels: np.ndarray, scored: tuple) -> tuple[float, dict]:
    """Macro-F1 of the whole coder's adherence over ``scored`` labels, each text coded alone as a coach turn."""
    from mifidelity.coding.base import ADHERENCE_LABELS
    from mifidelity.training.adherence import macro_f1

    predicted = np.array([ADHERENCE_LABELS.index(coder.code(["coach"], [t]).at[0, "adherence"]) for t in texts])
    return macro_f1(labels, predicted, scored)


def gold_section(before, after, forum: str) -> None:
    from mifidelity.coding.features import strip_asr
    from mifidelity.training.adherence import GOLD_SCORED
    from mifidelity.training.adherence_data import load_gold

    gold = load_gold(forum)
    print(f"\n## mi-gold ({len(gold)} counsellor sentences), adherence macro-F1 over {', '.join(GOLD_SCORED)}; "
          "whole coder, each sentence alone")
    for version in ("clean", "asr"):
        texts = gold.texts if version == "clean" else [strip_asr(t) for t in gold.texts]
        for name, coder in (("before", before), ("after", after)):
            macro, per_class = adherence_scores(coder, texts, gold.labels, GOLD_SCORED)
            print(f"{version + ', ' + name:<16} {macro:.3f}  {per_class}")


def spoken_section(before, after) -> None:
    from mifidelity.coding.base import ADHERENCE_LABELS
    from mifidelity.training.adherence import macro_f1, spoken_test_session
    from mifidelity.training.adherence_data import SPOKEN_TEST, load_spoken

    test = load_spoken(SPOKEN_TEST)
    print(f"\n## Spoken adherence test ({len(test)} coach utterances, each after its client turn), macro-F1, 7 codes")
    for version in ("clean", "asr"):
        roles, texts = spoken_test_session(version)
        for name, coder in (("before", before), ("after", after)):
            codes = coder.code(roles, texts)
            predicted = np.array([ADHERENCE_LABELS.index(c) for c in codes["adherence"][1::2]])
            macro, per_class = macro_f1(test.labels, predicted, ADHERENCE_LABELS)
            print(f"{version + ', ' + name:<16} {macro:.3f}  {per_class}")


# --------------------------------------------------------------------------- 5. speed


def speed_section(before, after, annomi: str, repeats: int = 5) -> None:
    from mifidelity.coding.plain_speech import adjust_adherence, adjust_behaviour, detect_all
    from mifidelity.training.data import load_annomi

    data = load_annomi(annomi)
    sizes = data.groupby("transcript_id").size()
    print("\n## Speed (TrainedCoder.code, warm, one thread, best of "
          f"{repeats}; 1-minute load average {Path('/proc/loadavg').read_text().split()[0]})")
    for target in (100, 300):
        session = data[data["transcript_id"] == (sizes - target).abs().idxmin()]
        roles, texts = list(session["role"]), list(session["text"])
        best = {"before": float("inf"), "after": float("inf")}
        for coder in (before, after):
            coder.code(roles[:5], texts[:5])
        for _ in range(repeats):  # interleaved, so that a change in the machine's load hits both alike
            for name, coder in (("before", before), ("after", after)):
                best[name] = min(best[name], _timed(coder.code, roles, texts))
        rates = {name: len(roles) / seconds for name, seconds in best.items()}
        probs = after.predict_proba(roles[:2], texts[:2])
        fake = {task: np.full((len(roles), p.shape[1]), 1.0 / p.shape[1]) for task, p in probs.items()}
        uniform = np.full((len(roles), 7), 1 / 7)

        def cues_only():
            cues = detect_all(roles, texts)
            adjust_behaviour(fake, cues)
            adjust_adherence(uniform, cues)

        cue_seconds = min(_timed(cues_only) for _ in range(repeats))
        print(f"{len(roles)}-utterance session: {rates['before']:.0f} utt/s without the cues, {rates['after']:.0f} with; "
              f"the cues alone {1e6 * cue_seconds / len(roles):.0f} microseconds per utterance")


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default="../shared/data/annomi", help="AnnoMI folder (AnnoMI-full.dev.csv)")
    parser.add_argument("--coder-oof", default="/tmp/oof/coder-oof.npz",
                        help="out-of-fold coder probabilities (evaluate --save-probabilities); section skipped if absent")
    parser.add_argument("--forum", default="../shared/data/mi-forum", help="mi-forum folder (mi-gold.dev.csv)")
    parser.add_argument("--test-set", default=str(TEST_SET), help="the hand-written plain-speech CSV")
    parser.add_argument("--skip", default="", help=f"comma-separated sections to leave out ({', '.join(SECTIONS)})")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    from mifidelity.coding.trained import TrainedCoder

    before, after = TrainedCoder(plain_speech=False).load(), TrainedCoder().load()
    if "testset" not in skip:
        test_set_section(before, after, Path(args.test_set))
    if "annomi" not in skip:
        if Path(args.coder_oof).is_file():
            annomi_section(args.annomi, args.coder_oof)
        else:
            print(f"\n## AnnoMI out of fold: skipped, {args.coder_oof} not found")
    if "gold" not in skip:
        gold_section(before, after, args.forum)
    if "spoken" not in skip:
        spoken_section(before, after)
    if "speed" not in skip:
        speed_section(before, after, args.annomi)


if __name__ == "__main__":
    main()
