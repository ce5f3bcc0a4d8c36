"""The load benchmark's lead without a browser (``benchmarks/load.py``'s ``PageClient``) sees
what the page shows: against a real ``sjr serve`` run as under the hub (no pre-heated kernels),
it gets the care scores chart (a PNG) from the widget state, a new chart after a filter change
with the summary changed too, and leaving shuts the page's kernel down (the XSRF-protected
shutdown accepted). No browser is used; it sits with the browser tests for their servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import time
from pathlib import Path

import psutil
import pytest
from dashboard_store import add_users, populate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load import PageClient  # noqa: E402

pytestmark = [pytest.mark.slow]


def _kernels(port: int) -> int:
    for proc in psutil.process_iter(["cmdline"]):
        line = proc.info["cmdline"] or []
        if "serve" in line and str(port) in line:
            return sum(1 for child in proc.children(recursive=True)
                       if "ipykernel" in " ".join(child.cmdline()))
    raise AssertionError(f"no sjr serve on port {port}")


def _summary(client: PageClient) -> str:
    (model,) = client._with_class("sjr-summary")
    return client.models[model]["value"]


def test_the_websocket_client_opens_redraws_and_leaves(start_voila, tmp_path_factory,
                                                       small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('load-client-store') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    server = start_voila(users.lead, url)
    port = int(server.url.rsplit(":", 1)[1])

    async def view() -> None:
        client = PageClient(port, timeout=180, token=server.token)
        try:
            await client.open()
            first = client._chart()
            png = bytes(client.models[first]["value"])
            assert png.startswith(b"\x89PNG") and len(png) > 5000
            before = _summary(client)
            assert "deaths from" in before.lower() or "death from" in before.lower()
            options, current = client.options()
            assert options >= 3 and current == 0  # "All admission types" first
            await client.change(1)
            second = client._chart()
            assert second != first
            assert bytes(client.models[second]["value"]) != png
            assert _summary(client) != before
            assert _kernels(port) == 1
        finally:
            await client.leave()

    # in a thread of its own: Playwright's sync API (the browser tests of the same worker)
    # keeps an event loop running in this one, where asyncio.run() is refused
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, view()).result()
    deadline = time.monotonic() + 60
    while _kernels(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _kernels(port) == 0, "leaving did not shut the page's kernel down"
    assert "403 POST" not in server.log.read_text(errors="replace")
