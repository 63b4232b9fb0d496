"""`mifidelity models ...`: which engines and models this machine has, and converting Whisper models.

``models list`` shows every engine and every model name it knows (for Whisper: tiny.en up
to large-v3, per engine), whether it is on this machine, and where (bundled package, cache
path), or, if it is missing, where to put it: :mod:`mifidelity.model_inventory`. It reads
no weights. ``models convert`` turns a CTranslate2 Whisper model (a folder, the bundled
``tiny.en`` / ``base``, or a name in faster-whisper's cache) into an openai-whisper
checkpoint so ``asr.engine: openai-whisper`` runs offline.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mifidelity.cli.common import fail, load_settings
from mifidelity.model_inventory import ModelEntry, model_inventory

models_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="List the engines and models on this machine; convert Whisper models.")


def format_table(entries: list[ModelEntry]) -> str:
    """A plain-text table (no colour, so it can be piped or pasted)."""
    header = ("STAGE", "ENGINE", "MODEL", "AVAILABLE", "WHERE FROM / HOW TO GET IT")
    rows = [header] + [(e.stage, e.engine, e.model, "yes" if e.available else "no", e.source) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows)


@models_app.command("list")
def list_models(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
) -> None:
    """Every engine and model name, whether it is on this machine, and where (or where to put it)."""
    print(format_table(model_inventory(load_settings(config))))


@models_app.command("convert")
def convert(
    src: str = typer.Argument(..., help="A CTranslate2 Whisper folder, or a model name with a CTranslate2 copy here: "
                           "bundled tiny.en or base, or one in faster-whisper's cache (e.g. small.en)."),
    dest: Optional[Path] = typer.Argument(
        None, help="The openai-whisper checkpoint to write (.pt); default: the mifidelity model cache."),
) -> None:
    """Convert a CTranslate2 Whisper model into an openai-whisper checkpoint (for asr.engine: openai-whisper)."""
    from mifidelity.errors import MifidelityError
    from mifidelity.transcription.openai_whisper_engine import convert_to_checkpoint

    try:
        name, written = convert_to_checkpoint(src, dest)
    except MifidelityError as exc:
        fail(str(exc))
    print(f"wrote {written}", file=sys.stderr)
    model = name if dest is None else written.resolve()
    print(f"use it with: asr.engine: openai-whisper and asr.model: {model}", file=sys.stderr)
