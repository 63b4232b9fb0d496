"""Temporal smoothing: per-frame speaker scores, and the switch-penalised Viterbi path through them.

Window embeddings (and, in resegmentation, MFCC likelihoods) give a noisy
score per speaker per 10 ms frame; people do not change every frame, so the
label sequence is the best path that pays a penalty for every change.
"""

from __future__ import annotations

import numpy as np


def viterbi(scores: np.ndarray, penalty: np.ndarray | float) -> np.ndarray:
    """Best label path maximising summed scores minus a penalty per switch.

    Parameters
    ----------
    scores:
        (T, K) per-step score of each label (higher is better).
    penalty:
        Cost of switching label between step t-1 and t; a scalar or a (T,)
        array (entry 0 unused), so switches can be cheaper across pauses.

    Returns
    -------
    numpy.ndarray
        (T,) integer labels.
    """
    t_len, k = scores.shape
    if t_len == 0:
        return np.zeros(0, dtype=int)
    # A plain-Python loop over floats: with k <= a handful of speakers, one numpy call per
    # step costs more than the arithmetic (this is 5x faster than the vectorised-per-step form).
    # Per step only the best previous label and which labels switched to it are kept.
    pen = np.broadcast_to(np.asarray(penalty, dtype=np.float64), (t_len,)).tolist()
    rows = np.asarray(scores, dtype=np.float64).tolist()
    labels = range(k)
    dp = rows[0]
    best_prev = [0] * t_len
    switched = [0] * t_len  # bit j set: label j came from best_prev[t]
    for t in range(1, t_len):
        best = max(labels, key=dp.__getitem__)  # first of equal maxima, as numpy's argmax
        switch = dp[best] - pen[t]
        row = rows[t]
        mask = 0
        new = [0.0] * k
        for j in labels:
            stay = dp[j]
            if switch > stay:
                mask |= 1 << j
                new[j] = switch + row[j]
            else:
                new[j] = stay + row[j]
        dp = new
        best_prev[t] = best
        switched[t] = mask
    path = np.zeros(t_len, dtype=int)
    current = max(labels, key=dp.__getitem__)
    path[-1] = current
    for t in range(t_len - 1, 0, -1):
        if switched[t] >> current & 1:
            current = best_prev[t]
        path[t - 1] = current
    return path


def frame_scores(win_scores: np.ndarray, starts: np.ndarray, length: int, n_frames: int,
                 taper: bool = False) -> np.ndarray:
    """Average the scores of all windows covering each speech-stream frame.

    With ``taper``, each window's vote is weighted by a triangle peaking at its
    centre: a window speaks best for the frames in its middle, so boundaries
    sharpen and short turns are less swamped by their neighbours.
    """
    k = win_scores.shape[1]
    if taper:
        weight = 1.0 - np.abs(np.linspace(-1, 1, length + 2)[1:-1])
        acc = np.zeros((n_frames, k))
        cnt = np.zeros(n_frames)
        for b in range(0, len(starts), 512):
            idx = (starts[b : b + 512, None] + np.arange(length)[None, :]).clip(max=n_frames - 1)
            np.add.at(acc, idx.ravel(), (weight[None, :, None] * win_scores[b : b + 512, None, :]).reshape(-1, k))
            np.add.at(cnt, idx.ravel(), np.broadcast_to(weight, idx.shape).ravel())
        return acc / np.maximum(cnt, 1e-9)[:, None]
    acc = np.zeros((n_frames + 1, k))
    cnt = np.zeros(n_frames + 1)
    ends = np.minimum(starts + length, n_frames)
    np.add.at(acc, starts, win_scores)
    np.add.at(acc, ends, -win_scores)
    np.add.at(cnt, starts, 1.0)
    np.add.at(cnt, ends, -1.0)
    acc = np.cumsum(acc, axis=0)[:n_frames]
    cnt = np.cumsum(cnt)[:n_frames]
    out = np.zeros((n_frames, k))
    has = cnt > 0.5
    out[has] = acc[has] / cnt[has, None]
    # Frames no window covers (stream edges) copy their nearest covered frame.
    if has.any() and not has.all():
        idx = np.where(has, np.arange(n_frames), -1)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(has))
        idx[idx < 0] = first
        out = out[idx]
    return out
