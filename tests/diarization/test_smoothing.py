"""Per-frame scores from overlapping windows, and the switch-penalised Viterbi path."""

import numpy as np
import pytest

from mifidelity.diarization.smoothing import frame_scores, viterbi


def test_viterbi_smooths_single_frame_flips():
    scores = np.zeros((20, 2))
    scores[:10, 0] = 1.0
    scores[10:, 1] = 1.0
    scores[4] = [0.0, 1.0]  # one odd frame
    assert viterbi(scores, 3.0).tolist() == [0] * 10 + [1] * 10
    assert viterbi(scores, 0.0)[4] == 1


def test_viterbi_of_nothing_is_empty():
    assert viterbi(np.zeros((0, 2)), 1.0).tolist() == []


def test_frame_scores_average_the_covering_windows_and_copy_into_uncovered_edges():
    windows = np.array([[1.0, 0.0], [0.0, 1.0]])
    scores = frame_scores(windows, np.array([0, 2]), length=3, n_frames=6)
    # Frames 0-1: first window only; 2: both; 3-4: second only; 5: no window, copies frame 4.
    np.testing.assert_allclose(scores, [[1, 0], [1, 0], [0.5, 0.5], [0, 1], [0, 1], [0, 1]])


def test_tapered_frame_scores_favour_the_window_centred_nearer():
    windows = np.array([[1.0, 0.0], [0.0, 1.0]])
    starts = np.array([0, 1])
    # Frame 1 is the first window's centre and the second window's edge.
    assert frame_scores(windows, starts, 3, 4)[1].tolist() == [0.5, 0.5]
    np.testing.assert_allclose(frame_scores(windows, starts, 3, 4, taper=True)[1], [2 / 3, 1 / 3])


def _path_score(scores, penalty, path):
    switches = np.flatnonzero(np.diff(path) != 0) + 1
    return scores[np.arange(len(path)), path].sum() - penalty[switches].sum()


def _best_score(scores, penalty):
    """The optimum by the textbook K x K recurrence (no shortcut through the best previous label)."""
    dp = scores[0].astype(float)
    k = scores.shape[1]
    for t in range(1, len(scores)):
        trans = dp[:, None] - penalty[t] * (1 - np.eye(k))
        dp = trans.max(axis=0) + scores[t]
    return dp.max()


def test_viterbi_finds_the_best_path_with_per_step_penalties():
    rng = np.random.default_rng(3)
    for k in (1, 2, 3, 4):
        scores = rng.normal(size=(400, k)) + np.repeat(rng.normal(size=(20, k)) * 2, 20, axis=0)
        penalty = np.where(rng.random(400) < 0.1, 0.5, 4.0)
        path = viterbi(scores, penalty)
        assert path.shape == (400,) and set(path.tolist()) <= set(range(k))
        assert _path_score(scores, penalty, path) == pytest.approx(_best_score(scores, penalty))
