"""The `watch-inbox` flow in this process: retries, attempts, renamed and replaced recordings, no network."""

import ipaddress
import json
import socket

import pytest

from support.flows import FAST_CONFIG, run_flow_once
from support.media import SESSION1, SESSION2, clip

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_prefect_server")]


def _ledger(out):
    from mifidelity.service.ledger import Ledger, default_database_url

    return Ledger(default_database_url(out))


def test_same_name_new_content_is_a_new_session_and_renamed_copy_is_not(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    (inbox / "ana").mkdir(parents=True)
    clip(SESSION1, inbox / "ana" / "weekly.mp3", 0, 6)
    first = run_flow_once(inbox, out)
    assert first["processed"] == ["ana/weekly.mp3"]
    clip(SESSION2, inbox / "ana" / "weekly.mp3", 0, 6)  # same name, new content
    (inbox / "ana" / "renamed.mp3").write_bytes((inbox / "archive" / "ana" / "weekly.mp3").read_bytes())
    second = run_flow_once(inbox, out)
    assert second["processed"] == ["ana/weekly.mp3"] and second["duplicates"] == ["ana/renamed.mp3"]
    ids = sorted(json.loads(p.read_text())["session_id"] for p in out.glob("*/session.json"))
    assert len(ids) == 2 and ids[0] == "weekly" and ids[1].startswith("weekly-")
    assert (inbox / "archive" / "ana" / "weekly.mp3").exists() and (inbox / "archive" / "ana" / "weekly (2).mp3").exists()
    assert "already processed" in (inbox / "archive" / "ana" / "renamed.mp3.duplicate.txt").read_text()
    rows = _ledger(out).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"done"}


def test_transient_error_is_retried_by_prefect(tmp_path, monkeypatch):
    import mifidelity_flows.watch_inbox as module

    calls = []
    real = module.check_complete

    def flaky(path, ffmpeg="ffmpeg"):
        calls.append(path)
        if len(calls) == 1:
            raise OSError("disk briefly unavailable")
        return real(path, ffmpeg)

    monkeypatch.setattr(module, "check_complete", flaky)
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    clip(SESSION1, inbox / "a.mp3", 10, 5)
    report = run_flow_once(inbox, out)
    assert report["processed"] == ["a.mp3"] and len(calls) == 2
    [row] = _ledger(out).all()
    assert (row.status, row.attempts) == ("done", 2)


def test_persistent_unexpected_error_goes_to_failed_after_max_attempts(tmp_path, monkeypatch):
    import mifidelity_flows.watch_inbox as module

    def broken(path, ffmpeg="ffmpeg"):
        raise RuntimeError("out of file handles")

    monkeypatch.setattr(module, "check_complete", broken)
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    original = clip(SESSION1, inbox / "b.mp3", 20, 5).read_bytes()
    report = run_flow_once(inbox, out)  # FAST_CONFIG: max_attempts 2, one immediate Prefect retry
    assert report["failed"] == ["b.mp3"]
    [row] = _ledger(out).all()
    assert (row.status, row.attempts) == ("failed", 2)
    note = (inbox / "failed" / "b.mp3.error.txt").read_text()
    assert "failed 2 times" in note and "RuntimeError" in note and "What to do:" in note
    assert (inbox / "failed" / "b.mp3").read_bytes() == original


def test_no_network_at_run_time(tmp_path, monkeypatch):
    """Sockets to anything but this machine are blocked; the recording still goes through the pipeline.

    Loopback stays open: Prefect's local mode talks to its own server on 127.0.0.1.
    """
    attempts = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def _local(host) -> bool:
        if host in ("localhost", None) or str(host).startswith("/"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family != socket.AF_UNIX and not _local(host):
            attempts.append(address)
            raise OSError("network blocked by test")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _local(host):
            attempts.append(host)
            raise socket.gaierror("network blocked by test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    clip(SESSION2, inbox / "offline.ogg", 30, 12)
    report = run_flow_once(inbox, out, FAST_CONFIG + "cache: {enabled: false}\n")
    assert report["processed"] == ["offline.ogg"], report
    assert attempts == []
    assert (out / "offline" / "report.html").stat().st_mode & 0o077 == 0
    assert (out / "offline").stat().st_mode & 0o777 == 0o700
