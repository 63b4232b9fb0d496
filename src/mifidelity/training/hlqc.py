"""The second collection of rated sessions: HLQC (high- and low-quality counselling, Pérez-Rosas et al., ACL 2019).

Only the training and evaluation scripts use this module. The collection stays outside the
repository (``../shared/data/hlqc`` by default; no licence stated by its sources, cite the
paper). Each session is a transcript in ``mifidelity code``'s input format (``role``, ``text``),
ASR-style (lower case, no punctuation, long turns), labelled high or low quality by the
collection's authors. 41 sessions are the same video as an AnnoMI transcript, written down by
another transcriber: :func:`load_hlqc` gives them that transcript's id as their ``group`` so that
cross-validation keeps each pair in one fold.

:func:`coded_hlqc` codes every session exactly as ``mifidelity code`` does (same reader, same
coder, same table), once per coder artifact: the result is cached outside the repository.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd

from mifidelity.files import private_dir

logger = logging.getLogger(__name__)

DEFAULT_HLQC_DIR = "../shared/data/hlqc"
DEFAULT_CACHE = "/tmp/mifidelity-hlqc-cache"
# HLQC groups are offset so that they never collide with an AnnoMI transcript id (0-132).
GROUP_OFFSET = 10_000


def load_hlqc(data_dir: str | Path = DEFAULT_HLQC_DIR) -> pd.DataFrame:
    """One row per session: ``session``, ``high`` (bool), ``group`` (int), ``annomi_transcript`` (int or -1), ``path``."""
    data_dir = Path(data_dir)
    labels_path = data_dir / "labels.csv"
    if not labels_path.exists():
        raise FileNotFoundError(f"HLQC not found: {labels_path} (pass --hlqc with the collection's folder)")
    labels = pd.read_csv(labels_path, dtype=str, keep_default_na=False)
    bad = set(labels["quality"]) - {"high", "low"}
    if bad:
        raise ValueError(f"{labels_path}: unknown quality label(s) {sorted(bad)}")
    rows = []
    for number, row in enumerate(labels.itertuples(index=False)):
        path = data_dir / "transcripts" / f"{row.session}.csv"
        if not path.exists():
            raise FileNotFoundError(f"HLQC transcript missing: {path}")
        twin = int(float(row.same_video_as_annomi_transcript)) if str(row.same_video_as_annomi_transcript).strip() else -1
        rows.append({"session": row.session, "high": row.quality == "high",
                     "group": twin if twin >= 0 else GROUP_OFFSET + number, "annomi_transcript": twin,
                     "path": str(path)})
    return pd.DataFrame(rows)


def _cache_path(sessions: pd.DataFrame, coder_name: str, cache_dir: str | Path) -> Path:
    digest = hashlib.sha256(coder_name.encode())
    for path in sessions["path"]:
        digest.update(Path(path).read_bytes())
    return Path(cache_dir) / f"hlqc-coded-{digest.hexdigest()[:16]}.csv.gz"


def code_transcript(path: str | Path, coder) -> pd.DataFrame:
    """One session's coded-utterance table, as ``mifidelity code`` makes it from a transcript file."""
    from mifidelity.session import code_utterances, utterances_frame
    from mifidelity.transcript_input import read_transcript_csv

    return code_utterances(utterances_frame(read_transcript_csv(path)), coder)


def coded_hlqc(data_dir: str | Path = DEFAULT_HLQC_DIR, cache_dir: str | Path | None = DEFAULT_CACHE,
               coder=None) -> dict[str, pd.DataFrame]:
    """Session -> its coded-utterance table, as ``mifidelity code`` makes it (the shipped coder by default)."""
    from mifidelity.coding.trained import TrainedCoder

    sessions = load_hlqc(data_dir)
    coder = coder or TrainedCoder()
    coder.load()
    cache = _cache_path(sessions, f"{coder.info.model}|{coder.info.version}", cache_dir) if cache_dir else None
    if cache is not None and cache.exists():
        table = pd.read_csv(cache, keep_default_na=False, na_values=[""])
        return {name: part.drop(columns="session").reset_index(drop=True)
                for name, part in table.groupby("session", sort=False)}
    out = {}
    for i, (name, path) in enumerate(zip(sessions["session"], sessions["path"])):
        out[name] = code_transcript(path, coder)
        if (i + 1) % 20 == 0:
            logger.info("coded %d of %d HLQC sessions", i + 1, len(sessions))
    if cache is not None:
        private_dir(cache.parent)
        pd.concat([t.assign(session=n) for n, t in out.items()], ignore_index=True).to_csv(cache, index=False)
    return out


class TwinsOutOfFold:
    """HLQC's sessions that are the same video as an AnnoMI transcript, coded out of fold (an ``on_fold`` hook
    of :func:`mifidelity.training.evaluate.cross_validate`).

    Each twin is coded as ``mifidelity code`` codes a transcript, by the fold model that never saw its AnnoMI
    transcript; against the experts' codes of that transcript, this says how the session metrics and their
    intervals hold on another transcriber's ASR-style text (long turns, no punctuation) of the same sessions.
    """

    def __init__(self, data: pd.DataFrame, hlqc_dir: str | Path, coders):
        """``coders(fold, model)``: the fold's model as a coder (:class:`~mifidelity.training.train.FoldCoder`)."""
        sessions = load_hlqc(hlqc_dir)
        self.twins = sessions[sessions["annomi_transcript"] >= 0]
        self.transcript_ids, self.coders = data["transcript_id"].to_numpy(), coders
        self.coded: dict[str, pd.DataFrame] = {}

    def __call__(self, fold: int, model, test_index) -> None:
        due = self.twins[self.twins["annomi_transcript"].isin(set(self.transcript_ids[test_index]))]
        if due.empty:
            return
        coder = self.coders(fold, model)
        for row in due.itertuples(index=False):
            self.coded[row.session] = code_transcript(row.path, coder).assign(annomi_transcript=row.annomi_transcript)

    def save(self, path: str | Path) -> None:
        """Codes and probabilities of every twin, one row per utterance, **without the text**."""
        if len(self.coded) != len(self.twins):
            raise RuntimeError(f"{len(self.twins) - len(self.coded)} HLQC twins were never coded out of fold")
        table = pd.concat([t.drop(columns="text").assign(session=name) for name, t in self.coded.items()],
                          ignore_index=True)
        table.to_csv(path, index=False)
        logger.info("out-of-fold codes of %d HLQC twin sessions written to %s", len(self.coded), path)
