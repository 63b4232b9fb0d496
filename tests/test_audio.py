import subprocess

import numpy as np
import pytest

from mifidelity.audio import file_sha256, find_recordings, load_recording
from mifidelity.errors import MifidelityError


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def stereo_wav(tmp_path_factory):
    # Left: 440 Hz tone, right: silence for 2 s at 44.1 kHz.
    path = tmp_path_factory.mktemp("audio") / "stereo.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=44100",
           "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=2",
           "-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo[a]", "-map", "[a]", str(path))
    return path


@pytest.mark.parametrize("extension,codec", [
    (".mp3", []), (".m4a", ["-c:a", "aac"]), (".ogg", ["-c:a", "libopus"]), (".flac", []), (".wav", [])])
def test_formats_decode_to_16k_mono_with_channels(tmp_path, stereo_wav, extension, codec):
    path = tmp_path / f"clip{extension}"
    ffmpeg("-i", str(stereo_wav), *codec, str(path))
    recording = load_recording(path)
    assert recording.sample_rate == 16000
    assert recording.n_channels == 2
    assert recording.duration == pytest.approx(2.0, abs=0.1)
    left, right = (float(np.sqrt(np.mean(ch**2))) for ch in recording.channels)
    assert left > 0.05 and right < 0.005  # the tone (amplitude 1/8) stays on its own channel
    assert recording.samples.dtype == np.float32 and recording.samples.ndim == 1


def test_video_with_audio_track(tmp_path, stereo_wav):
    path = tmp_path / "call.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=2", "-i", str(stereo_wav),
           "-shortest", "-c:v", "libx264", "-c:a", "aac", str(path))
    assert load_recording(path).duration == pytest.approx(2.0, abs=0.15)


def test_original_is_not_modified(tmp_path, stereo_wav):
    before = file_sha256(stereo_wav)
    recording = load_recording(stereo_wav)
    assert recording.content_sha256 == before == file_sha256(stereo_wav)


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"this is not audio at all\n" * 20, "not a readable audio"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "not a readable audio"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "recording.mp3"
    path.write_bytes(content)
    with pytest.raises(MifidelityError, match=message):
        load_recording(path)


def test_video_without_audio(tmp_path):
    path = tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "libx264", str(path))
    with pytest.raises(MifidelityError, match="no audio stream"):
        load_recording(path)


def test_missing_file():
    with pytest.raises(MifidelityError, match="not found"):
        load_recording("/nonexistent/recording.wav")


def test_find_recordings_expands_folders(tmp_path, stereo_wav):
    (tmp_path / "sub").mkdir()
    for name in ("a.mp3", "sub/b.WAV", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "link.wav").symlink_to(stereo_wav)
    found = [p.relative_to(tmp_path).as_posix() for p in find_recordings([tmp_path])]
    assert found == ["a.mp3", "sub/b.WAV"]
