"""Spectral clustering of window embeddings, centroids, and the speaker-count check."""

import numpy as np
import pytest

from mifidelity.diarization.clustering import centroids, cluster, unit_vectors


def _two_voices(n: int = 30, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], n)
    centres = np.eye(dim)[[0, 1]]
    return unit_vectors(centres[truth] + 0.2 * rng.standard_normal((2 * n, dim))), truth


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len({(int(x), int(y)) for x, y in zip(a, b)}) == len(set(a.tolist())) == len(set(b.tolist()))


def test_cluster_finds_two_well_separated_voices_with_and_without_the_count():
    emb, truth = _two_voices()
    assert _same_partition(cluster(emb, None, 1, 4, 0.3), truth)
    assert _same_partition(cluster(emb, 2, 1, 4, 0.3), truth)
    assert set(cluster(emb, 1, 1, 4, 0.3).tolist()) == {0}


def test_cluster_of_fewer_than_two_windows_is_one_speaker():
    assert cluster(np.ones((1, 4)) / 2, None, 1, 4, 0.3).tolist() == [0]


def test_centroids_are_unit_means_and_zero_for_an_empty_label():
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    cents = centroids(emb, np.array([0, 1, 0]), 3)
    np.testing.assert_allclose(cents, [[1, 0], [0, 1], [0, 0]])


@pytest.mark.slow
def test_speaker_count_check_flags_monologue_and_third_voice_not_two_speakers(tmp_path):
    pytest.importorskip("resemblyzer")
    pytest.importorskip("faster_whisper")
    from support.media import SESSION1, monologue, three_speakers

    from mifidelity.audio import load_recording
    from mifidelity.config import DiarizationConfig
    from mifidelity.diarization.embedding import EmbeddingDiarizer

    diarizer = EmbeddingDiarizer(DiarizationConfig())
    notes = {}
    for name, make in (("mono.mp3", monologue), ("three.mp3", three_speakers)):
        notes[name] = " ".join(diarizer.diarize(load_recording(str(make(tmp_path / name)), 16000)).notes)
    notes["two"] = " ".join(diarizer.diarize(load_recording(str(SESSION1), 16000)).notes)
    assert "one person speaking throughout" in notes["mono.mp3"]
    assert "third voice" in notes["three.mp3"]
    assert "third voice" not in notes["two"] and "one person" not in notes["two"]


@pytest.mark.parametrize("gaps,silhouette,cosine,one", [
    ((0.245, 0.018), 0.131, 0.946, True),   # ami-trn03: one voice holds 96% of the speech
    ((0.118, 0.197), 0.195, 0.911, False),  # pyannote's phone call: the halves sound alike, the eigengap says two
    ((0.008, 0.493), 0.509, 0.699, False),  # a coaching session: two clear voices
    ((0.300, 0.010), 0.400, 0.946, False),  # eigengap says one, but the halves separate well
    ((0.300, 0.010), 0.131, 0.800, False),  # ... or sound different
])
def test_one_voice_needs_the_eigengap_and_the_likeness_of_the_halves(gaps, silhouette, cosine, one):
    from mifidelity.diarization.clustering import SplitEvidence

    evidence = SplitEvidence(silhouette={2: silhouette, 3: silhouette - 0.05}, cosine=cosine,
                             smallest_share=0.2, eigengaps=gaps)
    assert evidence.one_voice is one


def test_split_evidence_of_two_voices_and_of_too_few_windows():
    from mifidelity.diarization.clustering import split_evidence

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    emb = np.vstack([a + 0.2 * rng.normal(size=(60, 64)), b + 0.2 * rng.normal(size=(40, 64))])
    evidence = split_evidence(emb, prune=0.3)
    assert evidence is not None and not evidence.one_voice
    assert evidence.silhouette[2] > 0.5 and evidence.cosine < 0.5 and evidence.eigengaps[1] > evidence.eigengaps[0]
    assert split_evidence(emb[:5], prune=0.3) is None
