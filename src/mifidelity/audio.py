"""Stage 1: decode any recording ffmpeg can read into 16 kHz float32 audio.

The original file is only ever read. ffmpeg does the decoding and resampling
(wav, mp3, m4a/aac, ogg/opus, flac, and the audio track of mp4/webm video);
the original channels are kept side by side with a mono mix-down so the
channel diariser can tell a stereo call's two people apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mifidelity.errors import MifidelityError
from mifidelity.files import find_files
from mifidelity.types import SAMPLE_RATE, Recording

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wma", ".mp4", ".m4v",
     ".mov", ".webm", ".mkv", ".amr", ".3gp"}
)
"""Extensions treated as recordings when a folder is given."""

MAX_CHANNELS_KEPT = 8


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks so long recordings need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _require_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MifidelityError(
            f"'{name}' was not found on this machine; install ffmpeg (e.g. apt-get install ffmpeg)"
        )
    return found


@dataclass(frozen=True)
class AudioProbe:
    """What ffprobe says of a file before it is decoded."""

    channels: int             # of the first audio stream
    duration: float | None    # the container's seconds; None where it does not say


def probe_audio(path: str | Path, ffprobe: str = "ffprobe") -> AudioProbe:
    """The first audio stream's channel count and the file's duration.

    Raises
    ------
    MifidelityError
        If the file cannot be parsed as media or has no audio stream.
    """
    cmd = [_require_tool(ffprobe), "-v", "error", "-select_streams", "a:0",
           "-show_entries", "stream=channels,codec_type:format=duration", "-of", "json", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown format"])[-1]
        raise MifidelityError(f"not a readable audio or video file ({_tidy(reason, path)})")
    found = json.loads(result.stdout or "{}")
    streams = found.get("streams", [])
    if not streams:
        raise MifidelityError("the file has no audio stream")
    try:
        duration = float(found["format"]["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    return AudioProbe(max(1, int(streams[0].get("channels") or 1)), duration)


def ffprobe_beside(ffmpeg: str) -> str:
    """The ffprobe that comes with ``ffmpeg`` (the same folder, or the PATH's)."""
    return str(Path(ffmpeg).with_name("ffprobe")) if "/" in ffmpeg else "ffprobe"


def _tidy(message: str, path: str | Path) -> str:
    # ffmpeg prefixes messages with the full path; the CLI already names the file.
    return message.replace(str(path), "").strip(" :") or "unknown error"


def load_recording(path: str | Path, sample_rate: int = SAMPLE_RATE, ffmpeg: str = "ffmpeg") -> Recording:
    """Decode a recording into a :class:`~mifidelity.types.Recording`.

    Parameters
    ----------
    path:
        Any file ffmpeg decodes. It is opened read-only and never changed.
    sample_rate:
        Output rate (the models need :data:`~mifidelity.types.SAMPLE_RATE`, 16000).
    ffmpeg:
        The ffmpeg executable.

    Raises
    ------
    MifidelityError
        If the file is missing, empty, not decodable, or has no audio.
    """
    path = Path(path)
    if not path.is_file():
        raise MifidelityError("file not found")
    if path.stat().st_size == 0:
        raise MifidelityError("the file is empty (0 bytes)")
    n_channels = min(probe_audio(path, ffprobe_beside(ffmpeg)).channels, MAX_CHANNELS_KEPT)

    cmd = [_require_tool(ffmpeg), "-nostdin", "-v", "error", "-i", str(path), "-vn", "-map", "0:a:0",
           "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(n_channels), "-ar", str(sample_rate), "-"]
    result = subprocess.run(cmd, capture_output=True)
    stderr = result.stderr.decode("utf-8", "replace").strip()
    if result.returncode != 0:
        reason = (stderr.splitlines() or ["decoding failed"])[-1]
        raise MifidelityError(f"could not decode the audio ({_tidy(reason, path)})")
    interleaved = np.frombuffer(result.stdout, dtype=np.float32)
    if interleaved.size < n_channels:
        raise MifidelityError("the file decodes to no audio at all (truncated or empty stream)")
    if stderr:
        # A truncated file decodes partially; keep what is there but say so (no content in logs).
        logger.warning("ffmpeg reported problems while decoding %s; the audio may be incomplete", path.name)
    usable = interleaved.size - interleaved.size % n_channels
    channels = interleaved[:usable].reshape(-1, n_channels).T.copy()
    samples = channels[0] if n_channels == 1 else channels.mean(axis=0).astype(np.float32)
    return Recording(
        source=str(path.resolve()),
        samples=samples,
        sample_rate=sample_rate,
        channels=channels,
        content_sha256=file_sha256(path),
    )


def find_recordings(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into a sorted list of recording files.

    A folder means every file with a known audio/video extension inside it
    (recursively); a file named explicitly is taken whatever its extension.
    Symbolic links inside a folder are not followed.
    """
    return find_files(paths, AUDIO_EXTENSIONS)
