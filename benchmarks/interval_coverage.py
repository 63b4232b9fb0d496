"""Do the report's 95% intervals contain what an expert would count? Coverage on AnnoMI, held out.

For every AnnoMI transcript (both text versions: as written, "clean", and lower-cased without
punctuation, "asr") the pipeline's coded table is built from **out-of-fold** coder probabilities
(each transcript coded by a model that never saw it: ``python -m mifidelity.training.evaluate
--save-probabilities OOF.npz``), its intervals are computed (:func:`mifidelity.report.intervals.bootstrap_intervals`),
and the experts' value of each metric (:func:`mifidelity.metrics.compute_metrics` on the experts'
majority codes) is checked against them. Printed per metric and version: sessions, how many intervals
contain the experts' value, the median width, for

* ``before``: the old interval (utterances resampled, codes fixed; kept here for comparison);
* ``sampling``: coach volleys and client utterances resampled, codes fixed (the interval a table
  without probability columns gets);
* ``coder, T=1 sd=0``: codes drawn from the coder's probabilities as they are, and resampling;
* ``coder, cross-validated``: the same with the calibration (:data:`mifidelity.report.intervals.CODER_CALIBRATION`:
  temperature and session-wide tilt, per role) chosen by 5-fold cross-validation grouped by transcript
  (of the grid's settings whose coverage on the training transcripts reaches ``--target`` for every
  metric of the role, the narrowest), scored on the held-out transcripts only;
* ``coder, CODER_CALIBRATION``: the settings in the table now (in-sample when they were chosen on
  these transcripts; for information).

Then which single value is closer to the experts (mean absolute error and rank agreement; counted
codes or the coder's expected counts, :func:`mifidelity.metrics.expected_metrics`; the report shows
the expected value for :data:`mifidelity.metrics.EXPECTED_HEADLINE`), the settings chosen on all
transcripts (what ``CODER_CALIBRATION`` should hold), and the time one 60-minute session takes. Prints numbers only,
never utterance text.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/interval_coverage.py --coder-oof /tmp/oof/coder-oof.npz \
        [--annomi ../shared/data/annomi] [--rounds 2000] [--target 0.95]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.metrics import compute_metrics, expected_metrics  # noqa: E402
from mifidelity.report.intervals import BOOTSTRAP_ROUNDS, bootstrap_intervals  # noqa: E402
from mifidelity.report.scorecard import MIN_BASIS  # noqa: E402

METRICS = ("reflection_to_question", "pct_complex_reflections", "pct_open_questions", "pct_change_talk")
SHORT = {"reflection_to_question": "R:Q", "pct_complex_reflections": "%CR", "pct_open_questions": "%OQ",
         "pct_change_talk": "%CT"}
ROLE_METRICS = {"coach": METRICS[:3], "client": METRICS[3:]}
# The calibration key of each metric's session-wide tilt (intervals.CODER_CALIBRATION).
TILT = {"reflection_to_question": "reflection_question_sd", "pct_complex_reflections": "complex_simple_sd",
        "pct_open_questions": "open_closed_sd", "pct_change_talk": "change_sustain_sd"}
TEMPERATURE = {"coach": "coach_temperature", "client": "client_temperature"}
# Calibration settings tried: (temperature, tilt sd) for every role and pair at once. Each metric depends
# (almost) only on its own pair's tilt and its role's temperature, so the choice is made per metric and
# the chosen combination is then scored as a whole on the held-out transcripts.
TEMPERATURES = (1.0, 1.5, 2.0)
SDS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
GRID = tuple((t, sd) for t in TEMPERATURES for sd in SDS)
FOLDS = 5
# Sessions whose denominator (questions, reflections, change + sustain statements) is at least this
# are summarised apart: nearer a 60-minute session than most AnnoMI demonstrations.
LONG_BASIS = 20
SEED = 20261206
VERSIONS = ("clean", "asr")


# --------------------------------------------------------------------------- the old interval, for comparison

def legacy_intervals(utterances: pd.DataFrame, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 20240421) -> dict:
    """The interval the report had before: utterances resampled with their codes fixed (percentile, 95%)."""
    coach = (utterances["role"] == "coach").to_numpy()
    question, reflection, talk = utterances["question"], utterances["reflection"], utterances["client_talk"]
    table = np.column_stack([
        coach & question.isin(["open", "closed"]).to_numpy(), coach & (question == "open").to_numpy(),
        coach & reflection.isin(["simple", "complex"]).to_numpy(), coach & (reflection == "complex").to_numpy(),
        ~coach & (talk == "change").to_numpy(), ~coach & talk.isin(["change", "sustain"]).to_numpy()]).astype(float)
    columns = {"question": 0, "open": 1, "reflection": 2, "complex": 3, "change": 4, "change_or_sustain": 5}
    ratios = {"reflection_to_question": ("reflection", "question", 1.0),
              "pct_complex_reflections": ("complex", "reflection", 100.0),
              "pct_open_questions": ("open", "question", 100.0),
              "pct_change_talk": ("change", "change_or_sustain", 100.0)}
    n = len(table)
    picks = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    out = {}
    for metric, (num, den, scale) in ratios.items():
        low = high = None
        if table[:, columns[den]].sum() > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = scale * table[:, columns[num]][picks].sum(1) / table[:, columns[den]][picks].sum(1)
            values = values[np.isfinite(values)]
            if len(values) >= rounds / 2:
                low, high = (round(float(v), 3) for v in np.percentile(values, [2.5, 97.5]))
        out[metric] = {"low": low, "high": high}
    return out


# --------------------------------------------------------------------------- sessions

def load_sessions(annomi: str, coder_oof: str | list[str]) -> tuple[list[dict], pd.DataFrame]:
    """One entry per transcript and version: its coded table, the experts' and the coder's metrics."""
    from mifidelity.training.data import load_annomi
    from mifidelity.training.fidelity import coded_table, coder_probabilities

    data = load_annomi(annomi)
    probabilities = coder_probabilities(coder_oof, data)
    experts = coded_table(data, None, None)
    groups = data.groupby("transcript_id", sort=True).indices
    expert_values = {t: compute_metrics(experts.iloc[i].reset_index(drop=True)).as_dict() for t, i in groups.items()}
    sessions = []
    for version in VERSIONS:
        coded = coded_table(data, probabilities[version], None).drop(columns="text")  # no text from here on
        for transcript, index in groups.items():
            table = coded.iloc[index].reset_index(drop=True)
            sessions.append({"transcript_id": int(transcript), "version": version, "table": table,
                             "expert": expert_values[transcript], "counted": compute_metrics(table).as_dict(),
                             "expected": expected_metrics(table)})
    return sessions, data


def uniform(setting: tuple[float, float]) -> dict[str, float]:
    """A grid setting as a calibration: one temperature for both roles, one sd for every pair."""
    temperature, sd = setting
    return {**{key: temperature for key in TEMPERATURE.values()}, **{key: sd for key in TILT.values()}}


def label(calibration: dict[str, float]) -> str:
    short = {"coach_temperature": "Tcoach", "client_temperature": "Tclient", **{TILT[m]: f"sd{SHORT[m]}" for m in METRICS}}
    return " ".join(f"{short[k]}={v:g}" for k, v in calibration.items())


def interval_rows(sessions: list[dict], method: str, rounds: int, calibration: dict | None = None) -> pd.DataFrame:
    """One row per session and metric: the interval of ``method`` and whether it holds the experts' value."""
    rows = []
    for s in sessions:
        if method == "before":
            intervals = legacy_intervals(s["table"], rounds)
        elif method == "sampling":
            intervals = bootstrap_intervals(s["table"], rounds, coder=False)
        else:
            intervals = bootstrap_intervals(s["table"], rounds, calibration=calibration)
        for metric in METRICS:
            expert, low, high = s["expert"][metric], intervals[metric]["low"], intervals[metric]["high"]
            if expert is None:
                continue  # the experts' codes give no value (e.g. no question at all)
            counted = s["counted"][metric]
            basis = intervals[metric].get("basis")
            rows.append({"transcript_id": s["transcript_id"], "version": s["version"], "metric": metric,
                         "covered": low is not None and low - 1e-9 <= expert <= high + 1e-9,
                         "width": None if low is None else high - low,
                         "holds_counted": counted is not None and low is not None and low - 1e-9 <= counted <= high + 1e-9,
                         "judged": basis is not None and basis >= MIN_BASIS,
                         "long": basis is not None and basis >= LONG_BASIS})
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame, label: str) -> pd.DataFrame:
    out = []
    for (metric, version), group in rows.groupby(["metric", "version"], sort=False):
        judged, long = group[group["judged"]], group[group["long"]]
        out.append({"metric": SHORT[metric], "version": version, "interval": label, "sessions": len(group),
                    "covered": int(group["covered"].sum()), "coverage": group["covered"].mean(),
                    "median width": group["width"].median(),
                    f"covered (basis>={MIN_BASIS})": f"{int(judged['covered'].sum())}/{len(judged)}" if len(judged) else "-",
                    f"median width (basis>={MIN_BASIS})": judged["width"].median() if len(judged) else None,
                    f"covered (basis>={LONG_BASIS})": f"{int(long['covered'].sum())}/{len(long)}" if len(long) else "-",
                    f"median width (basis>={LONG_BASIS})": long["width"].median() if len(long) else None,
                    "holds counted": group["holds_counted"].mean()})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- cross-validated calibration

def choose(rows_by_setting: dict, transcripts: set[int], target: float, long_target: float | None = None) -> dict[str, float]:
    """The calibration chosen on ``transcripts``: per role the temperature, per metric the tilt sd.

    For each temperature, each metric takes the sd with the narrowest median interval among those whose
    coverage reaches ``target`` (else the sd with the best coverage); the role takes the temperature
    whose metrics all reach the target with the narrowest intervals (widths relative to the uncalibrated
    ones, summed), else the one with the best worst-metric coverage. With ``long_target`` a metric's
    coverage is the lower of its coverage over all sessions (against ``target``) and over the sessions
    with at least LONG_BASIS in the denominator (against ``long_target``), in units of its target.
    """
    scores = {}
    for setting, rows in rows_by_setting.items():
        rows = rows[rows["transcript_id"].isin(transcripts)]
        score = rows.groupby("metric").agg(coverage=("covered", "mean"), width=("width", "median"))
        score["coverage"] = score["coverage"] / target
        if long_target is not None:
            long = rows[rows["long"]].groupby("metric")["covered"].mean() / long_target
            score["coverage"] = np.minimum(score["coverage"], long.reindex(score.index).fillna(1.0))
        scores[setting] = score
    target = 1.0  # coverages are now in units of their targets
    base = scores[(1.0, 0.0)]["width"]
    chosen = {}
    for role, metrics in ROLE_METRICS.items():
        options = []
        for t in TEMPERATURES:
            picks = {}
            for metric in metrics:
                reached = [sd for sd in SDS if scores[(t, sd)].loc[metric, "coverage"] >= target]
                picks[metric] = (min(reached, key=lambda sd: scores[(t, sd)].loc[metric, "width"]) if reached
                                 else max(SDS, key=lambda sd: scores[(t, sd)].loc[metric, "coverage"]))
            coverage = min(scores[(t, picks[m])].loc[m, "coverage"] for m in metrics)
            width = sum(scores[(t, picks[m])].loc[m, "width"] / base[m] for m in metrics)
            options.append((coverage >= target, -width if coverage >= target else coverage, t, picks))
        _, _, t, picks = max(options, key=lambda o: (o[0], o[1]))
        chosen[TEMPERATURE[role]] = t
        chosen.update({TILT[m]: sd for m, sd in picks.items()})
    return {key: chosen[key] for key in (*TEMPERATURE.values(), *(TILT[m] for m in METRICS))}


def cross_validated(sessions: list[dict], rows_by_setting: dict, rounds: int, target: float,
                    long_target: float | None = None) -> tuple[pd.DataFrame, list]:
    """Held-out rows: each fold's transcripts scored with the calibration chosen on the other folds."""
    order = np.random.default_rng(SEED).permutation(sorted({s["transcript_id"] for s in sessions}))
    folds = np.array_split(order, FOLDS)
    held_out, chosen = [], []
    for k, test in enumerate(folds):
        train = set(np.concatenate([f for j, f in enumerate(folds) if j != k]).tolist())
        calibration = choose(rows_by_setting, train, target, long_target)
        chosen.append(calibration)
        test = set(test.tolist())
        held_out.append(interval_rows([s for s in sessions if s["transcript_id"] in test], "coder", rounds, calibration))
    return pd.concat(held_out, ignore_index=True), chosen


# --------------------------------------------------------------------------- which value is closer

def centres(sessions: list[dict]) -> pd.DataFrame:
    out = []
    for version in VERSIONS:
        for metric in METRICS:
            values = np.array([(s["expert"][metric], s["counted"][metric], s["expected"][metric])
                               for s in sessions if s["version"] == version and s["expert"][metric] is not None
                               and s["counted"][metric] is not None and s["expected"]
                               and s["expected"][metric] is not None], dtype=float).reshape(-1, 3)
            counted, expected = np.abs(values[:, 1] - values[:, 0]), np.abs(values[:, 2] - values[:, 0])
            out.append({"metric": SHORT[metric], "version": version, "sessions": len(values),
                        "MAE counted": counted.mean(), "MAE expected": expected.mean(),
                        "expected closer": f"{int((expected < counted).sum())}/{len(values)}",
                        "Spearman counted": spearmanr(values[:, 1], values[:, 0]).statistic,
                        "Spearman expected": spearmanr(values[:, 2], values[:, 0]).statistic})
    return pd.DataFrame(out)


def timing(sessions: list[dict], rounds: int) -> dict:
    """Seconds for one 60-minute-like session (transcripts joined until 900 utterances), best of 3."""
    tables, total = [], 0
    for s in sessions:
        if s["version"] == "clean":
            tables.append(s["table"])
            total += len(s["table"])
            if total >= 900:
                break
    big = pd.concat(tables, ignore_index=True)
    times = {}
    for label, call in (("before", lambda: legacy_intervals(big, rounds)),
                        ("sampling", lambda: bootstrap_intervals(big, rounds, coder=False)),
                        ("coder", lambda: bootstrap_intervals(big, rounds))):
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        times[label] = best
    return {"utterances": len(big), **times}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default="../shared/data/annomi", help="AnnoMI folder (AnnoMI-full.dev.csv)")
    parser.add_argument("--coder-oof", required=True, metavar="NPZ", nargs="+",
                        help="out-of-fold coder probabilities (mifidelity.training.evaluate --save-probabilities); "
                             "several seeds' files are averaged, as the shipped coder averages its artifacts")
    parser.add_argument("--rounds", type=int, default=BOOTSTRAP_ROUNDS, help="bootstrap rounds (default %(default)s)")
    parser.add_argument("--target", type=float, default=0.95,
                        help="coverage the calibration must reach on training transcripts (default %(default)s)")
    parser.add_argument("--long-target", type=float, default=None,
                        help=f"also require this coverage on the training sessions with at least {LONG_BASIS} in the "
                             "denominator (default: not required)")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)

    sessions, _ = load_sessions(args.annomi, args.coder_oof)
    print(f"{len({s['transcript_id'] for s in sessions})} transcripts x {len(VERSIONS)} text versions; "
          f"{args.rounds} rounds; coverage target for the calibration {args.target:.0%}"
          + (f", {args.long_target:.0%} on sessions with >= {LONG_BASIS} in the denominator" if args.long_target else "")
          + "\n")
    tables = [summary(interval_rows(sessions, "before", args.rounds), "before (utterances, codes fixed)"),
              summary(interval_rows(sessions, "sampling", args.rounds), "sampling only (volleys)")]
    rows_by_setting = {setting: interval_rows(sessions, "coder", args.rounds, uniform(setting)) for setting in GRID}
    tables.append(summary(rows_by_setting[(1.0, 0.0)], "coder, uncalibrated"))
    held_out, chosen = cross_validated(sessions, rows_by_setting, args.rounds, args.target, args.long_target)
    tables.append(summary(held_out, "coder, cross-validated"))
    tables.append(summary(interval_rows(sessions, "coder", args.rounds), "coder, CODER_CALIBRATION (in-sample)"))
    table = pd.concat(tables, ignore_index=True)
    table["order"] = table["metric"].map({SHORT[m]: i for i, m in enumerate(METRICS)})
    table = table.sort_values(["order", "version"], kind="stable").drop(columns="order")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))

    print("\nCalibration chosen per fold (on the other folds' transcripts):")
    for k, calibration in enumerate(chosen):
        print(f"  fold {k + 1}: {label(calibration)}")
    everyone = {s["transcript_id"] for s in sessions}
    print("Chosen on all transcripts (what CODER_CALIBRATION should hold):", choose(rows_by_setting, everyone, args.target, args.long_target))
    print("\nCoverage / median width by setting (one temperature and one sd for all), all transcripts, in-sample:")
    grid = pd.DataFrame({f"T={t:g} sd={sd:g}": r.groupby("metric").apply(
        lambda g: f"{g['covered'].mean():.2f}/{g['width'].median():.3g}", include_groups=False)
        for (t, sd), r in rows_by_setting.items()}).T
    print(grid[list(METRICS)].rename(columns=SHORT).to_string())

    print("\nWhich single value is closer to the experts (mean absolute error; R:Q in ratio units, others in points;"
          " and rank agreement across sessions):")
    print(centres(sessions).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    speed = timing(sessions, args.rounds)
    print(f"\nTime for one {speed['utterances']}-utterance session (about 60 minutes), best of 3: before "
          f"{speed['before'] * 1000:.0f} ms, sampling only {speed['sampling'] * 1000:.0f} ms, "
          f"coder {speed['coder'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
