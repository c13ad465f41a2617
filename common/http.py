"""A small HTTP/1.1 client on asyncio streams for the LLM client's hot path.

At 256 requests in flight httpx spent ~2 ms of CPU per request in its connection pool, anyio and socket-readability
checks — more than everything else a sample's request costs. This client keeps what a JSON API call needs and no
more: keep-alive connections reused last-in first-out, one write per request, Content-Length, chunked and
read-to-close bodies, TLS, and proxies from the environment (HTTP_PROXY/HTTPS_PROXY/NO_PROXY; CONNECT for https).
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import socket
import ssl
import urllib.request
import uuid
from functools import cache
from urllib.parse import urlsplit


class TransportError(Exception):
    """No answer: refused, dropped or timed out (retried by the caller)."""


class Response:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes):
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def multipart(data: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """multipart/form-data body and its Content-Type (the Batch API's file upload)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in data.items()]
    for name, (filename, content, kind) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {kind}\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class HTTPClient:
    """Requests to one base URL over at most `max_connections` kept-alive connections."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, timeout_s: float = 120.0,
                 max_connections: int = 32):
        url = urlsplit(base_url.rstrip("/") + "/")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"base URL {base_url!r}: expected http(s)://host[:port]/path")
        self.tls = url.scheme == "https"
        self.host, self.port = url.hostname, url.port or (443 if self.tls else 80)
        self.base_path = url.path
        authority = self.host if url.port is None else f"{self.host}:{self.port}"
        self.origin = f"{url.scheme}://{authority}"
        self.proxy = None if urllib.request.proxy_bypass(self.host) else urllib.request.getproxies().get(url.scheme)
        fixed = {"Host": authority, "Connection": "keep-alive", **(headers or {})}
        if self.proxy and not self.tls and (user := urlsplit(self.proxy)).username:
            fixed["Proxy-Authorization"] = "Basic " + base64.b64encode(
                f"{user.username}:{user.password or ''}".encode()).decode()
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self.timeout_s = timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(self, method: str, path: str, *, content: bytes | None = None, json=None,
                      data: dict[str, str] | None = None, files: dict | None = None,
                      headers: dict[str, str] | None = None) -> Response:
        extra = dict(headers or {})
        if json is not None:
            content, extra["Content-Type"] = jsonlib.dumps(json, ensure_ascii=False).encode(), "application/json"
        elif files is not None:
            content, extra["Content-Type"] = multipart(data or {}, files)
        body = content or b""
        target = self.base_path + path.lstrip("/")
        if self.proxy and not self.tls:  # a plain-HTTP proxy takes the absolute URL
            target = self.origin + target
        head = (f"{method} {target} HTTP/1.1\r\n{self._fixed}"
                + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                + (f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT") else "") + "\r\n")
        message = head.encode() + body
        async with self._slots:
            # a kept-alive connection may have been closed by the server meanwhile: then once more on a new one
            while True:
                reused = bool(self._idle)
                reader, writer = self._idle.pop() if reused else await self._connect()
                if reader.at_eof():  # closed by the server while idle
                    writer.close()
                    continue
                try:
                    async with asyncio.timeout(self.timeout_s):
                        writer.write(message)
                        response, keep = await _read_response(reader, method)
                except TimeoutError as error:
                    writer.close()
                    raise TransportError(f"{method} {self.origin}{target}: no answer in {self.timeout_s:g} s") from error
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
                    writer.close()
                    if reused and not isinstance(error, ValueError):
                        continue
                    raise TransportError(f"{method} {self.origin}{target}: {type(error).__name__}: {error}") from error
                if keep:
                    self._idle.append((reader, writer))
                else:
                    writer.close()
                return response

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            async with asyncio.timeout(self.timeout_s):
                if not self.proxy:
                    reader, writer = await asyncio.open_connection(self.host, self.port,
                                                                   ssl=_tls() if self.tls else None)
                else:
                    proxy = urlsplit(self.proxy)
                    reader, writer = await asyncio.open_connection(proxy.hostname, proxy.port or 80)
                    if self.tls:  # a tunnel through the proxy, then TLS to the server inside it
                        writer.write(f"CONNECT {self.host}:{self.port} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n"
                                     .encode())
                        answer = await reader.readuntil(b"\r\n\r\n")
                        if answer[9:12] != b"200":
                            writer.close()
                            raise TransportError(f"proxy {self.proxy} refused CONNECT: {answer[:60]!r}")
                        await writer.start_tls(_tls(), server_hostname=self.host)
        except ssl.SSLCertVerificationError as error:  # an OSError too: say what fixes it
            raise TransportError(f"cannot connect to {self.origin}: {error}; if its certificate comes from your own CA, "
                                 "point SSL_CERT_FILE at a bundle that holds it") from error
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise TransportError(f"cannot connect to {self.proxy or self.origin}: {type(error).__name__}: {error}") from error
        # headers and body go out in one write, but keep Nagle from holding a small request behind a delayed ACK
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[Response, bool]:
    """One response and whether its connection can be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(status_line[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    keep = status_line[0] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b""), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
            pass
        return Response(status, headers, b"".join(chunks)), keep
    if "content-length" in headers:
        return Response(status, headers, await reader.readexactly(int(headers["content-length"]))), keep
    return Response(status, headers, await reader.read()), False  # until the server closes
