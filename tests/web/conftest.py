"""Fixtures for the workbench tests: a real ``nlp-guard serve`` (uvicorn, rules only) on a free
loopback port, Debian's chromium driven by Playwright, and a fresh browser context per test."""
from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for _p in (str(_ROOT), str(_ROOT / "tests" / "api")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

pytest.importorskip("fastapi", reason="the workbench tests need the 'api' extra")
sync_api = pytest.importorskip("playwright.sync_api", reason="the workbench tests need playwright (the 'test' extra)")

from api_helpers import new_key  # noqa: E402
from test_uvicorn import free_port, start_server, stop, wait_ready  # noqa: E402  (the service tests' helpers)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """{"base": "http://127.0.0.1:PORT", "key": a check+scan key, "scan_only": a key without 'check'}."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'guard.db'}"
    key = new_key(db_url, "acme", "check,scan")["Authorization"].removeprefix("Bearer ")
    scan_only = new_key(db_url, "acme", "scan")["Authorization"].removeprefix("Bearer ")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port, rules_only=True)
    try:
        wait_ready(base, proc)
        yield {"base": base, "key": key, "scan_only": scan_only}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, server) -> Iterator[object]:
    """A fresh context (empty sessionStorage) on the workbench; fails the test on any page error,
    console error (a CSP violation is one) or request to another origin."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN", accept_downloads=True)
    ctx.set_default_timeout(20_000)
    pg = ctx.new_page()
    problems: list[str] = []
    foreign: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("request", lambda r: foreign.append(r.url)
          if not (r.url.startswith(server["base"] + "/") or r.url.startswith("blob:") or r.url.startswith("data:"))
          else None)
    # statuses the tests provoke on purpose; a test that aborts a request adds "net::ERR_FAILED"
    pg.allowed_console = ["status of 401", "status of 403", "status of 413", "status of 422"]  # type: ignore[attr-defined]
    pg.goto(server["base"] + "/")
    yield pg
    ctx.close()
    assert not foreign, f"the page reached outside its origin: {foreign}"
    assert not [p for p in problems if not any(a in p for a in pg.allowed_console)], problems


@pytest.fixture
def shot() -> object:
    """shot(page, "name") saves tests/web/screenshots/name.png (full page) for a person to look at."""
    def _shot(pg, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path
    return _shot
