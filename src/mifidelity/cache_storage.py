"""Owner-only storage for the cached stage results (they hold transcripts): a Prefect LocalFileSystem that writes 0600.

Prefect's :class:`~prefect.filesystems.LocalFileSystem` writes each result with
the process umask (0644 on most systems) and makes folders the same way, so a
transcript inside the 0700 ``OUT/.cache`` would be readable by anyone who can
reach it otherwise (a copied folder, a backup, a group-writable parent).
:class:`PrivateLocalFileSystem` writes every file through
:func:`mifidelity.files.write_private_atomic` (0600, never half-written) and every
folder 0700, following :mod:`mifidelity.files`, the one home for file modes.
"""

from __future__ import annotations

from pathlib import Path

from prefect.filesystems import LocalFileSystem
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.utilities.asyncutils import run_sync_in_worker_thread

from mifidelity.files import private_dir, write_private_atomic


class PrivateLocalFileSystem(LocalFileSystem):
    """A local folder for Prefect results whose files are 0600 and folders 0700."""

    _block_type_name = "mifidelity private local file system"

    def _write_private(self, path: str, content: bytes) -> str:
        target: Path = self._resolve_path(path)
        if target.exists() and not target.is_file():
            raise ValueError(f"Path {target} already exists and is not a file.")
        private_dir(target.parent)  # the cache folder itself, or a folder in it (Prefect keys are flat)
        write_private_atomic(target, content)
        return str(target)

    async def awrite_path(self, path: str, content: bytes) -> str:
        return await run_sync_in_worker_thread(self._write_private, path, content)

    @async_dispatch(awrite_path)
    def write_path(self, path: str, content: bytes) -> str:
        return self._write_private(path, content)
