"""CLI batches run their flows without Prefect's flow-run heartbeat thread (issue 26: up to 1 s a run)."""

import pytest
from prefect.settings import get_current_settings

from mifidelity.cli.common import without_flow_heartbeats


def test_the_heartbeat_is_off_inside_the_block_and_back_after_it():
    before = get_current_settings().flows.heartbeat_frequency
    assert before is not None  # Prefect's default sends them
    with without_flow_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == before


@pytest.mark.slow
@pytest.mark.usefixtures("one_prefect_server")
def test_a_flow_run_inside_the_block_sees_no_heartbeat_and_one_outside_does():
    from prefect import flow

    @flow(name="heartbeat-probe", persist_result=False)
    def probe() -> int | None:
        return get_current_settings().flows.heartbeat_frequency  # what the flow engine reads

    with without_flow_heartbeats():
        assert probe() is None
    outside = probe()
    assert outside is not None and outside == get_current_settings().flows.heartbeat_frequency
