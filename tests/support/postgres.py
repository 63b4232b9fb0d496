"""Throwaway PostgreSQL clusters for tests: where initdb is, and running its tools as the database user.

As root the tools run as the `postgres` system user, as PostgreSQL requires.
"""

import glob
import os
import subprocess

INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def as_db_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kwargs)


def cluster_folders(prefix: str):
    """A fresh folder for a throwaway cluster: ``(bin_dir, base, data, sockets)``, owned by the database user.

    Skips the test when PostgreSQL is not installed.
    """
    import shutil
    import tempfile
    from pathlib import Path

    import pytest

    if not INITDB:
        pytest.skip("PostgreSQL is not installed (scripts/install-system-packages.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    base.chmod(0o755)
    data, sockets = base / "data", base / "sockets"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        shutil.chown(sockets, "postgres")
    return Path(INITDB[-1]).parent, base, data, sockets
