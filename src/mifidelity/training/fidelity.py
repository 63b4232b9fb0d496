"""Train and validate the session estimates of :mod:`mifidelity.fidelity` on two rated collections.

The estimates learn from sessions that an expert labelled high or low MI quality, coded by the
pipeline's own coders (:mod:`mifidelity.training.session_data`): AnnoMI (coded out of fold,
as written and as ASR-style text) and HLQC (another collection, ASR-style, coded as
``mifidelity code`` does). A model that holds only on the collection it learnt from says little,
so it is validated by holding out whole groups:

- ``pooled``: 5-fold cross-validation by group (a video transcribed twice is one group) over both
  collections, repeated;
- ``collection``: trained on one collection, scored on the other (both ways);
- ``topic``: leave-one-topic-out on AnnoMI (the other collection stays in training);
- ``style``: trained on clean (punctuated) text only, scored on ASR-style text.

Each scheme scores full sessions and their first 4, 8 and 16 coach volleys (the expert's label
of the whole session kept), so the command shows whether a short session is told "either way"
rather than 0.99.

The probability knows how much evidence it has (``fidelity.FidelityModel``): its log-odds are
divided by ``sqrt(1 + pi/8 * v)`` where ``v`` = the quality model's parameter uncertainty at this
session (a Laplace approximation: large for a session unlike the training data) + ``k / coach
volleys`` (the sampling noise of a session's rates). ``k`` is the largest whose log loss on the pooled
out-of-fold predictions of full and truncated sessions is within one standard error of the lowest.

Usage::

    python -m mifidelity.training.fidelity --coder-oof OOF.npz [OOF_SEED7.npz] [--annomi DIR] [--hlqc DIR] \
        [--adherence-oof NPZ] [--repeats 5] [--write] [--plot docs/fidelity_reliability.png]

(the shipped session model was fitted on the average of both bundled seeds' out-of-fold codes, as the
shipped coder averages them: ``evaluate --save-probabilities`` once with the default seed, once with ``--seed 7``.)
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.fidelity import (
    ARTIFACT, CONSTRUCTS, EVIDENCE_FEATURE, GLOBAL_NAMES, QUALITY, TEXT_FEATURE, TEXT_NGRAMS, coach_document,
    evidence_volleys, predictive_probability, session_features,
)
from mifidelity.metrics import compute_metrics
from mifidelity.training.data import DEFAULT_DATA_DIR, VERSIONS
from mifidelity.training.fidelity_report import plot_reliability, reliability_table, rq_agreement, summary_table
from mifidelity.training.hlqc import DEFAULT_HLQC_DIR
from mifidelity.training.session_data import (
    RatedSession, annomi_sessions, coded_table, coder_probabilities, hlqc_sessions, truncated,
)

logger = logging.getLogger(__name__)

__all__ = ["coder_probabilities", "coded_table", "fit_logistic", "predict_logistic", "fit_text", "text_log_odds",
           "session_rows", "fit_all", "predict_all", "main"]

SEED = 20261206
REPEATS = 5
N_SPLITS = 5
QUALITY_C_GRID = (0.03, 0.1, 0.3, 1.0)
CONSTRUCT_C = 0.3
TEXT_C = 3.0
TEXT_MIN_DF = 5
# The text model reads only words that at least this share of every collection's coach documents use
# (n-grams of such words): the coach's style ("so you", "sounds like", "need to"), not the session's
# topic. With every word, topic words learnt a topic's base rate ("teeth", "asthma", "prescription"
# read as poor MI, because AnnoMI's poor demonstrations are on those topics). Text model alone,
# trained on one collection and scored on the other: AUC 0.795 -> 0.808 (HLQC -> AnnoMI) and
# 0.822 -> 0.867 (AnnoMI -> HLQC); 5-fold within both, 0.903 -> 0.898 (AnnoMI) and 0.937 -> 0.944
# (HLQC) (docs/model-card-fidelity.md, "The coach's words").
TEXT_COMMON_SHARE = 0.4
EVIDENCE_GRID = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0)
TRUNCATIONS = (4, 8, 16)
FORMAT_VERSION = 3  # 3: questions, reflections, change / sustain talk read from expected counts (fidelity.EXPECTED_COUNTS)
DESIGNS = ("stacked", "globals", "features")


# --------------------------------------------------------------------------- session rows

def session_rows(sessions: list[RatedSession]) -> pd.DataFrame:
    """One row per rated session: its identity, label, coach volleys, coach text and session features."""
    rows = []
    for s in sessions:
        metrics = compute_metrics(s.coded)
        volleys, certainty = evidence_volleys(s.coded)
        rows.append({"id": s.id, "session": s.session, "collection": s.collection, "group": s.group,
                     "topic": s.topic, "version": s.version, "high": s.high,
                     "coach_volleys": volleys, "code_certainty": certainty, EVIDENCE_FEATURE: volleys * certainty,
                     "reflection_to_question": metrics.reflection_to_question,
                     "coach_text": coach_document(s.coded), **session_features(s.coded, metrics)})
    return pd.DataFrame(rows)


def session_weights(rows: pd.DataFrame, balance: str) -> np.ndarray:
    """Training weight per row: each session counts once across its text versions.

    ``balance``: ``"none"`` keeps the collections' base rates; ``"collection"`` gives each
    collection the same total weight; ``"class"`` also weighs high and low equally within each.
    """
    versions = rows.groupby("session")["id"].transform("size").to_numpy(float)
    weights = 1.0 / versions
    if balance in ("collection", "class"):
        keys = ["collection", "high"] if balance == "class" else ["collection"]
        totals = pd.Series(weights, index=rows.index).groupby([rows[k] for k in keys]).transform("sum").to_numpy()
        weights = weights / totals
        weights *= rows["session"].nunique() / weights.sum()
    return weights


# --------------------------------------------------------------------------- models

def fit_logistic(x: pd.DataFrame, y: np.ndarray, c: float, signs: dict[str, int] | None = None,
                 balanced: bool = False, weights: np.ndarray | None = None, covariance: bool = False) -> dict:
    """Standardised L2 logistic regression; features whose coefficient contradicts ``signs`` are dropped.

    ``balanced`` weights the classes equally. ``covariance`` adds the Laplace approximation of the
    weights' posterior covariance (standardised features, intercept last), which the runtime turns
    into the prediction's parameter uncertainty.
    """
    from sklearn.linear_model import LogisticRegression

    weights = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    if balanced:
        for label in (0, 1):
            weights = np.where(y == label, weights * weights.sum() / (2 * max(weights[y == label].sum(), 1e-9)), weights)
    features = list(x.columns)
    while True:
        values = x[features].to_numpy(float)
        mean = np.average(values, axis=0, weights=weights)
        scale = np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weights))
        scale[scale < 1e-9] = 1.0
        z = (values - mean) / scale
        model = LogisticRegression(C=c, max_iter=5000).fit(z, y, sample_weight=weights)
        coef = model.coef_[0]
        wrong = [f for f, w in zip(features, coef) if signs and np.sign(w) * signs[f] < 0]
        if not wrong or len(features) == 1:
            spec = {"features": features, "mean": mean.tolist(), "scale": scale.tolist(),
                    "coef": coef.tolist(), "intercept": float(model.intercept_[0])}
            if covariance:
                design = np.hstack([z, np.ones((len(z), 1))])
                p = model.predict_proba(z)[:, 1]
                hessian = design.T @ (design * (weights * p * (1 - p))[:, None])
                hessian[np.arange(len(features)), np.arange(len(features))] += 1.0 / c
                hessian[-1, -1] += 1e-6
                spec["covariance"] = np.linalg.inv(hessian).tolist()
            return spec
        kept = [f for f in features if f not in wrong]
        # Every coefficient against its sign (a small, one-collection fold): keep the least wrong one.
        features = kept or [min(wrong, key=lambda f: abs(coef[features.index(f)]))]


def predict_logistic(spec: dict, x: pd.DataFrame) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-log_odds(spec, x)))


def log_odds(spec: dict, x: pd.DataFrame) -> np.ndarray:
    values = (x[spec["features"]].to_numpy(float) - np.asarray(spec["mean"])) / np.asarray(spec["scale"])
    return values @ np.asarray(spec["coef"]) + spec["intercept"]


def parameter_variance(spec: dict, x: pd.DataFrame) -> np.ndarray:
    """Variance of the log-odds from the weights' uncertainty (Laplace), per row."""
    values = (x[spec["features"]].to_numpy(float) - np.asarray(spec["mean"])) / np.asarray(spec["scale"])
    design = np.hstack([values, np.ones((len(values), 1))])
    return np.einsum("ij,jk,ik->i", design, np.asarray(spec["covariance"]), design)


def common_vocabulary(documents: list[str], collections: list[str] | None = None,
                      share: float = TEXT_COMMON_SHARE) -> list[str]:
    """The text model's terms: n-grams (:data:`TEXT_NGRAMS`, in at least :data:`TEXT_MIN_DF` documents)
    made only of words that at least ``share`` of each collection's documents use."""
    from sklearn.feature_extraction.text import CountVectorizer

    collections = np.asarray(collections if collections is not None else ["all"] * len(documents))
    counter = CountVectorizer(ngram_range=TEXT_NGRAMS, min_df=TEXT_MIN_DF, binary=True)
    present = counter.fit_transform(documents)
    terms = counter.get_feature_names_out()
    # A word of a term is in at least as many documents as the term, so every word that matters is a column.
    used = np.all([np.asarray(present[collections == c].mean(0)).ravel() >= share for c in np.unique(collections)], axis=0)
    common = {term for term, ok in zip(terms, used) if ok and " " not in term}
    return [term for term in terms if all(word in common for word in term.split())]


def fit_text(documents: list[str], y: np.ndarray, collections: list[str] | None = None) -> dict:
    """TF-IDF + logistic regression over the coach's common words (class-balanced: its log-odds are a feature)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=TEXT_NGRAMS, sublinear_tf=True,
                                 vocabulary=common_vocabulary(documents, collections))
    x = vectorizer.fit_transform(documents)
    model = LogisticRegression(C=TEXT_C, max_iter=5000, class_weight="balanced").fit(x, y)
    return {"terms": vectorizer.get_feature_names_out().tolist(), "idf": vectorizer.idf_.tolist(),
            "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}


def text_log_odds(spec: dict, documents: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=TEXT_NGRAMS, sublinear_tf=True,
                                 vocabulary={t: i for i, t in enumerate(spec["terms"])})
    vectorizer.idf_ = np.asarray(spec["idf"])
    return vectorizer.transform(documents) @ np.asarray(spec["coef"]) + spec["intercept"]


def _group_folds(rows: pd.DataFrame, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds over groups (a group's label: its first session's), as row indices."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    label = rows["collection"] + rows["high"].map({True: "+", False: "-"})
    return list(splitter.split(rows, label, rows["group"]))


def with_text_feature(train: pd.DataFrame, test: pd.DataFrame | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """Add the coach-text log-odds: out of (inner) fold for training rows, from a model on all of them for test rows."""
    docs = train.drop_duplicates("session").reset_index(drop=True)
    y = docs["high"].to_numpy(int)
    inner = np.zeros(len(docs))
    for fit_index, score_index in _group_folds(docs, N_SPLITS, seed):
        spec = fit_text(docs["coach_text"].iloc[fit_index].tolist(), y[fit_index],
                        docs["collection"].iloc[fit_index].tolist())
        inner[score_index] = text_log_odds(spec, docs["coach_text"].iloc[score_index].tolist())
    by_session = dict(zip(docs["session"], inner))
    train = train.assign(**{TEXT_FEATURE: train["session"].map(by_session).to_numpy(float)})
    spec = fit_text(docs["coach_text"].tolist(), y, docs["collection"].tolist())
    if test is not None:
        test = test.assign(**{TEXT_FEATURE: text_log_odds(spec, test["coach_text"].tolist())})
    return train, test, spec


def with_global_log_odds(rows: pd.DataFrame, models: dict) -> pd.DataFrame:
    """Add each global's log-odds as ``log_odds_<global>`` (the stacked quality design reads them)."""
    return rows.assign(**{f"log_odds_{name}": log_odds(models[name], rows) for name in GLOBAL_NAMES})


STACKED_FEATURES = [f"log_odds_{name}" for name in GLOBAL_NAMES] + [TEXT_FEATURE]


def feature_names() -> list[str]:
    return sorted({f for construct in CONSTRUCTS.values() for f in construct} | {
        "log_reflection_to_question", "complex_share", TEXT_FEATURE})


def fit_all(train: pd.DataFrame, quality_c: float, design: str = "stacked", balance: str = "collection") -> dict:
    """The four globals and the quality model, fitted on session rows (``high`` = expert's label)."""
    y = train["high"].to_numpy(int)
    weights = session_weights(train, balance)
    models = {name: fit_logistic(train[list(CONSTRUCTS[name])], y, CONSTRUCT_C, CONSTRUCTS[name], balanced=True,
                                 weights=weights)
              for name in GLOBAL_NAMES}
    if design == "features":
        inputs = train[feature_names()]
    else:  # "stacked": the globals' and the coach text's log-odds; "globals": without the text
        inputs = with_global_log_odds(train, models)[STACKED_FEATURES if design == "stacked" else STACKED_FEATURES[:-1]]
    models[QUALITY] = fit_logistic(inputs, y, quality_c, weights=weights, covariance=True)
    return models


def predict_all(models: dict, rows: pd.DataFrame, evidence_k: float = 0.0) -> pd.DataFrame:
    """Per row: each global's probability, the quality log-odds, its variances and P(good MI)."""
    rows = with_global_log_odds(rows, models)
    out = pd.DataFrame({name: predict_logistic(models[name], rows) for name in GLOBAL_NAMES}, index=rows.index)
    out["log_odds"] = log_odds(models[QUALITY], rows)
    out["parameter_variance"] = parameter_variance(models[QUALITY], rows)
    out[QUALITY] = predictive_probability(out["log_odds"].to_numpy(), out["parameter_variance"].to_numpy(),
                                          rows[EVIDENCE_FEATURE].to_numpy(float), evidence_k)
    return out


def choose_c(train: pd.DataFrame, seed: int, design: str, balance: str) -> float:
    """The quality model's regularisation by inner cross-validation by group (weighted log loss)."""
    losses = {c: [] for c in QUALITY_C_GRID}
    for fit_index, score_index in _group_folds(train, 4, seed):
        fit_rows, score_rows = train.iloc[fit_index], train.iloc[score_index]
        weights = session_weights(score_rows, balance)
        y = score_rows["high"].to_numpy(int)
        for c in QUALITY_C_GRID:
            p = np.clip(predict_all(fit_all(fit_rows, c, design, balance), score_rows)[QUALITY].to_numpy(), 1e-6, 1 - 1e-6)
            losses[c].append(-np.sum(weights * (y * np.log(p) + (1 - y) * np.log(1 - p))) / weights.sum())
    return min(QUALITY_C_GRID, key=lambda c: np.mean(losses[c]))


# --------------------------------------------------------------------------- validation schemes

def _fit_and_predict(train: pd.DataFrame, test: pd.DataFrame, seed: int, design: str, balance: str) -> pd.DataFrame:
    train, test, _ = with_text_feature(train, test, seed)
    models = fit_all(train, choose_c(train, seed, design, balance), design, balance)
    predicted = predict_all(models, test)
    keep = ["id", "session", "collection", "group", "topic", "version", "high", "coach_volleys", "code_certainty",
            EVIDENCE_FEATURE, "truncated"]
    return pd.concat([test[keep].reset_index(drop=True), predicted.reset_index(drop=True)], axis=1)


def splits(rows: pd.DataFrame, scheme: str, repeat: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(held-out name, training mask, test mask) over ``rows`` for one validation scheme.

    Truncated rows are never trained on; a test mask covers the held-out sessions' truncations too.
    """
    full = ~rows["truncated"].to_numpy()
    out = []
    if scheme in ("pooled", "style"):
        # style: trained on clean (punctuated) text only, scored on the held-out groups' ASR-style text
        clean = (rows["version"] == "clean").to_numpy() if scheme == "style" else np.ones(len(rows), bool)
        base = rows[full].reset_index(drop=True)
        for fold, (_, test_index) in enumerate(_group_folds(base, N_SPLITS, SEED + repeat)):
            held = rows["group"].isin(set(base["group"].iloc[test_index])).to_numpy()
            out.append((f"fold{fold}", full & ~held & clean, held & ~clean if scheme == "style" else held))
    elif scheme == "collection":
        for collection in sorted(rows["collection"].unique()):
            held = (rows["collection"] == collection).to_numpy()
            # the other collection's twins of held-out videos leave training too
            twins = rows["group"].isin(set(rows.loc[held, "group"])).to_numpy()
            out.append((collection, full & ~held & ~twins, held))
    elif scheme == "topic":
        counts = rows[full & (rows["collection"] == "annomi").to_numpy()].drop_duplicates("session")["topic"].value_counts()
        for topic in counts.index:
            held = ((rows["collection"] == "annomi") & (rows["topic"] == topic)).to_numpy()
            twins = rows["group"].isin(set(rows.loc[held, "group"])).to_numpy()
            out.append((topic, full & ~twins, held))
    else:
        raise ValueError(f"unknown scheme {scheme}")
    return out


def cross_validate(rows: pd.DataFrame, scheme: str, repeats: int = 1, design: str = "stacked",
                   balance: str = "collection") -> pd.DataFrame:
    """Out-of-group predictions (one row per test row, held-out group and repeat)."""
    out = []
    for repeat in range(repeats if scheme == "pooled" else 1):
        for held_out, train_mask, test_mask in splits(rows, scheme, repeat):
            if not test_mask.any() or rows.loc[train_mask, "high"].nunique() < 2:
                continue
            predicted = _fit_and_predict(rows[train_mask].reset_index(drop=True), rows[test_mask].reset_index(drop=True),
                                         SEED + repeat, design, balance)
            out.append(predicted.assign(scheme=scheme, held_out=held_out, repeat=repeat))
        logger.info("%s: repeat %d done", scheme, repeat + 1)
    return pd.concat(out, ignore_index=True)


def choose_evidence_k(predictions: pd.DataFrame) -> float:
    """The evidence constant: the most cautious (largest) one whose log loss over out-of-fold full and
    truncated sessions is within one standard error of the lowest.

    Log loss barely tells neighbouring constants apart (k = 4, 8 and 16 differ by 0.005 with a
    standard error of 0.01); where the data cannot choose, the probability should rather be too
    cautious on thin evidence than too sure (issue 25).
    """
    y = predictions["high"].to_numpy(int)
    losses, errors = {}, {}
    for k in EVIDENCE_GRID:
        p = np.clip(predictive_probability(predictions["log_odds"].to_numpy(), predictions["parameter_variance"].to_numpy(),
                                           predictions[EVIDENCE_FEATURE].to_numpy(float), k), 1e-6, 1 - 1e-6)
        per_row = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        losses[k], errors[k] = float(per_row.mean()), float(per_row.std() / np.sqrt(len(per_row)))
    logger.info("evidence constant log loss: %s", {k: round(v, 4) for k, v in losses.items()})
    best = min(losses, key=losses.get)
    return max(k for k in EVIDENCE_GRID if losses[k] <= losses[best] + errors[best])


def with_evidence(predictions: pd.DataFrame, k: float) -> pd.DataFrame:
    return predictions.assign(**{QUALITY: predictive_probability(
        predictions["log_odds"].to_numpy(), predictions["parameter_variance"].to_numpy(),
        predictions[EVIDENCE_FEATURE].to_numpy(float), k)})


# --------------------------------------------------------------------------- command

def load_rows(annomi: str, coder_oof: str | list[str], hlqc: str, adherence_oof: str | None = None) -> pd.DataFrame:
    """Session rows of both collections, full and truncated (``truncated`` column)."""
    adherence = None
    if adherence_oof:
        with np.load(adherence_oof, allow_pickle=False) as saved:
            adherence = {v: saved[v] for v in VERSIONS}
    sessions = annomi_sessions(annomi, coder_oof, adherence) + hlqc_sessions(hlqc)
    short = [t for s in sessions for k in TRUNCATIONS if (t := truncated(s, k)) is not None]
    return pd.concat([session_rows(sessions).assign(truncated=False), session_rows(short).assign(truncated=True)],
                     ignore_index=True)


def fit_artifact(rows: pd.DataFrame, design: str, balance: str, evidence_k: float) -> dict:
    full = rows[~rows["truncated"]].reset_index(drop=True)
    train, _, text = with_text_feature(full, None, SEED)
    models = fit_all(train, choose_c(train, SEED, design, balance), design, balance)
    collections = ", ".join(f"{c} ({n} sessions)" for c, n in full.drop_duplicates("session")["collection"].value_counts().items())
    trained_on = (f"{collections}; pipeline codes (questions, reflections, change / sustain talk as the coder's "
                  f"expected counts); design {design}, balance {balance}; coach words used in >= {TEXT_COMMON_SHARE:.0%} "
                  f"of each collection's sessions")
    return {"version": FORMAT_VERSION, "trained_on": trained_on,
            "models": models, "text": text, "evidence": {"k": evidence_k, "feature": EVIDENCE_FEATURE}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default=DEFAULT_DATA_DIR, help="AnnoMI folder (default %(default)s)")
    parser.add_argument("--hlqc", default=DEFAULT_HLQC_DIR, help="HLQC folder (default %(default)s)")
    parser.add_argument("--coder-oof", required=True, nargs="+",
                        help="out-of-fold coder probabilities (mifidelity.training.evaluate --save-probabilities); "
                             "several seeds' files are averaged, as the shipped coder averages its artifacts")
    parser.add_argument("--adherence-oof", default=None, help="out-of-fold AnnoMI adherence probabilities (.npz, from `python -m "
                             "mifidelity.training.adherence evaluate --save-probabilities`); default: the shipped coder's")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="repeats of the pooled 5-fold validation")
    parser.add_argument("--design", choices=DESIGNS, default="stacked")
    parser.add_argument("--balance", choices=("none", "collection", "class"), default="collection")
    parser.add_argument("--schemes", default="pooled,collection,topic,style")
    parser.add_argument("--write", action="store_true", help=f"fit on every session and write {ARTIFACT}")
    parser.add_argument("--plot", default=None, help="write the reliability curves here (PNG)")
    parser.add_argument("--save-predictions", default=None, help="write the held-out predictions here (CSV, no text)")
    parser.add_argument("--report", default=None, help="also write the tables here (markdown)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    rows = load_rows(args.annomi, args.coder_oof, args.hlqc, args.adherence_oof)
    predictions = pd.concat([cross_validate(rows, scheme, args.repeats, args.design, args.balance)
                             for scheme in args.schemes.split(",")], ignore_index=True)
    pooled = predictions[predictions["scheme"] == "pooled"]
    k = choose_evidence_k(pooled if len(pooled) else predictions)
    predictions = with_evidence(predictions, k)
    text = "\n".join([
        f"Design {args.design}, balance {args.balance}; evidence constant k = {k:g} (the largest within one standard "
        f"error of the lowest log loss on the pooled held-out full and truncated sessions); pooled = {args.repeats} x {N_SPLITS}-fold by group.", "",
        summary_table(predictions), "", "Reliability (held-out whole sessions, quintiles of P):", "",
        reliability_table(predictions), "", "Session R:Q against the R:Q counted from AnnoMI's expert codes:", "",
        rq_agreement(rows, args.annomi)])
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n", encoding="utf-8")
    if args.save_predictions:
        predictions.to_csv(args.save_predictions, index=False)
    if args.plot:
        plot_reliability(predictions, args.plot)
    if args.write:
        spec = fit_artifact(rows, args.design, args.balance, k)
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(spec, separators=(",", ":")) + "\n", encoding="utf-8")
        logger.info("wrote %s", ARTIFACT)


if __name__ == "__main__":
    main()
