"""Train and cross-validate the session estimates of :mod:`mifidelity.fidelity` on AnnoMI.

AnnoMI rates each transcript as high- or low-quality MI (expert judgement). The
estimates must work on codes that the *pipeline* gives, not on the experts' codes,
so the session features are computed from out-of-fold predictions: the utterance
coder's (``python -m mifidelity.coding.training.evaluate --save-probabilities OOF.npz``, each
transcript coded by a model that never saw it) and the adherence coder's
(:func:`mifidelity.coding.training.adherence.annomi_out_of_fold_adherence`). Both
text versions are used: as written, and lower-cased without punctuation, the way a
speech recogniser delivers it.

Usage::

    python -m mifidelity.coding.training.fidelity --coder-oof OOF.npz [--annomi ../shared/data/annomi] \
        [--write] [--plot docs/fidelity_reliability.png]

prints the cross-validated table (repeated stratified 5-fold by transcript), and with
``--write`` fits on all transcripts and writes ``src/mifidelity/artifacts/session-fidelity.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import ADHERENCE_COLUMN, ADHERENCE_LABELS, LABELS
from mifidelity.coding.training.data import DEFAULT_DATA_DIR, load_annomi
from mifidelity.coding.model import codes_from_probabilities, joint_adherence, joint_behaviour, probability_columns
from mifidelity.fidelity import (
    ARTIFACT, CONSTRUCTS, GLOBAL_NAMES, QUALITY, TEXT_FEATURE, TEXT_NGRAMS, coach_document, session_features,
)
from mifidelity.metrics import compute_metrics

logger = logging.getLogger(__name__)

SEED = 20261130
REPEATS = 20
N_SPLITS = 5
QUALITY_C_GRID = (0.03, 0.1, 0.3, 1.0)
CONSTRUCT_C = 0.3
TEXT_C = 3.0
TEXT_MIN_DF = 5
VERSIONS = ("clean", "asr")
TASKS = tuple(LABELS)
FORMAT_VERSION = 1


# --------------------------------------------------------------------------- session tables

def coder_probabilities(path: str | Path, data: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Out-of-fold coder probabilities per text version, checked to be row-aligned with ``data``."""
    saved = np.load(path, allow_pickle=True)
    if not (np.array_equal(saved["transcript_id"].astype(int), data["transcript_id"].to_numpy())
            and np.array_equal(saved["utterance_id"].astype(int), data["utterance_id"].to_numpy())):
        raise ValueError(f"{path} is not row-aligned with the AnnoMI data in use")
    return {version: {task: saved[f"model/{version}/{task}"] for task in TASKS} for version in VERSIONS}


def coded_table(data: pd.DataFrame, probs: dict[str, np.ndarray] | None, adherence: np.ndarray | None) -> pd.DataFrame:
    """The pipeline's coded-utterance table for ``data`` rows: from coder probabilities, or the experts' codes."""
    roles = data["role"].tolist()
    frame = data[["role", "text"]].reset_index(drop=True).copy()
    main_labels = LABELS["main_behaviour"]
    if probs is None:
        for task in TASKS:
            frame[task] = data[task].to_numpy()
        main = np.array([[float(value == label) for label in main_labels] for value in data["main_behaviour"]])
    else:
        main = probs["main_behaviour"]
        joint = joint_behaviour(probs, LABELS)
        frame = pd.concat([frame, codes_from_probabilities(roles, joint, LABELS),
                           probability_columns(roles, joint, LABELS)], axis=1)
    if adherence is not None:
        joint = joint_adherence(adherence, main, main_labels)
        labels = np.array(ADHERENCE_LABELS, dtype=object)[joint.argmax(1)]
        frame[ADHERENCE_COLUMN] = np.where(frame["role"] == "coach", labels, None)
    return frame


def session_table(data: pd.DataFrame, probs: dict[str, np.ndarray] | None, adherence: np.ndarray | None) -> pd.DataFrame:
    """One row per transcript: ``transcript_id``, ``high`` (expert label), the session features and R:Q."""
    coded = coded_table(data, probs, adherence)
    rows = []
    for transcript, index in data.groupby("transcript_id", sort=True).indices.items():
        table = coded.iloc[index].reset_index(drop=True)
        metrics = compute_metrics(table)
        rows.append({"transcript_id": transcript, "high": data["mi_quality"].iloc[index[0]] == "high",
                     "reflection_to_question": metrics.reflection_to_question, "coach_text": coach_document(table),
                     **session_features(table, metrics)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- models

def fit_logistic(x: pd.DataFrame, y: np.ndarray, c: float, signs: dict[str, int] | None = None,
                 balanced: bool = False) -> dict:
    """Standardised L2 logistic regression; features whose coefficient contradicts ``signs`` are dropped.

    ``balanced`` weights the classes equally, so P = 0.5 sits where high- and low-quality
    sessions are equally likely whatever their share in the training data (the globals
    use it: their 1-5 scale is centred on that boundary, MITI's "fair" 3).
    """
    from sklearn.linear_model import LogisticRegression

    features = list(x.columns)
    while True:
        values = x[features].to_numpy(float)
        mean, scale = values.mean(0), values.std(0)
        scale[scale < 1e-9] = 1.0
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None).fit(
            (values - mean) / scale, y)
        coef = model.coef_[0]
        wrong = [f for f, w in zip(features, coef) if signs and np.sign(w) * signs[f] < 0]
        if not wrong or len(features) == 1:
            return {"features": features, "mean": mean.tolist(), "scale": scale.tolist(),
                    "coef": coef.tolist(), "intercept": float(model.intercept_[0])}
        features = [f for f in features if f not in wrong]


def predict_logistic(spec: dict, x: pd.DataFrame) -> np.ndarray:
    values = (x[spec["features"]].to_numpy(float) - np.asarray(spec["mean"])) / np.asarray(spec["scale"])
    return 1.0 / (1.0 + np.exp(-(values @ np.asarray(spec["coef"]) + spec["intercept"])))


def feature_names() -> list[str]:
    return sorted({f for construct in CONSTRUCTS.values() for f in construct} | {
        "log_reflection_to_question", "complex_share", TEXT_FEATURE})


def fit_text(documents: list[str], y: np.ndarray) -> dict:
    """TF-IDF + logistic regression over the coach's words (class-balanced: its log-odds are a feature, not a probability)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=TEXT_NGRAMS, sublinear_tf=True, min_df=TEXT_MIN_DF)
    x = vectorizer.fit_transform(documents)
    model = LogisticRegression(C=TEXT_C, max_iter=5000, class_weight="balanced").fit(x, y)
    terms = vectorizer.get_feature_names_out().tolist()
    return {"terms": terms, "idf": vectorizer.idf_.tolist(), "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0])}


def text_log_odds(spec: dict, documents: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=TEXT_NGRAMS, sublinear_tf=True,
                                 vocabulary={t: i for i, t in enumerate(spec["terms"])})
    vectorizer.idf_ = np.asarray(spec["idf"])
    return vectorizer.transform(documents) @ np.asarray(spec["coef"]) + spec["intercept"]


def with_text_feature(train: pd.DataFrame, test: pd.DataFrame | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """Add the coach-text log-odds: out of (inner) fold for training rows, from a model on all of them for test rows."""
    from sklearn.model_selection import StratifiedKFold

    ids = train.drop_duplicates("transcript_id")[["transcript_id", "high", "coach_text"]].reset_index(drop=True)
    y = ids["high"].to_numpy(int)
    inner = np.zeros(len(ids))
    for fit_index, score_index in StratifiedKFold(n_splits=N_SPLITS, shuffle=True, random_state=seed).split(ids, y):
        spec = fit_text(ids["coach_text"].iloc[fit_index].tolist(), y[fit_index])
        inner[score_index] = text_log_odds(spec, ids["coach_text"].iloc[score_index].tolist())
    by_transcript = dict(zip(ids["transcript_id"], inner))
    train = train.assign(**{TEXT_FEATURE: train["transcript_id"].map(by_transcript).to_numpy(float)})
    spec = fit_text(ids["coach_text"].tolist(), y)
    if test is not None:
        test = test.assign(**{TEXT_FEATURE: text_log_odds(spec, test["coach_text"].tolist())})
    return train, test, spec


def with_global_log_odds(rows: pd.DataFrame, models: dict) -> pd.DataFrame:
    """Add each global's log-odds as ``log_odds_<global>`` (the stacked quality design reads them)."""
    return rows.assign(**{f"log_odds_{name}": np.log(p / (1 - p))
                          for name in GLOBAL_NAMES for p in [np.clip(predict_logistic(models[name], rows), 1e-9, 1 - 1e-9)]})


STACKED_FEATURES = [f"log_odds_{name}" for name in GLOBAL_NAMES] + [TEXT_FEATURE]


def fit_all(train: pd.DataFrame, quality_c: float, design: str = "stacked") -> dict:
    """The four globals and the quality model, fitted on session rows (``high`` = expert's high-quality label).

    ``design``: ``"features"`` fits the quality model on every session feature;
    ``"stacked"`` on the four globals' log-odds and the coach-text log-odds (five weights).
    """
    y = train["high"].to_numpy(int)
    models = {name: fit_logistic(train[list(CONSTRUCTS[name])], y, CONSTRUCT_C, CONSTRUCTS[name], balanced=True)
              for name in GLOBAL_NAMES}
    if design == "stacked":
        models[QUALITY] = fit_logistic(with_global_log_odds(train, models)[STACKED_FEATURES], y, quality_c)
    else:
        models[QUALITY] = fit_logistic(train[feature_names()], y, quality_c)
    return models


def predict_all(models: dict, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    rows = with_global_log_odds(rows, models)
    return {name: predict_logistic(spec, rows) for name, spec in models.items()}


def choose_c(train: pd.DataFrame, seed: int, design: str = "stacked") -> float:
    """The quality model's regularisation by inner cross-validation (log loss), on training transcripts only."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    ids = train.drop_duplicates("transcript_id")
    losses = {c: [] for c in QUALITY_C_GRID}
    splitter = StratifiedKFold(n_splits=4, shuffle=True, random_state=seed)
    for inner_train, inner_test in splitter.split(ids, ids["high"]):
        train_ids = set(ids["transcript_id"].iloc[inner_train])
        fit_rows = train[train["transcript_id"].isin(train_ids)]
        test_rows = train[~train["transcript_id"].isin(train_ids)]
        for c in QUALITY_C_GRID:
            models = fit_all(fit_rows, c, design)
            losses[c].append(log_loss(test_rows["high"].to_numpy(int), predict_all(models, test_rows)[QUALITY], labels=[0, 1]))
    return min(QUALITY_C_GRID, key=lambda c: np.mean(losses[c]))


def cross_validate(sessions: dict[str, pd.DataFrame], repeats: int = REPEATS, design: str = "stacked") -> pd.DataFrame:
    """Out-of-fold predictions, repeated stratified 5-fold over transcripts.

    ``sessions`` maps a text version to its session table (same transcripts in each);
    training uses every version's rows of the training transcripts, and every version of
    a held-out transcript is predicted. Returns one row per transcript, version and repeat.
    """
    from sklearn.model_selection import StratifiedKFold

    base = next(iter(sessions.values()))[["transcript_id", "high"]]
    stacked = pd.concat([table.assign(version=version) for version, table in sessions.items()], ignore_index=True)
    out = []
    for repeat in range(repeats):
        splitter = StratifiedKFold(n_splits=N_SPLITS, shuffle=True, random_state=SEED + repeat)
        for train_index, test_index in splitter.split(base, base["high"]):
            train_ids = set(base["transcript_id"].iloc[train_index])
            train, test, _ = with_text_feature(stacked[stacked["transcript_id"].isin(train_ids)],
                                               stacked[~stacked["transcript_id"].isin(train_ids)], SEED + repeat)
            models = fit_all(train, choose_c(train, SEED + repeat, design), design)
            predicted = test[["transcript_id", "version", "high"]].copy()
            predicted["repeat"] = repeat
            for name, values in predict_all(models, test).items():
                predicted[name] = values
            out.append(predicted)
        logger.info("repeat %d of %d done", repeat + 1, repeats)
    return pd.concat(out, ignore_index=True)


# --------------------------------------------------------------------------- evaluation

def auc(high: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(high, score))


def calibration(high: np.ndarray, probability: np.ndarray, bins: int = 5) -> pd.DataFrame:
    """Reliability table: quantile bins of predicted P(high), with the observed share of high-quality sessions."""
    frame = pd.DataFrame({"p": probability, "high": high.astype(float)})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False)
    return frame.groupby("bin").agg(predicted=("p", "mean"), observed=("high", "mean"), n=("p", "size"))


def summary(predictions: pd.DataFrame, sessions: dict[str, pd.DataFrame], expert: pd.DataFrame) -> str:
    """The cross-validated table printed by the command (and copied into the model card)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import brier_score_loss

    lines = [f"AnnoMI dev: {len(expert)} transcripts ({int(expert['high'].sum())} high, {int((~expert['high']).sum())} low); "
             f"{N_SPLITS}-fold stratified by transcript x {predictions['repeat'].nunique()} repeats; AUC = mean over repeats.",
             "", "| estimate | " + " | ".join(f"AUC {v}" for v in sessions) + " |", "| --- |" + " --- |" * len(sessions)]
    for name in (QUALITY, *GLOBAL_NAMES):
        cells = []
        for version in sessions:
            part = predictions[predictions["version"] == version]
            scores = [auc(g["high"].to_numpy(int), g[name].to_numpy()) for _, g in part.groupby("repeat")]
            cells.append(f"{np.mean(scores):.3f} (sd {np.std(scores):.3f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Single session numbers (no model) against the expert label:", "",
              "| number | " + " | ".join(f"AUC {v}" for v in sessions) + " | AUC experts' codes |",
              "| --- |" + " --- |" * (len(sessions) + 1)]
    for feature in ("log_reflection_to_question", "reflections_per_volley", "non_adherent_per_volley",
                    "adherent_per_volley", "coach_word_share"):
        cells = [f"{auc(t['high'].to_numpy(int), t[feature].to_numpy()):.3f}" for t in sessions.values()]
        cells.append(f"{auc(expert['high'].to_numpy(int), expert[feature].to_numpy()):.3f}")
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    lines += ["", "R:Q against the experts' R:Q (Spearman, over transcripts with both defined):"]
    for version, table in sessions.items():
        both = table[["transcript_id", "reflection_to_question"]].merge(
            expert[["transcript_id", "reflection_to_question"]], on="transcript_id", suffixes=("", "_expert")).dropna()
        rho = spearmanr(both["reflection_to_question"], both["reflection_to_question_expert"]).statistic
        lines.append(f"- {version}: rho {rho:.3f} over {len(both)} transcripts")
    lines += ["", "Calibration of mi_quality_probability (all versions and repeats pooled):", ""]
    pooled = predictions
    lines.append(f"Brier score {brier_score_loss(pooled['high'].astype(int), pooled[QUALITY]):.3f} "
                 f"(always predicting the base rate: {brier_score_loss(pooled['high'].astype(int), np.full(len(pooled), pooled['high'].mean())):.3f})")
    table = calibration(pooled["high"].to_numpy(), pooled[QUALITY].to_numpy())
    lines += ["", "| bin | mean predicted | observed high | n |", "| --- | --- | --- | --- |"]
    lines += [f"| {i + 1} | {r.predicted:.3f} | {r.observed:.3f} | {int(r.n)} |" for i, r in enumerate(table.itertuples())]
    return "\n".join(lines)


def plot_reliability(predictions: pd.DataFrame, path: str | Path) -> None:
    """The reliability curve (predicted against observed share of high-quality sessions), per text version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", label="perfectly calibrated")
    for version, part in predictions.groupby("version"):
        table = calibration(part["high"].to_numpy(), part[QUALITY].to_numpy(), bins=8)
        ax.plot(table["predicted"], table["observed"], marker="o", label=f"{version} text")
    ax.set_xlabel("predicted probability of good MI (out of fold)")
    ax.set_ylabel("share rated high quality by the experts")
    ax.set_title("mi_quality_probability on AnnoMI (cross-validated)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------- command

def load_sessions(annomi: str | Path, coder_oof: str | Path, adherence: bool = True,
                  adherence_oof: str | Path | None = None) -> tuple[dict, pd.DataFrame]:
    """Session tables per text version from out-of-fold codes, and one from the experts' own codes.

    ``adherence_oof``: an ``.npz`` of out-of-fold adherence probabilities, read if it exists,
    else computed (several fine-tunings) and written there.
    """
    data = load_annomi(annomi)
    probs = coder_probabilities(coder_oof, data)
    adherence_probs = {version: None for version in VERSIONS}
    if adherence:
        adherence_probs = adherence_out_of_fold(annomi, data, adherence_oof)
    sessions = {version: session_table(data, probs[version], adherence_probs[version]) for version in VERSIONS}
    expert = session_table(data, None, adherence_probs["clean"])
    return sessions, expert


def adherence_out_of_fold(annomi: str | Path, data: pd.DataFrame,
                          cache: str | Path | None = None) -> dict[str, np.ndarray]:
    """Per version, adherence probabilities for every row of ``data``, out of fold by transcript.

    Client rows and rows without a prediction get ``none``. ``cache``: see :func:`load_sessions`.
    """
    if cache and Path(cache).exists():
        with np.load(cache, allow_pickle=False) as saved:
            if all(saved[v].shape == (len(data), len(ADHERENCE_LABELS)) for v in VERSIONS):
                return {v: saved[v] for v in VERSIONS}
            raise ValueError(f"{cache} does not match these transcripts; delete it to recompute")
    from mifidelity.coding.training.adherence import annomi_out_of_fold_adherence
    from mifidelity.coding.training.evaluate import folds

    fold_of = {}
    for fold, (_, test_index) in enumerate(folds(data)):
        for transcript in data["transcript_id"].iloc[test_index].unique():
            fold_of[int(transcript)] = fold
    tables = annomi_out_of_fold_adherence(annomi, fold_of)
    columns = [f"probability_{label}" for label in ADHERENCE_LABELS]
    out = {}
    for version, table in tables.items():
        merged = data[["transcript_id", "utterance_id"]].merge(table, on=["transcript_id", "utterance_id"], how="left")
        values = merged[columns].to_numpy(float)
        values[np.isnan(values)] = 0.0
        values[:, 0] += values.sum(1) == 0  # rows without a prediction: "none"
        out[version] = values
    if cache:
        np.savez_compressed(cache, **out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default=DEFAULT_DATA_DIR, help="AnnoMI folder (default %(default)s)")
    parser.add_argument("--coder-oof", required=True, help="out-of-fold coder probabilities (coding.training.evaluate --save-probabilities)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--design", choices=("stacked", "features"), default="stacked",
                        help="the quality model's inputs: the globals' and the text's log-odds, or every feature")
    parser.add_argument("--no-adherence", action="store_true", help="leave the adherence codes out (for comparison)")
    parser.add_argument("--adherence-oof", default=None,
                        help="out-of-fold adherence probabilities (.npz): read if present, else computed and written")
    parser.add_argument("--write", action="store_true", help=f"fit on all transcripts and write {ARTIFACT}")
    parser.add_argument("--plot", default=None, help="write the reliability curve here (PNG)")
    parser.add_argument("--save-predictions", default=None, help="write the out-of-fold predictions here (CSV, no text)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    sessions, expert = load_sessions(args.annomi, args.coder_oof, adherence=not args.no_adherence,
                                     adherence_oof=args.adherence_oof)
    predictions = cross_validate(sessions, args.repeats, args.design)
    print(summary(predictions, sessions, expert))
    if args.save_predictions:
        predictions.to_csv(args.save_predictions, index=False)
    if args.plot:
        plot_reliability(predictions, args.plot)
    if args.write:
        stacked, _, text = with_text_feature(pd.concat(sessions.values(), ignore_index=True), None, SEED)
        models = fit_all(stacked, choose_c(stacked, SEED, args.design), args.design)
        spec = {"version": FORMAT_VERSION, "trained_on": "AnnoMI dev (103 transcripts), out-of-fold codes, clean + asr text",
                "models": models, "text": text}
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(spec, separators=(",", ":")) + "\n", encoding="utf-8")
        logger.info("wrote %s", ARTIFACT)


if __name__ == "__main__":
    main()
