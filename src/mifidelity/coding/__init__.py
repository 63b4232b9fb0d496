"""Utterance coding (MITI 4.2.1 behaviour codes): the trained coder and a keyword fallback."""

from __future__ import annotations

from mifidelity.coding.base import UtteranceCoder


def get_coder(engine: str = "trained", model_path: str | None = None) -> UtteranceCoder:
    """Build a coder.

    Parameters
    ----------
    engine:
        ``"trained"`` (all-MiniLM-L6-v2, top layers fine-tuned on AnnoMI with context) or
        ``"rules"`` (keyword heuristics, no dependencies).
    model_path:
        Trained-coder artifact; ``None`` = the bundled one. Ignored by ``"rules"``.
    """
    if engine == "trained":
        from mifidelity.coding.trained import TrainedCoder

        return TrainedCoder(model_path)
    if engine == "rules":
        from mifidelity.coding.rules import RuleCoder

        return RuleCoder()
    raise ValueError(f"unknown coding engine {engine!r} (expected 'trained' or 'rules')")


__all__ = ["UtteranceCoder", "get_coder"]
