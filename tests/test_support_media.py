"""The media makers in tests/support/media.py make what they say."""

import shutil

from support.media import SESSION1, decode, clip, silence, truncate, video_without_audio


def test_media_makers(tmp_path):
    good = clip(SESSION1, tmp_path / "good.mp3", 0, 5)
    cut = truncate(good, tmp_path / "cut.mp3", 0.4)
    assert cut.stat().st_size < good.stat().st_size
    assert len(decode(silence(tmp_path / "s.wav", 2))) == 32000
    assert video_without_audio(tmp_path / "v.mp4").stat().st_size > 0
    assert shutil.which("ffprobe")
