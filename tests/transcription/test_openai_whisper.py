"""The openai-whisper engine, offline, with real weights converted from the bundled CTranslate2 tiny.en.

The converted checkpoint transcribes the first ~42 s of a sample session (cut in the
silence between two turns) and is compared with faster-whisper on the same audio.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mifidelity.audio import load_recording
from mifidelity.config import AsrConfig
from mifidelity.errors import MifidelityError
from mifidelity.training.pipeline_accuracy import word_error_rate
from mifidelity.transcription import get_transcriber
from mifidelity.transcription import models as asr_models
from mifidelity.transcription.convert import (
    build_checkpoint,
    convert_ctranslate2_to_whisper,
    load_into_whisper,
    read_ctranslate2_model,
)
from mifidelity.transcription.openai_whisper_engine import (
    OpenAIWhisperTranscriber,
    converted_checkpoint_path,
    resolve_whisper_checkpoint,
)
from mifidelity.types import Recording

SAMPLE = Path(__file__).resolve().parents[2] / "sample_audio" / "session1_alcohol.mp3"
EXCERPT_SECONDS = 42.0


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("openai-whisper") / "tiny.en.pt"
    return convert_ctranslate2_to_whisper(asr_models.bundled_model_path("tiny.en"), dest)


@pytest.fixture(scope="module")
def excerpt() -> tuple[Recording, str, pd.DataFrame]:
    """The session's opening turns that end before EXCERPT_SECONDS, their reference text and truth rows."""
    full = load_recording(SAMPLE)
    truth = pd.read_csv(SAMPLE.with_suffix(".truth.csv"))
    inside = truth[truth["end"] <= EXCERPT_SECONDS]
    # cut half-way through the silence after the last whole turn
    cut = 0.5 * (inside["end"].iloc[-1] + truth["start"].iloc[len(inside)])
    n = int(cut * full.sample_rate)
    clip = Recording(full.source, full.samples[:n].copy(), full.sample_rate, full.channels[:, :n].copy(),
                     full.content_sha256)
    return clip, " ".join(inside["text"]), inside


def test_checkpoint_has_dims_and_state_dict_and_loads_in_openai_whisper(tiny_checkpoint):
    import whisper

    checkpoint = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    assert checkpoint["dims"] == {
        "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
        "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4,
    }
    assert "decoder.blocks.3.cross_attn.key.weight" in checkpoint["model_state_dict"]
    # openai-whisper's own loader accepts it (strict load_state_dict)
    assert whisper.load_model(str(tiny_checkpoint), device="cpu").dims.n_text_layer == 4
    # the alignment heads carried over from config.json are openai's for tiny.en
    model = load_into_whisper(checkpoint)
    official = whisper.model.Whisper(model.dims)
    official.set_alignment_heads(whisper._ALIGNMENT_HEADS["tiny.en"])
    assert torch.equal(model.alignment_heads.to_dense(), official.alignment_heads.to_dense())


@pytest.mark.slow
def test_transcribes_like_faster_whisper(tiny_checkpoint, excerpt):
    clip, reference, truth = excerpt
    transcriber = get_transcriber(AsrConfig(engine="openai-whisper", model=str(tiny_checkpoint)))
    assert isinstance(transcriber, OpenAIWhisperTranscriber)
    assert transcriber.info.engine == "openai-whisper"
    progress = []
    transcript = transcriber.transcribe(clip, hook=lambda stage, f: progress.append((stage, f)))
    words = transcript.words
    openai_wer = word_error_rate(reference, " ".join(w.text for w in words))

    faster = get_transcriber(AsrConfig(engine="faster-whisper", model="tiny.en")).transcribe(clip)
    faster_wer = word_error_rate(reference, " ".join(w.text for w in faster.words))

    assert openai_wer <= 0.15, openai_wer
    assert abs(openai_wer - faster_wer) <= 0.05, (openai_wer, faster_wer)
    assert transcript.language == "en"

    # word timestamps: ordered, inside the clip, and (from the alignment heads) inside the right turns
    starts = [w.start for w in words]
    assert starts == sorted(starts) and all(0.0 <= w.start <= w.end <= clip.duration + 0.5 for w in words)
    spans = truth[["start", "end"]].to_numpy()
    inside = [np.any((spans[:, 0] - 0.3 <= w.midpoint) & (w.midpoint <= spans[:, 1] + 0.3)) for w in words]
    assert np.mean(inside) >= 0.9
    fractions = [f for stage, f in progress if stage == "transcribe"]
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_converted_checkpoint_found_by_name_in_the_model_cache(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path / "cache")
    target = converted_checkpoint_path("tiny.en")
    target.parent.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, target)
    resolved = resolve_whisper_checkpoint(AsrConfig(engine="openai-whisper", model="tiny.en",
                                                    download_root=str(tmp_path / "empty")))
    assert resolved.path == target and resolved.origin == "converted from CTranslate2"


def test_missing_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path / "cache")
    root = str(tmp_path / "whisper")
    with pytest.raises(MifidelityError) as caught:
        get_transcriber(AsrConfig(engine="openai-whisper", model="small.en", download_root=root))
    assert "mifidelity models convert" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(MifidelityError, match="not an openai-whisper model name"):
        get_transcriber(AsrConfig(engine="openai-whisper", model="no-such-model", download_root=root))
    with pytest.raises(MifidelityError, match="is a folder"):
        get_transcriber(AsrConfig(engine="openai-whisper", model=str(tmp_path)))


def test_bundled_model_is_converted_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path / "cache")
    transcriber = get_transcriber(AsrConfig(engine="openai-whisper", model="tiny.en",
                                            download_root=str(tmp_path / "whisper")))
    assert "converted" in transcriber.info.model
    assert any((tmp_path / "cache").glob("openai-whisper-tiny.en*.pt"))


def test_damaged_official_checkpoint_is_not_redownloaded(tmp_path):
    (tmp_path / "tiny.en.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(MifidelityError, match="damaged or incomplete"):
        resolve_whisper_checkpoint(AsrConfig(engine="openai-whisper", model="tiny.en",
                                             download_root=str(tmp_path)))


def _int8_copy_of_tiny(dest: Path) -> None:
    """Re-save the bundled tiny.en through CTranslate2's own writer, quantised to int8."""
    from ctranslate2.specs import whisper_spec

    source = read_ctranslate2_model(asr_models.bundled_model_path("tiny.en") / "model.bin").variables
    spec = whisper_spec.WhisperSpec(4, 6, 4, 6)
    for name, value in source.items():
        if value.ndim == 0 or name == "decoder/projection/weight":
            continue
        owner = spec
        *path, attribute = name.split("/")
        for part in path:  # "layer_3" -> .layer[3], "linear_0" -> .linear[0]
            head, _, index = part.rpartition("_")
            listed = getattr(owner, head, None) if index.isdigit() else None
            owner = listed[int(index)] if isinstance(listed, list) else getattr(owner, part)
        setattr(owner, attribute, value)
    spec.decoder.projection.weight = source["decoder/embeddings/weight"]
    spec.register_vocabulary([f"token{i}" for i in range(source["decoder/embeddings/weight"].shape[0])])
    spec.validate()
    spec.optimize(quantization="int8")
    dest.mkdir()
    spec.save(str(dest))


def test_int8_model_is_dequantised_within_int8_precision(tmp_path):
    _int8_copy_of_tiny(tmp_path / "int8")
    assert read_ctranslate2_model(tmp_path / "int8" / "model.bin").variables[
        "encoder/layer_0/ffn/linear_0/weight"].dtype == np.int8
    exact = build_checkpoint(asr_models.bundled_model_path("tiny.en"))["model_state_dict"]
    dequantised = build_checkpoint(tmp_path / "int8")
    load_into_whisper(dequantised)  # strict: every name and shape still fits
    for name, tensor in exact.items():
        x, y = tensor.float().numpy(), dequantised["model_state_dict"][name].float().numpy()
        rows_x, rows_y = x.reshape(len(x), -1), y.reshape(len(y), -1)
        # int8 rounding error is at most half a step: max|row| / 254
        bound = np.abs(rows_x).max(axis=1, keepdims=True) / 254 * 1.001 + 1e-7
        assert np.all(np.abs(rows_x - rows_y) <= bound), name


def test_not_a_ctranslate2_model_is_a_clear_error(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00garbage")
    with pytest.raises(MifidelityError, match="not a readable CTranslate2 model"):
        convert_ctranslate2_to_whisper(tmp_path, tmp_path / "out.pt")
    with pytest.raises(MifidelityError, match="does not hold a CTranslate2"):
        convert_ctranslate2_to_whisper(tmp_path / "nowhere", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
