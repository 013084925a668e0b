"""A Redis Sentinel deployment on loopback: a primary, a replica of it and three sentinels, each a private
process on a free port with a directory of its own (tests/test_sentinel_failover.py).

The sentinels are told of each other and of the replica in their configuration (``known-sentinel``,
``known-replica``), as Sentinel itself writes them once it has met them, so they can vote at once instead of
after a few rounds of hello messages. A primary is taken as failed after ``DOWN_AFTER_MS`` without an answer.

The replica logs in to the primary as the user ``replica``: ``cut_replica`` switches that user off and drops its
connection, so what the primary takes afterwards is on the primary only, as when asynchronous replication lags
behind at the moment the primary dies.

The sentinels cannot demote the first primary (its REPLICAOF is renamed away): after a failover it stays up and
takes writes, as an old primary does that the sentinels cannot reach but clients can. Only a client that asks the
sentinels where the primary is leaves it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis

from tests.support.services import HOST, ChildProcess, RedisServer, free_port

SERVICE = "mymaster"
QUORUM = 2
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 1000
REPLICA_USER, REPLICA_PASSWORD = "replica", "replica-secret"


def connect(port: int) -> redis.Redis:
    """A client of the server or sentinel on ``port``, for the test's own questions."""
    return redis.Redis(HOST, port, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)


class SentinelServer(ChildProcess):
    """One sentinel (``redis-server sentinel.conf --sentinel``); Sentinel rewrites its file as it learns."""

    def __init__(self, directory: Path, port: int, config: list[str]) -> None:
        super().__init__(directory / "sentinel.log", port=port, ready_timeout=10.0)
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "sentinel.conf"
        self.config_path.write_text("\n".join([f"port {port}", f"bind {HOST}", f"dir {directory}", *config]) + "\n")

    def command(self) -> list[str]:
        return ["redis-server", str(self.config_path), "--sentinel"]

    def is_ready(self) -> bool:
        try:
            with connect(self.port) as sentinel:
                return bool(sentinel.ping())
        except redis.RedisError:
            return False


class SentinelGroup:
    """The primary, its replica and three sentinels watching them as ``SERVICE``; ``url`` is Ticker's
    TICKER_REDIS_URL for them."""

    def __init__(self, directory: Path) -> None:
        self.primary = RedisServer(
            directory / "primary",
            *("--user", REPLICA_USER, "on", f">{REPLICA_PASSWORD}", "+@all"),
            *("--repl-diskless-sync-delay", "0"),  # the replica's first sync at once, not after 5 s
            *("--rename-command", "REPLICAOF", "", "--rename-command", "SLAVEOF", ""),
        )
        self.replica = RedisServer(
            directory / "replica",
            *("--replicaof", HOST, str(self.primary.port)),
            *("--masteruser", REPLICA_USER, "--masterauth", REPLICA_PASSWORD),
        )
        ids = [uuid.uuid4().hex + uuid.uuid4().hex[:8] for _ in range(3)]  # Sentinel's ids are 40 hex digits
        ports = [free_port() for _ in ids]
        self.sentinels = [
            SentinelServer(
                directory / f"sentinel{n}",
                port,
                [
                    f"sentinel myid {ids[n]}",
                    f"sentinel monitor {SERVICE} {HOST} {self.primary.port} {QUORUM}",
                    f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel known-replica {SERVICE} {HOST} {self.replica.port}",
                    *(
                        f"sentinel known-sentinel {SERVICE} {HOST} {ports[peer]} {ids[peer]}"
                        for peer in range(3)
                        if peer != n
                    ),
                ],
            )
            for n, port in enumerate(ports)
        ]

    @property
    def url(self) -> str:
        return f"redis+sentinel://{','.join(f'{HOST}:{s.port}' for s in self.sentinels)}/{SERVICE}/0"

    def start(self) -> Self:
        """Start the primary and the replica, wait until the replica is in sync, then the sentinels, and wait
        until each sees the replica and the two other sentinels."""
        try:
            self.primary.start()
            self.replica.start()
            self._until(self._replica_in_sync)
            for sentinel in self.sentinels:
                sentinel.start()
            self._until(self._watching)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in (*self.sentinels, self.replica, self.primary):
            process.stop()

    def primary_port(self) -> set[int]:
        """The primary's port as each sentinel that answers names it (one port once they agree)."""
        named = set()
        for sentinel in self.sentinels:
            try:
                with connect(sentinel.port) as asked:
                    _, port = asked.sentinel_get_master_addr_by_name(SERVICE)
            except redis.RedisError:
                continue
            named.add(int(port))
        return named

    def cut_replica(self) -> None:
        """The replica stops receiving the primary's writes: its user is switched off and its link dropped."""
        with connect(self.primary.port) as primary:
            primary.acl_setuser(REPLICA_USER, enabled=False, reset_keys=False)
            primary.client_kill_filter(user=REPLICA_USER)

    def fail_over(self) -> None:
        """A failover the sentinels run while the primary is up (``SENTINEL FAILOVER``)."""
        with connect(self.sentinels[0].port) as sentinel:
            sentinel.sentinel_failover(SERVICE)

    def role(self, server: RedisServer) -> str:
        with connect(server.port) as asked:
            return str(asked.info("replication")["role"])

    def _replica_in_sync(self) -> bool:
        with connect(self.replica.port) as replica:
            return bool(replica.info("replication")["master_link_status"] == "up")

    def _watching(self) -> bool:
        for sentinel in self.sentinels:
            with connect(sentinel.port) as asked:
                state = asked.sentinel_master(SERVICE)
                replicas = asked.sentinel_slaves(SERVICE)
            up = [r for r in replicas if not (r["is_disconnected"] or r["is_sdown"])]
            if state["num-other-sentinels"] < 2 or not up:
                return False
        return True

    @staticmethod
    def _until(check: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError("the Sentinel deployment did not come up in time")
            time.sleep(0.05)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
