"""Serving the app: bind the port first, then load, then run uvicorn with connection limits.

uvicorn alone has no deadline for a request head sent slowly, keeps a connection that never
sends anything for ever, and its ``limit_concurrency`` counts idle connections too (so held
connections turn real requests into 503s). ``GuardedH11Protocol`` (uvicorn's h11 protocol plus
a ``ConnectionGuard``) adds:

- a deadline for the request head (``header_timeout``, from the connection or from the first
  byte after a keep-alive pause) and one for the body (``body_timeout``, from the end of the
  head): a late request gets 408 and the connection is closed;
- a cap on the connections one client address holds (``per_client``) and on all connections
  (``max_connections``, by default the file-descriptor limit less a reserve, so ``accept()``
  never runs out of descriptors). At a cap the oldest *idle* connection (no request in progress:
  waiting for a head, or kept alive between requests) is closed to make room; only when none
  is idle is the new connection refused. A request in progress is never cut for a newcomer;
- one log line per kind of refusal: the first at once, then a count at most once a minute.
  asyncio's own "socket.accept() out of system resource" traceback goes the same way.

Idle connections between requests close after ``keep_alive`` seconds (uvicorn's
``timeout_keep_alive``). WebSockets are off: the UI and the API need none.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from assistant.errors import AssistantError

log = logging.getLogger("policyqa.server")

BACKLOG = 2048


class PortUnavailable(AssistantError):
    """The address to serve on is taken or not allowed (raised before any slow start-up work)."""


@dataclass(frozen=True)
class Limits:
    """Connection limits of ``policyqa serve``; times in seconds (Settings: POLICYQA_HEADER_TIMEOUT, …)."""

    header_timeout: float = 10.0  # connection (or first byte after keep-alive) → complete request head
    body_timeout: float = 30.0  # complete head → end of the request body
    keep_alive: float = 5.0  # idle time between requests on one connection
    per_client: int = 64  # connections one client address may hold; 0: no cap
    max_connections: int = 0  # all connections; 0: the descriptor limit less fd_reserve
    fd_reserve: int = 128  # descriptors kept for the index, the feedback file, logs, …

    def connection_cap(self) -> int:
        """``max_connections``, or the soft RLIMIT_NOFILE less ``fd_reserve`` (at least 16)."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        by_fds = max(16, soft - self.fd_reserve) if soft != resource.RLIM_INFINITY else 1 << 20
        return min(self.max_connections, by_fds) if self.max_connections else by_fds


class RefusalLog:
    """One warning per kind of refusal: the first at once, then at most one per ``interval``
    seconds saying how many happened since the last line. ``counts`` keeps the totals."""

    def __init__(self, logger: logging.Logger = log, interval: float = 60.0):
        self.logger = logger
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self._last: dict[str, float] = {}

    def note(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        self._pending[kind] += 1
        now = time.monotonic()
        last = self._last.get(kind)
        if last is None or now - last >= self.interval:
            n, self._pending[kind] = self._pending[kind], 0
            self._last[kind] = now
            more = "" if last is None else f" ({n} times in the last {now - last:.0f} s)"
            self.logger.warning("refused: %s%s; further ones are counted, not logged one by one", message, more)


class _AcceptErrors(logging.Filter):
    """asyncio logs a traceback for every accept() that fails for lack of descriptors; turn
    them into the refusal log's one line per kind."""

    def __init__(self, refusals: RefusalLog):
        super().__init__()
        self.refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("socket.accept() out of system resource"):
            self.refusals.note("accept", "accept() failed: out of file descriptors or memory "
                                         "(raise `ulimit -n` or lower POLICYQA_MAX_CONNECTIONS)")
            return False
        return True


class ConnectionGuard:
    """The connections of one server, by client address, oldest first; see the module docstring."""

    def __init__(self, limits: Limits, refusals: RefusalLog | None = None):
        self.limits = limits
        self.cap = limits.connection_cap()
        self.refusals = refusals or RefusalLog()
        self.all: OrderedDict[GuardedH11Protocol, None] = OrderedDict()
        self.by_client: dict[str, OrderedDict[GuardedH11Protocol, None]] = {}

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """Register ``conn``, closing an idle connection to stay within the caps; False: refused."""
        mine = self.by_client.setdefault(conn.client_host, OrderedDict())
        if self.limits.per_client and len(mine) >= self.limits.per_client:
            if not self._evict(mine):
                self.refusals.note("per-client", f"{conn.client_host} holds {len(mine)} busy connections, "
                                                 f"the cap per client (POLICYQA_MAX_CONNECTIONS_PER_CLIENT)")
                return False
            self.refusals.note("per-client-idle", f"a client reached {self.limits.per_client} connections: "
                                                  "its oldest idle one was closed")
        if len(self.all) >= self.cap:
            if not self._evict(self.all):
                self.refusals.note("server-cap", f"{len(self.all)} busy connections, the server's cap "
                                                 "(POLICYQA_MAX_CONNECTIONS or the descriptor limit)")
                return False
            self.refusals.note("server-cap-idle", f"the server holds {self.cap} connections, its cap: "
                                                  "the oldest idle one was closed")
        mine[conn] = None
        self.all[conn] = None
        return True

    def release(self, conn: GuardedH11Protocol) -> None:
        self.all.pop(conn, None)
        mine = self.by_client.get(conn.client_host)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_client[conn.client_host]

    def _evict(self, pool: OrderedDict) -> bool:
        victim = next((c for c in pool if c.is_idle()), None)
        if victim is None:
            return False
        victim.close_idle()
        self.release(victim)
        return True


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the deadlines and caps of ``guard`` (set by ``protocol_class``)."""

    guard: ConnectionGuard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.client_host = self.client[0] if self.client else "?"
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_kind: str | None = None
        self._bytes_in_request = 0
        if not self.guard.admit(self):
            self._admitted = False
            transport.close()
            return
        self._admitted = True
        self._arm("head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if getattr(self, "_admitted", False):
            self.guard.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._bytes_in_request += len(data)
        super().data_received(data)
        self._follow_state()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        self._bytes_in_request = 0
        if self.conn.their_state is h11.IDLE:
            self._disarm()  # between requests uvicorn's keep-alive timer runs; the head deadline starts with a byte
        else:
            self._follow_state()

    # -- state -------------------------------------------------------------------------------
    def is_idle(self) -> bool:
        """No request in progress: waiting for (the rest of) a request head."""
        if self.transport is None or self.transport.is_closing():
            return False
        return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

    def close_idle(self) -> None:
        self._disarm()
        self._admitted = False
        self.transport.close()

    def _follow_state(self) -> None:
        if self.transport.is_closing():
            return self._disarm()
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._deadline_kind != "head":
                self._arm("head")
        elif state is h11.SEND_BODY:
            if self._deadline_kind != "body":
                self._arm("body")
        else:  # the request is in; the app is answering (perhaps streaming): no deadline
            self._disarm()

    def _arm(self, kind: str) -> None:
        self._disarm()
        delay = self.guard.limits.header_timeout if kind == "head" else self.guard.limits.body_timeout
        self._deadline_kind = kind
        self._deadline = self.loop.call_later(delay, self._expire, kind)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_kind = None

    def _expire(self, kind: str) -> None:
        self._deadline = None
        self._deadline_kind = None
        if self.transport.is_closing():
            return
        limits = self.guard.limits
        if kind == "head":
            if self._bytes_in_request == 0:
                self.guard.refusals.note("idle", f"connections that sent nothing for {limits.header_timeout:g} s "
                                                 "were closed (POLICYQA_HEADER_TIMEOUT)")
                self.transport.close()
                return
            self.guard.refusals.note("slow-head", f"request heads not complete within {limits.header_timeout:g} s "
                                                  "got 408 (POLICYQA_HEADER_TIMEOUT)")
            message = f"request head not received within {limits.header_timeout:g} s"
        else:
            self.guard.refusals.note("slow-body", f"request bodies not complete within {limits.body_timeout:g} s "
                                                  "got 408 (POLICYQA_BODY_TIMEOUT)")
            message = f"request body not received within {limits.body_timeout:g} s"
            if self.cycle is not None:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
        if self.cycle is None or not self.cycle.response_started:
            body = message.encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.transport.close()


def protocol_class(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """A protocol class bound to ``guard`` (uvicorn instantiates the class it is given per connection)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": guard})


def bind(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A listening socket on ``host:port``, or PortUnavailable with the fix: call it before any
    slow start-up work, so a taken port is reported at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot serve on {host}: {exc.strerror}; pass an address such as --host 127.0.0.1") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT left by a stopped server is fine
    try:
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"port {port} on {host} is already in use (another policyqa serve?); "
                                  f"stop that server or pick another port with --port, e.g. --port {port + 1}") from exc
        if exc.errno == errno.EACCES:
            raise PortUnavailable(f"port {port} on {host} needs privileges; pick a port above 1023 with --port") from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise PortUnavailable(f"{host} is not an address of this machine; pass --host 127.0.0.1 "
                                  "or one of its addresses") from exc
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def limits_from(settings) -> Limits:
    """The Limits that ``settings`` (assistant.settings.Settings) configure."""
    return Limits(header_timeout=settings.header_timeout, body_timeout=settings.body_timeout,
                  keep_alive=settings.keep_alive_timeout, per_client=settings.max_connections_per_client,
                  max_connections=settings.max_connections)


def serve(app, sock: socket.socket, limits: Limits, log_level: str = "warning") -> ConnectionGuard:
    """Run ``app`` on the listening ``sock`` until stopped (Ctrl-C / SIGTERM); returns the guard
    (its ``refusals.counts`` say what was refused)."""
    import uvicorn

    guard = ConnectionGuard(limits)
    accept_filter = _AcceptErrors(guard.refusals)
    logging.getLogger("asyncio").addFilter(accept_filter)
    config = uvicorn.Config(app, http=protocol_class(guard), ws="none", lifespan="on", log_level=log_level,
                            timeout_keep_alive=limits.keep_alive, backlog=BACKLOG)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        logging.getLogger("asyncio").removeFilter(accept_filter)
    return guard
