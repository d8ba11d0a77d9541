"""Issue 21: no other site can use an admin's console session, and only configured proxies are believed.

Plain HTTP (httpx, as curl would) against the console served as ``needle serve`` serves it: preflights and
requests from a foreign ``Origin`` are refused on every kind of route, even carrying a valid session
cookie; the cookie is ``HttpOnly; SameSite=Lax`` (and ``Secure`` over HTTPS); sign-out is a POST;
``X-Forwarded-For`` counts only from NEEDLE_TRUSTED_PROXIES. The browser tests are in
tests/admin/test_cross_site_browser.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pipelines.base.settings import SettingsError, load_settings
from pipelines.records.accounts import FAILURES, MAX_ADDRESS_FAILURES
from pipelines.samples import handbook_dir
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, Console

EVIL = "https://evil.example"
#: Every kind of console route: the page, its config, API calls, the queue, uploads, files, sign-in/out.
ROUTES = [
    "",
    "config",
    "gradio_api/info",
    "gradio_api/call/delete_source",
    "gradio_api/call/list_sources",
    "gradio_api/queue/join",
    "gradio_api/queue/data",
    "gradio_api/upload",
    "gradio_api/file=/etc/hostname",
    "login",
    "logout",
]


def _http(console: Console, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=console.url, follow_redirects=False, timeout=30, **kwargs)


def _sign_in(console: Console) -> httpx.Cookies:
    with _http(console) as http:
        response = http.post("login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert response.status_code == 200, response.text
        return response.cookies


def _cors_headers(response: httpx.Response) -> list[str]:
    return [name for name in response.headers if name.lower().startswith("access-control-allow")]


@pytest.fixture(scope="module")
def console(console_factory: Callable[..., Console]) -> Console:
    console = console_factory()
    result = console.service.ingest_file(handbook_dir() / "leave-policy.md")
    assert result.status == "indexed"
    return console


def _source_id(console: Console) -> str:
    (source,) = console.service.list_sources()
    return source.source_id


@pytest.mark.parametrize("host", ["needle.example.com", None])
def test_no_other_origin_gets_a_cors_grant_on_any_route(console: Console, host: str | None) -> None:
    """The issue's curl: a preflight from another origin, behind a real host name (or on loopback)."""
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    if host:
        headers["Host"] = host
    with _http(console) as http:
        for path in ROUTES:
            asks = {**headers, "Access-Control-Request-Headers": "content-type"}
            response = http.options(path, headers=asks)
            assert response.status_code == 403, path
            assert _cors_headers(response) == [], path
            # A simple request (no preflight) gets no grant either.
            simple = http.get(path, headers={"Origin": EVIL, **({"Host": host} if host else {})})
            assert simple.status_code == 403 and _cors_headers(simple) == [], path


def test_a_signed_in_admins_cookie_does_nothing_from_another_site(console: Console) -> None:
    """With the admin's cookie attached (what a browser would do with a SameSite=None cookie), every
    state-changing request that names a foreign Origin, or only a foreign Referer, is refused: the
    source stays, nothing is audited, the admin stays signed in. The same request from the console's
    own page goes through (so the refusal is the guard's, not a malformed request)."""
    cookies = _sign_in(console)
    source_id = _source_id(console)
    audit_before = console.service.audit.entries()
    own = console.base_url
    localhost = own.replace("127.0.0.1", "localhost")  # another site, same machine
    delete = {"data": [source_id]}
    with _http(console, cookies=cookies) as http:
        for origin in (EVIL, localhost, "null"):
            refused = [
                http.post("gradio_api/call/delete_source", json=delete, headers={"Origin": origin}),
                http.post(
                    "gradio_api/queue/join",
                    json={"data": [source_id], "fn_index": 0, "session_hash": "x" * 11},
                    headers={"Origin": origin},
                ),
                http.post(
                    "gradio_api/upload",
                    files={"files": ("evil.txt", b"written from elsewhere")},
                    headers={"Origin": origin},
                ),
                http.post("logout", headers={"Origin": origin}),
                http.post("gradio_api/call/list_sources", json={"data": []}, headers={"Origin": origin}),
                http.get("gradio_api/info", headers={"Origin": origin}),
            ]
            assert [r.status_code for r in refused] == [403] * len(refused), origin
            assert all(_cors_headers(r) == [] for r in refused)
        # No Origin (an old browser's form post), but a Referer from elsewhere.
        referred = http.post("gradio_api/call/delete_source", json=delete, headers={"Referer": f"{EVIL}/x"})
        assert referred.status_code == 403
        # A top-level GET carries a Lax cookie: the old GET sign-out must not work any more.
        assert http.get("logout").status_code == 405

        assert source_id in {s.source_id for s in console.service.list_sources()}
        assert console.service.audit.entries() == audit_before
        assert http.get("config").status_code == 200  # still signed in

        # The console's own page: allowed, and it really deletes (audited as the admin).
        call = http.post("gradio_api/call/delete_source", json=delete, headers={"Origin": own})
        assert call.status_code == 200 and _cors_headers(call) == []
        event_id = call.json()["event_id"]
        with http.stream("GET", f"gradio_api/call/delete_source/{event_id}") as stream:
            body = "".join(stream.iter_text())
        assert "event: complete" in body, body
    assert source_id not in {s.source_id for s in console.service.list_sources()}
    (deleted,) = console.service.audit.entries(action="source.delete")
    assert deleted.actor == ADMIN_USER


def test_the_session_cookie_is_http_only_lax_and_secure_over_https(
    console_factory: Callable[..., Console],
) -> None:
    console = console_factory(trusted_proxies=["127.0.0.1"])
    login = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    with _http(console) as http:
        plain = http.post("login", data=login)
        (cookie,) = plain.headers.get_list("set-cookie")
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in attributes and "samesite=lax" in attributes and "secure" not in attributes
        # Over HTTPS (nginx, trusted, says so): the Secure cookie, and only that one.
        https = http.post("login", data=login, headers={"X-Forwarded-Proto": "https"})
        (cookie,) = https.headers.get_list("set-cookie")
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert {"httponly", "samesite=lax", "secure"} <= set(attributes)
        assert "unsecure" not in cookie
        name, value = cookie.split(";")[0].split("=", 1)
    with httpx.Client(base_url=console.url, timeout=30, cookies={name: value}) as http:
        assert http.get("config").status_code == 200  # Gradio reads the Secure cookie's name
    # From a peer that is not a trusted proxy, X-Forwarded-Proto is ignored.
    untrusting = console_factory()
    with _http(untrusting) as http:
        cookie = http.post("login", data=login, headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
        assert "secure" not in [part.strip().lower() for part in cookie.split(";")]
    with _http(console) as http:
        assert http.get("gradio_api/token").status_code == 404  # the cookie's value is not handed out


def test_the_public_base_urls_origin_is_the_consoles_own(console_factory: Callable[..., Console]) -> None:
    """Behind a proxy that rewrites Host, the page's origin is NEEDLE_PUBLIC_BASE_URL's."""
    console = console_factory(public_base_url="https://needle.example.com")
    cookies = _sign_in(console)
    # A browser at the https:// public name gets the Secure cookie, even from an untrusted TLS proxy.
    login = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    with _http(console) as http:
        cookie = http.post("login", data=login, headers={"Host": "needle.example.com"}).headers["set-cookie"]
        assert "secure" in [part.strip().lower() for part in cookie.split(";")]
    with _http(console, cookies=cookies) as http:
        call = {"data": []}
        ok = http.post(
            "gradio_api/call/list_sources", json=call, headers={"Origin": "https://needle.example.com"}
        )
        assert ok.status_code == 200
        other = http.post(
            "gradio_api/call/list_sources", json=call, headers={"Origin": "https://example.com"}
        )
        assert other.status_code == 403


def _failed_sign_in_address(console: Console, forwarded_for: str, username: str) -> str:
    with _http(console) as http:
        response = http.post(
            "login",
            data={"username": username, "password": "a wrong password"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        assert response.status_code == 400
    (failure,) = console.service.records.query(FAILURES, {"username": username})
    return str(failure.fields["address"])


def test_forwarded_for_counts_only_from_a_trusted_proxy(console_factory: Callable[..., Console]) -> None:
    """Issue 21.2: from loopback, X-Forwarded-For no longer picks the address the throttle counts."""
    untrusting = console_factory()
    assert untrusting.service.settings.trusted_proxies == []
    assert _failed_sign_in_address(untrusting, "203.0.113.7", "mallory") == "127.0.0.1"
    trusting = console_factory(trusted_proxies=["127.0.0.1"])
    assert _failed_sign_in_address(trusting, "203.0.113.7", "mallory") == "203.0.113.7"
    # The proxy appends; the client's own entry (leftmost) is not believed, the proxy's (rightmost) is.
    assert _failed_sign_in_address(trusting, "10.9.9.9, 198.51.100.4", "trudy") == "198.51.100.4"


@pytest.mark.slow
def test_a_guesser_on_loopback_cannot_dodge_the_address_limit(
    console_factory: Callable[..., Console],
) -> None:
    """The issue's case end to end: twenty failures from loopback, each claiming another address, are
    all counted against loopback's, so the next sign-in from there waits."""
    console = console_factory()
    for attempt in range(MAX_ADDRESS_FAILURES):
        with _http(console) as http:
            forged = {"X-Forwarded-For": f"203.0.113.{attempt + 10}"}
            data = {"username": f"guess{attempt}", "password": "a wrong password"}
            assert http.post("login", data=data, headers=forged).status_code == 400
    with _http(console) as http:
        login = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        throttled = http.post("login", data=login, headers={"X-Forwarded-For": "198.51.100.1"})
        assert throttled.status_code == 429 and "Too many attempts" in throttled.json()["detail"]


def test_trusted_proxies_is_a_list_of_addresses(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    assert load_settings(_env_file=None).trusted_proxies == []
    monkeypatch.setenv("NEEDLE_TRUSTED_PROXIES", '["172.30.0.10", "10.0.0.0/8"]')
    assert load_settings(_env_file=None).trusted_proxies == ["172.30.0.10", "10.0.0.0/8"]
    monkeypatch.setenv("NEEDLE_TRUSTED_PROXIES", '["nginx"]')
    with pytest.raises(SettingsError, match="NEEDLE_TRUSTED_PROXIES"):
        load_settings(_env_file=None)


def test_an_open_loopback_console_refuses_other_sites_too(console_factory: Callable[..., Console]) -> None:
    """No password (a developer's loopback console): another site still cannot drive it."""
    console = console_factory(admin_password=None)
    assert console.service.accounts.list() == []
    with _http(console) as http:
        assert http.post("gradio_api/call/list_sources", json={"data": []}).status_code == 200
        other = "http://localhost:" + str(urlsplit(console.base_url).port + 1)
        refused = http.post("gradio_api/call/list_sources", json={"data": []}, headers={"Origin": other})
        assert refused.status_code == 403
        # DNS rebinding: a page at another name that resolves to 127.0.0.1 is "same-origin" with itself.
        port = urlsplit(console.base_url).port
        for host in ("localhost", "127.0.0.1", "[::1]"):
            assert http.get("config", headers={"Host": f"{host}:{port}"}).status_code == 200, host
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        call = http.post("gradio_api/call/list_sources", json={"data": []}, headers=rebound)
        assert call.status_code == 403
        assert http.get("", headers={"Host": f"evil.example:{port}"}).status_code == 403


def test_compose_trusts_exactly_its_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    """infra/: the replicas believe forwarded headers from nginx's fixed address and nobody else's, and
    nginx passes the browser's Host on with its port (the console's own origin)."""
    import yaml

    infra = Path(__file__).resolve().parents[2] / "infra"
    compose = yaml.safe_load((infra / "docker-compose.yml").read_text(encoding="utf-8"))
    environment = dict(item.split("=", 1) for item in compose["services"]["needle"]["environment"])
    assert "FORWARDED_ALLOW_IPS" not in environment
    monkeypatch.setenv("NEEDLE_TRUSTED_PROXIES", environment["NEEDLE_TRUSTED_PROXIES"])
    nginx = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    assert load_settings(_env_file=None).trusted_proxies == [nginx]
    assert "proxy_set_header Host $http_host;" in (infra / "nginx.conf").read_text(encoding="utf-8")
