"""mifidelity.engines: one registry per kind of engine, read by the config schema, the factories, the CLI and
the model inventory (issue 28), so a new engine is one entry."""

import subprocess
import sys
from typing import get_args

import pytest

from mifidelity import config as config_module
from mifidelity.cli.process import AsrEngine, DiarizerEngine
from mifidelity.coding import get_coder
from mifidelity.coding.base import UtteranceCoder
from mifidelity.coding.rules import RuleCoder
from mifidelity.config import CodingConfig, DiarizationConfig, PipelineConfig
from mifidelity.diarization import AutoDiarizer, Diarizer, get_diarizer
from mifidelity.diarization.channels import ChannelDiarizer
from mifidelity.engines import CODERS, DIARIZERS, REGISTRIES, TRANSCRIBERS, Engine, engine_names, load_engine
from mifidelity.errors import MifidelityError
from mifidelity.model_inventory import DETAILS, model_inventory
from mifidelity.transcription import Transcriber

PROTOCOLS = {"asr": Transcriber, "diarization": Diarizer, "coding": UtteranceCoder}
SECTIONS = {"asr": config_module.AsrConfig, "diarization": config_module.DiarizationConfig,
            "coding": config_module.CodingConfig}


def protocol_methods(protocol) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


def test_the_registries_are_the_stages_engines():
    assert REGISTRIES == {"asr": TRANSCRIBERS, "diarization": DIARIZERS, "coding": CODERS}
    assert engine_names("asr") == ("faster-whisper", "openai-whisper")
    assert engine_names("diarization") == ("auto", "embedding", "channels", "pyannote")
    assert engine_names("coding") == ("trained", "rules")
    assert protocol_methods(Transcriber) == {"load", "transcribe"} and protocol_methods(UtteranceCoder) == {"load", "code"}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_config_accepts_exactly_the_registered_names(kind):
    engine = SECTIONS[kind].model_fields["engine"]
    assert get_args(engine.annotation) == engine_names(kind)
    assert engine.default in engine_names(kind)
    for name in engine_names(kind):
        assert SECTIONS[kind](engine=name).engine == name
    with pytest.raises(ValueError, match=f"{kind}.engine"):
        PipelineConfig.model_validate({kind: {"engine": "no-such-engine"}})


def test_cli_engine_options_offer_the_registered_names():
    assert tuple(choice.value for choice in AsrEngine) == engine_names("asr")
    assert tuple(choice.value for choice in DiarizerEngine) == engine_names("diarization")


@pytest.mark.parametrize("kind,name", [(kind, name) for kind, engines in REGISTRIES.items() for name in engines])
def test_every_registered_name_resolves_to_a_class_implementing_its_kind(kind, name):
    engine = load_engine(kind, name)
    assert isinstance(engine, type) and engine.__module__.startswith("mifidelity.")
    missing = {method for method in protocol_methods(PROTOCOLS[kind]) if not callable(getattr(engine, method, None))}
    assert missing == set(), f"{engine.__name__} lacks {missing} of {PROTOCOLS[kind].__name__}"
    if kind == "coding":  # how get_coder builds a coder from its section
        assert callable(getattr(engine, "from_config", None))


def test_the_factories_build_the_registered_class():
    assert isinstance(get_coder(CodingConfig(engine="rules")), RuleCoder)
    assert isinstance(get_coder(CodingConfig(engine="rules")), UtteranceCoder)
    assert [path.name for path in get_coder(CodingConfig()).model_paths] == [  # built, nothing loaded yet
        "minilm-context.npz", "minilm-context-seed7.npz"]
    assert isinstance(get_diarizer(DiarizationConfig(engine="channels")), ChannelDiarizer)
    assert isinstance(get_diarizer(DiarizationConfig()), AutoDiarizer)


def test_an_unknown_name_or_a_missing_package_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown coding engine 'magic'; use one of: trained, rules"):
        load_engine("coding", "magic")
    absent = Engine("mifidelity.coding.rules:RuleCoder", "needs a package nobody has",
                    requires="mifidelity_no_such_package", install="pip install nothing")
    assert not absent.available() and Engine("mifidelity.coding.rules:RuleCoder", "built in").available()
    monkeypatch.setitem(CODERS, "absent", absent)
    with pytest.raises(MifidelityError, match=r"absent engine needs .*mifidelity_no_such_package.*pip install nothing"):
        load_engine("coding", "absent")


def test_the_inventory_lists_every_registered_engine():
    rows = model_inventory(PipelineConfig())
    assert {(row.stage, row.engine) for row in rows} == {(kind, name) for kind in REGISTRIES for name in REGISTRIES[kind]}
    assert set(DETAILS) <= {(kind, name) for kind in REGISTRIES for name in REGISTRIES[kind]}
    auto = next(row for row in rows if row.engine == "auto")
    assert auto.available and DIARIZERS["auto"].description in auto.source
    coding = {row.model: row.available for row in rows if row.stage == "coding"}
    assert {"adherence.npz", "minilm-context.npz", "minilm-context-seed7.npz"} <= set(coding)  # every artifact it reads
    assert coding["adherence.npz"]


def test_reading_the_config_imports_no_engine():
    code = ("import sys, mifidelity.config, mifidelity.engines; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'torch', 'faster_whisper', 'whisper', 'pyannote', 'resemblyzer'} or m.startswith('mifidelity.coding')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
