"""A pyannote.audio pipeline as a diariser.

The pipeline comes from a local folder or a hub name (with ``HF_TOKEN``), or
is passed in ready-made (``PyannoteDiarizer(config, pipeline=...)``), which is
how tests and the offline proof build one from local parts. pyannote's
exclusive (non-overlapping) output is used, since each word needs one speaker.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from mifidelity.config import DiarizationConfig
from mifidelity.errors import MifidelityError
from mifidelity.types import Diarization, Recording, SpeakerTurn, StageInfo


def annotation_to_turns(annotation: Any) -> list[SpeakerTurn]:
    """pyannote ``Annotation`` -> time-ordered, non-overlapping turns (later turns are cut at overlaps)."""
    turns: list[SpeakerTurn] = []
    for segment, _, speaker in sorted(annotation.itertracks(yield_label=True), key=lambda t: t[0].start):
        start = max(float(segment.start), turns[-1].end if turns else 0.0)
        if float(segment.end) - start > 0:
            turns.append(SpeakerTurn(round(start, 3), round(float(segment.end), 3), str(speaker)))
    return turns


class PyannoteDiarizer:
    """Diarise with a pyannote.audio ``Pipeline``."""

    def __init__(self, config: DiarizationConfig, pipeline: Any | None = None):
        self.config = config
        self._pipeline = pipeline
        import pyannote.audio

        self.info = StageInfo(engine="pyannote", model=config.pyannote.pipeline if pipeline is None else type(pipeline).__name__,
                              version=f"pyannote.audio {pyannote.audio.__version__}")

    def _load(self) -> Any:
        if self._pipeline is None:
            from pyannote.audio import Pipeline

            source = self.config.pyannote.pipeline
            try:
                self._pipeline = Pipeline.from_pretrained(source, token=os.environ.get("HF_TOKEN"))
            except Exception as exc:  # noqa: BLE001 - any failure means the pipeline is not available here
                raise MifidelityError(
                    f"the pyannote pipeline '{source}' could not be loaded ({type(exc).__name__}); give "
                    "diarization.pyannote.pipeline as a local folder, or set HF_TOKEN on a machine that "
                    "can reach the model hub"
                ) from None
            if self._pipeline is None:
                raise MifidelityError(f"the pyannote pipeline '{source}' is not available offline")
        return self._pipeline

    def diarize(self, recording: Recording, hook: Callable[[str, float], None] | None = None) -> Diarization:
        import torch

        pipeline = self._load()
        kwargs = ({"num_speakers": self.config.num_speakers} if self.config.num_speakers
                  else {"min_speakers": self.config.min_speakers, "max_speakers": self.config.max_speakers})
        audio = {"waveform": torch.from_numpy(recording.samples[None].copy()), "sample_rate": recording.sample_rate}
        output = pipeline(audio, **kwargs)
        annotation = getattr(output, "exclusive_speaker_diarization", None) or getattr(output, "speaker_diarization", output)
        if hook:
            hook("diarize", 1.0)
        return Diarization(turns=annotation_to_turns(annotation), info=self.info)
