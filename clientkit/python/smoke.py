"""Live smoke test of the generated Python client (openapi-python-client) against a server.

    RELATIONS_BASE_URL=http://127.0.0.1:8000 [RELATIONS_TOKEN=...] [RELATIONS_PROJECT=_] \
        clients/.venv/bin/python clientkit/python/smoke.py   # with PYTHONPATH=clients/python

`make clients` runs it against a fresh `relations serve` (clientkit/run_smoke.py). Every row it
creates carries a random tag and is deleted at the end, so any deployment will do.
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

from relations_client import AuthenticatedClient, Client
from relations_client.api.relations import (
    create_relations,
    delete_relations,
    get_relations,
    list_relations,
    update_relations,
    update_relations_batch,
)
from relations_client.models import (
    ErrorEnvelope,
    FieldSelector,
    IdFilter,
    Logical,
    Meta,
    MetaKey,
    Relation,
    RelationBatchUpdate,
    RelationCreate,
    RelationFilter,
    RelationListEnvelope,
    RelationsOrOneEnvelope,
    RelationUpdate,
    SortKey,
    TextFilter,
    TextFilterGroup,
)
from relations_client.types import Response


def expect(condition: bool, what: str, response: Response[Any] | None = None) -> None:
    if not condition:
        detail = f"\n  HTTP {response.status_code}: {response.content[:500]!r}" if response else ""
        raise SystemExit(f"python smoke: FAILED: {what}{detail}")
    print(f"  ok  {what}")


def rows(response: Response[Any]) -> list[Relation]:
    """The `data` of a 200 envelope as a list (fails the run on anything else)."""
    parsed = response.parsed
    if response.status_code != 200 or not isinstance(
        parsed, RelationsOrOneEnvelope | RelationListEnvelope
    ):
        expect(False, "HTTP 200 with a {data} envelope", response)
    assert isinstance(parsed, RelationsOrOneEnvelope | RelationListEnvelope)
    return parsed.data if isinstance(parsed.data, list) else [parsed.data]


def main() -> None:
    base_url = os.environ.get("RELATIONS_BASE_URL", "http://127.0.0.1:8000")
    token = os.environ.get("RELATIONS_TOKEN") or None
    project = os.environ.get("RELATIONS_PROJECT", "_")
    client: Client | AuthenticatedClient = (
        AuthenticatedClient(base_url=base_url, token=token) if token else Client(base_url=base_url)
    )
    tag = uuid.uuid4().hex[:8]
    articles, files = f"smoke_{tag}_articles", f"smoke_{tag}_files"
    print(f"python smoke against {base_url} project {project!r} "
          f"({'with' if token else 'without'} a token), tag {tag}")

    r = create_relations.sync_detailed(project, client=client, body=RelationCreate(
        collection_many=articles, field_many="author", collection_one="authors",
        field_one="books"))
    (one,) = rows(r)
    expect(one.collection_many == articles and one.field_one == "books"
           and one.junction_field is None, "create one: the stored row comes back", r)

    r = create_relations.sync_detailed(project, client=client, body=[
        RelationCreate(collection_many=articles, field_many="editor"),
        RelationCreate(collection_many=files, field_many="folder", collection_one="folders"),
    ])
    batch = rows(r)
    expect(len(batch) == 2 and batch[0].field_many == "editor"
           and batch[1].collection_one == "folders", "batch create: two rows, each its keys", r)
    ids = [one.id, batch[0].id, batch[1].id]
    id_list = ",".join(str(i) for i in ids)

    r = list_relations.sync_detailed(
        project, client=client,
        filter_=RelationFilter(collection_many=TextFilter(eq=articles)),
        sort=[SortKey.ID_DESC], fields=[FieldSelector.ID, FieldSelector.FIELD_MANY],
        meta=[MetaKey.FILTER_COUNT, MetaKey.RESULT_COUNT])
    found = rows(r)
    expect([(x.id, x.field_many) for x in found] == [(ids[1], "editor"), (ids[0], "author")],
           "list: filter eq, sort -id, fields id,field_many", r)
    expect(all(set(x.to_dict()) == {"id", "field_many"} for x in found),
           "list: only the asked fields are returned", r)
    assert isinstance(r.parsed, RelationsOrOneEnvelope)
    meta = r.parsed.meta
    expect(isinstance(meta, Meta) and meta.filter_count == 2 and meta.result_count == 2,
           "list: meta filter_count and result_count", r)

    r = list_relations.sync_detailed(project, client=client, sort=[SortKey.ID], filter_=(
        RelationFilter(
            id=IdFilter(in_=id_list),
            collection_many=TextFilter(
                field_0=TextFilterGroup(eq=files),
                field_1=TextFilterGroup(logical=Logical.OR, like=f"{tag}_ART"),
            ),
        )))
    expect([x.id for x in rows(r)] == ids,
           "list: filter id in + numeric groups with logical=or + like (3-level keys)", r)

    r = list_relations.sync_detailed(project, client=client, filter_=RelationFilter(
        id=IdFilter(in_=id_list), field_one=TextFilter(null="")))
    expect(sorted(x.id for x in rows(r)) == ids[1:], "list: filter field_one null", r)

    r = get_relations.sync_detailed(project, str(ids[0]), client=client)
    expect(rows(r)[0].to_dict() == one.to_dict(), "get one by id", r)
    r = get_relations.sync_detailed(project, id_list, client=client, fields=[FieldSelector.ID])
    expect([x.id for x in rows(r)] == ids, "get several by a comma list", r)

    r = update_relations.sync_detailed(project, str(ids[0]), client=client,
                                       body=RelationUpdate(field_one="writings"))
    expect(rows(r)[0].field_one == "writings" and rows(r)[0].field_many == "author",
           "patch one: merged over the stored row", r)
    r = update_relations_batch.sync_detailed(project, client=client, body=[
        RelationBatchUpdate(id=ids[1], field_one="x"),
        RelationBatchUpdate(id=ids[2], field_one="y")])
    expect([x.field_one for x in rows(r)] == ["x", "y"], "patch a batch, each its own data", r)

    r = create_relations.sync_detailed(project, client=client, body=RelationCreate(
        collection_many="c" * 65, field_many="f"))
    expect(r.status_code == 422 and isinstance(r.parsed, ErrorEnvelope)
           and r.parsed.error.code == 12, "error: a too long value is 422 with code 12", r)

    r = delete_relations.sync_detailed(project, id_list, client=client)
    expect(r.status_code == 204 and r.content == b"", "delete several: 204, empty body", r)
    r = get_relations.sync_detailed(project, str(ids[0]), client=client)
    expect(r.status_code == 404 and isinstance(r.parsed, ErrorEnvelope)
           and r.parsed.error.code == 203 and isinstance(r.parsed.error.message, str),
           "error: a deleted id reads back as the envelope {error: {code 203, message}}", r)
    print("python smoke: passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a transport error or an unexpected shape: say so and fail
        sys.exit(f"python smoke: FAILED: {type(exc).__name__}: {exc}")
