"""Headers a client may forge: Host (links come from PTCE_KG_PUBLIC_URL) and X-Forwarded-For / -Proto
(believed only from PTCE_KG_TRUSTED_PROXIES). Each case checks the status, that no forged value comes
back, and that another client is still served within 2 s."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import ROOT, guarded_env, start_server, stop

from .conftest import REDTEAM_SETTINGS, Target, assert_serves_others

FORGED = "evil.example"
FORGED_HEADERS = {
    "Host": f"{FORGED}:8443",
    "X-Forwarded-Host": FORGED,
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.66",
    "Forwarded": f"for=203.0.113.66;host={FORGED};proto=https",
}
# Every page that writes absolute links, with what to ask for; the second column says a link to the
# public base must be there.
LINKING_PAGES = [
    ("/catalog", {"Accept": "text/turtle"}),
    ("/catalog?page=1", {"Accept": "application/ld+json"}),
    ("/sitemap.xml", {}),
    ("/.well-known/void", {"Accept": "text/turtle"}),
    ("/robots.txt", {}),
    ("/dumps/", {"Accept": "application/json"}),
    ("/dumps/", {"Accept": "text/html"}),
    ("/sparql", {"Accept": "text/turtle"}),  # the service description
    ("/sparql", {"Accept": "text/html"}),  # the editor
    ("/", {"Accept": "text/html"}),  # schema.org Dataset
]
PUBLIC_URL = "https://data.example.org/ptce/"
PROXY = "127.0.0.5"
SLOW = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"  # runs into the query timeout


def assert_no_forged_value(response: httpx.Response) -> None:
    assert FORGED not in response.text
    assert not any(FORGED in value for value in response.headers.values()), dict(response.headers)


@pytest.mark.parametrize("path, accept", LINKING_PAGES)
def test_a_forged_host_never_comes_back(target, path, accept, no_outbound):
    response = httpx.get(target.base + path, headers={**accept, **FORGED_HEADERS}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert_no_forged_value(response)
    assert target.base + "/" in response.text  # the links are there, on the address the server binds
    assert "https://127.0.0.1" not in response.text  # nor did X-Forwarded-Proto change their scheme
    assert_serves_others(target.base)


def test_a_forged_host_is_not_in_redirects(target, no_outbound):
    """Starlette answers /dumps with an absolute Location: it is made from the public URL too."""
    response = httpx.get(target.base + "/dumps", headers=FORGED_HEADERS)
    assert response.status_code in (307, 308)
    assert response.headers["location"] == target.base + "/dumps/"
    assert_no_forged_value(response)


@pytest.fixture(scope="module")
def proxied(built_store):
    """A server behind a declared proxy (127.0.0.5) with a public URL of its own; one query at once per client."""
    process, base = start_server(built_store, **dict(
        REDTEAM_SETTINGS, PTCE_KG_PUBLIC_URL=PUBLIC_URL, PTCE_KG_TRUSTED_PROXIES=f"{PROXY} 10.9.0.0/16",
        PTCE_KG_CLIENT_CONCURRENCY=1, PTCE_KG_HEADER_TIMEOUT=2, PTCE_KG_MAX_CONNECTIONS_PER_CLIENT=10))
    yield Target(process, base)
    stop(process)


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


@pytest.mark.parametrize("path, accept", LINKING_PAGES)
def test_links_use_the_configured_public_url(proxied, path, accept, no_outbound):
    with client_from(PROXY) as client:  # even from the trusted proxy, Host does not make links
        response = client.get(proxied.base + path, headers={**accept, **FORGED_HEADERS})
    assert response.status_code == 200, response.text[:300]
    assert_no_forged_value(response)
    assert PUBLIC_URL in response.text
    assert urlsplit(proxied.base).netloc not in response.text  # nor the address it binds


def test_the_public_url_is_in_robots_sitemap_and_the_endpoint_description(proxied, no_outbound):
    assert f"Sitemap: {PUBLIC_URL}sitemap.xml" in httpx.get(proxied.base + "/robots.txt").text
    assert f"<loc>{PUBLIC_URL}doc/id/ptce/cluster-jura</loc>" in httpx.get(proxied.base + "/sitemap.xml").text
    description = httpx.get(proxied.base + "/sparql", headers={"Accept": "application/n-triples"}).text
    assert f"<{PUBLIC_URL}sparql> <http://www.w3.org/ns/sparql-service-description#endpoint> <{PUBLIC_URL}sparql>" \
        in description
    assert_serves_others(proxied.base)


def hold_a_query(base: str, source: str, forwarded_for: str | None) -> tuple[threading.Thread, dict]:
    """A slow query from `source` (claiming `forwarded_for`), running in a thread; its response lands in the dict."""
    result: dict = {}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}

    def run():
        with client_from(source) as client:
            result["response"] = client.get(base + "/sparql", params={"query": SLOW}, headers=headers)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def ask(base: str, source: str, forwarded_for: str | None = None, **headers) -> httpx.Response:
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    with client_from(source) as client:
        return client.get(base + "/sparql", params={"query": "ASK {}"}, headers=headers)


def test_forged_forwarded_for_from_loopback_does_not_escape_the_per_client_limit(target, no_outbound):
    """uvicorn would believe X-Forwarded-For from 127.0.0.1: the server does not (no trusted proxy)."""
    held = [hold_a_query(target.base, "127.0.0.1", f"198.51.100.{n}") for n in (1, 2)]  # the 2 allowed at once
    time.sleep(0.7)
    try:
        refused = ask(target.base, "127.0.0.1", "198.51.100.3", Forwarded="for=198.51.100.3")
        assert refused.status_code == 429, refused.text[:300]
        assert "Retry-After" in refused.headers
        assert_serves_others(target.base)  # another address still gets in
    finally:
        for thread, _ in held:
            thread.join(timeout=30)
    assert all(result["response"].status_code == 503 for _, result in held)  # the query timeout
    assert ask(target.base, "127.0.0.1", "198.51.100.3").status_code == 200  # the slots are back


def test_forwarded_for_is_believed_from_the_trusted_proxy_only(proxied, no_outbound):
    untrusted = hold_a_query(proxied.base, "127.0.0.4", "198.51.100.10")
    behind_proxy = hold_a_query(proxied.base, PROXY, "198.51.100.20")
    time.sleep(0.7)
    try:
        # From an address that is not a proxy, the header changes nothing: same client, over its 1 query.
        assert ask(proxied.base, "127.0.0.4", "198.51.100.11").status_code == 429
        # Through the proxy, the forwarded address is the client: another one is served, the same one is not.
        assert ask(proxied.base, PROXY, "198.51.100.21").status_code == 200
        assert ask(proxied.base, PROXY, "198.51.100.20").status_code == 429
        assert_serves_others(proxied.base)
    finally:
        for thread, _ in (untrusted, behind_proxy):
            thread.join(timeout=30)
    assert untrusted[1]["response"].status_code == 503 and behind_proxy[1]["response"].status_code == 503


def test_a_trusted_proxy_is_not_held_to_the_per_address_connection_cap(proxied, no_outbound):
    """A proxy carries many clients: 20 idle connections from it stay open; from another address, 10 do."""
    address = urlsplit(proxied.base)
    socks = []
    try:
        for source in (PROXY, "127.0.0.4"):
            for _ in range(20):
                sock = socket.socket()
                socks.append(sock)
                sock.bind((source, 0))
                sock.connect((address.hostname, address.port))
        time.sleep(0.5)  # well within the 2 s header timeout
        readable, _, _ = select.select(socks, [], [], 0)  # refused ones: a 503, then closed
        assert all(sock.recv(1024).startswith(b"HTTP/1.1 503 ") for sock in readable)
        still_open = Counter(sock.getsockname()[0] for sock in socks if sock not in readable)
        assert still_open == {PROXY: 20, "127.0.0.4": 10}
        assert_serves_others(proxied.base)
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("env, message", [
    ({"PTCE_KG_PUBLIC_URL": "javascript:alert(1)//"}, "invalid public URL"),
    ({"PTCE_KG_PUBLIC_URL": "https://user@data.example.org/"}, "invalid public URL"),
    ({"PTCE_KG_TRUSTED_PROXIES": "*"}, "neither an IP address nor a network"),
])
def test_a_bad_public_url_or_proxy_list_stops_the_server_at_start(tmp_path, env, message):
    # It stops before binding anything (port 9 is never opened) and before opening the store.
    done = subprocess.run([sys.executable, "-m", "cli", "serve", "--store", str(tmp_path / "none"),
                           "--port", "9"], cwd=ROOT, env=guarded_env(**env), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
