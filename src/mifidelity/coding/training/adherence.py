"""Train and evaluate the MI-adherence coder (:mod:`mifidelity.coding.adherence`).

Usage (from the repository root)::

    python -m mifidelity.coding.training.adherence train    [--forum DIR] [--annomi DIR]
    python -m mifidelity.coding.training.adherence evaluate [--forum DIR] [--annomi DIR] [--designs ...]

The training examples (mi-forum gold and silver, AnnoMI, our own spoken examples) and their
frozen embeddings: :mod:`mifidelity.coding.training.adherence_data`.

``evaluate`` prints (a) macro-F1 over six labels on mi-gold with 5-fold cross-validation
(every fold trained on all other sources and the other gold folds), (b) macro-F1 over all
seven labels on the held-out spoken test set, clean and stripped, (c) AnnoMI advice/options
out-of-fold by transcript, and the speed of the shipped coder.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.adherence import (
    ADHERENCE_LABELS, CONTEXT_CUES, DEFAULT_ARTIFACT, AdherenceClassifier, AdherenceCoder,
)
from mifidelity.coding.training.adherence_data import (
    DEFAULT_FORUM_DIR, SPOKEN_TEST, VERSIONS, ExampleSet, Sources, all_training_sets, annomi_cues, embed, load_sources,
)
from mifidelity.coding.training.data import DEFAULT_DATA_DIR as DEFAULT_ANNOMI_DIR

logger = logging.getLogger(__name__)

SEED = 13
MODEL_VERSION = "1"
# mi-gold has no Seeking Collaboration label, so the written score is over the other six.
GOLD_SCORED = tuple(label for label in ADHERENCE_LABELS if label != "seeking_collaboration")

DESIGNS = {
    # name: classifier, hidden units, cues (lexical + context) or embeddings only, L2, silver column
    "lr": dict(kind="lr", cues=True, c=1.0, silver="cosine"),
    "lr-no-cues": dict(kind="lr", cues=False, c=1.0, silver="cosine"),
    "lr-no-context": dict(kind="lr", cues=True, context=False, c=1.0, silver="cosine"),
    "lr-no-silver": dict(kind="lr", cues=True, c=1.0, silver=None),
    "lr-union": dict(kind="lr", cues=True, c=1.0, silver="union"),
    "lr-intersection": dict(kind="lr", cues=True, c=1.0, silver="intersection"),
    "mlp": dict(kind="mlp", cues=True, hidden=256, alpha=1e-3, silver="cosine"),
}
DEFAULT_DESIGN = "lr-no-context"
# Per-example weight of each source before class balancing: silver and AnnoMI are noisy or
# only partly on target, and they are many.
SOURCE_WEIGHTS = {"gold": 1.0, "spoken": 3.0, "silver": 0.1, "annomi": 0.3}


# ----------------------------------------------------------------------------- fitting


def design_matrix(examples: ExampleSet, version: str, design: dict) -> np.ndarray:
    vectors = embed(examples.texts, version)
    if not design.get("cues", True):
        return vectors
    cues = examples.cues[version] if design.get("context", True) else examples.cues[version][:, :-len(CONTEXT_CUES)]
    return np.concatenate([vectors, cues], axis=1)


def training_arrays(sets: list[ExampleSet], design: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both text versions of every example, with source weights times balanced class weights."""
    features, labels, weights = [], [], []
    for examples in sets:
        if not len(examples):
            continue
        for version in VERSIONS:
            features.append(design_matrix(examples, version, design))
            labels.append(examples.labels)
            weights.append(np.full(len(examples), SOURCE_WEIGHTS.get(examples.source, 1.0)))
    x, y, w = np.concatenate(features), np.concatenate(labels), np.concatenate(weights)
    class_mass = np.bincount(y, weights=w, minlength=len(ADHERENCE_LABELS))
    present = class_mass > 0
    # square-root balancing: rare codes (Confront, Autonomy) are lifted without letting a
    # handful of examples dominate
    target = np.where(present, np.sqrt(class_mass.sum() / np.maximum(class_mass, 1e-9) / present.sum()), 0.0)
    w = w * target[y]
    return x, y, w / w.mean()


def fit_classifier(sets: list[ExampleSet], design: dict, meta: dict | None = None) -> AdherenceClassifier:
    """Fit the design's classifier on every example of ``sets`` (seeded)."""
    x, y, w = training_arrays(sets, design)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    if design["kind"] == "lr":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=design["c"] / 100, max_iter=2000, random_state=SEED)
        model.fit(z, y, sample_weight=w)
        weights = np.zeros((x.shape[1], len(ADHERENCE_LABELS)), np.float32)
        bias = np.full(len(ADHERENCE_LABELS), -30.0, np.float32)  # a class absent from training is never chosen
        weights[:, model.classes_] = model.coef_.T
        bias[model.classes_] = model.intercept_
        layers = [(weights, bias)]
    else:
        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier(hidden_layer_sizes=(design["hidden"],), alpha=design["alpha"], max_iter=60,
                              early_stopping=False, random_state=SEED, batch_size=256, learning_rate_init=1e-3)
        model.fit(z, y, sample_weight=w)
        last_w, last_b = model.coefs_[-1], model.intercepts_[-1]
        full_w = np.zeros((last_w.shape[0], len(ADHERENCE_LABELS)), np.float32)
        full_b = np.full(len(ADHERENCE_LABELS), -30.0, np.float32)
        full_w[:, model.classes_] = last_w
        full_b[model.classes_] = last_b
        layers = [(model.coefs_[0], model.intercepts_[0]), (full_w, full_b)]
    meta = dict(meta or {}, labels=list(ADHERENCE_LABELS), design=design, n_layers=len(layers),
                model_version=MODEL_VERSION, n_features=int(x.shape[1]))
    return AdherenceClassifier(layers, mean, scale, meta)


def predict(classifier: AdherenceClassifier, examples: ExampleSet, version: str) -> np.ndarray:
    return classifier.predict_proba(design_matrix(examples, version, classifier.meta["design"]))


# ----------------------------------------------------------------------------- the shipped model


def train(forum_dir: str | Path, annomi_dir: str | Path, design_name: str = DEFAULT_DESIGN,
          output: str | Path = DEFAULT_ARTIFACT) -> AdherenceClassifier:
    """Fit the shipped model on every training source and write the artifact."""
    design = DESIGNS[design_name]
    sources = load_sources(forum_dir, annomi_dir, design["silver"])
    sets = all_training_sets(sources)
    meta = {"design_name": design_name, "encoder": "sentence-transformers/all-MiniLM-L6-v2",
            "training_examples": {s.source: len(s) for s in sets}, "versions": list(VERSIONS), "seed": SEED}
    classifier = fit_classifier(sets, design, meta)
    classifier.save(output)
    logger.info("wrote %s", output)
    return classifier


# ----------------------------------------------------------------------------- out-of-fold AnnoMI


def annomi_out_of_fold_adherence(annomi_dir: str | Path, fold_of_transcript: dict[int, int],
                                 version: str = "clean", forum_dir: str | Path = DEFAULT_FORUM_DIR,
                                 design_name: str = DEFAULT_DESIGN) -> pd.DataFrame:
    """Adherence probabilities for every AnnoMI coach utterance, out of fold by transcript.

    Parameters
    ----------
    annomi_dir:
        Folder of ``AnnoMI-full.dev.csv``.
    fold_of_transcript:
        ``transcript_id -> fold``. A transcript's probabilities come from a model trained
        without any AnnoMI example of its fold (mi-forum and our spoken examples are kept).
        Transcripts missing from the mapping are scored by a model without any AnnoMI example.
    version:
        ``"clean"`` (as transcribed) or ``"asr"`` (lower case, no punctuation).
    forum_dir:
        Folder of the mi-forum files.

    Returns
    -------
    pandas.DataFrame
        ``transcript_id``, ``utterance_id`` and ``probability_<label>`` for each of
        :data:`ADHERENCE_LABELS`, one row per coach utterance in corpus order.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, not {version!r}")
    design = DESIGNS[design_name]
    sources = load_sources(forum_dir, annomi_dir, design["silver"])
    data = sources.annomi_data
    coach = (data["role"] == "coach").to_numpy()
    cues = annomi_cues(data)
    scored = ExampleSet("annomi-all", data.loc[coach, "text"].tolist(), np.zeros(coach.sum(), dtype=int),
                        {v: c[coach] for v, c in cues.items()}, data.loc[coach, "transcript_id"].to_numpy())
    folds = np.array([fold_of_transcript.get(int(t), -1) for t in scored.group])
    probabilities = np.zeros((len(scored), len(ADHERENCE_LABELS)))
    others = [s for s in all_training_sets(sources) if s.source != "annomi"]
    example_folds = np.array([fold_of_transcript.get(int(t), -1) for t in sources.annomi.group])
    for fold in sorted(set(folds)):
        keep = example_folds != fold if fold >= 0 else np.zeros(len(sources.annomi), dtype=bool)
        classifier = fit_classifier(others + [sources.annomi.subset(keep)], design)
        rows = folds == fold
        probabilities[rows] = predict(classifier, scored.subset(rows), version)
    out = data.loc[coach, ["transcript_id", "utterance_id"]].reset_index(drop=True)
    for index, label in enumerate(ADHERENCE_LABELS):
        out[f"probability_{label}"] = probabilities[:, index].round(5)
    return out


# ----------------------------------------------------------------------------- evaluation


def _scores(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple) -> tuple[float, dict[str, float]]:
    from sklearn.metrics import f1_score

    indices = [ADHERENCE_LABELS.index(label) for label in labels]
    per_class = f1_score(y_true, y_pred, labels=indices, average=None, zero_division=0)
    return float(np.mean(per_class)), dict(zip(labels, per_class.round(3).tolist()))


def gold_cross_validation(sources: Sources, design: dict, n_splits: int = 5) -> dict[str, np.ndarray]:
    """Out-of-fold gold predictions per version: each fold trained on everything but its gold rows."""
    from sklearn.model_selection import StratifiedKFold

    gold = sources.gold
    others = [s for s in all_training_sets(sources) if s.source != "gold"]
    predictions = {v: np.zeros(len(gold), dtype=int) for v in VERSIONS}
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    for train_rows, test_rows in splitter.split(np.zeros(len(gold)), gold.labels):
        train_mask = np.zeros(len(gold), dtype=bool)
        train_mask[train_rows] = True
        classifier = fit_classifier(others + [gold.subset(train_mask)], design)
        for version in VERSIONS:
            predictions[version][test_rows] = predict(classifier, gold.subset(~train_mask), version).argmax(1)
    return predictions


def annomi_sanity(sources: Sources, design: dict) -> dict[str, float]:
    """AnnoMI out of fold by transcript (the project's folds): advice/options as persuade-ish."""
    from mifidelity.coding.training.evaluate import folds

    data = sources.annomi_data
    fold_of_transcript = {}
    for fold, (_, test_rows) in enumerate(folds(data)):
        for transcript in data["transcript_id"].iloc[test_rows].unique():
            fold_of_transcript[int(transcript)] = fold
    examples = sources.annomi
    others = [s for s in all_training_sets(sources) if s.source != "annomi"]
    example_folds = np.array([fold_of_transcript[int(t)] for t in examples.group])
    predicted = np.zeros(len(examples), dtype=int)
    for fold in sorted(set(example_folds)):
        classifier = fit_classifier(others + [examples.subset(example_folds != fold)], design)
        predicted[example_folds == fold] = predict(classifier, examples.subset(example_folds == fold), "clean").argmax(1)
    persuade_ish = np.isin(predicted, [ADHERENCE_LABELS.index(x) for x in ("persuade", "persuade_with_permission")])
    labels = examples.labels
    out = {}
    for name in ("persuade", "persuade_with_permission", "none"):
        rows = labels == ADHERENCE_LABELS.index(name)
        out[f"{name}: n"] = int(rows.sum())
        out[f"{name}: predicted persuade or persuade_with_permission"] = float(persuade_ish[rows].mean())
        out[f"{name}: predicted exactly"] = float((predicted[rows] == ADHERENCE_LABELS.index(name)).mean())
    return out


def spoken_test_scores(classifier: AdherenceClassifier, sources: Sources) -> dict:
    test = sources.spoken_test
    out = {}
    for version in VERSIONS:
        predicted = predict(classifier, test, version).argmax(1)
        out[version] = (*_scores(test.labels, predicted, ADHERENCE_LABELS), predicted)
    return out


def measure_speed(n_sessions: int = 3) -> float:
    """Coach utterances per second of the shipped coder (one thread, warm), on the spoken test sessions."""
    frame = pd.read_csv(SPOKEN_TEST, keep_default_na=False)
    roles, texts = [], []
    for previous, text in zip(frame["previous_client"], frame["text"]):
        roles += ["client", "coach"]
        texts += [previous or "Mm.", text]
    coder = AdherenceCoder().load()
    coder.code(roles[:20], texts[:20])
    started = time.perf_counter()
    for _ in range(n_sessions):
        coder.code(roles, texts)
    return n_sessions * len(frame) / (time.perf_counter() - started)


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple) -> pd.DataFrame:
    from sklearn.metrics import confusion_matrix

    indices = [ADHERENCE_LABELS.index(label) for label in labels]
    short = [label[:12] for label in labels]
    return pd.DataFrame(confusion_matrix(y_true, y_pred, labels=indices), index=short, columns=short)


def evaluate(forum_dir: str | Path, annomi_dir: str | Path, design_names: list[str],
             sanity: bool = True, speed: bool = True) -> pd.DataFrame:
    """Print the evaluation tables for each design; return the summary table."""
    summary = []
    loaded: dict = {}
    for name in design_names:
        design = DESIGNS[name]
        if design["silver"] not in loaded:
            loaded[design["silver"]] = load_sources(forum_dir, annomi_dir, design["silver"])
        sources = loaded[design["silver"]]
        started = time.perf_counter()
        gold_predictions = gold_cross_validation(sources, design)
        classifier = fit_classifier(all_training_sets(sources), design)
        spoken = spoken_test_scores(classifier, sources)
        row = {"design": name}
        for version in VERSIONS:
            macro, per_class = _scores(sources.gold.labels, gold_predictions[version], GOLD_SCORED)
            row[f"gold macro-F1 ({version})"] = round(macro, 3)
            if version == "clean":
                gold_per_class = per_class
        for version in VERSIONS:
            row[f"spoken macro-F1 ({version})"] = round(spoken[version][0], 3)
        summary.append(row)
        print(f"\n=== design {name}: {json.dumps(design)} ({time.perf_counter() - started:.0f} s)")
        print(json.dumps(row))
        print("mi-gold 5-fold CV, per-class F1 (clean):", gold_per_class)
        print(confusion_table(sources.gold.labels, gold_predictions["clean"], GOLD_SCORED).to_string())
        for version in VERSIONS:
            print(f"spoken test per-class F1 ({version}):", spoken[version][1])
        print(confusion_table(sources.spoken_test.labels, spoken["clean"][2], ADHERENCE_LABELS).to_string())
        if sanity and name == design_names[0]:  # costly (five more fits): the first design only
            for key, value in annomi_sanity(sources, design).items():
                print(f"AnnoMI out-of-fold, {key}: {value:.3f}" if isinstance(value, float)
                      else f"AnnoMI out-of-fold, {key}: {value}")
    table = pd.DataFrame(summary).set_index("design")
    print("\nSummary (gold: macro-F1 over", ", ".join(GOLD_SCORED), "; spoken: over all 7 labels)")
    print(table.to_string())
    if speed:
        print(f"\nshipped coder speed: {measure_speed():.0f} coach utterances/s (one thread, warm)")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("train", "evaluate"))
    parser.add_argument("--forum", default=DEFAULT_FORUM_DIR, help="folder of mi-gold.dev.csv and counselchat-augmented.csv")
    parser.add_argument("--annomi", default=DEFAULT_ANNOMI_DIR, help="folder of AnnoMI-full.dev.csv")
    parser.add_argument("--design", default=DEFAULT_DESIGN, choices=sorted(DESIGNS), help="design to train")
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=sorted(DESIGNS),
                        help="designs to evaluate")
    parser.add_argument("--output", default=str(DEFAULT_ARTIFACT))
    parser.add_argument("--no-sanity", action="store_true", help="skip the AnnoMI out-of-fold figure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.manual_seed(SEED)
    if args.command == "train":
        train(args.forum, args.annomi, args.design, args.output)
    else:
        evaluate(args.forum, args.annomi, args.designs, sanity=not args.no_sanity)


if __name__ == "__main__":
    main()
