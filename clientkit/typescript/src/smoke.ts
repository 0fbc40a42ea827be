/**
 * Live smoke test of the generated TypeScript client (openapi-typescript + openapi-fetch).
 *
 *   RELATIONS_BASE_URL=http://127.0.0.1:8000 [RELATIONS_TOKEN=...] [RELATIONS_PROJECT=_] \
 *     node clients/typescript/dist/smoke.js
 *
 * `make clients` runs it against a fresh `relations serve` (clientkit/run_smoke.py). Every row
 * it creates carries a random tag and is deleted at the end, so any deployment will do.
 */
import { randomUUID } from "node:crypto";
import { createRelationsClient, relationsQuerySerializer, type Relation } from "./relations.js";

const baseUrl = process.env.RELATIONS_BASE_URL ?? "http://127.0.0.1:8000";
const token = process.env.RELATIONS_TOKEN || undefined;
const project = process.env.RELATIONS_PROJECT ?? "_";

function expect(condition: boolean, what: string, detail?: unknown): void {
  if (!condition) {
    console.error(`typescript smoke: FAILED: ${what}${detail === undefined ? "" : `\n  ${JSON.stringify(detail)}`}`);
    process.exit(1);
  }
  console.log(`  ok  ${what}`);
}

/** The `data` of a 200 envelope as a list (fails the run on anything else). */
function rows(result: { data?: { data: Relation | Relation[] }; error?: unknown; response: Response }): Relation[] {
  if (result.response.status !== 200 || result.data === undefined) {
    expect(false, `HTTP 200 with a {data} envelope (got ${result.response.status})`, result.error);
  }
  const data = result.data!.data;
  return Array.isArray(data) ? data : [data];
}

async function main(): Promise<void> {
  const client = createRelationsClient({ baseUrl, token });
  const tag = randomUUID().replace(/-/g, "").slice(0, 8);
  const articles = `smoke_${tag}_articles`;
  const files = `smoke_${tag}_files`;
  const path = { project };
  console.log(`typescript smoke against ${baseUrl} project '${project}' (${token ? "with" : "without"} a token), tag ${tag}`);

  expect(
    relationsQuerySerializer({ fields: ["id", "field_many"], filter: { id: { in: "1,2" }, field_one: { 0: { eq: "a b" }, 1: { logical: "or", null: "" } } } }) ===
      "fields=id,field_many&filter[id][in]=1%2C2&filter[field_one][0][eq]=a%20b&filter[field_one][1][logical]=or&filter[field_one][1][null]=",
    "serializer: comma lists and nested deepObject keys, in order",
  );

  let r = await client.POST("/{project}/relations", {
    params: { path },
    body: { collection_many: articles, field_many: "author", collection_one: "authors", field_one: "books" },
  });
  const [one] = rows(r);
  expect(one?.collection_many === articles && one.field_one === "books" && one.junction_field === null, "create one: the stored row comes back", r.data);

  r = await client.POST("/{project}/relations", {
    params: { path },
    body: [
      { collection_many: articles, field_many: "editor" },
      { collection_many: files, field_many: "folder", collection_one: "folders" },
    ],
  });
  const batch = rows(r);
  expect(batch.length === 2 && batch[0]?.field_many === "editor" && batch[1]?.collection_one === "folders", "batch create: two rows, each its keys", r.data);
  const ids = [one!.id!, batch[0]!.id!, batch[1]!.id!];
  const idList = ids.join(",");

  let list = await client.GET("/{project}/relations", {
    params: {
      path,
      query: { filter: { collection_many: { eq: articles } }, sort: ["-id"], fields: ["id", "field_many"], meta: ["filter_count", "result_count"] },
    },
  });
  const found = rows(list);
  expect(
    JSON.stringify(found) === JSON.stringify([{ id: ids[1], field_many: "editor" }, { id: ids[0], field_many: "author" }]),
    "list: filter eq, sort -id, fields id,field_many (only those keys)",
    found,
  );
  expect(list.data?.meta?.filter_count === 2 && list.data.meta.result_count === 2, "list: meta filter_count and result_count", list.data?.meta);

  list = await client.GET("/{project}/relations", {
    params: {
      path,
      query: {
        sort: ["id"],
        filter: { id: { in: idList }, collection_many: { 0: { eq: files }, 1: { logical: "or", like: `${tag}_ART` } } },
      },
    },
  });
  expect(JSON.stringify(rows(list).map((x) => x.id)) === JSON.stringify(ids), "list: filter id in + numeric groups with logical=or + like (3-level keys)", list.data);

  list = await client.GET("/{project}/relations", {
    params: { path, query: { sort: ["id"], filter: { id: { in: idList }, field_one: { null: "" } } } },
  });
  expect(JSON.stringify(rows(list).map((x) => x.id)) === JSON.stringify(ids.slice(1)), "list: filter field_one null", list.data);

  let got = await client.GET("/{project}/relations/{id}", { params: { path: { project, id: String(ids[0]) } } });
  expect(JSON.stringify(rows(got)[0]) === JSON.stringify(one), "get one by id", got.data);
  got = await client.GET("/{project}/relations/{id}", { params: { path: { project, id: idList }, query: { fields: ["id"] } } });
  expect(JSON.stringify(rows(got).map((x) => x.id)) === JSON.stringify(ids), "get several by a comma list", got.data);

  const patched = await client.PATCH("/{project}/relations/{id}", {
    params: { path: { project, id: String(ids[0]) } },
    body: { field_one: "writings" },
  });
  expect(rows(patched)[0]?.field_one === "writings" && rows(patched)[0]?.field_many === "author", "patch one: merged over the stored row", patched.data);
  const patchedBatch = await client.PATCH("/{project}/relations", {
    params: { path },
    body: [
      { id: ids[1]!, field_one: "x" },
      { id: ids[2]!, field_one: "y" },
    ],
  });
  expect(JSON.stringify(rows(patchedBatch).map((x) => x.field_one)) === '["x","y"]', "patch a batch, each its own data", patchedBatch.data);

  const tooLong = await client.POST("/{project}/relations", { params: { path }, body: { collection_many: "c".repeat(65), field_many: "f" } });
  expect(tooLong.response.status === 422 && tooLong.error?.error.code === 12, "error: a too long value is 422 with code 12", tooLong.error);

  const deleted = await client.DELETE("/{project}/relations/{id}", { params: { path: { project, id: idList } } });
  expect(deleted.response.status === 204 && deleted.error === undefined, "delete several: 204, empty body");
  const gone = await client.GET("/{project}/relations/{id}", { params: { path: { project, id: String(ids[0]) } } });
  expect(
    gone.response.status === 404 && gone.error?.error.code === 203 && typeof gone.error.error.message === "string",
    "error: a deleted id reads back as the envelope {error: {code 203, message}}",
    gone.error,
  );
  console.log("typescript smoke: passed");
}

main().catch((err: unknown) => {
  console.error(`typescript smoke: FAILED: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
