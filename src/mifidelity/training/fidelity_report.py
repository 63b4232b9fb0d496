"""Tables and plots of the session model's held-out validation (:mod:`mifidelity.training.fidelity`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.fidelity import QUALITY, QUALITY_BANDS

def auc(high: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return None if len(set(high)) < 2 else float(roc_auc_score(high, score))


def band_counts(high: np.ndarray, p: np.ndarray) -> dict[str, int]:
    """How many low sessions are told "most likely good" and high ones "most likely poor" (the cuts of
    :data:`mifidelity.fidelity.QUALITY_BANDS`)."""
    good_cut, poor_cut = QUALITY_BANDS[0][0], QUALITY_BANDS[1][0]
    return {"low_told_good": int(((p >= good_cut) & ~high).sum()), "n_low": int((~high).sum()),
            "high_told_poor": int(((p < poor_cut) & high).sum()), "n_high": int(high.sum()),
            "told_good": int((p >= good_cut).sum()), "told_good_right": int(((p >= good_cut) & high).sum()),
            "told_poor": int((p < poor_cut).sum()), "told_poor_right": int(((p < poor_cut) & ~high).sum())}


def group_summary(part: pd.DataFrame) -> dict:
    """AUC (mean over repeats), Brier, and the band counts of one repeat, for one held-out group of rows."""
    from sklearn.metrics import brier_score_loss

    aucs = [a for _, g in part.groupby("repeat") if (a := auc(g["high"].to_numpy(int), g[QUALITY].to_numpy())) is not None]
    first = part[part["repeat"] == part["repeat"].min()]
    counts = band_counts(first["high"].to_numpy(bool), first[QUALITY].to_numpy())
    return {"sessions": first["session"].nunique(), "auc": float(np.mean(aucs)) if aucs else None,
            "auc_sd": float(np.std(aucs)) if len(aucs) > 1 else None,
            "brier": float(brier_score_loss(part["high"].astype(int), part[QUALITY])),
            "brier_base": float(brier_score_loss(part["high"].astype(int), np.full(len(part), part["high"].mean()))),
            "mean_p": float(part[QUALITY].mean()), "share_high": float(part["high"].mean()), **counts}


def _fmt(value, digits=3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def summary_table(predictions: pd.DataFrame) -> str:
    """Markdown: per scheme, held-out collection and version (full sessions), and truncated sessions."""
    lines = ["| validation | held out | version | sessions | AUC | Brier (base rate) | mean P / share high "
             "| low told 'likely good' | high told 'likely poor' | 'likely good' right | 'likely poor' right |",
             "| --- |" * 1 + " --- |" * 10]
    full = predictions[~predictions["truncated"]]
    for (scheme, collection, version), part in full.groupby(["scheme", "collection", "version"], sort=False):
        s = group_summary(part)
        spread = "" if s["auc_sd"] is None else f" (sd {s['auc_sd']:.3f})"
        lines.append(
            f"| {scheme} | {collection} | {version} | {s['sessions']} | {_fmt(s['auc'])}{spread}"
            f" | {_fmt(s['brier'])} ({_fmt(s['brier_base'])}) "
            f"| {_fmt(s['mean_p'], 2)} / {_fmt(s['share_high'], 2)} | {s['low_told_good']} of {s['n_low']} "
            f"| {s['high_told_poor']} of {s['n_high']} | {s['told_good_right']} of {s['told_good']} "
            f"| {s['told_poor_right']} of {s['told_poor']} |")
    pooled_full = full[full["scheme"] == "pooled"]
    if len(pooled_full):
        lines += ["", "Whole sessions by length (pooled validation, all repeats):", "",
                  "| coach volleys | rows | share rated high | mean P | P >= 0.9 or <= 0.1 "
                  "| 'likely good' right | 'likely poor' right |", "| --- |" + " --- |" * 6]
        bins = pd.cut(pooled_full["coach_volleys"], [0, 8, 15, 30, 10_000], labels=["2-8", "9-15", "16-30", "over 30"])
        for label, part in pooled_full.groupby(bins, observed=True):
            counts = band_counts(part["high"].to_numpy(bool), part[QUALITY].to_numpy())
            extreme = float(((part[QUALITY] >= 0.9) | (part[QUALITY] <= 0.1)).mean())
            lines.append(f"| {label} | {len(part)} | {part['high'].mean():.2f} | {part[QUALITY].mean():.2f} | {extreme:.0%} "
                         f"| {counts['told_good_right']} of {counts['told_good']} "
                         f"| {counts['told_poor_right']} of {counts['told_poor']} |")
    short = predictions[predictions["truncated"] & (predictions["scheme"] == "pooled")]
    if len(short):
        lines += ["", "The first 4 / 8 / 16 coach volleys of each held-out session (pooled validation; the whole "
                  "session's label kept; a session's opening reads more like poor MI than its whole):", "",
                  "| coach volleys kept | rows | AUC | Brier | mean |P - 0.5| | P >= 0.9 or <= 0.1 "
                  "| 'likely good' right | 'likely poor' right |", "| --- |" + " --- |" * 7]
        for kept, part in short.groupby(short["id"].str.extract(r"first(\d+)$")[0].astype(int)):
            s = group_summary(part)
            extreme = float(((part[QUALITY] >= 0.9) | (part[QUALITY] <= 0.1)).mean())
            lines.append(f"| {kept} | {len(part)} | {_fmt(s['auc'])} | {_fmt(s['brier'])} "
                         f"| {_fmt(float((part[QUALITY] - 0.5).abs().mean()), 2)} | {extreme:.0%} "
                         f"| {s['told_good_right']} of {s['told_good']} | {s['told_poor_right']} of {s['told_poor']} |")
    return "\n".join(lines)


def reliability_table(predictions: pd.DataFrame, bins: int = 5) -> str:
    lines = ["| held out | bin | mean predicted | share rated high | n |", "| --- | --- | --- | --- | --- |"]
    full = predictions[~predictions["truncated"]]
    for (scheme, collection), part in full.groupby(["scheme", "collection"], sort=False):
        frame = part.assign(bin=pd.qcut(part[QUALITY].rank(method="first"), bins, labels=False))
        for b, g in frame.groupby("bin"):
            lines.append(f"| {scheme} / {collection} | {b + 1} | {g[QUALITY].mean():.3f} | {g['high'].mean():.3f} | {len(g)} |")
    return "\n".join(lines)


def plot_reliability(predictions: pd.DataFrame, path: str | Path) -> None:
    """Reliability curves (predicted against observed share rated high), per validation and held-out collection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=110)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", label="perfectly calibrated")
    full = predictions[~predictions["truncated"]]
    for (scheme, collection), part in full.groupby(["scheme", "collection"], sort=False):
        if scheme not in ("pooled", "collection"):
            continue
        frame = part.assign(bin=pd.qcut(part[QUALITY].rank(method="first"), 6, labels=False))
        table = frame.groupby("bin").agg(predicted=(QUALITY, "mean"), observed=("high", "mean"))
        ax.plot(table["predicted"], table["observed"], marker="o", label=f"{scheme}: {collection} held out")
    ax.set_xlabel("predicted probability of good MI (held out)")
    ax.set_ylabel("share rated high quality by the experts")
    ax.set_title("mi_quality_probability, validated by held-out groups")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def rq_agreement(rows: pd.DataFrame, annomi: str | Path) -> str:
    """Spearman of the session R:Q (pipeline codes) against the R:Q from AnnoMI's expert codes, per text version."""
    from scipy.stats import spearmanr

    from mifidelity.training.data import load_annomi
    from mifidelity.training.session_data import coded_table
    from mifidelity.metrics import compute_metrics

    data = load_annomi(annomi)
    expert = {f"annomi-{transcript}": compute_metrics(coded_table(data.iloc[index], None, None)).reflection_to_question
              for transcript, index in data.groupby("transcript_id", sort=True).indices.items()}
    lines = []
    full = rows[~rows["truncated"] & (rows["collection"] == "annomi")]
    for version, part in full.groupby("version"):
        both = part.assign(expert=part["session"].map(expert))[["reflection_to_question", "expert"]].dropna()
        rho = spearmanr(both["reflection_to_question"], both["expert"]).statistic
        lines.append(f"- {version}: Spearman {rho:.3f} over {len(both)} AnnoMI transcripts")
    return "\n".join(lines)
