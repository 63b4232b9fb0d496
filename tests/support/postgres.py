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
