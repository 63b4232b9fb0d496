"""Cached stage results hold transcripts: the storage that keeps them writes owner-only files and folders."""

import asyncio
import os
import stat

from prefect.filesystems import LocalFileSystem

from mifidelity.cache_storage import PrivateLocalFileSystem


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_results_are_written_owner_only(tmp_path):
    os.umask(0o022)  # the usual umask, under which Prefect's own LocalFileSystem writes 0644
    cache = tmp_path / ".cache"
    cache.mkdir(mode=0o700)
    LocalFileSystem(basepath=str(cache)).write_path("prefect-default", b"x")
    assert _mode(cache / "prefect-default") == 0o644  # what issue 29 found

    storage = PrivateLocalFileSystem(basepath=str(cache))
    storage.write_path("transcribe-abc", b"a transcript")
    asyncio.run(storage.awrite_path("diarize-abc", b"turns"))  # the way Prefect's result store calls it
    storage.write_path("nested/folder/result", b"r")
    assert (cache / "transcribe-abc").read_bytes() == b"a transcript" and (cache / "diarize-abc").read_bytes() == b"turns"
    assert {_mode(cache / n) for n in ("transcribe-abc", "diarize-abc", "nested/folder/result")} == {0o600}
    assert _mode(cache / "nested" / "folder") == 0o700
    storage.write_path("transcribe-abc", b"replaced")  # a result written again stays private
    assert (cache / "transcribe-abc").read_bytes() == b"replaced" and _mode(cache / "transcribe-abc") == 0o600
    assert storage.read_path("transcribe-abc") == b"replaced"
    assert sorted(p.name for p in cache.iterdir()) == ["diarize-abc", "nested", "prefect-default", "transcribe-abc"]
