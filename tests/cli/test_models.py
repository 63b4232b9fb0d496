"""`mifidelity models list` / `models convert` (the typer sub-application, run on its own)."""

import torch
from typer.testing import CliRunner

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
    # nothing converted in this (empty) cache: the row says how to get it
    openai_tiny = next(line for line in lines if " openai-whisper " in line and " tiny.en " in line)
    assert " no " in openai_tiny and "mifidelity models convert tiny.en" in openai_tiny
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
