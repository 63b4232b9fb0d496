"""Fine-tune and evaluate the MI-adherence coder (:mod:`mifidelity.coding.adherence`).

Usage (from the repository root)::

    python -m mifidelity.training.adherence train    [--forum DIR] [--annomi DIR]
    python -m mifidelity.training.adherence evaluate [--forum DIR] [--annomi DIR] [--folds 5]

The training examples (mi-forum gold and silver, AnnoMI, our own spoken examples):
:mod:`mifidelity.training.adherence_data`. Every example is used twice, as written
and as :func:`~mifidelity.coding.features.strip_asr` gives it.

The bundled all-MiniLM-L6-v2 keeps its lower layers; the top ``TuningSettings.tuned_layers`` layers
and a softmax layer over the mean-pooled vector are trained with a cross-entropy weighted
by source and by class (square-root balancing). The lower layers' output of every text is
computed once and reused by every epoch and fold, so a fit costs the top layers only.

``evaluate`` prints (a) macro-F1 over six labels on mi-gold with stratified k-fold
cross-validation (every fold trained on all other sources and the other gold folds),
(b) macro-F1 over all seven labels on the held-out spoken test set, clean and stripped,
and the speed of the shipped coder.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.adherence import (DEFAULT_ARTIFACT, AdherenceCoder, AdherenceModel, mean_pool, run_layers,
                                         seed_artifact)
from mifidelity.coding.base import ADHERENCE_COLUMN, ADHERENCE_LABELS
from mifidelity.coding.features import (ENCODER_NAME, load_encoder, padded_batch, padded_states, strip_asr, torch_threads,
                                        word_piece_ids)
from mifidelity.training.adherence_data import (
    SPOKEN_TEST, ExampleSet, Sources, all_training_sets, load_sources,
)
from mifidelity.training.data import DEFAULT_DATA_DIR as DEFAULT_ANNOMI_DIR, DEFAULT_FORUM_DIR, VERSIONS

logger = logging.getLogger(__name__)

SEED = 13
MODEL_VERSION = "4"
# mi-gold has no Seeking Collaboration and, read the MITI way, no Persuade with Permission
# (adherence_data.FORUM_LABELS): the written score is over the other five.
GOLD_SCORED = tuple(label for label in ADHERENCE_LABELS if label not in ("seeking_collaboration", "persuade_with_permission"))
# Per-example weight of each source before class balancing: silver and AnnoMI are noisy or
# only partly on target, and they are many.
SOURCE_WEIGHTS = {"gold": 1.0, "spoken": 3.0, "silver": 0.1, "annomi": 0.3}


@dataclass(frozen=True)
class TuningSettings:
    """How the top layers are fine-tuned (chosen by gold cross-validation, see the model card)."""

    tuned_layers: int = 4  # layers 3-6; 1-2 stay the package's, shared with the behaviour coder (version 4)
    epochs: int = 3
    batch_size: int = 32
    encoder_learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_share: float = 0.1
    dropout: float = 0.1
    threads: int = 2
    seed: int = SEED  # the weights' initialisation and the batch order (not the folds)


# ----------------------------------------------------------------------------- frozen lower layers


class FrozenStates:
    """The bundled encoder's hidden states below the tuned layers, per (version, text), in float16."""

    def __init__(self, settings: TuningSettings):
        self.settings = settings
        self.tokenizer, self.encoder = load_encoder()
        self.first_tuned = self.encoder.config.num_hidden_layers - settings.tuned_layers
        self._states: dict[tuple[str, str], object] = {}

    @staticmethod
    def text_of(version: str, text: str) -> str:
        return text if version == "clean" else strip_asr(text)

    def add(self, sets: list[ExampleSet], batch_size: int = 64) -> None:
        """Compute the states of every text of ``sets`` in both versions (once per text)."""
        import torch

        keys = list(dict.fromkeys((v, t) for s in sets for v in VERSIONS for t in s.texts
                                  if (v, t) not in self._states))
        if not keys:
            return
        started = time.perf_counter()
        ids = word_piece_ids(self.tokenizer, [self.text_of(v, t) for v, t in keys])
        order = np.argsort([len(s) for s in ids], kind="stable")
        with torch_threads(self.settings.threads), torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                input_ids, mask = padded_batch([ids[i] for i in batch])
                hidden = self.encoder(input_ids=input_ids, attention_mask=mask,
                                      output_hidden_states=True).hidden_states[self.first_tuned]
                for row, i in enumerate(batch):
                    self._states[keys[i]] = hidden[row, :len(ids[i])].clone().half()
        logger.info("lower-layer states of %d texts in %.0f s", len(keys), time.perf_counter() - started)

    def batch(self, keys: list[tuple[str, str]]):
        """``(hidden (b, width, dim) float32, mask (b, width) long)`` for ``keys``."""
        return padded_states([self._states[key] for key in keys])

    def length(self, key: tuple[str, str]) -> int:
        return int(self._states[key].shape[0])


def _tuned_top(frozen: FrozenStates, settings: TuningSettings):
    """A trainable copy of the encoder's top layers with a dropout and softmax layer."""
    import torch

    class TunedTop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = frozen.first_tuned
            self.layers = torch.nn.ModuleList(copy.deepcopy(frozen.encoder.encoder.layer[i])
                                              for i in range(frozen.first_tuned, frozen.encoder.config.num_hidden_layers))
            self.dropout = torch.nn.Dropout(settings.dropout)
            self.head = torch.nn.Linear(frozen.encoder.config.hidden_size, len(ADHERENCE_LABELS))

        def forward(self, hidden, mask):
            hidden = run_layers(self.layers, hidden, mask)
            return self.head(self.dropout(mean_pool(hidden, mask)))

        def tuned_state(self) -> dict[str, np.ndarray]:
            """The tuned layers' weights under the encoder's own parameter names."""
            return {f"encoder.layer.{self.first + index}.{name}": value.detach().numpy().copy()
                    for index, layer in enumerate(self.layers) for name, value in layer.state_dict().items()}

    return TunedTop()


# ----------------------------------------------------------------------------- fitting


def training_examples(sets: list[ExampleSet]) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Both text versions of every example, with source weights times square-root class balancing."""
    keys, labels, weights = [], [], []
    for examples in sets:
        for version in VERSIONS:
            keys += [(version, text) for text in examples.texts]
            labels.append(examples.labels)
            weights.append(np.full(len(examples), SOURCE_WEIGHTS.get(examples.source, 1.0)))
    y, w = np.concatenate(labels), np.concatenate(weights)
    class_mass = np.bincount(y, weights=w, minlength=len(ADHERENCE_LABELS))
    present = class_mass > 0
    # square-root balancing: rare codes (Confront, Autonomy) are lifted without letting a
    # handful of examples dominate
    target = np.where(present, np.sqrt(class_mass.sum() / np.maximum(class_mass, 1e-9) / present.sum()), 0.0)
    w = w * target[y]
    return keys, y, w / w.mean()


def fine_tune(frozen: FrozenStates, sets: list[ExampleSet], settings: TuningSettings = TuningSettings()):
    """Train the top layers and softmax layer on ``sets`` (seeded); returns the trained module."""
    import torch

    torch.manual_seed(settings.seed)
    frozen.add(sets)
    keys, y, w = training_examples(sets)
    net = _tuned_top(frozen, settings)
    net.train()
    optimiser = torch.optim.AdamW([
        {"params": net.layers.parameters(), "lr": settings.encoder_learning_rate},
        {"params": net.head.parameters(), "lr": settings.head_learning_rate},
    ], weight_decay=settings.weight_decay)
    per_epoch = -(-len(keys) // settings.batch_size)
    total = settings.epochs * per_epoch
    warmup = max(1.0, settings.warmup_share * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1.0 - step / total))
    rng = np.random.default_rng(settings.seed)
    labels, weights = torch.tensor(y), torch.tensor(w, dtype=torch.float32)
    with torch_threads(settings.threads):
        for epoch in range(settings.epochs):
            started, loss_sum = time.perf_counter(), 0.0
            for rows in _length_bucketed_batches(frozen, keys, settings.batch_size, rng):
                hidden, mask = frozen.batch([keys[i] for i in rows])
                loss = torch.nn.functional.cross_entropy(net(hidden, mask), labels[rows], reduction="none")
                loss = (loss * weights[rows]).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                loss_sum += loss.item()
            logger.info("epoch %d: loss %.3f (%.0f s)", epoch + 1, loss_sum / per_epoch, time.perf_counter() - started)
    net.eval()
    return net


def _length_bucketed_batches(frozen: FrozenStates, keys, batch_size: int, rng) -> list[np.ndarray]:
    """Shuffled batches of similar-length examples (less padding), in shuffled order."""
    order = rng.permutation(len(keys))
    batches = []
    for start in range(0, len(order), 50 * batch_size):
        chunk = order[start:start + 50 * batch_size]
        chunk = chunk[np.argsort([frozen.length(keys[i]) for i in chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def predict(net, frozen: FrozenStates, examples: ExampleSet, version: str, batch_size: int = 64) -> np.ndarray:
    """``(n, labels)`` probabilities of a module from :func:`fine_tune`."""
    import torch

    frozen.add([examples])
    keys = [(version, text) for text in examples.texts]
    out = []
    with torch_threads(frozen.settings.threads), torch.inference_mode():
        for start in range(0, len(keys), batch_size):
            out.append(torch.softmax(net(*frozen.batch(keys[start:start + batch_size])), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(ADHERENCE_LABELS)), np.float32)


# ----------------------------------------------------------------------------- the shipped model


def train(forum_dir: str | Path, annomi_dir: str | Path, output: str | Path = DEFAULT_ARTIFACT,
          settings: TuningSettings = TuningSettings(), scores: dict | None = None) -> Path:
    """Fine-tune on every training source and write the artifact."""
    sources = load_sources(forum_dir, annomi_dir)
    sets = all_training_sets(sources)
    frozen = FrozenStates(settings)
    net = fine_tune(frozen, sets, settings)
    meta = {"labels": list(ADHERENCE_LABELS), "model_version": MODEL_VERSION, "encoder": ENCODER_NAME,
            "tuned_layers": settings.tuned_layers, "settings": settings.__dict__, "source_weights": SOURCE_WEIGHTS,
            "training_examples": {s.source: len(s) for s in sets}, "versions": list(VERSIONS), "seed": settings.seed,
            "scores": scores or {}}
    AdherenceModel.save(output, net.tuned_state(), net.head.weight.detach().numpy(), net.head.bias.detach().numpy(), meta)
    logger.info("wrote %s", output)
    return Path(output)


# ----------------------------------------------------------------------------- out-of-fold AnnoMI


def annomi_scored(sources: Sources) -> ExampleSet:
    """Every AnnoMI coach utterance (not only the ones with an adherence label), grouped by transcript."""
    data = sources.annomi_data
    coach = (data["role"] == "coach").to_numpy()
    return ExampleSet("annomi-all", data.loc[coach, "text"].tolist(), np.zeros(coach.sum(), dtype=int),
                      data.loc[coach, "transcript_id"].to_numpy())


def annomi_folds(sources: Sources, n_splits: int) -> dict[int, int]:
    """``transcript_id -> fold``: AnnoMI's transcripts in ``n_splits`` seeded groups."""
    from sklearn.model_selection import GroupKFold

    groups = sources.annomi_data["transcript_id"].to_numpy()
    splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    return {int(t): fold for fold, (_, test) in enumerate(splitter.split(groups, groups=groups)) for t in set(groups[test])}


def annomi_probability_rows(sources: Sources, coach_probabilities: np.ndarray) -> np.ndarray:
    """Coach-row probabilities spread to every AnnoMI row (client rows: none), as ``fidelity --adherence-oof`` reads them."""
    data = sources.annomi_data
    out = np.zeros((len(data), len(ADHERENCE_LABELS)))
    out[:, ADHERENCE_LABELS.index("none")] = 1.0
    out[(data["role"] == "coach").to_numpy()] = coach_probabilities
    return out


# ----------------------------------------------------------------------------- evaluation


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple) -> tuple[float, dict[str, float]]:
    from sklearn.metrics import f1_score

    indices = [ADHERENCE_LABELS.index(label) for label in labels]
    per_class = f1_score(y_true, y_pred, labels=indices, average=None, zero_division=0)
    return float(np.mean(per_class)), dict(zip(labels, per_class.round(3).tolist()))


def cross_validate(sources: Sources, n_splits: int = 5, settings: TuningSettings = TuningSettings(),
                   hold_out_annomi: bool = False) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Out-of-fold gold probabilities per version, and each fold model's spoken-test macro-F1.

    With ``hold_out_annomi`` each fold also leaves out a fifth of AnnoMI's transcripts
    (:func:`annomi_folds`) and scores every coach utterance of them: the probabilities then hold
    ``annomi/<version>`` too, one row per AnnoMI row (:func:`annomi_probability_rows`).
    """
    from sklearn.model_selection import StratifiedKFold

    gold = sources.gold
    others = [s for s in all_training_sets(sources) if s.source not in ("gold", "annomi")]
    frozen = FrozenStates(settings)
    probabilities = {v: np.zeros((len(gold), len(ADHERENCE_LABELS))) for v in VERSIONS}
    scored = annomi_scored(sources)
    fold_of = annomi_folds(sources, n_splits) if hold_out_annomi else {}
    example_folds = np.array([fold_of.get(int(t), -1) for t in sources.annomi.group])
    scored_folds = np.array([fold_of.get(int(t), -1) for t in scored.group])
    on_annomi = {v: np.zeros((len(scored), len(ADHERENCE_LABELS))) for v in VERSIONS}
    spoken = {v: [] for v in VERSIONS}
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    for fold, (train_rows, test_rows) in enumerate(splitter.split(np.zeros(len(gold)), gold.labels)):
        train_mask = np.zeros(len(gold), dtype=bool)
        train_mask[train_rows] = True
        annomi = sources.annomi.subset(example_folds != fold)
        net = fine_tune(frozen, others + [annomi, gold.subset(train_mask)], settings)
        for version in VERSIONS:
            probabilities[version][test_rows] = predict(net, frozen, gold.subset(~train_mask), version)
            predicted = predict(net, frozen, sources.spoken_test, version).argmax(1)
            spoken[version].append(macro_f1(sources.spoken_test.labels, predicted, ADHERENCE_LABELS)[0])
            if hold_out_annomi:
                on_annomi[version][scored_folds == fold] = predict(net, frozen, scored.subset(scored_folds == fold), version)
        done = probabilities["clean"].sum(1) > 0
        logger.info("fold %d: spoken test macro-F1 %.3f; gold macro-F1 of the folds so far %.3f (clean)", fold + 1,
                    spoken["clean"][-1],
                    macro_f1(gold.labels[done], probabilities["clean"][done].argmax(1), GOLD_SCORED)[0])
    if hold_out_annomi:
        probabilities.update({f"annomi/{v}": annomi_probability_rows(sources, p) for v, p in on_annomi.items()})
    return probabilities, spoken


def spoken_test_scores(sources: Sources, coder: AdherenceCoder | None = None) -> dict:
    """The shipped (or given) coder on the held-out spoken test: macro-F1 and per-class F1 per version."""
    coder = coder or AdherenceCoder().load()
    test = sources.spoken_test
    out = {}
    for version in VERSIONS:
        texts = [FrozenStates.text_of(version, t) for t in test.texts]
        predicted = coder.predict_proba(["coach"] * len(texts), texts).argmax(1)
        out[version] = (*macro_f1(test.labels, predicted, ADHERENCE_LABELS), predicted)
    return out


def spoken_test_session(version: str = "clean") -> tuple[list[str], list[str]]:
    """The spoken test as one conversation: each coach utterance after its client turn (or "Okay.")."""
    frame = pd.read_csv(SPOKEN_TEST, keep_default_na=False)
    roles, texts = [], []
    for previous, text in zip(frame["previous_client"], frame["text"]):
        roles += ["client", "coach"]
        texts += [FrozenStates.text_of(version, previous or "Okay."), FrozenStates.text_of(version, text)]
    return roles, texts


def whole_coder_spoken_scores(sources: Sources, coder=None) -> dict[str, tuple[float, dict[str, float]]]:
    """The pipeline's coder (behaviour codes, adherence and the rule joining them; or ``coder``) on the spoken test."""
    from mifidelity.coding.trained import TrainedCoder

    coder = coder or TrainedCoder().load()
    out = {}
    for version in VERSIONS:
        roles, texts = spoken_test_session(version)
        codes = coder.code(roles, texts)
        predicted = np.array([ADHERENCE_LABELS.index(c) for c in codes[ADHERENCE_COLUMN][1::2]])
        out[version] = macro_f1(sources.spoken_test.labels, predicted, ADHERENCE_LABELS)
    return out


def measure_speed(n_sessions: int = 3) -> float:
    """Coach utterances per second of the shipped coder (one thread, warm), on the spoken test sessions."""
    roles, texts = spoken_test_session()
    coder = AdherenceCoder().load()
    coder.code(roles[:20], texts[:20])
    started = time.perf_counter()
    for _ in range(n_sessions):
        coder.code(roles, texts)
    return n_sessions * roles.count("coach") / (time.perf_counter() - started)


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple) -> pd.DataFrame:
    from sklearn.metrics import confusion_matrix

    indices = [ADHERENCE_LABELS.index(label) for label in labels]
    short = [label[:12] for label in labels]
    return pd.DataFrame(confusion_matrix(y_true, y_pred, labels=indices), index=short, columns=short)


def evaluate(forum_dir: str | Path, annomi_dir: str | Path, n_splits: int = 5, speed: bool = True,
             settings: TuningSettings = TuningSettings(), save_probabilities: str | Path | None = None) -> dict:
    """Print the cross-validated gold scores, the fold models' spoken scores and the shipped coder's.

    ``save_probabilities``: each fold also leaves out a fifth of AnnoMI's transcripts, and the
    out-of-fold probabilities are written there (``gold/<version>`` with ``gold_labels``, and
    ``clean`` / ``asr`` for every AnnoMI row, which ``training.fidelity --adherence-oof`` reads; no text).
    """
    sources = load_sources(forum_dir, annomi_dir)
    started = time.perf_counter()
    probabilities, fold_spoken = cross_validate(sources, n_splits, settings, hold_out_annomi=bool(save_probabilities))
    if save_probabilities:
        np.savez_compressed(save_probabilities, gold_labels=sources.gold.labels,
                            **{f"gold/{v}": probabilities[v] for v in VERSIONS},
                            **{v: probabilities[f"annomi/{v}"] for v in VERSIONS})
        logger.info("out-of-fold probabilities written to %s", save_probabilities)
    summary = {"settings": settings.__dict__}
    for version in VERSIONS:
        macro, per_class = macro_f1(sources.gold.labels, probabilities[version].argmax(1), GOLD_SCORED)
        summary[f"gold macro-F1 ({version})"] = round(macro, 3)
        summary[f"gold per-class F1 ({version})"] = per_class
        summary[f"spoken macro-F1, fold models ({version})"] = round(float(np.mean(fold_spoken[version])), 3)
    print(f"\n=== {n_splits}-fold cross-validation on mi-gold ({time.perf_counter() - started:.0f} s)")
    print(json.dumps(summary, indent=1))
    print(confusion_table(sources.gold.labels, probabilities["clean"].argmax(1), GOLD_SCORED).to_string())
    shipped = spoken_test_scores(sources)
    for version in VERSIONS:
        summary[f"spoken macro-F1, shipped ({version})"] = round(shipped[version][0], 3)
        print(f"shipped coder, spoken test ({version}): macro-F1 {shipped[version][0]:.3f}, per class {shipped[version][1]}")
    print(confusion_table(sources.spoken_test.labels, shipped["clean"][2], ADHERENCE_LABELS).to_string())
    for version, (macro, per_class) in whole_coder_spoken_scores(sources).items():
        summary[f"spoken macro-F1, whole coder with the rule ({version})"] = round(macro, 3)
        print(f"whole coder (behaviour + adherence + rule), spoken test ({version}): macro-F1 {macro:.3f}, {per_class}")
    if speed:
        summary["coach utterances/s"] = round(measure_speed(), 1)
        print(f"\nshipped coder speed: {summary['coach utterances/s']:.0f} coach utterances/s (one thread, warm)")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("train", "evaluate"))
    parser.add_argument("--forum", default=DEFAULT_FORUM_DIR, help="folder of mi-gold.dev.csv and counselchat-augmented.csv")
    parser.add_argument("--annomi", default=DEFAULT_ANNOMI_DIR, help="folder of AnnoMI-full.dev.csv")
    parser.add_argument("--output", default=None, help="train: the artifact to write (default: the bundled one of --seed)")
    parser.add_argument("--folds", type=int, default=5, help="gold cross-validation folds (evaluate)")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement (evaluate)")
    parser.add_argument("--save-probabilities", default=None, metavar="NPZ",
                        help="evaluate: hold out a fifth of AnnoMI's transcripts in each fold too, and write the "
                             "out-of-fold probabilities of mi-gold and of every AnnoMI coach utterance here")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the weights' initialisation and batch order")
    parser.add_argument("--tuned-layers", type=int, default=TuningSettings.tuned_layers,
                        help="how many of the encoder's top layers are fine-tuned")
    parser.add_argument("--threads", type=int, default=TuningSettings.threads)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = TuningSettings(tuned_layers=args.tuned_layers, seed=args.seed, threads=args.threads)
    if args.command == "train":
        train(args.forum, args.annomi, args.output or seed_artifact(args.seed), settings)
    else:
        evaluate(args.forum, args.annomi, args.folds, speed=not args.no_speed, settings=settings,
                 save_probabilities=args.save_probabilities)


if __name__ == "__main__":
    main()
