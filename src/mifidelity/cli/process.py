"""`mifidelity process` (recordings) and `mifidelity code` (existing transcripts): parse, run the flow, print."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from mifidelity.cli.common import (batch_progress, fail, load_settings, quiet_prefect, report_batch, report_outcome,
                                   run_each, without_flow_heartbeats)
from mifidelity.engines import engine_names
from mifidelity.privacy import use_offline_environment


def engine_choice(kind: str) -> type[Enum]:
    """The engine names of ``kind`` (mifidelity.engines) as the choices of a command-line option."""
    return Enum(f"{kind.title()}Engine", {name: name for name in engine_names(kind)}, type=str)


AsrEngine = engine_choice("asr")
DiarizerEngine = engine_choice("diarization")


# Options process and code share.
OUT = typer.Option(..., "--out", "-o", help="Folder for the session outputs.")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml).")
COACH = typer.Option(None, "--coach", help="Coach's name for the report header.")
FORMATS = typer.Option(None, "--formats", help="Files per session, comma-separated: json,csv,txt,html,rttm,vtt,srt "
                                                "or all (default: config outputs.formats, all of them).")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Show Prefect's own logs.")


def with_formats(settings, formats: str | None):
    """The settings with ``--formats`` applied (unknown names are a one-line error)."""
    if formats is None:
        return settings
    from mifidelity.errors import MifidelityError
    from mifidelity.outputs.writers import parse_formats

    try:
        chosen = parse_formats(formats)
    except MifidelityError as error:
        fail(str(error))
    return settings.model_copy(update={"outputs": settings.outputs.model_copy(update={"formats": chosen})})


def process(
    inputs: List[Path] = typer.Argument(..., help="Recordings, or folders of recordings."),
    out: Path = OUT,
    config: Optional[Path] = CONFIG,
    coach: Optional[str] = COACH,
    asr_engine: Optional[AsrEngine] = typer.Option(None, "--asr-engine", help="Speech recogniser (default: config asr.engine)."),
    diarizer: Optional[DiarizerEngine] = typer.Option(None, "--diarizer", help="Diariser (default: config diarization.engine)."),
    formats: Optional[str] = FORMATS,
    verbose: bool = VERBOSE,
) -> None:
    """Transcribe, diarise, code and score recordings."""
    use_offline_environment()
    settings = with_formats(load_settings(config), formats)
    if asr_engine:
        settings = settings.model_copy(update={"asr": settings.asr.model_copy(update={"engine": asr_engine.value})})
    if diarizer:
        settings = settings.model_copy(
            update={"diarization": settings.diarization.model_copy(update={"engine": diarizer.value})})
    from mifidelity.audio import find_recordings

    recordings = find_recordings(inputs)
    if not recordings:
        fail("no recordings found in the given paths")
    from mifidelity_flows.process_recording import process_recording, warm_start

    quiet_prefect(verbose)
    warm_start(settings)
    from mifidelity.pipeline.lanes import recording_lanes, recording_minutes

    with without_flow_heartbeats():
        status = run_each(
            recordings,
            lambda path, progress: process_recording(str(path), str(out), settings, coach, progress),
            out,
            lanes=recording_lanes(settings) if len(recordings) > 1 else 1,
            minutes=lambda path: recording_minutes(path, settings),
        )
    raise typer.Exit(status)


def code(
    inputs: List[Path] = typer.Argument(..., help="Transcript CSVs with columns role and text (optional start, end), "
                                                  "or folders of them."),
    out: Path = OUT,
    config: Optional[Path] = CONFIG,
    coach: Optional[str] = COACH,
    formats: Optional[str] = FORMATS,
    verbose: bool = VERBOSE,
) -> None:
    """Code existing transcripts and score them."""
    use_offline_environment()
    settings = with_formats(load_settings(config), formats)
    from mifidelity.transcript_input import find_transcripts
    from mifidelity_flows.process_recording import code_transcripts, warm_start

    paths = find_transcripts(inputs)
    if not paths:
        fail("no transcripts (.csv) found in the given paths")
    quiet_prefect(verbose)
    warm_start(settings, transcript_only=True)
    # One flow run for the whole batch: per transcript only its task and its files.
    with without_flow_heartbeats():
        outcomes = code_transcripts([str(p) for p in paths], str(out), settings, coach, batch_progress(paths))
    for path, folder, error in outcomes:
        report_outcome(path, folder, error)
    raise typer.Exit(report_batch(len(outcomes), sum(error is not None for _, _, error in outcomes), out))
