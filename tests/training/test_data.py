"""AnnoMI loading for training (needs the corpus beside the repository; skipped without it)."""

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "../shared/data/annomi/AnnoMI-full.dev.csv"


@pytest.mark.skipif(not CORPUS.exists(), reason="AnnoMI corpus not available")
@pytest.mark.slow
def test_corpus_labels_load():
    from mifidelity.coding.training.data import load_annomi

    data = load_annomi(CORPUS.parent)
    assert data["transcript_id"].nunique() == 103
    assert set(data.loc[data["role"] == "coach", "question"]) == {"none", "open", "closed"}
    assert data.loc[data["role"] == "client", "main_behaviour"].isna().all()
