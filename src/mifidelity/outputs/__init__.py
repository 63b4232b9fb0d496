"""Writing a session's folder: one file per chosen format (:mod:`mifidelity.outputs.writers`).

Files are written into a hidden temporary folder beside the destination and
renamed into place at the end, so a crash never leaves a half-written session
that looks complete. Folders are owner-only (0700) and files 0600: these are
transcripts of counselling sessions.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Sequence

from mifidelity.files import PRIVATE_DIR_MODE, private_temp_dir, write_private
from mifidelity.outputs.captions import has_times
from mifidelity.outputs.summary import session_summary, transcript_text
from mifidelity.outputs.writers import ALL_FORMATS, get_writers
from mifidelity.session import CodedSession

__all__ = ["ALL_FORMATS", "session_summary", "transcript_text", "write_session"]

logger = logging.getLogger(__name__)


def write_session(session: CodedSession, out_dir: str | Path, formats: Sequence[str] | None = None) -> Path:
    """Write one session's files into ``out_dir/<session_id>/`` atomically.

    ``formats`` chooses the files (see :mod:`mifidelity.outputs.writers`; None = all).
    Returns the session folder. An earlier output of the same session is
    replaced only once the new one is complete.
    """
    writers = get_writers(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)  # not chmod: OUT may be the user's own folder
    final = out_dir / session.session_id
    timed = has_times(session.utterances)
    staging = private_temp_dir(out_dir, prefix=f".{session.session_id}.", suffix=".partial")
    try:
        for writer in writers:
            if writer.needs_times and not timed:
                logger.info("%s: no %s, the transcript has no times", session.session_id, writer.filename)
                continue
            write_private(staging / writer.filename, writer.render(session, final))
        if final.exists():
            retired = private_temp_dir(out_dir, prefix=f".{session.session_id}.", suffix=".old")
            os.rename(final, retired / "previous")
            os.rename(staging, final)
            shutil.rmtree(retired)  # our own previous output, never an original recording
        else:
            os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
