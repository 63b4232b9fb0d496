"""Every stage of the pipeline is its own Prefect task run (named, timed in the Prefect UI), and the flows publish
the session's artifacts; read back from Prefect's API after real flow runs on a short clip and two transcripts."""

import json

import pytest

from mifidelity.pipeline import RECORDING_STAGES, TRANSCRIPT_STAGES
from support import ROOT
from support.flows import wait_for
from support.media import SESSION1, clip

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_prefect_server")]


def task_runs(flow_run_id, expected: int) -> list:
    """The flow run's task runs, once Prefect has recorded ``expected`` of them in a final state."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    def final_runs() -> list:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        return [run for run in runs if run.state is not None and run.state.is_final()]

    wait_for(lambda: len(final_runs()) >= expected, timeout=30)
    return final_runs()


def task_name(run) -> str:
    return run.name.rsplit("-", 1)[0]  # Prefect names a task run "<task name>-<suffix>"


def test_each_stage_of_a_recording_is_a_task_run(tmp_path):
    from prefect import get_client

    from mifidelity.config import PipelineConfig
    from mifidelity_flows.process_recording import process_recording

    recording = clip(SESSION1, tmp_path / "short.mp3", 0, 20)
    config = PipelineConfig.model_validate({"coding": {"engine": "rules"},
                                            "roles": {"voice_profiles": str(tmp_path / "voices")}})
    state = process_recording(str(recording), str(tmp_path / "out"), config, coach="Robin", return_state=True)
    folder = state.result()
    runs = task_runs(state.state_details.flow_run_id, len(RECORDING_STAGES))
    assert sorted(task_name(run) for run in runs) == sorted(stage.task for stage in RECORDING_STAGES)
    assert all(run.state.is_completed() for run in runs), [(run.name, run.state.type) for run in runs]
    # The order Prefect saw is the pipeline's (transcribe and diarize start together).
    started = [task_name(run) for run in sorted(runs, key=lambda run: run.start_time)]
    assert started[:1] == ["load-audio"] and set(started[1:3]) == {"transcribe", "diarize"}
    assert started[3:] == ["align", "voices", "roles", "code", "write", "overview", "learn-voice"]
    assert json.loads((tmp_path / "out" / "short" / "session.json").read_text())["timings"].keys() == {
        "audio", "transcribe", "diarize", "transcribe + diarize", "align", "voices", "roles", "code"}
    assert folder == str(tmp_path / "out" / "short")
    with get_client(sync_client=True) as client:
        assert client.read_artifacts() and {"mi-short-summary", "mi-short-metrics"} <= {
            artifact.key for artifact in client.read_artifacts()}


def test_a_batch_of_transcripts_is_one_flow_run_with_a_task_per_transcript_and_per_stage(tmp_path):
    from mifidelity.config import PipelineConfig
    from mifidelity_flows.process_recording import code_transcripts

    truths = sorted((ROOT / "sample_audio").glob("*.truth.csv"))[:2]
    config = PipelineConfig.model_validate({"coding": {"engine": "rules"}})
    state = code_transcripts([str(t) for t in truths], str(tmp_path / "out"), config, return_state=True)
    assert [error for _, _, error in state.result()] == [None, None]
    per_transcript = [s.task for s in TRANSCRIPT_STAGES if s.task != "overview"]
    runs = task_runs(state.state_details.flow_run_id, len(truths) * (1 + len(per_transcript)) + 1)
    names = sorted(task_name(run) for run in runs)
    assert names == sorted(["code-transcript", *per_transcript] * len(truths) + ["overview"])
