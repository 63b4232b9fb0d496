"""Write docs/benchmarks.md, docs/benchmarks.csv and the time-against-length plot from benchmark rows."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd

STAGES = ("startup", "audio", "transcribe", "diarize", "align", "roles", "code", "write", "finish")
PLOT = "benchmarks_time_vs_length.png"


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(frame: pd.DataFrame, columns: dict[str, tuple[str, int]]) -> str:
    """Markdown table; ``columns`` maps column -> (header, digits)."""
    head = "| " + " | ".join(h for h, _ in columns.values()) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = [head, rule]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_fmt(row.get(c), d) for c, (_, d) in columns.items()) + " |")
    return "\n".join(lines)


def _label(row) -> str:
    return f"{row['asr_engine']} {row['model']}, {row['diarizer_used'] or row['diarizer']}"


def write(out: Path, rows: list[dict], coder_rows: list[dict], env: dict, notes: Path | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise SystemExit("no benchmark results to report")
    ok = frame[frame["returncode"] == 0].copy()
    if ok.empty:
        raise SystemExit("no successful benchmark run: " + "; ".join(map(str, frame.get("error", []))))
    ok["x_rt"] = ok["duration_s"] / ok["wall_s"]
    for stage in STAGES:
        if f"t_{stage}" in ok:
            ok[f"x_{stage}"] = ok["duration_s"] / ok[f"t_{stage}"]
    frame.drop(columns=[c for c in frame.columns if c == "stderr"]).to_csv(out / "benchmarks.csv", index=False)

    default = ok[(ok["variant"] == "clean") & (ok["asr_engine"] == "faster-whisper") & (ok["model"] == "tiny.en")
                 & (ok["diarizer"] == "auto") & (ok["purpose"] == "length")].sort_values("minutes")
    md = ["# Benchmarks", "",
          f"Produced by `python benchmarks/run_benchmarks.py` on {time.strftime('%Y-%m-%d')} "
          "(see `benchmarks/run_benchmarks.py --help`). Sessions are AnnoMI dev transcripts rendered with "
          "local TTS (coach: Piper `joe`, male; client: flite `slt`, female); every number comes from a "
          "fresh `mifidelity process` run (start-up, model loading and Prefect included).", "",
          "Machine: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".", "",
          "**Read the load column.** The machine was shared with other jobs; `load` is the 1-minute load "
          "average before/after each run on a 2-core CPU. A load above 2 means the pipeline got less than "
          "the whole CPU, so its times are pessimistic.", "",
          "`x RT` = seconds of audio per second of wall time (10x = a 10-minute session in 1 minute).", ""]

    if not default.empty:
        md += ["## Speed and memory per stage (default: faster-whisper tiny.en int8, embedding diariser, trained coder)", "",
               "Wall seconds per stage (x real time in brackets); `startup` is imports + Prefect before the first "
               "stage, `finish` the report/overview and exit after the last.", ""]
        cols = {"minutes": ("session", 0), "duration_s": ("audio s", 0), "wall_s": ("wall s", 1), "x_rt": ("x RT", 1)}
        show = default.copy()
        for stage in STAGES:
            if f"t_{stage}" in show:
                show[stage] = [f"{t:.1f} ({x:.0f}x)" if t >= 0.05 else f"{t:.2f}"
                               for t, x in zip(show[f"t_{stage}"], show[f"x_{stage}"])]
                cols[stage] = (stage, 0)
        cols["peak_rss_mb"] = ("peak RSS MB", 0)
        show["load"] = [f"{a:.1f}/{b:.1f}" for a, b in zip(show["load_before"], show["load_after"])]
        cols["load"] = ("load", 0)
        md += [table(show, cols), "", "Peak RSS (MB, process tree) per stage:", ""]
        rss = {"minutes": ("session", 0)}
        rss.update({f"rss_{s}": (s, 0) for s in STAGES if f"rss_{s}" in default})
        md += [table(default, rss), ""]
        if len(default) > 1:
            base, longest = default.iloc[0], default.iloc[-1]
            scale = longest["duration_s"] / base["duration_s"]
            md += [f"### Linearity: {longest['minutes']:g} min against {base['minutes']:g} min "
                   f"(audio {scale:.2f}x longer; target: total at most 6.5x for 60/10)", ""]
            lin = [{"stage": s, "short": base.get(f"t_{s}"), "long": longest.get(f"t_{s}"),
                    "ratio": longest.get(f"t_{s}") / base.get(f"t_{s}") if (base.get(f"t_{s}") or 0) >= 0.5 else None}
                   for s in (*STAGES, "wall") if f"t_{s}" in default or s == "wall"]
            lin[-1].update(short=base["wall_s"], long=longest["wall_s"], ratio=longest["wall_s"] / base["wall_s"])
            md += [table(pd.DataFrame(lin), {"stage": ("stage", 0), "short": (f"{base['minutes']:g} min s", 1),
                                             "long": (f"{longest['minutes']:g} min s", 1), "ratio": ("ratio", 2)}), ""]
        _plot(default, out / PLOT)
        md += [f"![time against session length]({PLOT})", ""]

    engines = ok[ok["purpose"].isin(["engine", "length"]) & (ok["variant"] == "clean")
                 & (ok["minutes"].isin(ok.loc[ok["purpose"] == "engine", "minutes"]))].copy()
    if not engines.empty and (engines["purpose"] == "engine").any():
        engines["engine"] = [_label(r) for _, r in engines.iterrows()]
        md += ["## Engines and models on the same audio", "",
               "Each row is one run on the same recording. `transcribe x` is the transcription stage alone "
               "(model loading included).", ""]
        md += [table(engines.sort_values(["minutes", "t_transcribe"]),
                     {"minutes": ("session", 0), "engine": ("ASR, diariser", 0), "wall_s": ("wall s", 1),
                      "x_rt": ("x RT", 1), "t_transcribe": ("transcribe s", 1), "x_transcribe": ("transcribe x", 1),
                      "t_diarize": ("diarize s", 1), "peak_rss_mb": ("peak RSS MB", 0), "wer": ("WER", 3),
                      "der": ("DER", 3), "role_accuracy": ("role acc", 3), "load_before": ("load", 1)}), ""]
        for minutes, group in engines.groupby("minutes"):
            fw = group[(group["asr_engine"] == "faster-whisper") & (group["diarizer"] == "auto")]
            ow = group[(group["asr_engine"] == "openai-whisper") & (group["diarizer"] == "auto")]
            for model in sorted(set(fw["model"]) & set(ow["model"])):
                a, b = fw[fw["model"] == model].iloc[0], ow[ow["model"] == model].iloc[0]
                md += [f"- **faster-whisper vs openai-whisper, {model}, {minutes:g} min:** transcription "
                       f"{b['t_transcribe']:.1f} s vs {a['t_transcribe']:.1f} s = "
                       f"**{b['t_transcribe'] / a['t_transcribe']:.1f}x faster** with faster-whisper; whole "
                       f"pipeline {b['wall_s']:.1f} s vs {a['wall_s']:.1f} s = {b['wall_s'] / a['wall_s']:.1f}x; "
                       f"WER {a['wer']:.3f} (faster-whisper) vs {b['wer']:.3f} (openai-whisper); peak RSS "
                       f"{a['peak_rss_mb']:.0f} vs {b['peak_rss_mb']:.0f} MB."]
        md += [""]
        failed = frame[frame["returncode"] != 0]
        for _, row in failed.iterrows():
            md += [f"- `{row['key']}` did not run: {row.get('error')}"]
        md += [""]

    acc = ok[(ok["asr_engine"] == "faster-whisper") & (ok["model"] == "tiny.en")].copy()
    if not acc.empty:
        acc["run"] = [f"{r['minutes']:g} min {r['variant']}" + (f" ({r['diarizer_used']})" if r["diarizer"] != "auto"
                      or r["variant"] == "stereo" else "") + (" unseen" if r["purpose"] == "unseen" else "")
                      for _, r in acc.iterrows()]
        acc = acc.sort_values(["purpose", "minutes", "variant"])
        md += ["## Accuracy per session and variant (faster-whisper tiny.en)", "",
               "`role acc` = share of true speech time given the right role. F1 columns: macro F1 of the "
               "trained coder's codes on the pipeline's utterances, each true turn matched to the predicted "
               "utterance of its role that overlaps it most (missed turns count as wrong); `rules` = the "
               "keyword coder on the same utterances.", ""]
        md += [table(acc, {"run": ("session", 0), "duration_s": ("audio s", 0), "x_rt": ("x RT", 1),
                           "wer": ("WER", 3), "der": ("DER", 3), "role_accuracy": ("role acc", 3),
                           "f1_main_behaviour": ("F1 behaviour", 3), "f1_question": ("F1 question", 3),
                           "f1_reflection": ("F1 reflection", 3), "f1_client_talk": ("F1 client talk", 3),
                           "f1_main_behaviour_rules": ("F1 behaviour (rules)", 3),
                           "f1_client_talk_rules": ("F1 client talk (rules)", 3)}), ""]
        errs = [c for c in acc.columns if c.startswith("err_") and not c.endswith("_rules")]
        md += ["### Error of each session metric", "",
               "|pipeline value - value from the human (AnnoMI) codes| for each session metric "
               "(percentages in points, coach talk share as a fraction; counts in utterances).", ""]
        cols = {"run": ("session", 0)}
        cols.update({c: (c.removeprefix("err_").replace("_", " "), 2) for c in errs})
        md += [table(acc, cols), ""]
    if coder_rows:
        md += ["## The coder alone (true turns and words, no ASR or diarisation)", "",
               "Note: the trained coder was **trained on AnnoMI dev**, the corpus these sessions come from, so "
               "its F1 here is optimistic (seen text); the held-out figures in the coder's own evaluation are "
               "the honest ones. The rules coder saw nothing.", ""]
        md += [table(pd.DataFrame(coder_rows),
                     {"minutes": ("session", 0), "coder": ("coder", 0), "f1_main_behaviour": ("F1 behaviour", 3),
                      "f1_question": ("F1 question", 3), "f1_reflection": ("F1 reflection", 3),
                      "f1_giving_information": ("F1 giving info", 3), "f1_client_talk": ("F1 client talk", 3)}), ""]
    if notes and notes.exists():
        md += [notes.read_text().strip(), ""]
    (out / "benchmarks.md").write_text("\n".join(md) + "\n")


def _plot(default: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    minutes = default["duration_s"] / 60
    bottom = pd.Series(0.0, index=default.index)
    for stage in STAGES:
        column = f"t_{stage}"
        if column in default and default[column].max() > 0.5:
            ax.bar(minutes, default[column], bottom=bottom, width=3, label=stage)
            bottom += default[column].fillna(0)
    ax.plot(minutes, default["wall_s"], "k.-", label="wall (total)")
    ax.plot(minutes, minutes * 60 / 10, "k--", lw=0.8, label="10x real time (target)")
    ax.set_xlabel("session length (minutes of audio)")
    ax.set_ylabel("wall time (s)")
    ax.set_title("mifidelity process: time per stage against session length")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
