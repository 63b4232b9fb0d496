"""Running the inbox flow in tests: a fast config, one in-process run, waiting for a condition."""

import time
from pathlib import Path

import pytest

FAST_CONFIG = """\
coding: {engine: rules}
inbox:
  stable_seconds: 0
  interval: 2
  retry_delays: [0]
  max_attempts: 2
"""


def wait_for(predicate, timeout: float, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def run_flow_once(inbox: Path, out: Path, config_text: str = FAST_CONFIG) -> dict:
    """One `watch-inbox` run in this process (Prefect's ephemeral mode)."""
    from mifidelity.config import PipelineConfig
    import yaml

    from mifidelity_flows.watch_inbox import watch_inbox

    return watch_inbox(str(inbox), str(out), config=PipelineConfig.model_validate(yaml.safe_load(config_text)))


def require_working_scheduler():
    import sqlalchemy

    major, minor = (int(x) for x in sqlalchemy.__version__.split(".")[:2])
    if (major, minor) >= (2, 1):
        pytest.fail("Prefect 3.8.8's scheduler cannot create scheduled runs with SQLAlchemy "
                    f"{sqlalchemy.__version__}; install sqlalchemy>=2.0,<2.1 (see docs/deploy.md)")
