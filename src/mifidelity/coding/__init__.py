"""Utterance coding (MITI 4.2.1 behaviour codes): the trained coder and a keyword fallback.

Production code only; how the trained coders and the session-fidelity model are fitted
and cross-validated lives in :mod:`mifidelity.training`.
"""

from __future__ import annotations

from mifidelity.coding.base import UtteranceCoder
from mifidelity.config import CodingConfig


def get_coder(config: CodingConfig) -> UtteranceCoder:
    """Build the coder named by ``config.engine``.

    Parameters
    ----------
    config:
        The ``coding`` section: ``engine`` is ``"trained"`` (all-MiniLM-L6-v2, top layers
        fine-tuned on AnnoMI with context) or ``"rules"`` (keyword heuristics, no
        dependencies); ``model_path`` is the trained-coder artifact (``None`` = the bundled
        one; ignored by ``"rules"``).
    """
    if config.engine == "trained":
        from mifidelity.coding.trained import TrainedCoder

        return TrainedCoder(config.model_path)
    if config.engine == "rules":
        from mifidelity.coding.rules import RuleCoder

        return RuleCoder()
    raise ValueError(f"unknown coding engine {config.engine!r} (expected 'trained' or 'rules')")


__all__ = ["UtteranceCoder", "get_coder"]
