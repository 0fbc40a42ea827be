"""The served Swagger UI works for a person: headless Chromium loads `/docs/`, every operation
of the spec is listed, and "Try it out" of the list operation (after "Authorize" with a token
when the spec declares one) answers 200 with the data envelope. A screenshot is left in the
test's tmp_path.

Chromium comes from Debian (`apt-get install chromium`; `.ci/run` installs it) and is driven
by Playwright with `executable_path`, never a downloaded browser. Without a browser (or without
Playwright) the test is skipped with the reason, unless RELATIONS_REQUIRE_BROWSER=1 (CI sets
it) makes that a failure. RELATIONS_CHROMIUM names another binary.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml

from clientkit.live import ROOT, Live, live_server

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: A row the list operation's parameter examples (Swagger UI's try-it-out defaults) match.
MATCHING_ROW = {"collection_many": "directus_files", "field_many": "roles",
                "collection_one": "directus_roles"}


def chromium() -> str | None:
    """The browser binary, if this machine has one."""
    named = os.environ.get("RELATIONS_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def seed(live: Live) -> None:
    """Create rows through the API, as a person would have before opening the docs."""
    request = urllib.request.Request(
        f"{live.base_url}/{live.project}/relations", method="POST",
        data=json.dumps([MATCHING_ROW, {"collection_many": "articles", "field_many": "author"}])
        .encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {live.token}"} if live.token else {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.mark.live
def test_swagger_ui_lists_every_operation_and_tries_the_list(tmp_path: Path) -> None:
    browser_path = chromium()
    required = os.environ.get("RELATIONS_REQUIRE_BROWSER") == "1"  # .ci/run sets it
    if browser_path is None:
        reason = "no Chromium found (apt-get install chromium, or set RELATIONS_CHROMIUM)"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    expected = {(method.upper(), path) for path, item in SPEC["paths"].items()
                for method in item if method in METHODS}
    screenshot = tmp_path / "swagger-ui.png"

    with live_server(tmp_path / "data") as live, sync_api.sync_playwright() as pw:
        seed(live)
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(f"{live.base_url}/docs/")
            page.wait_for_selector(".opblock-summary", timeout=30_000)
            listed = {
                (block.locator(".opblock-summary-method").inner_text().strip(),
                 block.locator(".opblock-summary-path").get_attribute("data-path"))
                for block in page.locator(".opblock").all()
            }
            assert listed == expected

            if live.token and SPEC.get("components", {}).get("securitySchemes"):
                page.get_by_role("button", name="Authorize").first.click()
                modal = page.locator(".modal-ux")
                bearer = modal.locator(".auth-container").filter(has_text="bearerAuth")
                bearer.locator("input").fill(live.token)
                bearer.get_by_role("button", name="Authorize").click()
                modal.get_by_role("button", name="Close").first.click()

            op = page.locator("#operations-relations-list_relations")
            op.locator(".opblock-summary").click()
            op.get_by_role("button", name="Try it out").click()
            op.locator("input[placeholder='project']").fill(live.project)
            op.get_by_role("button", name="Execute").click()
            status = op.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=30_000)
            body = op.locator(".live-responses-table tbody .response-col_description pre").first
            request_url = op.locator(".request-url").inner_text()
            op.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot), full_page=True)
            op.screenshot(path=str(tmp_path / "swagger-ui-list-relations.png"))
            assert status.inner_text().strip() == "200", (request_url, body.inner_text())
            answer = json.loads(body.inner_text())
        finally:
            browser.close()

    assert set(answer) <= {"meta", "data"} and "data" in answer
    rows = answer["data"] if isinstance(answer["data"], list) else [answer["data"]]
    assert rows and all(row["collection_many"] == MATCHING_ROW["collection_many"] for row in rows)
    assert screenshot.stat().st_size > 10_000
