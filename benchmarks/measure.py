"""Run ``mifidelity process`` on one recording and measure speed, memory and accuracy.

Speed and memory come from the real command line, one fresh process per run
(start-up, model loading and Prefect included). While it runs, the process tree's
resident memory (RSS, the command plus its ffmpeg children) is sampled every 50 ms
and attributed to the stage the command reports on stderr (``audio``,
``transcribe``, ``diarize``, ``align``, ``roles``, ``code``, ``write``);
``startup`` is everything before the first stage (imports, Prefect) and
``finish`` everything after the last one (report, overview, exit).

Accuracy compares the session folder with the recording's ground truth:

* ``wer``            word error rate (jiwer, after normalisation)
* ``der``            diarisation error rate (pyannote.metrics, no collar, overlap scored)
* ``role_accuracy``  share of the truth's speech time given the right role
* ``f1_*``           macro F1 of the codes: each truth turn takes the codes of the predicted
                     utterance that overlaps it most (a turn with no overlapping utterance of
                     its role counts as a miss)
* ``err_*``          |pipeline metric - metric from the human codes| for every session metric
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from mifidelity.metrics import compute_metrics
from mifidelity.training.pipeline_accuracy import diarization_error_rate, read_rttm, role_time_accuracy, word_error_rate
from mifidelity.types import SpeakerTurn

STAGE_LINE = re.compile(r":\s+(\w+)\s+(\d+)%\s+[\d.]+ s\s*$")
PIPELINE_STAGES = ("audio", "transcribe", "diarize", "align", "voices", "roles", "code", "write")
COACH_TASKS = ("main_behaviour", "question", "reflection", "giving_information")
CLIENT_TASKS = ("client_talk",)
METRICS = ("reflection_to_question", "pct_complex_reflections", "pct_open_questions", "pct_change_talk",
           "change_talk_per_minute", "coach_talk_share", "questions", "reflections", "change_talk",
           "sustain_talk", "giving_information")


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its children."""
    total = 0
    try:
        procs = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def load_average() -> float:
    return round(psutil.getloadavg()[0], 2)


def run_cli(recording: Path, out: Path, config: Path | None = None, extra: list[str] | None = None,
            python: str = sys.executable, profile: Path | None = None, env: dict | None = None) -> dict:
    """One ``mifidelity process`` run: wall time and peak RSS per stage, plus the session folder.

    ``profile`` runs the command under pyinstrument and writes its text report there.
    """
    command = ["-m", "mifidelity.cli", "process", str(recording), "--out", str(out)]
    if config:
        command += ["--config", str(config)]
    command += extra or []
    if profile:
        command = ["-m", "pyinstrument", "--show-all", "-o", str(profile), *command]
    load_before = load_average()
    began = time.perf_counter()
    child = subprocess.Popen([python, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    handle = psutil.Process(child.pid)
    # Stages may overlap (transcription and diarisation run at the same time): memory is attributed to
    # the set of stages running ("transcribe + diarize"), and each stage's seconds run from its 0% line
    # to its 100% line. The diariser's own steps (vad, embed, ...) count as "diarize".
    state = {"stage": "startup", "running": []}
    peaks: dict[str, int] = {}
    spans: dict[str, float] = {}
    started: dict[str, float] = {}
    marks = {"first": None, "last": 0.0}
    stderr_lines: list[str] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = tree_rss(handle)
            stage = state["stage"]
            peaks[stage] = max(peaks.get(stage, 0), rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in child.stderr:
        stderr_lines.append(line.rstrip())
        match = STAGE_LINE.search(line)
        if not match or match.group(1) not in PIPELINE_STAGES:
            continue
        now = time.perf_counter() - began
        stage, percent = match.group(1), int(match.group(2))
        running = state["running"]
        if percent == 0 and stage not in running:
            marks["first"] = now if marks["first"] is None else marks["first"]
            started[stage] = now
            running.append(stage)
        elif percent == 100 and stage in running:
            spans[stage] = spans.get(stage, 0.0) + now - started[stage]
            marks["last"] = now
            running.remove(stage)
        if running:
            state["stage"] = " + ".join(running)
        elif stage == "write" and percent == 100:
            state["stage"] = "finish"
    code = child.wait()
    wall = time.perf_counter() - began
    spans["startup"] = marks["first"] if marks["first"] is not None else wall
    spans["finish"] = wall - marks["last"] if marks["first"] is not None else 0.0
    done.set()
    sampler.join()
    result = {"returncode": code, "wall_s": wall, "peak_rss_mb": max(peaks.values(), default=0) / 2**20,
              "stage_s": spans, "stage_rss_mb": {k: v / 2**20 for k, v in peaks.items()},
              "load_before": load_before, "load_after": load_average(), "stderr": stderr_lines[-20:]}
    if code == 0:
        folder = out / recording.stem
        result["folder"] = folder
        result["session"] = json.loads((folder / "session.json").read_text())
    return result


# --------------------------------------------------------------------------- accuracy

def read_truth(recording: Path) -> pd.DataFrame:
    truth = pd.read_csv(recording.with_name(recording.stem + ".truth.csv"), keep_default_na=False)
    truth["giving_information"] = truth["giving_information"].map({"true": True, "false": False, "": None})
    truth["speaker"] = truth["role"]
    for column in ("main_behaviour", "question", "reflection", "client_talk"):
        truth[column] = truth[column].replace("", None)
    return truth.sort_values(["start", "end"]).reset_index(drop=True)


def macro_f1(expected: list, predicted: list) -> float:
    labels = sorted({str(x) for x in expected})
    scores = []
    for label in labels:
        tp = sum(1 for e, p in zip(expected, predicted) if str(e) == label and str(p) == label)
        fp = sum(1 for e, p in zip(expected, predicted) if str(e) != label and str(p) == label)
        fn = sum(1 for e, p in zip(expected, predicted) if str(e) == label and str(p) != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def matched_codes(truth: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """For each truth turn, the predicted utterance of the same role that overlaps it most."""
    starts, ends = predicted["start"].to_numpy(float), predicted["end"].to_numpy(float)
    roles = predicted["role"].to_numpy(object)
    picks = []
    for row in truth.itertuples(index=False):
        overlap = np.minimum(ends, row.end) - np.maximum(starts, row.start)
        overlap = np.where(roles == row.role, overlap, 0.0)
        best = int(np.argmax(overlap)) if len(overlap) else -1
        picks.append(best if best >= 0 and overlap[best] > 0 else -1)
    columns = [*COACH_TASKS, *CLIENT_TASKS]
    rows = [predicted.iloc[i][columns].to_dict() if i >= 0 else {c: "<missed>" for c in columns} for i in picks]
    return pd.DataFrame(rows, index=truth.index)


def code_f1(truth: pd.DataFrame, codes: pd.DataFrame) -> dict:
    """Macro F1 of the coach's main behaviour and the client's talk type, plus subtypes."""
    out = {}
    coach, client = truth["role"] == "coach", truth["role"] == "client"
    norm = lambda s: s.map(lambda v: str(v).lower())  # noqa: E731
    for task, mask in (("main_behaviour", coach), ("question", coach), ("reflection", coach),
                       ("giving_information", coach), ("client_talk", client)):
        out[f"f1_{task}"] = macro_f1(list(norm(truth.loc[mask, task])), list(norm(codes.loc[mask, task])))
    return out


def metric_errors(truth: pd.DataFrame, predicted_metrics: dict, duration: float) -> dict:
    reference = compute_metrics(truth, duration).as_dict()
    out = {}
    for name in METRICS:
        ref, got = reference.get(name), predicted_metrics.get(name)
        out[f"ref_{name}"] = ref
        out[f"err_{name}"] = abs(got - ref) if ref is not None and got is not None else None
    return out


def accuracy(recording: Path, folder: Path, session: dict, coders: dict | None = None) -> dict:
    """All accuracy figures of one pipeline run (``coders``: extra coders to re-code the same utterances)."""
    truth = read_truth(recording)
    predicted = pd.read_csv(folder / "utterances.csv", keep_default_na=False)
    predicted["text"] = predicted["text"].astype(str)
    row = {
        "wer": word_error_rate(" ".join(truth["text"]), " ".join(predicted["text"])),
        "role_accuracy": role_time_accuracy(truth, predicted),
    }
    rttm = recording.with_suffix(".rttm")
    if rttm.exists() and len(predicted):
        turns = [SpeakerTurn(r.start, r.end, str(r.speaker)) for r in predicted.itertuples()]
        row["der"] = diarization_error_rate(read_rttm(rttm), turns)["diarization error rate"]
    row.update(code_f1(truth, matched_codes(truth, predicted)))
    row.update(metric_errors(truth, session["metrics"], session["duration_seconds"]))
    for name, coder in (coders or {}).items():
        from mifidelity.session import code_utterances

        recoded = code_utterances(predicted[["start", "end", "speaker", "role", "text"]], coder)
        row.update({f"{k}_{name}": v for k, v in code_f1(truth, matched_codes(truth, recoded)).items()})
        metrics = compute_metrics(recoded, session["duration_seconds"]).as_dict()
        row.update({f"{k}_{name}": v for k, v in metric_errors(truth, metrics, session["duration_seconds"]).items()
                    if k.startswith("err_")})
    return row


def coder_alone(recording: Path, coder) -> dict:
    """Coder F1 on the true turns and words (no ASR, diarisation or alignment errors)."""
    from mifidelity.session import code_utterances

    truth = read_truth(recording)
    coded = code_utterances(truth[["start", "end", "speaker", "role", "text"]], coder)
    return code_f1(truth, coded)
