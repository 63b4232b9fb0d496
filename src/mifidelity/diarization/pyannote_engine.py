"""A pyannote.audio pipeline as a diariser.

The pipeline comes from ``diarization.pyannote.pipeline``: a local folder (with
the pipeline's ``config.yaml`` and the model subfolders it names, e.g. a copy of
``pyannote/speaker-diarization-community-1``), a path to such a ``config.yaml``,
or a hub name, which needs ``HF_TOKEN`` and a machine that may reach the hub (or
the pipeline already in the local Hugging Face cache). A ready-made pipeline can
be passed in instead (``PyannoteDiarizer(config, pipeline=...)``), which is how
tests build one from local parts.

pyannote 4 returns a ``DiarizeOutput`` holding both the full diarisation (with
overlapping speech) and an exclusive one (one speaker at a time); the exclusive
one is used, since each word needs exactly one speaker.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from mifidelity.config import DiarizationConfig
from mifidelity.errors import MifidelityError
from mifidelity.types import Diarization, ProgressHook, Recording, SpeakerTurn, StageInfo

# Share of the progress bar each pyannote step stands for (segmentation and embeddings dominate).
_STEP_SPAN = {"segmentation": (0.0, 0.4), "embeddings": (0.4, 0.95)}


def annotation_to_turns(annotation: Any) -> list[SpeakerTurn]:
    """pyannote ``Annotation`` -> time-ordered, non-overlapping turns.

    Where tracks overlap (only possible for a non-exclusive annotation), the later
    starting one is cut to begin where the earlier one ends, and dropped if nothing
    is left. Times are rounded to milliseconds.
    """
    turns: list[SpeakerTurn] = []
    tracks = sorted(annotation.itertracks(yield_label=True), key=lambda t: (t[0].start, t[0].end))
    for segment, _, speaker in tracks:
        start = round(max(float(segment.start), turns[-1].end if turns else 0.0), 3)
        end = round(float(segment.end), 3)
        if end > start:
            turns.append(SpeakerTurn(start, end, str(speaker)))
    return turns


def exclusive_annotation(output: Any) -> Any:
    """The exclusive (non-overlapping) ``Annotation`` of a pipeline's output.

    pyannote 4's ``DiarizeOutput`` carries ``exclusive_speaker_diarization``; older
    pipelines (or ``legacy=True``) return a bare ``Annotation``, whose overlaps
    :func:`annotation_to_turns` then cuts.
    """
    for name in ("exclusive_speaker_diarization", "speaker_diarization"):
        annotation = getattr(output, name, None)
        if annotation is not None:  # not `or`: an empty Annotation is falsy but valid
            return annotation
    if hasattr(output, "itertracks"):
        return output
    raise MifidelityError(
        f"the pyannote pipeline returned a {type(output).__name__}, not a speaker diarisation"
    )


def _pipeline_source(source: str) -> tuple[str, bool]:
    """(what to pass to ``Pipeline.from_pretrained``, whether it is on this machine)."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.yaml").is_file():
            raise MifidelityError(
                f"the folder {path} has no config.yaml, so it is not a pyannote pipeline; give the "
                "folder that holds the pipeline's config.yaml (and its segmentation/embedding/plda subfolders)"
            )
        return str(path), True
    if path.is_file():
        return str(path), True
    if source.startswith((".", "/", "~")) or source.endswith((".yaml", ".yml")):
        raise MifidelityError(f"the pyannote pipeline {path} does not exist")
    return source, False


def load_pyannote_pipeline(source: str) -> Any:
    """Load a pyannote pipeline from a local folder / config.yaml, or a hub name with ``HF_TOKEN``.

    Raises
    ------
    MifidelityError
        In one line, saying how to make the pipeline available, if it cannot be loaded.
    """
    from mifidelity.privacy import use_offline_environment

    use_offline_environment()  # pyannote switches its telemetry on at import unless told otherwise
    target, local = _pipeline_source(source)
    from pyannote.audio import Pipeline

    token = os.environ.get("HF_TOKEN")
    try:
        pipeline = Pipeline.from_pretrained(target, token=token)
    except Exception as exc:  # noqa: BLE001 - hub, file and version errors all mean "not usable here"
        detail = str(exc).splitlines()[0][:160] if str(exc) and local else ""
        pipeline, reason = None, f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    else:
        reason = "the hub gave nothing back"
    if pipeline is None:
        if local:
            raise MifidelityError(f"the pyannote pipeline in {target} could not be loaded ({reason})")
        token_note = "HF_TOKEN is set" if token else "HF_TOKEN is not set"
        raise MifidelityError(
            f"the pyannote pipeline '{source}' is not available offline ({token_note}; {reason}): set "
            "diarization.pyannote.pipeline to a local folder holding the pipeline's config.yaml and models, "
            "or accept its conditions on the hub, set HF_TOKEN and run once where the hub is reachable "
            "(with HF_HUB_OFFLINE=0)"
        )
    return pipeline


def _accepts_hook(pipeline: Any) -> bool:
    """Whether ``pipeline(audio, hook=...)`` is allowed (every pyannote pipeline; maybe not a custom one)."""
    try:
        parameters = inspect.signature(pipeline).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "hook" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class PyannoteDiarizer:
    """Diarise with a pyannote.audio ``Pipeline``.

    Parameters
    ----------
    config:
        ``num_speakers`` (if set) or ``min_speakers``/``max_speakers`` are passed to the
        pipeline; ``pyannote.pipeline`` names it (ignored when ``pipeline`` is given).
    pipeline:
        A ready-made pipeline object (anything callable as ``pipeline(audio, **kwargs)``).
    """

    def __init__(self, config: DiarizationConfig, pipeline: Any | None = None):
        self.config = config
        self._pipeline = pipeline
        from mifidelity.privacy import use_offline_environment

        use_offline_environment()
        import pyannote.audio

        self.info = StageInfo(
            engine="pyannote",
            model=config.pyannote.pipeline if pipeline is None else type(pipeline).__name__,
            version=f"pyannote.audio {pyannote.audio.__version__}",
        )

    def load(self) -> "PyannoteDiarizer":
        """Load the pipeline now (otherwise on first use)."""
        self._load()
        return self

    def _load(self) -> Any:
        if self._pipeline is None:
            self._pipeline = load_pyannote_pipeline(self.config.pyannote.pipeline)
        return self._pipeline

    def _speaker_kwargs(self) -> dict[str, int]:
        if self.config.num_speakers:
            return {"num_speakers": self.config.num_speakers}
        return {"min_speakers": self.config.min_speakers, "max_speakers": self.config.max_speakers}

    def diarize(self, recording: Recording, hook: ProgressHook | None = None) -> Diarization:
        """Who spoke when, as non-overlapping turns from pyannote's exclusive output.

        Parameters
        ----------
        recording:
            Decoded audio; the mono mix is diarised.
        hook:
            Called as ``hook("diarize", fraction_done)``.
        """
        import torch

        pipeline = self._load()
        audio = {"waveform": torch.from_numpy(recording.samples[None].copy()),
                 "sample_rate": recording.sample_rate}
        kwargs = self._speaker_kwargs()
        if hook:
            hook("diarize", 0.0)

            def pyannote_hook(step, artifact=None, file=None, total=None, completed=None):
                low, high = _STEP_SPAN.get(step, (None, None))
                if low is not None and total and completed is not None:
                    hook("diarize", low + (high - low) * min(1.0, completed / total))

            if _accepts_hook(pipeline):
                kwargs["hook"] = pyannote_hook
        output = pipeline(audio, **kwargs)
        turns = annotation_to_turns(exclusive_annotation(output))
        if hook:
            hook("diarize", 1.0)
        return Diarization(turns=turns, info=self.info)
