"""Media makers shared by the inbox, flow and diarization tests (good clips, broken files, unusual recordings)."""

import os
import subprocess
import wave
from pathlib import Path

import numpy as np

from support import ROOT

SAMPLES = ROOT / "sample_audio"
SESSION1 = SAMPLES / "session1_alcohol.mp3"
SESSION2 = SAMPLES / "session2_exercise.ogg"
SESSION3 = SAMPLES / "session3_smoking_stereo.m4a"

def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def clip(source: Path, dest: Path, start: float, seconds: float, *extra) -> Path:
    """A piece of a sample, re-encoded by the destination's extension (mp3 gets a duration header)."""
    ffmpeg("-ss", start, "-t", seconds, "-i", source, *extra, dest)
    return dest


def truncate(source: Path, dest: Path, fraction: float) -> Path:
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def decode(path: Path, rate: int = 16000, pitch: float = 1.0) -> np.ndarray:
    filters = ["-af", f"asetrate={int(rate * pitch)},aresample={rate}"] if pitch != 1.0 else []
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), *filters,
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.float32)


def _turns(rttm: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in rttm.read_text().splitlines():
        parts = line.split()
        turns.append((float(parts[3]), float(parts[3]) + float(parts[4]), parts[7]))
    return turns


def _encode(pieces: list[np.ndarray], dest: Path) -> Path:
    """Concatenate 16 kHz pieces and encode them by the destination's extension."""
    wav = _write_wav(dest.with_suffix(".tmp.wav"), np.concatenate(pieces))
    ffmpeg("-i", wav, dest)
    wav.unlink()
    return dest


def monologue(dest: Path, seconds: float = 30.0) -> Path:
    """Only the coach's turns of session 1, back to back (one speaker)."""
    audio, rate, pieces, total = decode(SESSION1), 16000, [], 0.0
    for start, end, who in _turns(SESSION1.with_suffix(".rttm")):
        if who == "coach" and total < seconds:
            pieces += [audio[int(start * rate):int(end * rate)], np.zeros(int(0.4 * rate), np.float32)]
            total += end - start
    return _encode(pieces, dest)


def three_speakers(dest: Path, seconds: float = 45.0) -> Path:
    """Coach, client and a pitch-shifted coach (a third voice) taking turns."""
    rate = 16000
    normal, high = decode(SESSION1), decode(SESSION1, pitch=1.35)
    pieces, total, third = [], 0.0, False
    for start, end, who in _turns(SESSION1.with_suffix(".rttm")):
        if total >= seconds:
            break
        if who == "coach":
            source, third = (high, not third) if third else (normal, not third)
            scale = 1 / 1.35 if source is high else 1.0
        else:
            source, scale = normal, 1.0
        pieces += [source[int(start * rate * scale):int(end * rate * scale)], np.zeros(int(0.4 * rate), np.float32)]
        total += end - start
    return _encode(pieces, dest)


def silence(dest: Path, seconds: float = 20.0) -> Path:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", seconds, dest)
    return dest


def video_without_audio(dest: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=3:size=64x64:rate=5", "-c:v", "mpeg4", "-an", dest)
    return dest


def pdf(dest: Path) -> Path:
    dest.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    return dest


def text_named_mp3(dest: Path) -> Path:
    dest.write_text("Notes from the session: remember to ask about goals.\n")
    return dest


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes by relative path (links as their target), to prove nothing was lost or altered."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[path.name] = ("link:" + os.readlink(path)).encode()
        elif path.is_file():
            found[path.name] = path.read_bytes()
    return found
