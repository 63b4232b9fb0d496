"""Stage 8: what an MI expert would say about the whole session.

MITI 4.2.1 rates a session on four global scores (1-5) besides the behaviour
counts: Cultivating Change Talk, Softening Sustain Talk, Partnership and Empathy.
No public corpus has expert global ratings, so nothing here claims MITI's 1-5
scale. What exists is an expert's high / low MI-quality label per session, in two
collections (AnnoMI and HLQC); everything here is learnt from that label:

- each of the four aspects is a small logistic model on the session features that
  belong to its construct in MITI's description (e.g. Empathy: reflections and
  complex reflections per coach volley), shown as an **index 0-100**
  (:class:`GlobalScores`): how much that aspect resembles sessions rated good MI;
- ``mi_quality_probability`` stacks the four aspects' log-odds with the log-odds of a
  TF-IDF model of the coach's words (lower-cased without punctuation, as a recogniser
  gives them): the probability that an expert would rate the session as good MI. It
  **knows how much evidence it has** (:func:`predictive_probability`): few coach volleys,
  codes the coder was unsure of (:func:`evidence_volleys`) and a session unlike the
  training data (the weights' Laplace covariance) pull it towards 50%, and the estimate
  says so (``FidelityEstimate.caveat``).

Data, validation by held-out collection, topic and transcript style, and the
reliability curves: ``docs/model-card-fidelity.md``; training:
``python -m mifidelity.training.fidelity``.

Everything here reads the coded-utterance table (:mod:`mifidelity.session`) and
the artifact ``artifacts/session-fidelity.json`` (coefficients as plain JSON).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import (ADHERENCE_COLUMN, CLIENT_TALK_COLUMN, MAIN_BEHAVIOUR_COLUMN, REFLECTION_COLUMN,
                                    confidence_column)
from mifidelity.coding.features import strip_asr
from mifidelity.metrics import SessionMetrics, coach_volleys, expected_metrics, overall_verdict

ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "session-fidelity.json"
GLOBAL_NAMES = ("cultivating_change_talk", "softening_sustain_talk", "partnership", "empathy")

# The session features each estimate reads. Signs are MITI's: a model whose fitted
# coefficient goes against the construct's direction has that feature dropped.
CONSTRUCTS: dict[str, dict[str, int]] = {
    "cultivating_change_talk": {"change_talk_share": +1, "open_questions_per_volley": +1,
                                "change_talk_reflected": +1, "complex_reflections_per_volley": +1},
    "softening_sustain_talk": {"sustain_talk_share": -1, "sustain_talk_reflected": +1,
                               "non_adherent_per_volley": -1, "information_per_volley": -1},
    "partnership": {"adherent_per_volley": +1, "non_adherent_per_volley": -1, "coach_word_share": -1,
                    "information_per_volley": -1, "questions_per_volley": +1},
    "empathy": {"reflections_per_volley": +1, "complex_reflections_per_volley": +1, "affirm_per_volley": +1,
                "log_words_per_coach_utterance": -1},
}
QUALITY = "mi_quality"
# Bands of mi_quality_probability: (lowest probability, short label, the verdict's opening words).
# "Most likely" means at least 70% either way: good at P >= 0.7, poor at P(poor) >= 0.7, i.e. P < 0.3
# (the poor cut was 0.4, a weaker claim than the good side's; docs/model-card-fidelity.md, "Bands").
QUALITY_BANDS = (
    (0.7, "likely good", "An MI expert would most likely rate this session as good MI"),
    (0.3, "either way", "An MI expert might rate this session either way"),
    (0.0, "likely poor", "An MI expert would most likely rate this session as poor MI"),
)


def probability_shown(probability: float | None) -> str:
    """A probability in whole percent that never claims certainty: "over 99%" / "under 1%" at the ends."""
    if probability is None:
        return "–"
    if probability >= 0.995:
        return "over 99%"
    if probability < 0.005:
        return "under 1%"
    return f"{probability:.0%}"


def quality_band(probability: float | None) -> str:
    """``likely good``, ``either way``, ``likely poor`` or ``not estimated``."""
    if probability is None:
        return "not estimated"
    return next(label for cut, label, _ in QUALITY_BANDS if probability >= cut)


# The quality model's text feature: log-odds of a TF-IDF model over the coach's words and word pairs.
TEXT_FEATURE = "coach_text_log_odds"
# How much evidence a session gives: its coach volleys (MITI's parsing unit), each counted by how sure the
# coder was of the codes (see evidence_volleys).
EVIDENCE_FEATURE = "effective_volleys"
# The coder's confidence columns that say how sure it was, per role.
CERTAINTY_COLUMNS = {"coach": confidence_column(MAIN_BEHAVIOUR_COLUMN), "client": confidence_column(CLIENT_TALK_COLUMN)}


def evidence_volleys(coded: pd.DataFrame) -> tuple[int, float]:
    """(coach volleys, code certainty): the session's evidence for the session estimates.

    Code certainty is the mean confidence of the chosen codes (main behaviour on coach rows,
    client talk on client rows), rescaled so that a coder as sure as a coin toss gives 0 and a
    certain one 1; codes given without confidences (rules, hand codes) count as certain. The
    effective number of volleys is their product: a volley whose codes the coder is unsure of
    counts as part of one.
    """
    volleys = max(1, int(coach_volleys(coded).nunique()))
    confidences = []
    for role, column in CERTAINTY_COLUMNS.items():
        if column in coded:
            values = pd.to_numeric(coded.loc[coded["role"] == role, column], errors="coerce").dropna()
            confidences.extend(values.tolist())
    if not confidences:
        return volleys, 1.0
    # main behaviour has 4 labels, client talk 3: a confidence of 1/2 is taken as "no better than a guess"
    certainty = float(np.clip((np.mean(confidences) - 0.5) / 0.5, 0.05, 1.0))
    return volleys, round(certainty, 3)
TEXT_NGRAMS = (1, 2)
# Hesitations that human transcripts keep and speech recognisers drop: the text model must not
# learn from them, or a recording would read differently from its transcript.
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "mm", "mmm", "hmm", "hm", "mhm", "mm-hmm",
                     "uh-huh", "huh"})


def predictive_probability(log_odds, parameter_variance, effective_volleys, evidence_k: float):
    """P(good MI) that knows how much evidence it has: the log-odds shrunk by their uncertainty.

    ``sigmoid(log_odds / sqrt(1 + pi/8 * v))`` (the probit approximation of a logistic model
    with uncertain log-odds), where ``v`` = ``parameter_variance`` (how uncertain the fitted
    weights are at this session: large for a session unlike the training data) +
    ``evidence_k / effective_volleys`` (a session's rates from few volleys, or from codes the coder
    was unsure of, are noisy: a 6-volley session is told "either way" rather than 0.99; see
    :func:`evidence_volleys`). Works on scalars and numpy arrays.
    """
    variance = np.asarray(parameter_variance, float) + evidence_k / np.maximum(np.asarray(effective_volleys, float), 0.5)
    return 1.0 / (1.0 + np.exp(-np.asarray(log_odds, float) / np.sqrt(1.0 + math.pi / 8.0 * variance)))


def coach_document(coded: pd.DataFrame) -> str:
    """Everything the coach said, as one recogniser-style text (lower case, no punctuation, no hesitations)."""
    words = " ".join(strip_asr(t) for t in coded.loc[coded["role"] == "coach", "text"].fillna("").astype(str)).split()
    return " ".join(w for w in words if w not in FILLERS)


def _share(numerator: float, denominator: float, prior: float = 0.5, weight: float = 1.0) -> float:
    """A ratio shrunk towards ``prior`` so that a session with one or two items does not read as 0% or 100%."""
    return (numerator + prior * weight) / (denominator + weight)


# The counts the session features read from the coder's expected counts (metrics.expected_metrics) when it
# gave probabilities: closer to the experts' counts than its labels counted (docs/report.md), and held out
# they rank sessions better (docs/model-card-fidelity.md, "Expected counts"). The others stay counted.
EXPECTED_COUNTS = ("questions", "open_questions", "reflections", "complex_reflections", "change_talk", "sustain_talk")


def feature_counts(coded: pd.DataFrame, metrics: SessionMetrics) -> SessionMetrics:
    """``metrics`` with the :data:`EXPECTED_COUNTS` taken from the coder's expected counts, where it has them."""
    expected = expected_metrics(coded)
    if not expected:
        return metrics  # codes given or corrected by hand, the rule coder: counted
    return replace(metrics, **{name: expected[name] for name in EXPECTED_COUNTS})


def session_features(coded: pd.DataFrame, metrics: SessionMetrics) -> dict[str, float]:
    """The numbers the estimates read, from the coded utterances and the session's counts.

    Rates are per coach volley (MITI's parsing unit, so a turn split at pauses does
    not count twice) and shares are shrunk a little towards 50%, so short sessions
    do not produce extreme values. Talk share is by words, which transcripts
    without timings have too. Questions, reflections and change / sustain talk are
    the coder's expected counts where it gave probabilities (:func:`feature_counts`).
    """
    metrics = feature_counts(coded, metrics)
    volleys = max(1, int(coach_volleys(coded).nunique()))
    words = coded["text"].fillna("").astype(str).str.split().str.len()
    is_coach = (coded["role"] == "coach").to_numpy()
    coach_words, all_words = float(words[is_coach].sum()), float(words.sum())
    n_coach = max(1, int(is_coach.sum()))
    reflected = _reflected_after(coded)
    change, sustain = metrics.change_talk, metrics.sustain_talk
    adherent = metrics.mi_adherent or 0
    non_adherent = metrics.mi_non_adherent or 0
    return {
        "reflections_per_volley": metrics.reflections / volleys,
        "complex_reflections_per_volley": metrics.complex_reflections / volleys,
        "questions_per_volley": metrics.questions / volleys,
        "open_questions_per_volley": metrics.open_questions / volleys,
        "information_per_volley": metrics.giving_information / volleys,
        "log_reflection_to_question": math.log((metrics.reflections + 0.5) / (metrics.questions + 0.5)),
        "complex_share": _share(metrics.complex_reflections, metrics.reflections),
        "change_talk_share": _share(change, change + sustain),
        "sustain_talk_share": _share(sustain, change + sustain),
        "change_talk_reflected": _share(reflected["change"][0], reflected["change"][1]),
        "sustain_talk_reflected": _share(reflected["sustain"][0], reflected["sustain"][1]),
        "adherent_per_volley": adherent / volleys,
        "non_adherent_per_volley": non_adherent / volleys,
        "affirm_per_volley": (metrics.affirm or 0) / volleys,
        "coach_word_share": coach_words / all_words if all_words else 0.5,
        "log_words_per_coach_utterance": math.log1p(coach_words / n_coach),
    }


def _reflected_after(coded: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """For change and sustain talk: how often the next coach utterance was a reflection, of how many."""
    roles = coded["role"].tolist()
    talk = coded[CLIENT_TALK_COLUMN].tolist()
    reflection = coded[REFLECTION_COLUMN].tolist()
    out = {"change": [0, 0], "sustain": [0, 0]}
    for i, kind in enumerate(talk):
        if roles[i] != "client" or kind not in out:
            continue
        nxt = next((j for j in range(i + 1, len(roles)) if roles[j] == "coach"), None)
        if nxt is None:
            continue
        out[kind][1] += 1
        out[kind][0] += reflection[nxt] in ("simple", "complex")
    return {k: (v[0], v[1]) for k, v in out.items()}


@dataclass(frozen=True)
class GlobalScores:
    """How much each aspect of the session resembles sessions that MI experts rated good MI.

    Built from the four constructs of MITI 4.2.1's global scores, but **not** estimates of
    those 1-5 scores (no expert global ratings exist to check such a thing against): each
    field is the probability, from that construct's features alone, that experts would rate
    the session as good MI. Shown as an index 0-100 (``round(100 * p)``; 50 = as much like
    sessions rated good as poor), with no MITI fair/good band attached.
    """

    cultivating_change_talk: float
    softening_sustain_talk: float
    partnership: float
    empathy: float

    SCALE = ("index 0-100: how much this aspect of the session resembles sessions that MI experts rated "
             "good MI (estimated; not MITI's 1-5 global score, no MITI band)")

    def __post_init__(self):
        for name in GLOBAL_NAMES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"GlobalScores.{name} is a probability in [0, 1], got {value!r}")

    def index(self, name: str) -> int:
        """One aspect as an index 0-100; ``technical`` and ``relational`` are the mean of their two."""
        if name in SUMMARY_INDICES:
            first, second = SUMMARY_INDICES[name]
            return _half_up((self.index(first) + self.index(second)) / 2)
        return _half_up(100.0 * getattr(self, name))

    @property
    def technical(self) -> int:
        return self.index("technical")

    @property
    def relational(self) -> int:
        return self.index("relational")

    def as_dict(self) -> dict:
        """The ``globals`` of session.json: the four indices, ``technical``, ``relational`` and ``scale``."""
        out: dict = {name: self.index(name) for name in (*GLOBAL_NAMES, *SUMMARY_INDICES)}
        out["scale"] = self.SCALE
        return out


# technical and relational: the mean index of two constructs, as MITI pairs its globals.
SUMMARY_INDICES = {"technical": ("cultivating_change_talk", "softening_sustain_talk"),
                   "relational": ("partnership", "empathy")}


def _half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


@dataclass(frozen=True)
class FidelityEstimate:
    """The session-level estimates: global scores and the probability of good MI."""

    globals: GlobalScores
    mi_quality_probability: float
    model: str  # artifact name and version, for session.json's models
    evidence: dict | None = None  # coach_volleys, log-odds before / after the evidence shrink, their sd
    caveat: str | None = None  # plain words when the evidence, not the session, pulled P(good MI) towards 50%


@dataclass(frozen=True)
class _Logistic:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    covariance: np.ndarray | None = None  # Laplace posterior covariance (standardised features, intercept last)

    def _standardised(self, values: dict[str, float]) -> np.ndarray:
        return (np.array([values[f] for f in self.features]) - self.mean) / self.scale

    def log_odds(self, values: dict[str, float]) -> float:
        return float(self._standardised(values) @ self.coef) + self.intercept

    def parameter_variance(self, values: dict[str, float]) -> float:
        """Variance of the log-odds from the uncertainty of the fitted weights (0 without a covariance)."""
        if self.covariance is None:
            return 0.0
        x = np.append(self._standardised(values), 1.0)
        return float(x @ self.covariance @ x)

    def probability(self, values: dict[str, float]) -> float:
        return float(1.0 / (1.0 + math.exp(-self.log_odds(values))))

    @classmethod
    def from_json(cls, spec: dict) -> "_Logistic":
        covariance = np.asarray(spec["covariance"], float) if "covariance" in spec else None
        return cls(tuple(spec["features"]), np.asarray(spec["mean"], float), np.asarray(spec["scale"], float),
                   np.asarray(spec["coef"], float), float(spec["intercept"]), covariance)


@dataclass(frozen=True)
class _TextModel:
    """TF-IDF (words and word pairs, sublinear counts) + logistic regression over the coach's words."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float

    def log_odds(self, document: str) -> float:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(ngram_range=TEXT_NGRAMS, sublinear_tf=True, vocabulary=self.vocabulary)
        vectorizer.idf_ = self.idf
        return float((vectorizer.transform([document]) @ self.coef)[0] + self.intercept)

    @classmethod
    def from_json(cls, spec: dict) -> "_TextModel":
        return cls({term: i for i, term in enumerate(spec["terms"])}, np.asarray(spec["idf"], float),
                   np.asarray(spec["coef"], float), float(spec["intercept"]))


class FidelityModel:
    """The trained estimates (loaded from the JSON artifact; no pickle)."""

    def __init__(self, path: str | Path = ARTIFACT):
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        self.name = f"{Path(path).name} v{spec.get('version', '?')}"
        self.models = {name: _Logistic.from_json(spec["models"][name]) for name in (*GLOBAL_NAMES, QUALITY)}
        self.text = _TextModel.from_json(spec["text"])
        self.evidence_k = float(spec.get("evidence", {}).get("k", 0.0))

    def estimate(self, coded: pd.DataFrame, metrics: SessionMetrics) -> FidelityEstimate | None:
        """Globals and P(good MI) for one session; ``None`` when it has no coach utterance or no adherence codes."""
        if not (coded["role"] == "coach").any() or ADHERENCE_COLUMN not in coded or metrics.mi_adherent is None:
            return None
        values = session_features(coded, metrics)
        values[TEXT_FEATURE] = self.text.log_odds(coach_document(coded))
        values.update({f"log_odds_{name}": self.models[name].log_odds(values) for name in GLOBAL_NAMES})
        scores = {name: self.models[name].probability(values) for name in GLOBAL_NAMES}
        volleys, certainty = evidence_volleys(coded)
        quality = self.models[QUALITY]
        log_odds = quality.log_odds(values)
        parameter_variance = quality.parameter_variance(values)
        probability = float(predictive_probability(log_odds, parameter_variance, volleys * certainty, self.evidence_k))
        sampling_variance = self.evidence_k / max(volleys * certainty, 0.5)
        evidence = {"coach_volleys": volleys, "code_certainty": certainty, "log_odds": round(log_odds, 3),
                    "log_odds_sd": round(math.sqrt(parameter_variance + sampling_variance), 3),
                    "probability_before_evidence": round(1.0 / (1.0 + math.exp(-log_odds)), 3)}
        return FidelityEstimate(GlobalScores(**scores), round(probability, 3), self.name, evidence,
                                evidence_caveat(log_odds, probability, volleys, certainty, parameter_variance,
                                                sampling_variance))


def evidence_caveat(log_odds: float, probability: float, volleys: int, certainty: float, parameter_variance: float,
                    sampling_variance: float) -> str | None:
    """A note when little evidence, not the session itself, moved P(good MI) into a less decided band."""
    before = 1.0 / (1.0 + math.exp(-log_odds))
    if quality_band(before) == quality_band(probability):
        return None
    if sampling_variance >= parameter_variance and certainty < 0.5 and volleys >= 20:
        why = "the coder was unsure of many of this session's codes"
    elif sampling_variance >= parameter_variance:
        why = (f"the session has only {volleys} coach turns between client turns, too few for a firmer "
               "estimate")
    else:
        why = ("the session's coded behaviour is unlike the sessions the estimate was trained on, so it is "
               "less sure how an expert would see it")
    return (f"The estimated probability of good MI was moved towards 50% ({probability_shown(before)} -> "
            f"{probability_shown(probability)}) because "
            f"{why}.")


def session_verdict(assessment: pd.DataFrame, estimate: FidelityEstimate | None) -> str:
    """The report's headline: the estimated expert verdict, the technical and relational indices, the counts.

    Where an index or the counted MITI summary points the other way from the estimated
    verdict (e.g. likely good MI with a low relational index), the sentence says so and why.
    """
    if estimate is None:
        return overall_verdict(assessment)
    p = estimate.mi_quality_probability
    lead = next(words for cut, _, words in QUALITY_BANDS if p >= cut)
    band = quality_band(p)
    indices = {name: estimate.globals.index(name) for name in ("technical", "relational")}
    # An index below 50 leans towards sessions rated poor MI, above 50 towards good.
    against = [name for name, value in indices.items()
               if (band == "likely good" and value < 50) or (band == "likely poor" and value > 50)]
    if against:
        low_high = "low" if band == "likely good" else "high"
        named = " and ".join(against) + (" indices are" if len(against) > 1 else " index is")
        shown = " and ".join(str(indices[name]) for name in against)
        others = "".join(f"; {name} {value}" for name, value in indices.items() if name not in against)
        headline = (f"{lead} (estimated probability of good MI {probability_shown(p)}), although the {named} {low_high} "
                    f"({shown} of 100{others}): the estimate weighs all aspects and the coach's words together.")
    else:
        headline = (f"{lead} (estimated probability of good MI {probability_shown(p)}). Technical index {indices['technical']}, "
                    f"relational index {indices['relational']} of 100 (how much each aspect resembles sessions "
                    "experts rated good MI).")
    return headline + " " + _counted_verdict(assessment, band)


def _counted_verdict(assessment: pd.DataFrame, band: str) -> str:
    """The MITI 4.2.1 summary of the counted R:Q and %CR, bridged when it disagrees with the estimate."""
    counted = overall_verdict(assessment)
    core = set(assessment.set_index("metric").loc[["reflection_to_question", "pct_complex_reflections"], "rating"])
    disagrees = ((band == "likely good" and "below fair" in core and "not computable" not in core)
                 or (band == "likely poor" and core == {"good"}))
    if not disagrees:
        return counted
    return ("Counted on their own, which the estimate weighs together with everything else: "
            + counted[0].lower() + counted[1:])


_MODEL: FidelityModel | None = None
_LOCK = threading.Lock()


def estimate_fidelity(coded: pd.DataFrame, metrics: SessionMetrics) -> FidelityEstimate | None:
    """Session estimates from the bundled model (loaded once per process)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = FidelityModel()
    return _MODEL.estimate(coded, metrics)


__all__ = ["FidelityEstimate", "GlobalScores", "estimate_fidelity", "session_features", "FidelityModel",
           "CONSTRUCTS", "GLOBAL_NAMES", "QUALITY_BANDS", "quality_band", "session_verdict", "predictive_probability",
           "evidence_caveat", "evidence_volleys", "EVIDENCE_FEATURE", "probability_shown"]
