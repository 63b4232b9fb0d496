"""Train and evaluate the MI-adherence coder (:mod:`mifidelity.coding.adherence`).

Usage (from the repository root)::

    python -m mifidelity.coding.adherence_training train    [--forum DIR] [--annomi DIR]
    python -m mifidelity.coding.adherence_training evaluate [--forum DIR] [--annomi DIR] [--designs ...]

Data (see ``docs/model-card-adherence.md``): the mi-forum gold counsellor sentences and their
silver-labelled CounselChat sentences (CC BY-NC-SA 3.0), AnnoMI coach utterances (advice,
options, plain information/questions/reflections; public domain), and our own spoken
examples in ``training_data/spoken_adherence_train.csv``. Every example is used twice: as
written and as a speech recogniser without punctuation would give it (:func:`strip_asr`).
``training_data/spoken_adherence_test.csv`` is never trained on.

``evaluate`` prints (a) macro-F1 over six labels on mi-gold with 5-fold cross-validation
(every fold trained on all other sources and the other gold folds), (b) macro-F1 over all
seven labels on the held-out spoken test set, clean and stripped, (c) AnnoMI advice/options
out-of-fold by transcript, and the speed of the shipped coder. Frozen embeddings are cached
under ``/tmp`` so re-runs are cheap.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.adherence import (
    ADHERENCE_LABELS, CONTEXT_CUES, DEFAULT_ARTIFACT, AdherenceClassifier, AdherenceCoder, cue_matrix, get_encoder,
)
from mifidelity.coding.data import DEFAULT_DATA_DIR as DEFAULT_ANNOMI_DIR
from mifidelity.coding.data import FULL_CSV, load_annomi
from mifidelity.coding.features import strip_asr

logger = logging.getLogger(__name__)

SEED = 13
MODEL_VERSION = "1"
DEFAULT_FORUM_DIR = "../shared/data/mi-forum"
TRAINING_DATA = Path(__file__).resolve().parent / "training_data"
SPOKEN_TRAIN = TRAINING_DATA / "spoken_adherence_train.csv"
SPOKEN_TEST = TRAINING_DATA / "spoken_adherence_test.csv"
CACHE_DIR = Path("/tmp/mifidelity-adherence-cache")
VERSIONS = ("clean", "asr")
# mi-gold has no Seeking Collaboration label, so the written score is over the other six.
GOLD_SCORED = tuple(label for label in ADHERENCE_LABELS if label != "seeking_collaboration")

FORUM_LABELS = {
    "Affirm": "affirm",
    "Emphasize Autonomy": "emphasizing_autonomy",
    "Advise with Permission": "persuade_with_permission",
    "Advise without Permission": "persuade", "Direct": "persuade", "Warn": "persuade",
    "Confront": "confront",
}  # everything else (Give Information, questions, reflections, Support, Self-Disclose, Other) -> none
SILVER_COLUMNS = {"cosine": "Cosine label", "union": "Union (without disambiguities)",
                  "intersection": "Intersection", "ngram": "N-gram labels"}
# AnnoMI's therapist-input subtype -> adherence. Advice is Persuade (MITI's default when
# permission is not visible in the utterance); "options" offers a menu the client picks from,
# which MITI 4.2.1 codes as Persuade with Permission; "negotiation" mixes agenda-setting
# questions (Seek), plans and advice, so it is left out.
ANNOMI_INPUT_LABELS = {"advice": "persuade", "options": "persuade_with_permission", "information": "none"}
# AnnoMI does not code Affirm, Seek or Autonomy: its plain questions and reflections that look
# like one of them are left out rather than taught as "none".
_POSSIBLY_ADHERENT = re.compile(
    r"\b(up to you|your (choice|decision|call)|you decide|okay if|ok if|all right if|alright if|would you mind"
    r"|(can|may|could) i (share|tell|ask|suggest|give)|what do you think|your ideas|together|would you like"
    r"|well done|good job|great job|proud|impressive|courage|strength|commend|congratulat|i appreciate"
    r"|you've done|you did (well|great|a great)|that's great|good for you)\b"
)

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


# ----------------------------------------------------------------------------- data


@dataclass
class ExampleSet:
    """Labelled examples of one source, with cues computed from each example's own context."""

    source: str
    texts: list[str]
    labels: np.ndarray  # indices into ADHERENCE_LABELS
    cues: dict[str, np.ndarray]  # version -> (n, k)
    group: np.ndarray  # gold: row number; AnnoMI: transcript id; others: -1

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, keep: np.ndarray) -> "ExampleSet":
        return ExampleSet(self.source, [t for t, k in zip(self.texts, keep) if k], self.labels[keep],
                          {v: c[keep] for v, c in self.cues.items()}, self.group[keep])


def _label_indices(labels) -> np.ndarray:
    return np.array([ADHERENCE_LABELS.index(label) for label in labels], dtype=int)


def _single_context_cues(texts: list[str], previous_client: list[str] | None = None) -> dict[str, np.ndarray]:
    """Cues of examples that stand alone or follow one client utterance."""
    out = {}
    for version in VERSIONS:
        norm = (lambda t: t) if version == "clean" else strip_asr
        rows = []
        for i, text in enumerate(texts):
            before = previous_client[i] if previous_client else ""
            roles, turn = (["client", "coach"], [norm(before), norm(text)]) if before else (["coach"], [norm(text)])
            rows.append(cue_matrix(roles, turn)[-1])
        out[version] = np.stack(rows)
    return out


def forum_label(label: str) -> str:
    return FORUM_LABELS.get(str(label).strip(), "none")


def load_gold(forum_dir: str | Path) -> ExampleSet:
    frame = pd.read_csv(Path(forum_dir) / "mi-gold.dev.csv")
    texts = frame["text"].astype(str).tolist()
    return ExampleSet("gold", texts, _label_indices(frame["label"].map(forum_label)), _single_context_cues(texts),
                      np.arange(len(frame)))


def load_silver(forum_dir: str | Path, column: str = "cosine") -> ExampleSet:
    """CounselChat sentences with one silver label from ``column`` (list columns: single-label rows only)."""
    frame = pd.read_csv(Path(forum_dir) / "counselchat-augmented.csv", keep_default_na=False)
    values = frame[SILVER_COLUMNS[column]].astype(str).str.strip()
    if values.str.startswith("[").any():
        parsed = values.map(lambda v: ast.literal_eval(v) if v.startswith("[") else ([v] if v else []))
        values = parsed.map(lambda labels: labels[0] if len(labels) == 1 else "")
    keep = (values != "") & frame["author"].eq("listener")
    texts = frame.loc[keep, "text"].astype(str).str.replace(r"\s+", " ", regex=True).str.strip().tolist()
    labels = _label_indices(values[keep].map(forum_label))
    return ExampleSet("silver", texts, labels, _single_context_cues(texts), np.full(len(texts), -1))


def load_spoken(path: str | Path, source: str = "spoken") -> ExampleSet:
    frame = pd.read_csv(path, keep_default_na=False)
    texts = frame["text"].astype(str).tolist()
    previous = frame["previous_client"].astype(str).tolist() if "previous_client" in frame else None
    return ExampleSet(source, texts, _label_indices(frame["label"]), _single_context_cues(texts, previous),
                      np.full(len(texts), -1))


def annomi_input_subtypes(annomi_dir: str | Path) -> pd.Series:
    """Majority therapist-input subtype per (transcript_id, utterance_id); ``""`` = no input."""
    raw = pd.read_csv(Path(annomi_dir) / FULL_CSV, dtype=str, keep_default_na=False)
    raw = raw[raw["interlocutor"].str.lower() == "therapist"]
    subtype = raw["therapist_input_subtype"].where(raw["therapist_input_exists"].str.lower() == "true", "")
    subtype = subtype.replace("n/a", "")
    keys = [raw["transcript_id"].astype(int), raw["utterance_id"].astype(int)]
    # ties: the first label in sorted order, so the vote is deterministic
    return subtype.groupby(keys).agg(lambda s: sorted(s.value_counts()[lambda c: c == c.max()].index)[0])


def annomi_frame(annomi_dir: str | Path) -> pd.DataFrame:
    """AnnoMI utterances (``load_annomi``) with ``adherence`` training labels on coach rows (None: unused)."""
    data = load_annomi(annomi_dir)
    subtypes = annomi_input_subtypes(annomi_dir)
    data["input_subtype"] = [subtypes.get((t, u), "") for t, u in zip(data["transcript_id"], data["utterance_id"])]
    label = np.empty(len(data), dtype=object)
    label[:] = None
    for i, row in enumerate(data.itertuples()):
        if row.role != "coach":
            continue
        if row.input_subtype in ANNOMI_INPUT_LABELS:
            label[i] = ANNOMI_INPUT_LABELS[row.input_subtype]
        elif row.input_subtype == "" and row.main_behaviour in ("question", "reflection") \
                and not _POSSIBLY_ADHERENT.search(strip_asr(row.text)):
            label[i] = "none"
    data["adherence"] = label
    return data


def annomi_cues(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Context cues of every AnnoMI row, computed within its transcript."""
    out = {}
    for version in VERSIONS:
        norm = (lambda t: t) if version == "clean" else strip_asr
        parts = [cue_matrix(group["role"].tolist(), [norm(t) for t in group["text"]])
                 for _, group in data.groupby("transcript_id", sort=False)]
        out[version] = np.concatenate(parts)
    return out


def load_annomi_examples(data: pd.DataFrame) -> ExampleSet:
    cues = annomi_cues(data)
    keep = data["adherence"].notna().to_numpy()
    return ExampleSet("annomi", data.loc[keep, "text"].tolist(), _label_indices(data.loc[keep, "adherence"]),
                      {v: c[keep] for v, c in cues.items()}, data.loc[keep, "transcript_id"].to_numpy())


# ----------------------------------------------------------------------------- embeddings


_EMBEDDED: dict[str, np.ndarray] = {}  # text -> vector, so fold subsets are never re-encoded


def embed(texts: list[str], version: str) -> np.ndarray:
    """Frozen sentence embeddings, cached in memory per text and on disk under :data:`CACHE_DIR`."""
    texts = list(texts) if version == "clean" else [strip_asr(t) for t in texts]
    missing = list(dict.fromkeys(t for t in texts if t not in _EMBEDDED))
    if missing:
        _EMBEDDED.update(zip(missing, _embed_cached(missing)))
    return np.stack([_EMBEDDED[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def _embed_cached(texts: list[str]) -> np.ndarray:
    key = hashlib.sha256(("adherence-v1\n" + "\n".join(texts)).encode()).hexdigest()[:24]
    path = CACHE_DIR / f"{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vectors = get_encoder().encode(texts)
    logger.info("embedded %d texts in %.0f s", len(texts), time.perf_counter() - started)
    np.save(path, vectors)
    return vectors


def design_matrix(examples: ExampleSet, version: str, design: dict) -> np.ndarray:
    vectors = embed(examples.texts, version)
    if not design.get("cues", True):
        return vectors
    cues = examples.cues[version] if design.get("context", True) else examples.cues[version][:, :-len(CONTEXT_CUES)]
    return np.concatenate([vectors, cues], axis=1)


# ----------------------------------------------------------------------------- fitting


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


# ----------------------------------------------------------------------------- sources


@dataclass
class Sources:
    gold: ExampleSet
    silver: ExampleSet | None
    annomi: ExampleSet
    annomi_data: pd.DataFrame
    spoken: ExampleSet
    spoken_test: ExampleSet


def load_sources(forum_dir: str | Path, annomi_dir: str | Path, silver: str | None = "cosine") -> Sources:
    data = annomi_frame(annomi_dir)
    return Sources(
        gold=load_gold(forum_dir), silver=load_silver(forum_dir, silver) if silver else None,
        annomi=load_annomi_examples(data), annomi_data=data, spoken=load_spoken(SPOKEN_TRAIN),
        spoken_test=load_spoken(SPOKEN_TEST, "spoken_test"),
    )


def all_training_sets(sources: Sources) -> list[ExampleSet]:
    return [s for s in (sources.gold, sources.silver, sources.annomi, sources.spoken) if s is not None]


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
    from mifidelity.coding.evaluate import folds

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
