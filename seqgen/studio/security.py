"""What keeps the studio a page of this machine only.

- Host and Origin: a web page elsewhere can make the user's browser send requests to
  127.0.0.1 (directly, or through a name of its own that resolves there: DNS rebinding). Every
  request must name this server in its Host header, and a request that carries an Origin (every
  POST a browser sends, and every cross-origin fetch) must come from this server's own page.
  Browsers that say where a request comes from (``Sec-Fetch-Site``) must not say "cross-site".
- Paths: only checkpoints under the served folder can be named, by a relative path with no
  ``..``; one that resolves outside the folder (a symbolic link) is refused too. Nothing under
  the studio's archive (``ARCHIVE_FOLDER``) is a checkpoint; its batches and files are named by
  plain names (``archive.BATCH_ID``, ``archive.FILE_NAME``), never by paths.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ..errors import SeqgenError

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
ARCHIVE_FOLDER = "studio-archive"  # the studio's batches, under the served folder
ANY_ADDRESS = "any IP address"  # in ``allowed``: a server bound to every address answers to each of them


class Forbidden(SeqgenError):
    """A request the studio refuses to serve (HTTP 403): another origin, or a path outside."""


class NotFound(SeqgenError):
    """A checkpoint or file that does not exist (HTTP 404)."""


def host_name(value: str) -> str:
    """The host of a Host header or an origin's network location, without its port, lower case:
    ``"LocalHost:8000"`` -> ``"localhost"``, ``"[::1]:8000"`` -> ``"::1"``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def check_request(headers: dict[str, str], allowed: set[str], api: bool) -> None:
    """Forbidden unless the request comes to this server (Host) from its own page (Origin).

    ``allowed``: the host names this server answers to; ``api``: the request is for /api/.
    """
    host = headers.get("host", "")
    if host_name(host) not in allowed and not (ANY_ADDRESS in allowed and _is_address(host_name(host))):
        raise Forbidden(f"this server answers requests to {', '.join(sorted(allowed - {ANY_ADDRESS}))} only, not {host!r}; "
                        "open the address seqgen studio printed")
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme != "http" or parts.netloc.lower() != host.lower():
            raise Forbidden(f"requests from {origin} are refused; use the page this server serves")
    if api and headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("requests from another site are refused; use the page this server serves")


def allowed_hosts(bound: str) -> set[str]:
    """The host names a server bound to ``bound`` answers to: this machine's own names, and the
    address it was bound to (``--host``). Bound to every address (``0.0.0.0``), it answers to any
    IP address, which no other site's page can stand behind as it can behind a name it controls."""
    names = set(LOCAL_NAMES)
    if bound in ("0.0.0.0", "::", ""):
        names.add(ANY_ADDRESS)
    else:
        names.add(host_name(bound))
    return names


def _is_address(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def checkpoint_path(root: Path, name: str) -> Path:
    """The checkpoint file ``name`` (a path relative to ``root``, e.g. ``run/best.pt``).

    Forbidden for an absolute path, a ``..`` anywhere, or a file that resolves outside ``root``;
    NotFound for one that does not exist.
    """
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name:
        raise Forbidden("name a checkpoint by its path under the served folder, e.g. run/best.pt")
    pure = PurePosixPath(name)
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in pure.parts:
        raise Forbidden(f"{name!r}: only checkpoints under the served folder can be named (no absolute "
                        "paths, no ..)")
    if pure.parts[0] == ARCHIVE_FOLDER:
        raise NotFound(f"{name!r} is in the studio's archive, which holds tunes, not checkpoints")
    base = root.resolve()
    path = (base / pure).resolve()
    if not path.is_relative_to(base):
        raise Forbidden(f"{name!r} leads outside the served folder; only checkpoints under it can be named")
    if path.suffix != ".pt" or not path.is_file():
        raise NotFound(f"no checkpoint {name!r} under the served folder; pick one from the list")
    return path


class SameOriginOnly:
    """ASGI middleware: every request is checked by ``check_request`` (403 when refused), and
    every answer says not to sniff its type nor to be framed or loaded from elsewhere."""

    HEADERS = {"X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; "
                                           "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")}

    def __init__(self, app, hosts):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send) -> None:
        from starlette.datastructures import MutableHeaders
        from starlette.responses import JSONResponse

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            check_request(headers, self.hosts, scope["path"].startswith("/api/"))
        except Forbidden as exc:
            return await JSONResponse({"error": str(exc)}, status_code=403)(scope, receive, send)

        async def marked(message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(self.HEADERS)
            await send(message)

        await self.app(scope, receive, marked)
