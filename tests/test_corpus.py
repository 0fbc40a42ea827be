"""The conformance corpus (tests/corpus/queries.yaml) over HTTP, on each backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

CORPUS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "corpus" / "queries.yaml").read_text(encoding="utf-8")
)


def test_corpus_is_substantial() -> None:
    assert len(CORPUS) >= 40
    assert len({case["name"] for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_query(seeded: TestClient, case: dict[str, Any]) -> None:
    r = seeded.get(f"/_/relations?{case['query']}")
    assert r.status_code == case.get("status", 200), r.text
    body = r.json()
    if "code" in case:
        assert set(body) == {"error"}
        assert body["error"]["code"] == case["code"]
        return
    if "single" in case:
        assert body["data"]["id"] == case["single"]
    if "ids" in case:
        assert [row["id"] for row in body["data"]] == case["ids"]
    if "data" in case:
        assert body["data"] == case["data"]
    for key, value in case.get("meta", {}).items():
        assert body["meta"][key] == value, key
