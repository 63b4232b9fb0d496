"""`mifidelity coaches enroll|list|forget`: coach voice profiles (parse and print; see mifidelity.coach_voices).

Profiles live in ``roles.voice_profiles`` or ``OUT/.voices``, the folder that
`mifidelity process --coach NAME` and the inbox (``INBOX/<coach>/``) use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mifidelity.cli.common import fail, load_settings
from mifidelity.errors import MifidelityError
from mifidelity.privacy import use_offline_environment

coaches_app = typer.Typer(add_completion=False, no_args_is_help=True)

OUT = typer.Option(None, "--out", "-o", help="The sessions' output folder (profiles in OUT/.voices).")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config (roles.voice_profiles overrides OUT/.voices).")


def _profiles(out: Optional[Path], config: Optional[Path], settings=None):
    from mifidelity.coach_voices import VoiceProfiles

    try:
        return VoiceProfiles.for_output(out, (settings or load_settings(config)).roles)
    except MifidelityError as exc:
        fail(str(exc))


@coaches_app.command("enroll")
def enroll(
    name: str = typer.Argument(..., help="The coach's name, as in --coach NAME or INBOX/<coach>/."),
    recording: Path = typer.Argument(..., help="A recording of the coach alone (30 s or more is best)."),
    out: Optional[Path] = OUT,
    config: Optional[Path] = CONFIG,
    replace: bool = typer.Option(False, "--replace", help="Start the profile again from this clip."),
) -> None:
    """Build (or add to) a coach's voice profile from a clip of their voice."""
    use_offline_environment()
    from mifidelity.coach_voices import enroll_from_recording

    settings = load_settings(config)
    profiles = _profiles(out, config, settings)
    try:
        profile = enroll_from_recording(profiles, name, recording, settings.audio.sample_rate, settings.audio.ffmpeg,
                                        replace=replace)
    except MifidelityError as exc:
        fail(str(exc))
    print(f"{name}: voice profile from {profile.clips} clip(s) and {profile.sessions} session(s) "
          f"in {profiles.path(name)}", file=sys.stderr)


@coaches_app.command("list")
def list_coaches(out: Optional[Path] = OUT, config: Optional[Path] = CONFIG) -> None:
    """Every coach with a voice profile: sessions and clips it was built from, last update."""
    profiles = _profiles(out, config)
    try:
        found = profiles.list()
    except MifidelityError as exc:
        fail(str(exc))
    rows = [("COACH", "SESSIONS", "CLIPS", "UPDATED")] + [
        (p.name, str(p.sessions), str(p.clips), p.updated) for p in found]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    if not found:
        print(f"no voice profiles in {profiles.folder}", file=sys.stderr)


@coaches_app.command("forget")
def forget(name: str = typer.Argument(..., help="The coach whose voice profile to delete."),
           out: Optional[Path] = OUT, config: Optional[Path] = CONFIG) -> None:
    """Delete a coach's voice profile (their sessions are kept)."""
    profiles = _profiles(out, config)
    try:
        deleted = profiles.forget(name)
    except MifidelityError as exc:
        fail(str(exc))
    if not deleted:
        fail(f"no voice profile for {name} in {profiles.folder}")
    print(f"{name}: voice profile deleted", file=sys.stderr)
