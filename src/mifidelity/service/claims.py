"""Keeping claims alive: a background thread renews the heartbeat of every recording a run is processing.

A claim whose heartbeat stops (the process or its machine died) is taken back
by the next scan anywhere (:meth:`~mifidelity.service.ledger.Ledger.recover_abandoned`),
within ``inbox.stale_after_minutes``. A live worker keeps its claim however long
the recording takes, because it keeps renewing it. The renewals run in a thread
of their own, so a busy main loop (hashing a new drop, polling) never delays them.
"""

from __future__ import annotations

import logging
import threading

from mifidelity.service.ledger import Ledger


class ClaimKeeper:
    """Renews ``owner``'s claims in ``ledger`` every ``interval`` seconds until :meth:`stop`.

    Parameters
    ----------
    ledger:
        The ledger holding the claims (its engine is shared with the run; SQLAlchemy engines are thread-safe).
    owner:
        Who holds the claims (``host:pid``, :func:`~mifidelity.service.ledger.worker_id`).
    interval:
        Seconds between two renewals (``inbox.heartbeat_seconds``).
    """

    def __init__(self, ledger: Ledger, owner: str, interval: float,
                 logger: logging.Logger | logging.LoggerAdapter | None = None) -> None:
        self.ledger, self.owner, self.interval = ledger, owner, interval
        self.log = logger or logging.getLogger(__name__)
        self.lost: set[str] = set()  # claims taken back while we held them (we looked dead)
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="mifidelity-claim-heartbeat",
                                        daemon=True)

    def __enter__(self) -> ClaimKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def add(self, sha256: str) -> None:
        with self._lock:
            self._held.add(sha256)

    def discard(self, sha256: str) -> None:
        with self._lock:
            self._held.discard(sha256)

    def held(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def renew(self) -> None:
        """One renewal of every held claim; notes the ones another scan took back."""
        hashes = self.held()
        if not hashes:
            return
        try:
            still = self.ledger.heartbeat(sorted(hashes), self.owner)
        except Exception as exc:  # noqa: BLE001 - a database hiccup: try again at the next beat
            self.log.warning("could not renew the claims on %d recording(s): %s", len(hashes), type(exc).__name__)
            return
        for sha in hashes - still:
            if sha in self.held() and sha not in self.lost:
                self.lost.add(sha)
                self.log.warning("the claim on %s was taken back (this worker looked dead); its outcome is left "
                                 "to the worker that has it now", sha[:12])

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _renew_until_stopped(self) -> None:
        while not self._stopping.wait(self.interval):
            self.renew()
