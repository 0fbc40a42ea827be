"""A write load against a live server, and the ledger that proves nothing acknowledged was lost.

Each writer thread owns the rows it creates (tagged ``w<writer>`` / ``<round>-<n>``), so the
expected final state of every row is known: creates (one row or a batch of three), patches
and deletes of its own rows. A request that got no answer (the server was killed) or a non-2xx
answer has an unknown outcome: its rows may or may not be there, but a batch is all or
nothing and no other row may change. ``Ledger.verify`` compares that with the database.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

Row = dict[str, Any]


def figures(name: str, **values: Any) -> None:
    """One line of measured figures for the closing note (shown with ``pytest -s``)."""
    print(f"\nFIGURES {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
COLS = ("id", "collection_many", "field_many", "collection_one", "field_one", "junction_field")


@dataclass
class Ledger:
    """What the writers were told, shared by all of them (guarded by `lock`)."""

    acked: dict[int, Row] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    maybe_patched: dict[int, list[Row]] = field(default_factory=dict)  # id -> possible states
    maybe_deleted: dict[int, Row] = field(default_factory=dict)
    maybe_created: list[list[tuple[Any, Any]]] = field(default_factory=list)  # all or nothing
    statuses: Counter[int] = field(default_factory=Counter)
    error_codes: Counter[tuple[int, int | None]] = field(default_factory=Counter)
    transport_errors: int = 0
    mismatched_answers: int = 0
    creates: int = 0
    deletes: int = 0
    events: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, status) per answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def expected_count(self) -> int:
        """Rows that must exist when every outcome is known."""
        return self.creates - self.deletes

    def verify(self, rows: Iterable[Row]) -> dict[str, int]:
        """Compare the database's rows with the ledger; the counts of each kind of finding."""
        by_id = {int(r["id"]): {c: r[c] for c in COLS} for r in rows}
        lost = wrong = resurrected = 0
        for rid, expected in self.acked.items():
            if rid not in by_id:
                lost += 1
            elif by_id[rid] != expected:
                wrong += 1
        for rid in self.deleted:
            resurrected += rid in by_id
        for rid, states in self.maybe_patched.items():
            if rid not in by_id:
                lost += 1
            elif by_id[rid] not in states:
                wrong += 1
        for rid, expected in self.maybe_deleted.items():
            if rid in by_id and by_id[rid] != expected:
                wrong += 1
        known = set(self.acked) | set(self.maybe_patched) | set(self.maybe_deleted)
        strangers = {(r["collection_many"], r["field_many"]): rid
                     for rid, r in by_id.items() if rid not in known}
        partial = 0
        for keys in self.maybe_created:
            present = sum(k in strangers for k in keys)
            if present not in (0, len(keys)):
                partial += 1
            for k in keys:
                strangers.pop(k, None)
        return {"lost": lost, "wrong": wrong, "resurrected": resurrected,
                "partial_batches": partial, "unexplained": len(strangers)}


class Writers:
    """`n` threads writing through HTTP until `stop()` (or the server goes away)."""

    def __init__(self, base_url: str, token: str, ledger: Ledger, *, n: int, tag: str,
                 project: str = "_", stop_on_transport_error: bool = True,
                 backoff: float = 0.02, timeout: float = 15.0) -> None:
        self.base = f"{base_url}/{project}/relations"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ledger = ledger
        self.tag = tag
        self.stop_on_transport_error = stop_on_transport_error
        self.timeout = timeout
        self.backoff = backoff
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True)
                         for w in range(n)]

    def start(self) -> Writers:
        """Start writing."""
        for t in self._threads:
            t.start()
        return self

    def stop(self, join_timeout: float = 30.0) -> None:
        """Stop writing and wait for the threads."""
        self._stop.set()
        for t in self._threads:
            t.join(join_timeout)
        assert not any(t.is_alive() for t in self._threads), "a writer did not stop"

    def _create(self, client: httpx.Client, body: Any,
                keys: list[tuple[str, str]]) -> httpx.Response | None:
        """POST a create; the 200 answer, else None. Its keys count as maybe created unless
        it was acknowledged (a lost connection re-raises after noting them)."""
        try:
            r = client.post(self.base, json=body)
        except httpx.TransportError:
            with self.ledger.lock:
                self.ledger.maybe_created.append(keys)
            raise
        self._answer(r)
        if r.status_code == 200:
            return r
        with self.ledger.lock:
            self.ledger.maybe_created.append(keys)
        return None

    def _answer(self, r: httpx.Response) -> None:
        code = None
        if r.status_code >= 300:
            try:
                code = r.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = -1  # not the envelope
        with self.ledger.lock:
            self.ledger.statuses[r.status_code] += 1
            self.ledger.events.append((time.monotonic(), r.status_code))
            if code is not None:
                self.ledger.error_codes[(r.status_code, code)] += 1
        if r.status_code >= 500:
            time.sleep(self.backoff)

    def _run(self, w: int) -> None:
        rng = random.Random(f"{self.tag}-{w}")
        mine: list[int] = []
        n = 0
        led = self.ledger
        with httpx.Client(headers=self.headers, timeout=self.timeout) as client:
            while not self._stop.is_set():
                n += 1
                op = rng.random()
                try:
                    if op < 0.55 or len(mine) < 3:
                        body = {"collection_many": f"w{w}", "field_many": f"{self.tag}-{n}",
                                "collection_one": "target", "junction_field": None}
                        keys = [(body["collection_many"], body["field_many"])]
                        r = self._create(client, body, keys)
                        if r is not None:
                            row = r.json()["data"]
                            with led.lock:
                                led.acked[row["id"]] = {c: row[c] for c in COLS}
                                led.creates += 1
                            mine.append(row["id"])
                    elif op < 0.70:
                        bodies = [{"collection_many": f"w{w}", "field_many": f"{self.tag}-{n}.{i}",
                                   "field_one": f"b{n}"} for i in range(3)]
                        keys = [(b["collection_many"], b["field_many"]) for b in bodies]
                        r = self._create(client, bodies, keys)
                        if r is not None:
                            with led.lock:
                                for row in r.json()["data"]:
                                    led.acked[row["id"]] = {c: row[c] for c in COLS}
                                    mine.append(row["id"])
                                led.creates += 3
                    elif op < 0.85:
                        rid = mine[rng.randrange(len(mine))]
                        with led.lock:
                            old = dict(led.acked[rid])
                        new = {**old, "field_one": f"p{n}"}
                        try:
                            r = client.patch(f"{self.base}/{rid}", json={"field_one": f"p{n}"})
                        except httpx.TransportError:
                            self._uncertain_patch(mine, rid, old, new)
                            raise
                        self._answer(r)
                        if r.status_code == 200:
                            with led.lock:
                                led.acked[rid] = new
                                led.mismatched_answers += r.json()["data"] != new
                        else:
                            self._uncertain_patch(mine, rid, old, new)
                    else:
                        rid = mine.pop(rng.randrange(len(mine)))
                        try:
                            r = client.delete(f"{self.base}/{rid}")
                        except httpx.TransportError:
                            with led.lock:
                                led.maybe_deleted[rid] = led.acked.pop(rid)
                            raise
                        self._answer(r)
                        with led.lock:
                            if r.status_code == 204:
                                led.acked.pop(rid)
                                led.deleted.add(rid)
                                led.deletes += 1
                            else:
                                led.maybe_deleted[rid] = led.acked.pop(rid)
                except httpx.TransportError:
                    with led.lock:
                        led.transport_errors += 1
                    if self.stop_on_transport_error:
                        return
                    time.sleep(0.05)

    def _uncertain_patch(self, mine: list[int], rid: int, old: Row, new: Row) -> None:
        with self.ledger.lock:
            self.ledger.acked.pop(rid)
            self.ledger.maybe_patched[rid] = [old, new]
        mine.remove(rid)
