"""The dashboard router in-process: page, static files, auth, graph and table detail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from monitor_fixtures import COUNTS, PARSED

import snowmelt
from snowmelt.server import dashboard
from snowmelt.server.app import ServerState, create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(pipeline: Callable[..., Path]) -> Iterator[TestClient]:
    session = snowmelt.connect(pipeline("failing"))
    state = ServerState(session=session, token=TOKEN, db=str(session.path))
    app = create_app(state)  # includes dashboard.router(state)
    with TestClient(app) as c:
        yield c
    session.close()


def test_page_and_its_files_need_no_token_and_carry_a_strict_csp(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<script src="/static/dashboard.js"' in page.text
    for name, kind in (
        ("dashboard.js", "text/javascript"),
        ("dashboard.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)


@pytest.mark.parametrize(
    "path",
    ["/static/..%2Fapp.py", "/static/dashboard.py", "/static/.hidden.js", "/static/missing.js"],
)
def test_static_serves_only_the_shipped_files(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_shipped_files_use_no_external_resources() -> None:
    from importlib import resources

    folder = resources.files("snowmelt.server").joinpath("static")
    for entry in folder.iterdir():
        text = entry.read_text()
        for needle in ("https://", "//cdn", "http://", "@import", ".innerHTML", "eval("):
            assert needle not in text.replace("http://www.w3.org", ""), (entry.name, needle)


def test_data_routes_need_the_bearer_token(client: TestClient) -> None:
    assert client.get("/v1/graph").status_code == 401
    assert client.get("/v1/graph", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get(f"/v1/dynamic-tables/{PARSED}/detail").status_code == 401


def test_graph_has_every_table_layered_left_to_right(client: TestClient) -> None:
    graph = client.get("/v1/graph", headers=AUTH).json()
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert set(nodes) == {"D.RAW.CODES", PARSED, COUNTS}
    assert [c["layer"] for c in graph["columns"]] == ["BRONZE", "SILVER", "GOLD"]
    assert [nodes[n]["column"] for n in ("D.RAW.CODES", PARSED, COUNTS)] == [0, 1, 2]
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("D.RAW.CODES", PARSED),
        (PARSED, COUNTS),
    }
    assert nodes[PARSED]["health"] == "FAILING" and nodes[COUNTS]["health"] == "HEALTHY"
    assert graph["summary"]["failing"] == 1


def test_detail_has_definition_mode_sql_lag_series_and_refreshes(client: TestClient) -> None:
    detail = client.get(f"/v1/dynamic-tables/{PARSED}/detail", headers=AUTH).json()
    assert detail["table"]["qualified_name"] == PARSED
    assert "CAST(S AS INT)" in detail["definition"]
    plan = detail["explain"]
    assert plan["refresh_mode"] in ("FULL", "ADAPTIVE") and plan["error"] is None
    assert plan["sql"] and all(block["sql"].strip() for block in plan["sql"])
    states = [h["state"] for h in detail["history"]]
    assert states[0] == "FAILED" and "SUCCEEDED" in states
    assert detail["lag_series"][-1]["t"] == detail["generated_at"]
    # unqualified names work when they are unambiguous
    assert (
        client.get("/v1/dynamic-tables/SILVER.PARSED/detail", headers=AUTH).json()["table"][
            "qualified_name"
        ]
        == PARSED
    )


def test_detail_of_an_unknown_table_is_404(client: TestClient) -> None:
    response = client.get("/v1/dynamic-tables/D.GOLD.NOPE/detail", headers=AUTH)
    assert response.status_code == 404 and "does not exist" in response.json()["error"]


def test_lag_series_is_a_sawtooth_that_drops_at_each_refresh() -> None:
    def refresh(end: str, data: str, state: str = "SUCCEEDED") -> dict:
        return {
            "state": state,
            "end_time": f"2026-01-01T00:{end}+00:00",
            "data_timestamp": f"2026-01-01T00:{data}+00:00",
        }

    history = [
        refresh("03:00", "02:50", "FAILED"),
        refresh("02:00", "01:55"),
        refresh("01:00", "00:58"),
    ]  # newest first, as the API returns them
    points = dashboard.lag_series(history, "2026-01-01T00:04:00+00:00")
    assert [(p["t"][14:19], p["lag_sec"]) for p in points] == [
        ("01:00", 2.0),
        ("02:00", 62.0),
        ("02:00", 5.0),
        ("04:00", 125.0),
    ]
