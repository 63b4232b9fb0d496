"""AnnoMI loading for training (needs the corpus beside the repository; skipped without it)."""

import pytest

from support import ROOT

CORPUS = ROOT.parent / "shared/data/annomi/AnnoMI-full.dev.csv"


@pytest.mark.skipif(not CORPUS.exists(), reason="AnnoMI corpus not available")
@pytest.mark.slow
def test_corpus_labels_load():
    from mifidelity.training.data import load_annomi

    data = load_annomi(CORPUS.parent)
    assert data["transcript_id"].nunique() == 103
    assert set(data.loc[data["role"] == "coach", "question"]) == {"none", "open", "closed"}
    assert data.loc[data["role"] == "client", "main_behaviour"].isna().all()
