"""Cross-validated evaluation of the trained coder against a TF-IDF baseline.

Usage (from the repository root)::

    python -m mifidelity.training.evaluate --data ../shared/data/annomi

5-fold cross-validation grouped by transcript (a session never appears in both
training and test folds). Every fold is scored twice: on the transcripts as
written ("clean") and lower-cased without punctuation ("asr"), what a speech
recogniser may give. Prints macro-F1 per task, confusion matrices, per-session
metric agreement (R:Q, %complex reflections, %open questions, %change talk),
agreement with the majority of the other experts on the transcripts that ten
experts coded (the same comparison for one expert and for the coder), and
coding speed. Never prints utterance text.

``--forum DIR`` (default ``../shared/data/mi-forum``; ``''`` for AnnoMI only) with ``--forum-sources``
(default ``gold``, what the shipped coder learns from) adds mi-forum's counsellor sentences: silver ones
train every fold and are never scored; gold ones are split into the folds (8 to a group), coded out of
fold by :class:`~mifidelity.coding.trained.TrainedCoder` with each fold's model, and scored apart from
AnnoMI. ``--folds 5`` (the default) is what the session model's codes use; ``--folds 2`` what the model
cards' version comparisons used. ``--hlqc-twins CSV`` also codes HLQC's 41 sessions that are the same
video as an AnnoMI transcript, each with the fold model that never saw its twin, and writes their codes
(no text) for ``benchmarks/twin_transcripts.py``. ``--keep-fold-models DIR`` keeps each fold's model and the
fold of every held-out gold sentence, so two seeds' fold models can later code the forum together
(``benchmarks/forum_seeds.py``).

``--extra-corrections corrections.csv`` (from `mifidelity corrections export`) adds the accepted
portal corrections to every training fold (they are never scored) and first prints how many of
them the coder (``--model``, default the shipped one) agrees with: the shipped coder disagrees
with all of them by construction; a coder trained with them shows how many it learnt.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import CLIENT_TALK_COLUMN, LABELS, MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN
from mifidelity.training.data import DEFAULT_DATA_DIR, DEFAULT_FORUM_DIR, TASKS, VERSIONS, annotator_tables, load_annomi, load_corrections
from mifidelity.training.hlqc import DEFAULT_HLQC_DIR, TwinsOutOfFold
from mifidelity.training.scores import (
    SCORED_TASKS, SESSION_METRICS, confusion, correction_agreement, counts_from_labels, counts_from_probabilities,
    expert_agreement, hard_labels, label_indices, session_agreement, session_metric_table, task_scores,
)
from mifidelity.training.train import (
    DEFAULT_CACHE, DEFAULT_CONFIG, SEED, FoldCoder, fit_model, forum_sources, predict, prepare, task_rows, version_texts, with_forum,
    with_spoken_client_talk,
)

logger = logging.getLogger(__name__)

# Written beside the kept fold models (``--keep-fold-models``): which fold held out each mi-forum gold sentence.
GOLD_FOLDS_CSV = "gold_folds.csv"

# Reference macro-F1 (main / question / reflection / client talk).
REFERENCES = {
    "human experts (AnnoMI, 1 vs majority of 9)": (0.86, 0.83, 0.62, 0.72),
    "best published model": (0.83, None, None, 0.66),
    "targets": (0.80, 0.78, 0.58, 0.62),
}
# How the report names the two systems it scores.
SYSTEM_NAMES = {"model": "MiniLM-ctx", "baseline": "TF-IDF+LR"}


# --------------------------------------------------------------------------- baseline


class TfidfBaseline:
    """TF-IDF (word 1-2 grams) + logistic regression on the current utterance only."""

    def __init__(self):
        self.models: dict = {}

    def fit(self, data: pd.DataFrame, texts: dict[str, list[str]], train_index: np.ndarray) -> "TfidfBaseline":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        allowed = np.zeros(len(data), dtype=bool)
        allowed[train_index] = True
        for task in TASKS:
            rows = task_rows(data, task)
            rows = rows[allowed[rows]]
            x = [texts[v][i] for v in texts for i in rows]
            y = np.concatenate([label_indices(data[task].to_numpy()[rows], task) for _ in texts])
            pipeline = make_pipeline(
                TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w[\w']*\b|\?"),
                LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced", random_state=SEED),
            )
            self.models[task] = pipeline.fit(x, y)
        return self

    def predict_proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        return {task: model.predict_proba(texts) for task, model in self.models.items()}


# --------------------------------------------------------------------------- cross-validation


def folds(data: pd.DataFrame, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped, shuffled, seeded folds: whole transcripts go to one side."""
    from sklearn.model_selection import GroupKFold

    splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(data)), groups=data["transcript_id"]))


def cross_validate(data: pd.DataFrame, prepared: dict[str, dict], config: dict | None = None,
                   baseline: bool = True, extra_train: np.ndarray | None = None, n_splits: int = 5,
                   on_fold=None) -> dict:
    """Out-of-fold probabilities for the model (and baseline), per text version.

    Parameters
    ----------
    prepared:
        :func:`mifidelity.training.train.prepare` output (frozen-bottom states and cues per version).
    extra_train:
        Rows added to every training fold and never scored (accepted portal corrections, silver labels).
    on_fold:
        Called as ``on_fold(fold, model, test_index)`` after each fold's fit (to code held-out material).

    Returns
    -------
    dict
        ``{"model": {version: {task: (n, k)}}, "baseline": {...}}``.
    """
    config = dict(DEFAULT_CONFIG, **(config or {}))
    out = {"model": {v: {t: np.zeros((len(data), len(LABELS[t]))) for t in TASKS} for v in prepared}}
    texts = {v: version_texts(data["text"], v) for v in prepared}
    if baseline:
        out["baseline"] = {v: {t: np.zeros((len(data), len(LABELS[t]))) for t in TASKS} for v in prepared}
    extra = np.array([], dtype=int) if extra_train is None else np.asarray(extra_train)
    scored = np.setdiff1d(np.arange(len(data)), extra)  # extra rows (corrections) train every fold, are never scored
    for fold, (train_index, test_index) in enumerate(folds(data.iloc[scored], n_splits)):
        train_index, test_index = np.concatenate([scored[train_index], extra]), scored[test_index]
        started = time.perf_counter()
        model = fit_model(data, prepared, train_index, config)
        if on_fold is not None:
            on_fold(fold, model, test_index)
        for version in prepared:
            probs = predict(model, data, prepared, version, test_index, config["threads"])
            for task in TASKS:
                out["model"][version][task][test_index] = probs[task][test_index]
        if baseline:
            base = TfidfBaseline().fit(data, texts, train_index)
            for version in prepared:
                probs = base.predict_proba([texts[version][i] for i in test_index])
                for task in TASKS:
                    out["baseline"][version][task][test_index] = probs[task]
        logger.info("fold %d done in %.0fs", fold + 1, time.perf_counter() - started)
    return out


def measure_speed(data: pd.DataFrame, model_path: str | None = None, repeats: int = 3) -> dict[str, float]:
    """Utterances per second of :class:`TrainedCoder` on realistic sessions (warm, after loading).

    Uses the transcripts nearest 100 and 300 utterances, as written.
    """
    from mifidelity.coding.trained import TrainedCoder

    coder = TrainedCoder(model_path)
    started = time.perf_counter()
    coder.load()
    result = {"load_seconds": time.perf_counter() - started}
    sizes = data.groupby("transcript_id").size()
    for target in (100, 300):
        transcript = (sizes - target).abs().idxmin()
        session = data[data["transcript_id"] == transcript]
        roles, texts = list(session["role"]), list(session["text"])
        coder.code(roles[:5], texts[:5])  # warm-up
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            coder.code(roles, texts)
            best = min(best, time.perf_counter() - started)
        result[f"utt_per_s_{len(session)}"] = len(session) / best
    return result


# --------------------------------------------------------------------------- report


def _fmt(value) -> str:
    return "  -  " if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"


def report(data: pd.DataFrame, results: dict, speed: dict | None, annotators: pd.DataFrame | None = None,
           n_splits: int = 5) -> str:
    """The printed report (no utterance text); ``annotators`` adds the expert-agreement table."""
    lines = []
    add = lines.append
    coach = data["role"] == "coach"
    add(f"AnnoMI dev: {data['transcript_id'].nunique()} transcripts, {int(coach.sum())} coach and "
        f"{int((~coach).sum())} client utterances; {n_splits}-fold CV grouped by transcript_id (seed {SEED}).")
    add("")
    add("Macro-F1                        main   question reflection client_talk giving_info")
    scores = {}
    for system in results:
        for version in results[system]:
            predicted = hard_labels(data, results[system][version], consistent=(system == "model"))
            scores[(system, version)] = (task_scores(data, predicted), predicted)
            s = scores[(system, version)][0]
            name = f"{SYSTEM_NAMES[system]} ({version})"
            add(f"{name:<30} " + " ".join(f"{_fmt(s[t]):>10}" for t in SCORED_TASKS))
    if "model" in results:
        for version in results["model"]:
            raw = task_scores(data, hard_labels(data, results["model"][version], consistent=False))
            add(f"{'  without consistency rule (' + version + ')':<30} " + " ".join(f"{_fmt(raw[t]):>10}" for t in SCORED_TASKS))
    for name, values in REFERENCES.items():
        add(f"{name[:30]:<30} " + " ".join(f"{_fmt(v):>10}" for v in values))
    add("")
    for version in results.get("model", {}):
        _, predicted = scores[("model", version)]
        for task in (MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN, CLIENT_TALK_COLUMN):
            add(f"Confusion, {SYSTEM_NAMES['model']} ({version}), {task} (rows expert, columns predicted):")
            add(confusion(data, predicted, task).to_string())
            add("")
    expert_labels = {t: data[t].to_numpy() for t in TASKS}
    expert = session_metric_table(data, counts_from_labels(data, expert_labels))
    expert_counts = pd.DataFrame(counts_from_labels(data, expert_labels)).groupby(data["transcript_id"].to_numpy()).sum()
    enough = pd.DataFrame({
        "R:Q": (expert_counts["open"] + expert_counts["closed"]) >= 3,
        "%CR": (expert_counts["simple"] + expert_counts["complex"]) >= 3,
        "%OQ": (expert_counts["open"] + expert_counts["closed"]) >= 3,
        "%CT": (expert_counts["change"] + expert_counts["sustain"]) >= 3,
    })
    add("Session metrics vs experts (sessions with >= 3 expert-coded items in the denominator):")
    add("system                                   " + "".join(f"{m + ' r':>8}{m + ' MAE':>10}" for m in SESSION_METRICS))
    for system in results:
        for version in results[system]:
            label = SYSTEM_NAMES[system]
            _, predicted = scores[(system, version)]
            hard = session_agreement(expert, session_metric_table(data, counts_from_labels(data, predicted)), enough)
            soft = session_agreement(expert, session_metric_table(
                data, counts_from_probabilities(data, results[system][version])), enough)
            for kind, table in (("hard labels", hard), ("summed probs", soft)):
                add(f"{label + ' (' + version + '), ' + kind:<41}" + "".join(
                    f"{_fmt(table.loc[m, 'r']):>8}{_fmt(table.loc[m, 'MAE']):>10}" for m in SESSION_METRICS))
    add("  n sessions: " + ", ".join(f"{m} {int(enough[m].sum())}" for m in SESSION_METRICS))
    add("  MAE is the median absolute error: R:Q in reflections per question, the others in percentage points.")
    if annotators is not None and len(annotators):
        add("")
        add(f"Against the majority of the other experts ({annotators['transcript_id'].nunique()} transcripts with "
            f"{annotators.groupby('transcript_id')['annotator_id'].nunique().min()}+ annotators; macro-F1):")
        add("                                main   question reflection client_talk giving_info")
        rows = {}
        for system in results:
            for version in results[system]:
                name = f"{SYSTEM_NAMES[system]} ({version})"
                rows[name] = expert_agreement(annotators, data, scores[(system, version)][1])
        first = next(iter(rows.values()))
        add(f"{'one expert':<30} " + " ".join(f"{_fmt(first.loc['expert', t]):>10}" for t in SCORED_TASKS))
        for name, table in rows.items():
            add(f"{name:<30} " + " ".join(f"{_fmt(table.loc['coder', t]):>10}" for t in SCORED_TASKS))
        add(f"  pairs (utterance, held-out expert): {int(first.loc['pairs', 'main_behaviour'])} coach, "
            f"{int(first.loc['pairs', 'client_talk'])} client")
    if speed:
        add("")
        add("Speed (TrainedCoder.code, warm, best of 3; load " f"{speed['load_seconds']:.1f}s): " + ", ".join(
            f"{k.split('_')[-1]}-utterance session {v:.0f} utt/s" for k, v in speed.items() if k.startswith("utt")))
    return "\n".join(lines)


def save_probabilities(path: str, data: pd.DataFrame, results: dict) -> None:
    """Write out-of-fold probabilities as ``system/version/task`` arrays, row-aligned with
    ``transcript_id`` and ``utterance_id`` (which are saved too; no utterance text)."""
    arrays = {f"{system}/{version}/{task}": probs
              for system, by_version in results.items() for version, by_task in by_version.items()
              for task, probs in by_task.items()}
    np.savez_compressed(path, transcript_id=data["transcript_id"].to_numpy(),
                        utterance_id=data["utterance_id"].to_numpy(), **arrays)
    logger.info("out-of-fold probabilities written to %s", path)


class ForumGoldOutOfFold:
    """mi-forum's gold sentences coded out of fold, as ``mifidelity code`` would code them (``on_fold`` hook).

    Each fold's model, as :class:`~mifidelity.training.train.FoldCoder` gives it (plain-speech cues, joint
    decision), codes the fold's held-out gold sentences alone and after a client turn.
    """

    def __init__(self, data: pd.DataFrame, gold_rows: np.ndarray, coders: FoldCoder, with_silver: bool = False):
        self.data, self.gold_rows, self.coders, self.with_silver = data, np.asarray(gold_rows), coders, with_silver
        self.codes: dict[str, list[pd.DataFrame]] = {}
        self.fold_of = pd.Series(-1, index=self.gold_rows)

    def __call__(self, fold: int, model, test_index: np.ndarray) -> None:
        from mifidelity.training.forum_behaviour import gold_codes

        held_out = np.intersect1d(test_index, self.gold_rows)
        self.fold_of.loc[held_out] = fold
        coded = gold_codes(self.coders(fold, model), self.data["text"].to_numpy()[held_out].tolist())
        for name, frame in coded.items():
            self.codes.setdefault(name, []).append(frame.set_axis(held_out))

    def table(self) -> str:
        from mifidelity.training.forum_behaviour import gold_table

        truth = self.data.loc[self.gold_rows, [MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN]]
        codes = {name: pd.concat(frames).loc[self.gold_rows] for name, frames in self.codes.items()}
        table, _ = gold_table(truth, codes)
        silver = ", every silver sentence" if self.with_silver else ""
        return (f"mi-forum gold, out of fold ({len(self.gold_rows)} sentences; the coder trained on the other folds' "
                f"gold{silver} and the other folds' AnnoMI):\n" + table.to_string())

    def save_folds(self, path: str | Path) -> None:
        """Each gold sentence's position among the gold sentences and the fold that held it out (no text)."""
        never = int((self.fold_of < 0).sum())
        if never:
            raise RuntimeError(f"{never} mi-forum gold sentences were never held out: the folds did not all run")
        pd.DataFrame({"gold_position": np.arange(len(self.gold_rows)), "fold": self.fold_of.to_numpy()}).to_csv(
            path, index=False)


class SpokenClientTalkFolds:
    """The held-out spoken client turns (``training_data/spoken_client_talk_test.csv``, never trained on) coded
    by every fold's model as ``mifidelity code`` codes them (``on_fold`` hook)."""

    def __init__(self, coders: FoldCoder):
        self.coders, self.scores = coders, []

    def __call__(self, fold: int, model, test_index: np.ndarray) -> None:
        from mifidelity.training.spoken_client_talk import spoken_test_scores

        self.scores.append(spoken_test_scores(self.coders(fold, model)))

    def table(self) -> str:
        scores = pd.DataFrame(self.scores).rename_axis("fold")
        return ("Held-out spoken client turns, client-talk macro-F1 of each fold model (as written / without "
                f"punctuation):\n{scores.round(3).to_string()}\nmean {scores.mean().round(3).to_dict()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="AnnoMI folder (holds AnnoMI-full.dev.csv)")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="frozen-bottom state cache folder ('' to disable)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    parser.add_argument("--model", default=None, help="artifact for the speed measurement (default: bundled)")
    parser.add_argument("--threads", type=int, default=DEFAULT_CONFIG["threads"],
                        help="torch threads for the cross-validation runs (default %(default)s; 1 when the machine is busy)")
    parser.add_argument("--folds", type=int, default=5, help="folds grouped by transcript (default %(default)s)")
    parser.add_argument("--save-probabilities", default=None, metavar="NPZ",
                        help="also write the out-of-fold probabilities here, for later analysis without re-training")
    parser.add_argument("--extra-corrections", action="append", default=[], metavar="CSV",
                        help="accepted corrections (`mifidelity corrections export`): added to every training fold, "
                             "and the coder's agreement with them is printed (repeatable)")
    parser.add_argument("--forum", default=DEFAULT_FORUM_DIR, metavar="DIR",
                        help="mi-forum folder (default %(default)s; '' for AnnoMI only): silver sentences train every "
                             "fold, gold sentences are split into the folds and scored out of fold as the shipped coder "
                             "codes them")
    parser.add_argument("--forum-sources", type=forum_sources, default="gold",
                        help="which of the forum's sentences: gold, silver or both (default %(default)s: "
                             "what the shipped coder learnt from)")
    parser.add_argument("--hlqc-twins", default=None, metavar="CSV",
                        help="also code HLQC's sessions that are the same video as an AnnoMI transcript, each with the "
                             "fold model that never saw that transcript, and write their codes here (no text; "
                             "benchmarks/twin_transcripts.py reads them)")
    parser.add_argument("--hlqc", default=DEFAULT_HLQC_DIR, metavar="DIR", help="HLQC folder (default %(default)s)")
    parser.add_argument("--spoken-client-talk", action=argparse.BooleanOptionalAction, default=True,
                        help="add the hand-written spoken client turns (training_data/spoken_client_talk_train.csv) "
                             "to every training fold (default: yes, as the shipped coder)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="the fold models' training seed (initialisation, batch order; default %(default)s); "
                             "the folds stay those of the default seed, so two runs' codes can be compared")
    parser.add_argument("--keep-fold-models", default=None, metavar="DIR",
                        help="keep each fold's model (DIR/foldN.npz) and the fold of each held-out mi-forum gold "
                             f"sentence (DIR/{GOLD_FOLDS_CSV}) for benchmarks/forum_seeds.py")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = load_annomi(args.data)
    together, extra, forum_gold, twins = data, [], None, None
    if args.extra_corrections:
        corrections = load_corrections(args.extra_corrections)
        print(correction_agreement(corrections, args.model).to_string(index=False))
        extra.append(np.arange(len(together), len(together) + len(corrections)))
        together = pd.concat([together, corrections.drop(columns="session_id")], ignore_index=True)
    if args.keep_fold_models:
        Path(args.keep_fold_models).mkdir(parents=True, exist_ok=True)
    fold_models = (contextlib.nullcontext(args.keep_fold_models) if args.keep_fold_models
                   else tempfile.TemporaryDirectory(prefix="mifidelity-folds-"))
    with fold_models as work:  # the fold models held-out material is coded with
        coders = FoldCoder(work)
        if args.forum:
            together = with_forum(together, args.forum, args.forum_sources)
            source = together["source"].fillna("").to_numpy()
            extra.append(np.flatnonzero(source == "silver"))
            forum_gold = ForumGoldOutOfFold(together, np.flatnonzero(source == "gold"), coders,
                                            with_silver=args.forum_sources["silver"])
        if args.spoken_client_talk:
            with_spoken = with_spoken_client_talk(together)
            extra.append(np.arange(len(together), len(with_spoken)))  # trains every fold, never scored
            together = with_spoken
        if args.hlqc_twins:
            twins = TwinsOutOfFold(together, args.hlqc, coders)
        spoken_test = SpokenClientTalkFolds(coders)
        hooks = [hook for hook in (forum_gold, twins, spoken_test) if hook is not None]
        prepared = prepare(together, args.cache or None, VERSIONS)
        results = cross_validate(together, prepared, {"threads": args.threads, "seed": args.seed},
                                 baseline=not args.no_baseline,
                                 extra_train=np.concatenate(extra) if extra else None, n_splits=args.folds,
                                 on_fold=(lambda *fold: [hook(*fold) for hook in hooks]) if hooks else None)
    if twins is not None:
        twins.save(args.hlqc_twins)
    if forum_gold is not None and args.keep_fold_models:
        forum_gold.save_folds(Path(args.keep_fold_models) / GOLD_FOLDS_CSV)
    results = {system: {v: {t: p[:len(data)] for t, p in tasks.items()} for v, tasks in versions.items()}
               for system, versions in results.items()}  # scores on AnnoMI only
    if args.save_probabilities:
        save_probabilities(args.save_probabilities, data, results)
    speed = None if args.no_speed else measure_speed(data, args.model)
    print(report(data, results, speed, annotator_tables(args.data), args.folds))
    if forum_gold is not None:
        print("\n" + forum_gold.table())
    print("\n" + spoken_test.table())


if __name__ == "__main__":
    main()
