"""Long two-person benchmark sessions rendered from AnnoMI dev transcripts, with ground truth.

Each AnnoMI transcript is rendered once per voice pair with the renderer of
``sample_audio/make_samples.py`` (Piper for the coach, flite for the client by
default) and cached under the work folder. A session of N minutes is the first
transcripts of a fixed, seeded order laid end to end (cut at a turn boundary
so it lasts at most N minutes), so the 10-minute session is a prefix of the
30-minute one, which is a prefix of the 60-minute one.

Variants (all derived from the same turns):

``clean``        coach piper:joe (male), client flite:slt (female), mono WAV
``same_gender``  the client is flite:rms (male) too
``noise``        pink noise plus a 50 Hz hum at 10 dB SNR
``telephone``    300-3400 Hz band, 8 kHz, mu-law (what a phone line delivers)
``backchannel``  the listener says "mm-hmm" / "yeah" / "right" over long turns (overlapping speech)
``stereo``       coach left, client right (for the channel diariser)

Ground truth beside each ``<name>.wav``: ``<name>.truth.csv`` (start, end,
role, text, codes), ``<name>.rttm`` and ``<name>.txt`` (make_samples' writer).
The corpus is only read; nothing from it is written into the repository.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sample_audio"))
import make_samples as ms  # noqa: E402  (the project's renderer; imported, not duplicated)

SR = ms.SAMPLE_RATE
DEFAULT_ANNOMI = REPO.parent / "shared" / "data" / "annomi"
ORDER_SEED = 20240501
VOICES = {
    "clean": {"coach": "piper:joe", "client": "flite:slt"},
    "same_gender": {"coach": "piper:joe", "client": "flite:rms"},
}
VARIANTS = ("clean", "same_gender", "noise", "telephone", "backchannel", "stereo")
BACKCHANNELS = ("mm-hmm", "yeah", "right", "mm-hmm")
# codes of a back-channel: a coach's "mm-hmm" is "other", a client's is neutral talk
BACKCHANNEL_CODES = {
    "coach": {"main_behaviour": "other", "question": "none", "reflection": "none", "giving_information": False},
    "client": {"client_talk": "neutral"},
}


@dataclass
class Rendered:
    channels: np.ndarray  # (samples, 2): coach, client
    rows: list[dict]      # truth rows (start, end, role, text, codes)


def _clean_text(text: str) -> str:
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", str(text))   # [inaudible], (laughs)
    text = text.replace("--", ", ").replace("…", "...")
    return re.sub(r"\s+", " ", text).strip(" ,")


def annomi_transcripts(annomi_dir: Path) -> dict[int, list[ms.Turn]]:
    """Every dev transcript as make_samples turns, majority-vote codes (the coder's own loader)."""
    from mifidelity.training.data import load_annomi

    table = load_annomi(annomi_dir)
    transcripts: dict[int, list[ms.Turn]] = {}
    for tid, group in table.groupby("transcript_id", sort=True):
        turns = []
        for row in group.itertuples(index=False):
            text = _clean_text(row.text)
            if not re.search(r"[A-Za-z]", text):
                continue
            if row.role == "coach":
                codes = {"main_behaviour": row.main_behaviour or "other",
                         "question": row.question or "none",
                         "reflection": row.reflection or "none",
                         "giving_information": bool(row.giving_information)}
            else:
                codes = {"client_talk": row.client_talk or "neutral"}
            turns.append(ms.Turn(row.role, text, codes))
        if turns:
            transcripts[int(tid)] = turns
    return transcripts


def transcript_order(ids: list[int]) -> list[int]:
    """A fixed shuffle of the transcripts (the benchmark sessions take them from the front)."""
    ids = sorted(ids)
    np.random.default_rng(ORDER_SEED).shuffle(ids)
    return ids


def render_transcript(turns: list[ms.Turn], tid: int, voices: dict, cache: Path) -> Rendered:
    """Render one transcript with make_samples.render, cached as int16 stereo + rows JSON."""
    key = f"annomi{tid:03d}-{voices['coach'].replace(':', '_')}-{voices['client'].replace(':', '_')}"
    audio_path, rows_path = cache / f"{key}.npy", cache / f"{key}.json"
    if audio_path.exists() and rows_path.exists():
        return Rendered(np.load(audio_path).astype(np.float32) / 32767.0, json.loads(rows_path.read_text()))
    script = ms.Script(name=key, path=cache / key, turns=turns, seed=1000 + tid, render={}, voices={})
    channels, rows = ms.render(script, voices)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(audio_path.with_suffix(".partial.npy"), (np.clip(channels, -1, 1) * 32767).round().astype(np.int16))
    Path(audio_path.with_suffix(".partial.npy")).replace(audio_path)
    rows_path.write_text(json.dumps(rows))
    return Rendered(channels, rows)


def build_session(transcripts: dict[int, list[ms.Turn]], order: list[int], minutes: float,
                  voices: dict, cache: Path, progress=None) -> tuple[Rendered, list[int]]:
    """Transcripts from the front of ``order`` laid end to end, at most ``minutes`` long."""
    limit = minutes * 60.0
    pieces, rows, used, offset = [], [], [], 0.0
    for tid in order:
        if pieces and offset >= limit - 20:
            break
        part = render_transcript(transcripts[tid], tid, voices, cache)
        if progress:
            progress(f"rendered transcript {tid} ({len(part.channels) / SR:.0f} s), session at {offset / 60:.1f} min")
        keep = [r for r in part.rows if offset + r["end"] + ms.TAIL <= limit]
        if not keep:
            break
        cut = len(part.channels) if len(keep) == len(part.rows) else int(round((keep[-1]["end"] + ms.TAIL) * SR))
        pieces.append(part.channels[:cut])
        rows.extend({**r, "start": round(r["start"] + offset, 3), "end": round(r["end"] + offset, 3)} for r in keep)
        used.append(tid)
        offset += cut / SR
        if len(keep) < len(part.rows):
            break
    return Rendered(np.concatenate(pieces), rows), used


# --------------------------------------------------------------------------- variants

def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    noise = np.fft.irfft(spectrum, n)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def add_noise(mono: np.ndarray, snr_db: float = 10.0, seed: int = 0) -> np.ndarray:
    """Pink noise + mains hum at ``snr_db`` relative to the speech's (active) power."""
    rng = np.random.default_rng(seed)
    active = np.abs(mono) > 1e-4
    speech_power = float(np.mean(mono[active] ** 2)) if active.any() else 1e-6
    t = np.arange(len(mono)) / SR
    noise = pink_noise(len(mono), rng) + 0.5 * np.sin(2 * np.pi * 50 * t).astype(np.float32) / np.sqrt(0.5)
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / np.mean(noise ** 2))
    return (mono + noise).astype(np.float32)


def add_backchannels(rendered: Rendered, voices: dict, seed: int = 0, every: float = 7.0,
                     min_turn: float = 5.0) -> Rendered:
    """The listener says a short back-channel over the middle of long turns (overlap)."""
    engines = {role: ms.make_voice(spec, 77 + i) for i, (role, spec) in enumerate(voices.items())}
    clips = {(role, word): ms.level(ms.trim(engines[role].say(word), SR))
             for role in ("coach", "client") for word in set(BACKCHANNELS)}
    rng = np.random.default_rng(seed)
    channels = rendered.channels.copy()
    extra = []
    for row in rendered.rows:
        length = row["end"] - row["start"]
        if length < min_turn:
            continue
        listener = "client" if row["role"] == "coach" else "coach"
        for k in range(int(length // every)):
            word = BACKCHANNELS[int(rng.integers(len(BACKCHANNELS)))]
            clip = clips[(listener, word)]
            start = row["start"] + (k + 0.5) * every + float(rng.uniform(-1.0, 1.0))
            start = min(max(start, row["start"] + 1.0), row["end"] - 1.0 - len(clip) / SR)
            if start <= row["start"]:
                continue
            offset = int(round(start * SR))
            channels[offset: offset + len(clip), 0 if listener == "coach" else 1] += clip
            extra.append({"start": round(start, 3), "end": round(start + len(clip) / SR, 3), "role": listener,
                          "text": word, **BACKCHANNEL_CODES[listener]})
    rows = sorted(rendered.rows + extra, key=lambda r: (r["start"], r["end"]))
    return Rendered(channels, rows)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    import soundfile

    tmp = path.with_name(path.stem + ".partial.wav")
    soundfile.write(str(tmp), np.clip(audio, -1.0, 1.0), SR, subtype="PCM_16")
    tmp.replace(path)


def write_variant(rendered: Rendered, variant: str, out: Path, name: str) -> Path:
    """Write ``<name>.wav`` (or telephone/stereo form) + truth files; return the audio path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.wav"
    mono = rendered.channels.sum(axis=1)
    if variant == "stereo":
        _write_wav(path, rendered.channels)
    elif variant == "noise":
        _write_wav(path, add_noise(mono))
    elif variant == "telephone":
        wide = out / f"{name}.wide.wav"
        _write_wav(wide, mono)
        tmp = out / f"{name}.partial.wav"
        ms._run(["sox", str(wide), "-r", "8000", "-e", "u-law", "-b", "8", str(tmp), "sinc", "300-3400"])
        wide.unlink()
        tmp.replace(path)
    else:
        _write_wav(path, mono)
    ms.write_truth(rendered.rows, out, name)
    return path


def prepare(annomi_dir: Path, work: Path, minutes: float, variant: str = "clean",
            progress=None, skip: int = 0) -> Path:
    """Render (or reuse) one benchmark recording; return its audio path.

    ``skip`` leaves out the first transcripts of the order (for a session none of the benchmark
    sessions contains).
    """
    name = f"annomi_{minutes:g}min_{variant}" + (f"_from{skip}" if skip else "")
    path = work / "sessions" / f"{name}.wav"
    if path.exists() and path.with_name(f"{name}.truth.csv").exists():
        return path
    transcripts = annomi_transcripts(annomi_dir)
    order = transcript_order(list(transcripts))[skip:]
    voices = VOICES.get(variant, VOICES["clean"])
    rendered, used = build_session(transcripts, order, minutes, voices, work / "turns", progress)
    if variant == "backchannel":
        rendered = add_backchannels(rendered, voices)
    path = write_variant(rendered, variant, work / "sessions", name)
    path.with_name(f"{name}.transcripts.json").write_text(json.dumps(used))
    return path


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Render benchmark sessions only (no pipeline runs).")
    parser.add_argument("--annomi", type=Path, default=DEFAULT_ANNOMI)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mifidelity-bench"))
    parser.add_argument("--minutes", type=float, nargs="+", default=[10])
    parser.add_argument("--variants", nargs="+", default=["clean"], choices=VARIANTS)
    parser.add_argument("--skip", type=int, default=0)
    args = parser.parse_args(argv)
    for minutes in args.minutes:
        for variant in args.variants:
            path = prepare(args.annomi, args.work, minutes, variant, lambda m: print(m, flush=True), args.skip)
            print(path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
