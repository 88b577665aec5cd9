"""``/docs`` and ``/redoc`` render in headless Chromium with every non-loopback request blocked.

Hospital networks are often closed, so the documentation must work from the service's own assets.
The test starts the real service with uvicorn on a free loopback port, points Debian's
``chromium`` at it with a proxy that goes nowhere and a resolver that resolves nothing but
loopback, and reads the DOM once the page's JavaScript has run. A missing browser is a failure,
not a skip: ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import uvicorn

from api.main import create_app
from tests.api.conftest import settings

LOOPBACK = "127.0.0.1"
CHROMIUM_TIMEOUT_S = 90
# Chromium's clock runs ahead while the page is idle: enough for the bundles to fetch the
# document and render it, without waiting 15 real seconds.
VIRTUAL_TIME_BUDGET_MS = 15_000

# Sentinels, so an empty or partial document cannot pass: paths Swagger UI shows, a summary ReDoc
# titles an operation with.
SENTINEL_PATHS = ("/v1/assessments", "/v1/rules", "/v1/rules/{rule_id}", "/v1/sources", "/health")
SENTINEL_SUMMARY = "Assess a patient: decision, findings, checklist and dosing plan"


class _Assets(HTMLParser):
    """The URLs a page loads as resources: scripts, stylesheets and icons, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        name = {"script": "src", "img": "src", "iframe": "src", "link": "href"}.get(tag)
        if name is not None and values.get(name):
            self.urls.append(str(values[name]))


def _assets(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


def _is_local(url: str, origin: str) -> bool:
    if url.startswith(origin + "/"):
        return True
    return url.startswith("/") and not url.startswith("//")


def _get(url: str) -> tuple[int, bytes]:
    # No proxy from the environment: the service is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return int(response.status), bytes(response.read())


@dataclass(frozen=True)
class Service:
    """The running service: its origin and the operations its OpenAPI document declares."""

    origin: str
    operations: tuple[tuple[str, str, str], ...]  # (method, path, summary)


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    """The real service (uvicorn, authentication off, loopback only) on a free port."""
    app = create_app(settings(auth="disabled"))
    operations = tuple(
        (method, path, op["summary"])
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        yield Service(origin=f"http://{LOOPBACK}:{port}", operations=operations)
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
    assert found, "Debian's `chromium` package is required (`.ci/run` installs it when missing)"
    return found


def _render(url: str, profile: Path) -> str:
    """The DOM of ``url`` once its scripts ran, with every non-loopback request blocked."""
    command = [
        _chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        # Anything not on loopback goes to a proxy that refuses, and resolves to nothing.
        f"--proxy-server=http://{LOOPBACK}:9",
        f"--proxy-bypass-list={LOOPBACK};localhost",
        f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {LOOPBACK}, EXCLUDE localhost",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        "--dump-dom",
        url,
    ]
    # A session of its own, so that the browser's helper processes end with it.
    process = subprocess.Popen(  # noqa: S603  # a fixed command line
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        out, err = b"", b"timed out"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert process.returncode == 0, (
        f"chromium failed on {url}: {err.decode(errors='replace')[-3000:]}"
    )
    return out.decode("utf-8")


def _assert_served_page_is_offline(origin: str, path: str) -> None:
    """The page as served loads only the service's own assets, and each of them is there."""
    status, body = _get(origin + path)
    assert status == 200
    page = body.decode("utf-8")
    assert "https://" not in page, "the page references a remote URL"
    assert "http://" not in page, "the page references a remote URL"
    assets = _assets(page)
    assert assets, "the page loads no assets?"
    for url in assets:
        assert url.startswith("/docs-assets/"), url
        assert _get(origin + url)[0] == 200, url


def test_swagger_ui_lists_the_operations_offline(service: Service, tmp_path: Path) -> None:
    _assert_served_page_is_offline(service.origin, "/docs")
    dom = _render(service.origin + "/docs", tmp_path)

    assert "Failed to load API definition" not in dom
    for path in SENTINEL_PATHS:
        assert f'data-path="{path}"' in dom, path
    for method, path, summary in service.operations:
        assert f'class="opblock opblock-{method}' in dom, (method, path)
        assert f'data-path="{path}"' in dom, path
        assert f'class="opblock-summary-description">{html.escape(summary, quote=False)}<' in dom, (
            summary
        )
    assert dom.count('class="opblock opblock-') == len(service.operations)
    assert [url for url in _assets(dom) if not _is_local(url, service.origin)] == []


def test_redoc_lists_the_operations_offline(service: Service, tmp_path: Path) -> None:
    _assert_served_page_is_offline(service.origin, "/redoc")
    dom = _render(service.origin + "/redoc", tmp_path)

    assert "redoc-wrap" in dom, "ReDoc did not render"
    assert "Something went wrong" not in dom
    assert SENTINEL_SUMMARY in dom
    for _, _, summary in service.operations:
        assert html.escape(summary, quote=False) in dom, summary
    assert dom.count('data-section-id="operation/') == len(service.operations)
    assert [url for url in _assets(dom) if not _is_local(url, service.origin)] == []
