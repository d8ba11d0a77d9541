"""Issues 21 and 22 in real Chromium: another site cannot use the admin's session; signing in, being
throttled, the session ending and signing out, as an admin sees them.

The console runs on ``127.0.0.1`` and the attacking page on ``localhost``: two different sites, on this
machine, in the same browser profile as the signed-in admin.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect

from admin import sessions
from pipelines.app.server import build_server
from pipelines.records.accounts import MAX_FAILURES
from pipelines.samples import handbook_dir
from pipelines.service.facade import NeedleService
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, ARTIFACTS, Console
from tests.admin.test_browser import _log_in, browser  # noqa: F401 - the shared Chromium fixture
from tests.conftest import make_settings
from tests.support.uvicorn_server import start

ATTACK = """<!doctype html><html><body>
<h1>Cute cats</h1>
<iframe name="sink"></iframe>
<form id="csrf" method="post" action="{target}gradio_api/call/delete_source" target="sink"
      enctype="text/plain"><input name='{{"data":["{source_id}"],"x":"' value='"}}'></form>
<script>
window.results = {{}};
async function attempt(name, url, options) {{
  try {{
    const answer = await fetch(url, {{credentials: "include", ...options}});
    window.results[name] = answer.type === "opaque" ? "opaque" : "read " + answer.status + " " +
      (await answer.text()).slice(0, 200);
  }} catch (error) {{
    window.results[name] = "blocked: " + error;
  }}
}}
(async () => {{
  const json = {{"Content-Type": "application/json"}};
  await attempt("list", "{target}gradio_api/call/list_sources",
                {{method: "POST", headers: json, body: JSON.stringify({{data: []}})}});
  await attempt("info", "{target}gradio_api/info", {{}});
  await attempt("delete", "{target}gradio_api/call/delete_source",
                {{method: "POST", headers: json, body: JSON.stringify({{data: ["{source_id}"]}})}});
  await attempt("blind delete", "{target}gradio_api/call/delete_source",
                {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
                  body: JSON.stringify({{data: ["{source_id}"]}})}});
  await attempt("sign out", "{target}logout", {{method: "POST", mode: "no-cors"}});
  window.results.done = true;
}})();
</script></body></html>"""


class AttackingSite:
    """A page on another site (``http://localhost:PORT``) that tries to drive the console."""

    def __init__(self, page_html: str) -> None:
        body = page_html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 - uses the shared fixture
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)  # the build machine's two cores are shared: Gradio may load slowly
    yield page
    context.close()


@pytest.fixture(scope="module")
def https_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The console over HTTPS (a self-signed certificate for 127.0.0.1), as behind a real host name: the
    browser keeps a ``Secure`` cookie, which is what Gradio's ``SameSite=None`` one needed."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: run `bash scripts/install_system_deps.sh`")
    folder = tmp_path_factory.mktemp("tls")
    key, certificate = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    settings = make_settings(
        tmp_path_factory.mktemp("admin"), admin_username=ADMIN_USER, admin_password=ADMIN_PASSWORD
    )
    service = NeedleService(settings)
    app, _faces = build_server(service, names={"admin"})
    console = Console(service, start(app, ssl_certfile=str(certificate), ssl_keyfile=str(key)))
    yield console
    console.stop()
    service.traces.close()


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_page_on_another_site_cannot_read_or_change_anything_with_the_admins_session(
    console_factory: Callable[..., Console],
    request: pytest.FixtureRequest,
    browser: Browser,  # noqa: F811 - the shared fixture
    caplog: pytest.LogCaptureFixture,
    scheme: str,
) -> None:
    console = console_factory() if scheme == "http" else request.getfixturevalue("https_console")
    context = browser.new_context(ignore_https_errors=True)  # the certificate is self-signed
    page = context.new_page()
    page.set_default_timeout(60_000)
    assert console.service.ingest_file(handbook_dir() / "leave-policy.md").status == "indexed"
    (source,) = console.service.list_sources()
    audit_before = console.service.audit.entries()
    # The admin signs in (the browser keeps the cookie, whatever its attributes).
    credentials = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    login = page.request.post(f"{console.url}login", form=credentials)
    assert login.ok
    assert page.request.get(f"{console.url}config").status == 200

    site = AttackingSite(ATTACK.format(target=console.url, source_id=source.source_id))
    try:
        with caplog.at_level(logging.WARNING, logger="admin.same_origin"):
            page.goto(site.url)
            page.wait_for_function("window.results && window.results.done === true")
            with page.expect_event("framenavigated"):
                page.evaluate("document.getElementById('csrf').submit()")
            results = page.evaluate("window.results")
            time.sleep(1)  # anything the server would have queued has had time to run
    finally:
        site.close()

    for name in ("list", "info", "delete"):
        assert results[name].startswith("blocked"), (name, results[name])  # nothing readable
    assert source.source_id in {s.source_id for s in console.service.list_sources()}
    assert console.service.audit.entries() == audit_before
    assert page.request.get(f"{console.url}config").status == 200  # still signed in
    # The server itself refused the requests that reached it (not only the browser's cookie policy).
    refused = [r.getMessage() for r in caplog.records if "refused a cross-site" in r.getMessage()]
    assert any("delete_source" in message for message in refused), refused
    assert all("localhost" in message for message in refused)
    context.close()


@pytest.mark.slow
def test_signing_in_being_throttled_the_session_ending_and_signing_out_in_the_browser(
    console_factory: Callable[..., Console], page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """22.12: a throttled sign-in is told how long to wait, and a colleague at the same address signs
    in; 22.13: when the session ends, the open page says so and offers to sign in again; 21.1: "Sign
    out" is a button (a POST) that ends the session."""
    now = [time.time()]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])
    console = console_factory(admin_session_hours=1)
    console.service.accounts.add("ann", "a long enough password", "editor", actor="test")

    page.goto(console.url)
    error = page.get_by_role("alert")

    def sign_in_as_ann(password: str) -> None:
        page.get_by_label("Username").fill("ann")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

    for attempt in range(MAX_FAILURES):
        sign_in_as_ann(f"a wrong password {attempt}")
        expect(error).to_have_text("Incorrect username or password.")
        page.evaluate("document.getElementById('sign-in-error').textContent = ''")  # wait for each
    sign_in_as_ann("a long enough password")
    expect(error).to_have_text(re.compile(r"^Too many attempts: try again in \d+ seconds?\.$"))
    expect(page.get_by_role("tab", name="Sources")).to_have_count(0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-sign-in-throttled.png"))

    _log_in(page, console.url)  # a colleague at the same address is not locked out
    now[0] += 3600 + 1  # the sign-in is an hour old: the session has ended
    # The page's next call to the console (a click here; the page's own polling may come first).
    page.get_by_role("button", name="Refresh").first.dispatch_event("click")
    ended = page.locator("#session-ended")
    expect(ended).to_be_visible()
    expect(ended).to_contain_text("Your session has ended")
    page.screenshot(path=str(ARTIFACTS / "admin-session-ended.png"))
    ended.get_by_role("button", name="Sign in again").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    _log_in(page, console.url)
    page.screenshot(path=str(ARTIFACTS / "admin-signed-in.png"))

    page.locator("#sign-out").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("tab", name="Sources")).to_have_count(0)
    assert page.request.get(f"{console.url}config").status == 401
