"""Cached stage results (they hold transcripts) live only in the owner-only OUT/.cache.

Whichever way the flow is called (the CLI, the inbox watcher, a worker), nothing
may go to Prefect's default result storage, which other users can read.
"""

import stat

import pytest

from support.media import SESSION1, clip

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_prefect_server")]


def test_cached_results_only_in_private_folder_and_reused(tmp_path):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from mifidelity.config import PipelineConfig
    from mifidelity_flows.process_recording import process_recording

    recording = clip(SESSION1, tmp_path / "short.mp3", 0, 20)
    default_storage = tmp_path / "prefect-default-storage"
    out = tmp_path / "out"
    config = PipelineConfig.model_validate({"coding": {"engine": "rules"}})
    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: default_storage}):
        process_recording(str(recording), str(out), config, session_id="first")
        cache = out / ".cache"
        cached = sorted(p.name for p in cache.iterdir())
        assert [n.split("-")[0] for n in cached] == ["diarize", "transcribe"], cached
        assert stat.S_IMODE(cache.stat().st_mode) == 0o700
        # The cached results hold transcripts: owner-only files too, whatever the umask (issue 29).
        assert {oct(stat.S_IMODE((cache / name).stat().st_mode)) for name in cached} == {oct(0o600)}
        assert not default_storage.exists() or not any(default_storage.iterdir())

        # The same audio again: both stages come from the cache, nothing new is written.
        process_recording(str(recording), str(out), config, session_id="second")
        assert sorted(p.name for p in cache.iterdir()) == cached
    assert (out / "first" / "utterances.csv").read_text() == (out / "second" / "utterances.csv").read_text()
