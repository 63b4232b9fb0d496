"""The pyannote diariser, offline: a pyannote.audio 4 pipeline built from local parts.

pyannote 4's ``SpeakerDiarization`` loads its segmentation model, embedding model and
PLDA in its constructor, from the hub unless given local ones. Here they are made on
the spot (randomly initialised models, a made-up PLDA) and laid out as a local pipeline
folder, the same layout as a copy of ``pyannote/speaker-diarization-community-1``
(``config.yaml`` + ``segmentation/``, ``embedding/``, ``plda/``). Random weights give
meaningless speakers, so these tests check the adapter: loading, speaker-count options,
progress, and the conversion of pyannote's exclusive ``Annotation`` into turns.
"""

from pathlib import Path

import numpy as np
import pytest

from mifidelity.privacy import use_offline_environment

use_offline_environment()  # before pyannote is imported: no telemetry, no hub

import torch  # noqa: E402
import yaml  # noqa: E402
from pyannote.core import Annotation, Segment  # noqa: E402

from mifidelity.audio import load_recording  # noqa: E402
from mifidelity.config import DiarizationConfig, PyannoteDiarizerConfig  # noqa: E402
from mifidelity.diarization import get_diarizer  # noqa: E402
from mifidelity.diarization.pyannote_engine import (  # noqa: E402
    PyannoteDiarizer,
    annotation_to_turns,
    load_pyannote_pipeline,
)
from mifidelity.errors import MifidelityError  # noqa: E402
from mifidelity.types import Recording  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "sample_audio" / "session1_alcohol.mp3"
EXCERPT_SECONDS = 30.0
EMBEDDING_DIM, LDA_DIM = 64, 16


def _save_pyannote_model(model, folder: Path) -> None:
    """Write a model the way pyannote's ``Model.from_pretrained`` reads it (a Lightning checkpoint)."""
    import lightning

    folder.mkdir(parents=True)
    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                  "pytorch-lightning_version": lightning.__version__}
    model.on_save_checkpoint(checkpoint)  # adds pyannote's architecture + specifications
    torch.save(checkpoint, folder / "pytorch_model.bin")


def make_local_pipeline_folder(root: Path) -> Path:
    """A pyannote 4 ``SpeakerDiarization`` folder with random models and a made-up PLDA."""
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC
    from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(0)
    segmentation = PyanNet(lstm={"hidden_size": 32, "num_layers": 1, "monolithic": True},
                           linear={"hidden_size": 32, "num_layers": 1})
    # Powerset output over 3 local speakers, at most 2 at once: community-1's segmentation layout.
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=10.0,
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2,
        permutation_invariant=True)
    segmentation.build()
    _save_pyannote_model(segmentation, root / "segmentation")

    embedding = XVectorMFCC(dimension=EMBEDDING_DIM)
    embedding.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=3.0)
    embedding.build()
    _save_pyannote_model(embedding, root / "embedding")

    # VBx's PLDA: x-vector centring/LDA (xvec_transform.npz) and the PLDA itself (plda.npz).
    rng = np.random.default_rng(0)
    (root / "plda").mkdir()
    lda = np.linalg.qr(rng.normal(size=(EMBEDDING_DIM, EMBEDDING_DIM)))[0][:, :LDA_DIM]
    np.savez(root / "plda" / "xvec_transform.npz", mean1=np.zeros(EMBEDDING_DIM), mean2=np.zeros(LDA_DIM), lda=lda)
    np.savez(root / "plda" / "plda.npz", mu=np.zeros(LDA_DIM), tr=np.eye(LDA_DIM),
             psi=np.linspace(5.0, 0.5, LDA_DIM))

    (root / "config.yaml").write_text(yaml.safe_dump({
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation", "embedding": "$model/embedding",
                "plda": "$model/plda", "clustering": "VBxClustering",
                # half-chunk steps and batches keep the test fast on 2 cores
                "segmentation_step": 0.5, "segmentation_batch_size": 8, "embedding_batch_size": 8,
            },
        },
        "params": {"segmentation": {"min_duration_off": 0.0},
                   "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8}},
    }))
    return root


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory) -> Path:
    return make_local_pipeline_folder(tmp_path_factory.mktemp("pyannote-local"))


@pytest.fixture(scope="module")
def excerpt() -> Recording:
    full = load_recording(SAMPLE)
    n = int(EXCERPT_SECONDS * full.sample_rate)
    return Recording(full.source, full.samples[:n].copy(), full.sample_rate, full.channels[:, :n].copy(),
                     full.content_sha256)


def _config(pipeline: str = "pyannote/speaker-diarization-community-1", **kwargs) -> DiarizationConfig:
    return DiarizationConfig(engine="pyannote", pyannote=PyannoteDiarizerConfig(pipeline=pipeline), **kwargs)


class Spy:
    """Wraps a pipeline, keeping the keyword arguments and output of each call."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, audio, **kwargs):
        output = self.inner(audio, **kwargs)
        self.calls.append((audio, kwargs, output))
        return output


def _assert_well_formed(turns, duration):
    assert turns, "no speaker turns"
    for earlier, later in zip(turns, turns[1:]):
        assert earlier.end <= later.start, "turns overlap or are out of order"
    assert all(0.0 <= t.start < t.end <= duration + 0.01 for t in turns)


def test_local_folder_pipeline_runs_end_to_end(pipeline_folder, excerpt):
    from pyannote.audio.pipelines import SpeakerDiarization

    loaded = PyannoteDiarizer(_config(str(pipeline_folder)))._load()
    assert isinstance(loaded, SpeakerDiarization)

    spy = Spy(loaded)
    progress = []
    diarization = PyannoteDiarizer(_config(str(pipeline_folder), num_speakers=2), pipeline=spy).diarize(
        excerpt, hook=lambda stage, fraction: progress.append((stage, fraction)))

    (audio, kwargs, output), = spy.calls
    assert kwargs["num_speakers"] == 2 and "min_speakers" not in kwargs
    assert audio["sample_rate"] == 16000 and tuple(audio["waveform"].shape) == (1, len(excerpt.samples))
    # The exclusive output is what became the turns, one turn per track, times to the millisecond.
    expected = [(round(s.start, 3), round(s.end, 3), label)
                for s, _, label in output.exclusive_speaker_diarization.itertracks(yield_label=True)]
    assert [(t.start, t.end, t.speaker) for t in diarization.turns] == sorted(expected)
    _assert_well_formed(diarization.turns, excerpt.duration)
    assert set(diarization.speakers) <= {"SPEAKER_00", "SPEAKER_01"}
    assert diarization.info.engine == "pyannote"
    fractions = [f for stage, f in progress if stage == "diarize"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert len(fractions) > 2, "pyannote's own progress was not relayed"


def test_annotation_to_turns_sorts_and_cuts_overlaps():
    annotation = Annotation()
    annotation[Segment(5.0, 9.0)] = "B"
    annotation[Segment(0.0, 4.0)] = "A"
    annotation[Segment(3.0, 6.5)] = "A"       # overlaps both neighbours
    annotation[Segment(6.0, 6.4)] = "C"       # swallowed by the turn before it
    annotation[Segment(8.5, 10.00049)] = "A"
    turns = annotation_to_turns(annotation)
    assert [(t.start, t.end, t.speaker) for t in turns] == [
        (0.0, 4.0, "A"), (4.0, 6.5, "A"), (6.5, 9.0, "B"), (9.0, 10.0, "A")]
    assert annotation_to_turns(Annotation()) == []


class FakeOutput:
    """pyannote 4's DiarizeOutput shape: full (overlapping) and exclusive annotations."""

    def __init__(self, full, exclusive):
        self.speaker_diarization, self.exclusive_speaker_diarization = full, exclusive


def test_exclusive_output_is_used_and_speaker_bounds_passed(excerpt):
    full, exclusive = Annotation(), Annotation()
    full[Segment(0.0, 3.0)] = "SPEAKER_00"
    full[Segment(2.0, 5.0)] = "SPEAKER_01"
    exclusive[Segment(0.0, 2.5)] = "SPEAKER_00"
    exclusive[Segment(2.5, 5.0)] = "SPEAKER_01"
    seen = {}

    def pipeline(audio, num_speakers=None, min_speakers=None, max_speakers=None):  # no `hook`
        seen.update(num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers)
        return FakeOutput(full, exclusive)

    config = _config(num_speakers=None, min_speakers=2, max_speakers=3)
    turns = PyannoteDiarizer(config, pipeline=pipeline).diarize(excerpt, hook=lambda *a: None).turns
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0.0, 2.5, "SPEAKER_00"), (2.5, 5.0, "SPEAKER_01")]
    assert seen == {"num_speakers": None, "min_speakers": 2, "max_speakers": 3}

    # An empty exclusive annotation is a valid answer ("nobody spoke"), not a reason to fall back.
    empty = PyannoteDiarizer(_config(), pipeline=lambda audio, **kw: FakeOutput(full, Annotation()))
    assert empty.diarize(excerpt).turns == []


def test_hub_name_offline_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    diarizer = get_diarizer(_config("pyannote/speaker-diarization-community-1"))
    assert isinstance(diarizer, PyannoteDiarizer)
    with pytest.raises(MifidelityError) as caught:
        diarizer._load()
    message = str(caught.value)
    assert "\n" not in message
    assert "not available offline" in message and "HF_TOKEN is not set" in message
    assert "local folder" in message


def test_bad_local_paths_are_clear_errors(tmp_path):
    with pytest.raises(MifidelityError, match="no config.yaml"):
        load_pyannote_pipeline(str(tmp_path))
    with pytest.raises(MifidelityError, match="does not exist"):
        load_pyannote_pipeline(str(tmp_path / "missing" / "config.yaml"))
