"""The web dashboard in a real headless Chromium, against a real server on the demo pipeline.

Needs Debian's Chromium at /usr/bin/chromium (``scripts/install-browser.sh`` installs it) and
Playwright for Python (only its driver: the system browser is used, never downloaded).
Leaves a screenshot in ``tests/artifacts/dashboard.png``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from snowmelt.client import RemoteSession
from snowmelt.demo.runner import run_demo
from snowmelt.monitor import STATUS_SCHEMA, collect, dashboard, monitor
from snowmelt.server.serverfile import ServerInfo, live

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SILVER = "DATA_ENGINEERING_DEMO.SILVER.TRANSACTIONS_ENRICHED"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerInfo, Path]]:
    """``snowmelt serve`` (with the dashboard) on a freshly built demo database."""
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "demo.duckdb"
    run_demo(Console(file=io.StringIO()), str(db), batches=1, batch_size=120, seed=7)
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "snowmelt.server.main", "--db", str(db), "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        info = None
        while info is None or info.pid != process.pid:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{(folder / 'server.log').read_text()}")
            time.sleep(0.1)
            info = live(db)
        yield info, db
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def browser_or_skip() -> tuple[Any, str]:
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed (pip install "
        "playwright; the browser comes from scripts/install-browser.sh)",
    )
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        pytest.skip(
            "Chromium not found at /usr/bin/chromium: run scripts/install-browser.sh "
            "(apt-get update && apt-get install -y chromium)"
        )
    return sync_api, path


def test_monitor_command_reads_a_running_server(server: tuple[ServerInfo, Path]) -> None:
    import jsonschema

    info, db = server
    result = CliRunner().invoke(monitor, ["--db", str(db), "--mode", "json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    jsonschema.validate(status, STATUS_SCHEMA)
    assert status["source"] == {"kind": "remote", "target": info.url}
    assert status["summary"]["dynamic_tables"] == 7


def test_dashboard_command_prints_the_url_with_the_token_in_the_fragment(
    server: tuple[ServerInfo, Path], tmp_path: Path
) -> None:
    info, db = server
    result = CliRunner().invoke(dashboard, ["--db", str(db)])
    assert result.exit_code == 0
    assert result.output.strip() == f"{info.url}/#token={info.token}"
    missing = CliRunner().invoke(dashboard, ["--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "snowmelt serve" in missing.output


def test_dashboard_shows_the_pipeline_and_follows_a_refresh_live(
    server: tuple[ServerInfo, Path],
) -> None:
    sync_api, chromium = browser_or_skip()
    info, _ = server
    remote = RemoteSession(info)
    status = collect(remote)
    tables = status["dynamic_tables"] + status["base_tables"]
    assert len(status["dynamic_tables"]) == 7 and len(status["base_tables"]) >= 3

    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(15_000)
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "assert")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(f"{info.url}/#token={info.token}")

            # every table of the demo pipeline is on the graph, with its name visible
            page.wait_for_function(
                "n => document.querySelectorAll('.node').length === n", arg=len(tables)
            )
            for table in tables:
                node = page.locator(f'.node[data-id="{table["qualified_name"]}"]')
                assert node.locator(".n-name").inner_text() == table["name"]
                assert node.is_visible()
            assert [t.inner_text().split()[0] for t in page.locator(".col-title").all()] == [
                "BRONZE",
                "SILVER",
                "GOLD",
            ]
            assert page.locator("path.edge").count() == sum(
                len(t["inputs"]) for t in status["dynamic_tables"]
            )
            assert "token" not in page.url  # the fragment is moved out of the address bar

            # a refresh made while the page is open shows up on it
            node = page.locator(f'.node[data-id="{SILVER}"]')
            node.click()
            page.wait_for_function(
                "() => (document.querySelector('#d-name') || {})"
                ".textContent?.startsWith('TRANSACTIONS_ENRICHED')"
            )
            before = node.get_attribute("data-last-refresh")
            from snowmelt.demo.generators import DemoGenerator, GeneratorConfig

            remote.insert(
                "DATA_ENGINEERING_DEMO.BRONZE.RAW_TRANSACTIONS",
                DemoGenerator(GeneratorConfig(seed=99)).batch("transactions", 60),
            )
            remote.refresh(SILVER)
            rows = remote.sql(f"SELECT COUNT(*) FROM {SILVER}").scalar()
            page.wait_for_function(
                "([id, rows, before]) => { const n = document.querySelector("
                '`.node[data-id="${id}"]`); return n && n.dataset.rows === String(rows) '
                "&& n.dataset.lastRefresh !== before; }",
                arg=[SILVER, rows, before],
            )
            assert f"{rows:,} rows" in node.locator(".n-sub").inner_text()
            page.wait_for_function(
                "rows => [...document.querySelectorAll('#d-kpis .kpi')].some(k => "
                "k.innerText.includes(rows))",
                arg=f"{rows:,}",
            )
            assert page.locator("#d-lag path.lag-line").count() == 1
            assert page.locator("#d-timeline rect.tbar").count() >= 2
            assert "MANUAL" in page.locator("#d-history").inner_text()
            assert "CREATE" in page.locator("#d-code").inner_text()

            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            # without a token the page asks for one, and works once given it
            fresh = browser.new_page()
            fresh.goto(info.url)
            fresh.wait_for_selector("#login:not(.hidden)")
            fresh.fill("#login-token", info.token)
            fresh.click("#login-form button")
            fresh.wait_for_function(
                "n => document.querySelectorAll('.node').length === n", arg=len(tables)
            )
        finally:
            browser.close()
    remote.close()
    assert problems == []
