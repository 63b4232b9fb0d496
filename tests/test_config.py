from pathlib import Path

import pytest

from mifidelity.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config
from mifidelity.errors import MifidelityError


def test_default_yaml_matches_schema_defaults():
    # Every knob in configs/default.yaml is documented there and equals the schema default.
    assert load_config(DEFAULT_CONFIG_PATH) == PipelineConfig()


def test_unknown_key_and_bad_value_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("asr:\n  modle: base\n")
    with pytest.raises(MifidelityError, match="asr.modle"):
        load_config(path)
    path.write_text("diarization:\n  engine: magic\n")
    with pytest.raises(MifidelityError, match="diarization.engine"):
        load_config(path)
    path.write_text("diarization:\n  min_speakers: 3\n  max_speakers: 2\n")
    with pytest.raises(MifidelityError, match="min_speakers"):
        load_config(path)


def test_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(MifidelityError, match="not found"):
        load_config(tmp_path / "none.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("asr: [unclosed\n")
    with pytest.raises(MifidelityError, match="not valid YAML"):
        load_config(path)


def test_fingerprint_changes_only_with_its_sections():
    a, b = PipelineConfig(), PipelineConfig.model_validate({"coding": {"engine": "rules"}})
    assert a.fingerprint("asr") == b.fingerprint("asr")
    assert a.fingerprint() != b.fingerprint()


def test_every_shipped_config_is_valid():
    shipped = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(shipped) >= 2
    for path in shipped:
        load_config(path)  # raises on unknown keys or bad values
