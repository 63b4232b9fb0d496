"""Load on the portal, on loopback only: N concurrent logged-in users making M requests each.

Usage (from the repository root)::

    .venv/bin/python benchmarks/portal_load.py                    # 20 users x 200 requests, checks p95 < 200 ms
    .venv/bin/python benchmarks/portal_load.py --users 5 --requests 40 --no-check

It builds an output folder of sessions coded by the rules coder from the sample transcripts
(their recordings sit beside them, so the reports have audio), adds one account per user
(coaches with two sessions each, and supervisors), starts `mifidelity serve` on a free
127.0.0.1 port in its own process, logs every user in, and then has all of them make
requests at once: their own reports (60 %), the overview (20 %), a feedback form (10 %), the
first 64 kB of a recording (5 %) and sessions.csv (5 %). Every request must answer 200 (206
for the recording); the latencies are measured at the client. The server's log is checked for
transcript text. Nothing is sent anywhere but 127.0.0.1, and every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "sample_audio").glob("*.truth.csv"))
P95_TARGET_MS = 200.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_out(root: Path, coaches: int, supervisors: int, sessions_per_coach: int = 2) -> tuple[Path, dict[str, list[str]]]:
    """An output folder and the accounts: name -> the session ids it may open (supervisors: all)."""
    from mifidelity.coding.rules import RuleCoder
    from mifidelity.outputs import write_session
    from mifidelity.portal.accounts import Accounts
    from mifidelity.portal.tables import PortalStore, Role
    from mifidelity.report.overview import write_overview
    from mifidelity.session import build_session
    from mifidelity.transcript_input import read_transcript_csv

    out = root / "out"
    coder = RuleCoder()
    visible: dict[str, list[str]] = {}
    for c in range(coaches):
        coach = f"Coach {c + 1:02d}"
        visible[coach] = []
        for s in range(sessions_per_coach):
            sample = SAMPLES[(c * sessions_per_coach + s) % len(SAMPLES)]
            session_id = f"{sample.name.split('.')[0]}-{c + 1:02d}-{s + 1}"
            session = build_session(session_id=session_id, source=str(sample), utterances=read_transcript_csv(sample),
                                    coder=coder, coach=coach)
            write_session(session, out)
            visible[coach].append(session_id)
    write_overview(out)
    every = [s for ids in visible.values() for s in ids]
    store = PortalStore.for_out(out)
    accounts = Accounts(store)
    for name in visible:
        accounts.add(name, Role.COACH, password_of(name))
    for i in range(supervisors):
        name = f"supervisor-{i + 1}"
        accounts.add(name, Role.SUPERVISOR, password_of(name))
        visible[name] = every
    store.close()
    return out, visible


def password_of(name: str) -> str:
    return f"load-test-password-{name}"


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def all(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    def summary(self) -> str:
        lines = []
        for kind, values in [("all", self.all())] + sorted(self.latencies.items()):
            lines.append(f"{kind:<10} n={len(values):5d}  p50 {percentile(values, 50):6.1f} ms  "
                         f"p95 {percentile(values, 95):6.1f} ms  max {max(values) * 1000:6.1f} ms")
        total = len(self.all())
        lines.append(f"{total} requests in {self.wall_seconds:.1f} s ({total / self.wall_seconds:.0f}/s), "
                     f"{len(self.errors)} errors")
        return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))] * 1000


class Connection:
    """A minimal HTTP/1.1 keep-alive client on one loopback socket (a browser tab's connection).

    Lighter than a full client library, so that the client, which shares the machine with the
    server here, takes as little of the CPU as it can."""

    def __init__(self, host: str, port: int, cookie: str):
        self.host, self.port, self.cookie = host, port, cookie
        self.reader = self.writer = None

    async def get(self, path: str, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Cookie: {self.cookie}",
                 *[f"{k}: {v}" for k, v in headers.items()], "", ""]
        self.writer.write("\r\n".join(lines).encode("latin-1"))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in
                  (line.decode("latin-1").partition(":") for line in head.split(b"\r\n")[1:] if line)}
        if "content-length" in fields:
            await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if fields.get("connection") == "close":
            self.writer.close()
            self.reader = self.writer = None
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _user(base: str, name: str, sessions: list[str], requests: int, result: LoadResult, seed: int,
                start: asyncio.Event, ready: asyncio.Semaphore) -> None:
    import httpx

    rng = random.Random(seed)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30.0, follow_redirects=False) as client:
            page = await client.get("/login")
            response = await client.post("/login", data={"username": name, "password": password_of(name),
                                                         "csrf_token": CSRF.search(page.text).group(1)})
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    finally:
        ready.release()
    if response.status_code != 303:
        result.errors.append(f"{name}: login answered {response.status_code}")
        return
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = Connection(host, int(port), cookie)
    await start.wait()
    for _ in range(requests):
        draw, session = rng.random(), rng.choice(sessions)
        if draw < 0.60:
            kind, path, headers, want = "report", f"/sessions/{session}/", {}, 200
        elif draw < 0.80:
            kind, path, headers, want = "overview", "/", {}, 200
        elif draw < 0.90:
            kind, path, headers, want = "feedback", f"/sessions/{session}/utterances/{rng.randrange(20)}/feedback", {}, 200
        elif draw < 0.95:
            kind, path, headers, want = "recording", f"/sessions/{session}/recording", {"Range": "bytes=0-65535"}, 206
        else:
            kind, path, headers, want = "csv", "/sessions.csv", {}, 200
        began = time.perf_counter()
        try:
            status = await asyncio.wait_for(connection.get(path, headers), timeout=30)
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            result.errors.append(f"{name} {path}: {type(exc).__name__}")
            connection.close()
            connection = Connection(host, int(port), cookie)
            continue
        result.latencies.setdefault(kind, []).append(time.perf_counter() - began)
        if status != want:
            result.errors.append(f"{name} {path}: {status}")
    connection.close()


async def run_load(base: str, visible: dict[str, list[str]], requests: int, seed: int = 17) -> LoadResult:
    """Log every user in, then let them all make ``requests`` requests at once."""
    result = LoadResult()
    start = asyncio.Event()
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(_user(base, name, sessions, requests, result, seed + i, start, ready))
             for i, (name, sessions) in enumerate(visible.items())]
    for _ in tasks:  # the clock starts once every login finished (logins are scrypt-slow by design, not the load)
        await ready.acquire()
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    result.wall_seconds = time.perf_counter() - began
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(out: Path, port: int, log: Path) -> subprocess.Popen:
    """`mifidelity serve` in its own process; returns once it answers."""
    import httpx

    handle = log.open("w")
    process = subprocess.Popen([sys.executable, "-m", "mifidelity.cli", "serve", str(out), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    process.terminate()
    raise RuntimeError(f"the portal did not start; see {log}")


def transcript_lines_in(log_text: str) -> list[str]:
    """Transcript sentences of the sample sessions that appear in a log (there must be none)."""
    import csv

    found = []
    for sample in SAMPLES:
        with sample.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                text = (row.get("text") or "").strip()
                if len(text) > 20 and text in log_text:
                    found.append(text)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent users (default 20: 16 coaches, 4 supervisors)")
    parser.add_argument("--requests", type=int, default=200, help="requests per user (default 200)")
    parser.add_argument("--no-check", action="store_true", help=f"do not fail when p95 >= {P95_TARGET_MS:.0f} ms")
    parser.add_argument("--keep", type=Path, help="build the output folder here and keep it")
    args = parser.parse_args(argv)
    supervisors = max(1, args.users // 5)
    root = args.keep or Path(tempfile.mkdtemp(prefix="portal-load-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out, visible = build_out(root, args.users - supervisors, supervisors)
    print(f"built {sum(len(v) for n, v in visible.items() if n.startswith('Coach'))} sessions and {len(visible)} accounts "
          f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    port = free_port()
    log = root / "serve.log"
    process = serve(out, port, log)
    try:
        result = asyncio.run(run_load(f"http://127.0.0.1:{port}", visible, args.requests))
    finally:
        process.terminate()
        process.wait(timeout=30)
    leaked = transcript_lines_in(log.read_text(errors="replace"))
    print(f"{len(visible)} users x {args.requests} requests, mifidelity serve on 127.0.0.1 ({os.cpu_count()} CPUs)")
    print(result.summary())
    print(f"transcript sentences in the server log: {len(leaked)}")
    for error in result.errors[:10]:
        print(f"error: {error}", file=sys.stderr)
    p95 = percentile(result.all(), 95)
    ok = not result.errors and not leaked and (args.no_check or p95 < P95_TARGET_MS)
    if not ok:
        print(f"FAILED: errors {len(result.errors)}, p95 {p95:.1f} ms (target < {P95_TARGET_MS:.0f} ms)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
