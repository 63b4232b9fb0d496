"""Utterance coding (MITI 4.2.1 behaviour codes): the trained coder and a keyword fallback.

Production code only; how the trained coders and the session-fidelity model are fitted
and cross-validated lives in :mod:`mifidelity.training`.
"""

from __future__ import annotations

from mifidelity.coding.base import UtteranceCoder
from mifidelity.config import CodingConfig
from mifidelity.engines import load_engine


def get_coder(config: CodingConfig) -> UtteranceCoder:
    """Build the coder named by ``config.engine`` (its class: :data:`mifidelity.engines.CODERS`).

    Parameters
    ----------
    config:
        The ``coding`` section: ``engine`` is ``"trained"`` (all-MiniLM-L6-v2, top layers
        fine-tuned on AnnoMI with context) or ``"rules"`` (keyword heuristics, no
        dependencies); ``model_path`` is the trained-coder artifact (``None`` = the bundled
        one; ignored by ``"rules"``).
    """
    return load_engine("coding", config.engine).from_config(config)


__all__ = ["UtteranceCoder", "get_coder"]
