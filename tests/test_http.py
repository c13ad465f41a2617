"""common.http against small real asyncio servers on localhost: body framings, connection reuse and loss, timeouts,
a plain-HTTP proxy from the environment, multipart uploads."""

import asyncio

import pytest

from common.http import HTTPClient, TransportError


async def serve(handle):
    """A server on a free port calling `handle(reader, writer, head)` per request; returns (server, port, heads)."""
    heads = []

    async def connection(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                if b"Content-Length:" in head:
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    heads[-1] += await reader.readexactly(length)
                if await handle(reader, writer, heads[-1]) == "close":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], heads


def test_content_length_chunked_and_read_to_close_bodies_and_keep_alive():
    async def handle(reader, writer, head):
        if b"/chunked" in head:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=1\r\n, world\r\n0\r\n\r\n")
        elif b"/close" in head:
            writer.write(b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nConnection: close\r\n\r\n{\"error\": 1}")
            await writer.drain()
            return "close"
        else:
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"a": "\xc3\xa9"}')
        await writer.drain()

    async def main():
        server, port, heads = await serve(handle)
        client = HTTPClient(f"http://127.0.0.1:{port}/v1", headers={"Authorization": "Bearer k"}, max_connections=2)
        first = await client.request("POST", "chat/completions", json={"q": "グラフ"})
        chunked = await client.request("GET", "chunked")
        closed = await client.request("GET", "close")
        again = await client.request("GET", "models")
        await client.aclose()
        server.close()
        return first, chunked, closed, again, heads

    first, chunked, closed, again, heads = asyncio.run(main())
    assert first.status_code == 200 and first.json() == {"a": "é"}
    assert chunked.content == b"hello, world"
    assert closed.status_code == 503 and closed.headers["retry-after"] == "7" and closed.json() == {"error": 1}
    assert again.status_code == 200
    assert heads[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n") and b"Authorization: Bearer k" in heads[0]
    assert "グラフ".encode() in heads[0] and b"Content-Type: application/json" in heads[0]


def test_a_connection_the_server_dropped_while_idle_is_replaced_and_timeouts_raise():
    async def handle(reader, writer, head):
        if b"/slow" in head:
            await asyncio.sleep(5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        return "close" if b"/drop" in head else None  # closes without saying so: the client finds out later

    async def main():
        server, port, _ = await serve(handle)
        client = HTTPClient(f"http://127.0.0.1:{port}/", timeout_s=0.5)
        dropped = await client.request("GET", "drop")
        await asyncio.sleep(0.05)
        after = await client.request("GET", "next")
        with pytest.raises(TransportError, match="no answer in 0.5 s"):
            await client.request("GET", "slow")
        await client.aclose()
        server.close()
        refused = HTTPClient(f"http://127.0.0.1:{port}/", timeout_s=1)
        with pytest.raises(TransportError, match="cannot connect"):
            await refused.request("GET", "x")
        return dropped, after

    dropped, after = asyncio.run(main())
    assert dropped.content == after.content == b"ok"


def test_a_plain_http_proxy_from_the_environment_gets_the_absolute_url(monkeypatch):
    async def handle(reader, writer, head):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nproxy")
        await writer.drain()

    async def main():
        proxy, port, heads = await serve(handle)
        monkeypatch.setenv("HTTP_PROXY", f"http://user:pw@127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "")
        client = HTTPClient("http://llm.example:8000/v1")
        answer = await client.request("GET", "models")
        await client.aclose()
        proxy.close()
        return answer, heads

    answer, heads = asyncio.run(main())
    assert answer.content == b"proxy"
    assert heads[0].startswith(b"GET http://llm.example:8000/v1/models HTTP/1.1\r\n")
    assert b"Host: llm.example:8000" in heads[0] and b"Proxy-Authorization: Basic dXNlcjpwdw==" in heads[0]


def test_multipart_upload_carries_fields_and_the_file():
    async def handle(reader, writer, head):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    async def main():
        server, port, heads = await serve(handle)
        client = HTTPClient(f"http://127.0.0.1:{port}/v1")
        await client.request("POST", "files", data={"purpose": "batch"},
                             files={"file": ("a.jsonl", b'{"x": 1}\n', "application/jsonl")})
        await client.aclose()
        server.close()
        return heads[0]

    head = asyncio.run(main())
    boundary = head.split(b"boundary=")[1].split(b"\r\n")[0]
    assert b'name="purpose"\r\n\r\nbatch\r\n' in head and b'filename="a.jsonl"' in head
    assert b'{"x": 1}\n\r\n--' + boundary + b"--\r\n" in head


def test_a_bad_base_url_is_named():
    with pytest.raises(ValueError, match="base URL 'localhost:8000'"):
        HTTPClient("localhost:8000")


@pytest.fixture
def self_signed(tmp_path):
    """A certificate for 127.0.0.1 that no system store trusts (openssl, as a private CA-less endpoint would have)."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_https_verifies_the_server_against_ssl_cert_file_and_names_an_untrusted_one(self_signed, monkeypatch):
    """The LLM client's TLS: a server whose certificate the trust store lacks is refused with a hint; trusted through
    SSL_CERT_FILE (a company CA bundle), the same server answers over HTTPS."""
    import ssl

    from common import http

    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handle(reader, writer, head):
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{"a": 1}')
        await writer.drain()

    async def get():
        heads = []

        async def connection(reader, writer):
            try:
                heads.append(await reader.readuntil(b"\r\n\r\n"))
                await handle(reader, writer, heads[-1])
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                pass
            writer.close()

        server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=context)
        client = HTTPClient(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", timeout_s=5)
        try:
            return await client.request("GET", "models"), heads
        finally:
            await client.aclose()
            server.close()

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    http._tls.cache_clear()
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED.*SSL_CERT_FILE"):
        asyncio.run(get())
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    http._tls.cache_clear()
    try:
        response, heads = asyncio.run(get())
    finally:
        http._tls.cache_clear()
    assert response.status_code == 200 and response.json() == {"a": 1}
    assert heads[0].startswith(b"GET /v1/models HTTP/1.1\r\n")
