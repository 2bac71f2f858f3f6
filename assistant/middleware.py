"""Pure ASGI middleware around the whole app (API, docs and the mounted UI).

- ``SecurityHeaders``: every response says it may not be framed and its type may not be sniffed.
- ``HostGuard``: requests must name one of the configured host names; the proxy headers that would
  let a client choose the URL the UI builds its links from are dropped.
- ``BodyGuard``: size limit, then UTF-8, JSON well-formedness and nesting depth, before any route.

Each refusal is a short JSON (or plain-text) reply with one message; none reaches a route.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable

SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
]
FRAME_ANCESTORS = b"frame-ancestors 'none'"
MAX_JSON_DEPTH = 32  # the API's bodies nest 4 deep ({"history": [{"citations": [{...}]}]})
# Headers a reverse proxy would set; without a configured proxy a client could set them itself
# to choose the root URL that Gradio writes into its page config.
UNTRUSTED_HEADERS = frozenset({b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-for", b"x-gradio-server",
                               b"forwarded"})


async def reply(send, status: int, detail: str) -> None:
    """Send a complete ``{"detail": ...}`` JSON response (for refusals before the app runs)."""
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds X-Frame-Options: DENY, CSP ``frame-ancestors 'none'`` and X-Content-Type-Options:
    nosniff to every HTTP response; an existing Content-Security-Policy gets the directive appended."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"x-frame-options", b"x-content-type-options")]
                csp = [i for i, (k, _) in enumerate(headers) if k.lower() == b"content-security-policy"]
                if csp:
                    key, value = headers[csp[0]]
                    if b"frame-ancestors" not in value:
                        headers[csp[0]] = (key, value.rstrip(b"; ") + b"; " + FRAME_ANCESTORS)
                else:
                    headers.append((b"content-security-policy", FRAME_ANCESTORS))
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def default_hosts(bind_host: str) -> list[str]:
    """The host names a request may use when none are configured: loopback names, the bound
    address, and (when bound to every interface) this machine's own name and addresses."""
    hosts = ["localhost", "127.0.0.1", "::1",
             "testserver"]  # the name Starlette's TestClient sends; it resolves nowhere
    if bind_host in ("0.0.0.0", "::", ""):
        try:
            name = socket.gethostname()
            hosts += [name, socket.getfqdn()]
            hosts += socket.gethostbyname_ex(name)[2]
        except OSError:
            pass
    elif bind_host:
        hosts.append(bind_host)
    return hosts


def host_name(value: str) -> str:
    """``example.org:8000`` → ``example.org``; ``[::1]:8000`` → ``::1``; lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


class HostGuard:
    """Refuses (400, with the fix) a request whose Host header is not an allowed name, and drops
    the proxy headers listed in ``UNTRUSTED_HEADERS``: the UI builds its page config's ``root``
    from them, so without this guard a client chose the URLs the page loads from.

    ``allowed``: names without ports; ``*`` allows any name (e.g. behind a proxy that checks it);
    ``*.example.org`` allows sub-domains.
    """

    def __init__(self, app, allowed: Iterable[str]):
        self.app = app
        self.allowed = {a.strip().lower().strip("[]") for a in allowed if a.strip()}
        self.any = "*" in self.allowed
        self.suffixes = tuple(a[1:] for a in self.allowed if a.startswith("*."))

    def allows(self, host: str) -> bool:
        return self.any or host in self.allowed or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = [(k, v) for k, v in scope.get("headers", []) if k not in UNTRUSTED_HEADERS]
        host = next((v for k, v in headers if k == b"host"), b"").decode("latin-1")
        name = host_name(host)
        if not self.allows(name):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            shown = name[:100] or "(none)"
            return await reply(send, 400, f"host name not allowed: {shown}. Open the server by one of its configured "
                                          "names, or add this one to POLICYQA_ALLOWED_HOSTS")
        await self.app({**scope, "headers": headers}, receive, send)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a scalar), counted without
    parsing it (brackets inside strings do not count), so a deep body cannot exhaust the stack."""
    brackets = _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class BodyGuard:
    """Before any route: size limit, then UTF-8, nesting depth and JSON well-formedness.

    The body is read as it arrives (chunked or not) and refused as soon as it passes
    ``max_bytes`` (413); a JSON body that is not UTF-8, nests deeper than ``max_depth`` or is
    not JSON gets a 422 that says so. The buffered body is then replayed to the app.
    """

    def __init__(self, app, max_bytes: int, max_depth: int = MAX_JSON_DEPTH):
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await reply(send, 413, f"request body too large: the limit is {self.max_bytes} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await reply(send, 413, f"request body too large: the limit is {self.max_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b"").lower():  # media types are case-insensitive
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                return await reply(send, 422, f"the body is not valid UTF-8 (byte {exc.start}): send UTF-8 JSON")
            depth = json_depth(body)
            if depth > self.max_depth:
                return await reply(send, 422, f"the body's JSON nests {depth} levels deep: at most "
                                              f"{self.max_depth} are accepted")
            try:
                json.loads(text)
            except (ValueError, RecursionError) as exc:
                return await reply(send, 422, f"the body is not valid JSON: {exc}")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
