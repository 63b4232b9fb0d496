"""Keep the pipeline private: nothing leaves the machine at run time.

Called once before Prefect or any model library is imported. It switches off
hub look-ups and telemetry for the libraries we use; users may still opt in
to a hub for a model by setting the variables themselves beforehand.
"""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PYANNOTE_METRICS_ENABLED": "false",
}


def use_offline_environment() -> None:
    """Set the offline/no-telemetry variables that the user has not set already."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
