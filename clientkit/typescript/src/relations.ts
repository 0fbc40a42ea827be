/**
 * The relations-api TypeScript client: openapi-fetch over the types openapi-typescript
 * generates from openapi.yaml (src/schema.d.ts), plus the one thing neither does for this
 * spec: its query serialisation.
 *
 * openapi-fetch's default serialiser explodes arrays (`fields=a&fields=b`) and writes a
 * deepObject one level deep only (`filter[id]=[object Object]`). openapi.yaml declares its
 * arrays (`fields`, `sort`, `meta`) as form/explode:false and `filter` as a nested deepObject,
 * so `relationsQuerySerializer` sends arrays as a comma list and objects as
 * `filter[field][op]=value` at any depth, in the object's key order (which matters:
 * `logical: "or"` joins a field's conditions to the ones before it).
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Relation = components["schemas"]["Relation"];
export type RelationFilter = components["schemas"]["RelationFilter"];
export type ErrorEnvelope = components["schemas"]["ErrorEnvelope"];

function pushDeep(key: string, value: unknown, out: string[]): void {
  if (value === undefined || value === null) return;
  if (typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) pushDeep(`${key}[${encodeURIComponent(k)}]`, v, out);
    return;
  }
  const scalar = Array.isArray(value) ? value.join(",") : String(value);
  out.push(`${key}=${encodeURIComponent(scalar)}`);
}

/** Query string of one request: arrays as comma lists, objects as nested deepObject keys. */
export function relationsQuerySerializer(query: Record<string, unknown> | undefined): string {
  const out: string[] = [];
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) out.push(`${encodeURIComponent(name)}=${value.map((v) => encodeURIComponent(String(v))).join(",")}`);
    } else {
      pushDeep(encodeURIComponent(name), value, out);
    }
  }
  return out.join("&");
}

export interface RelationsClientOptions extends Omit<ClientOptions, "querySerializer"> {
  /** An API token (`relations token create ...`), sent as `Authorization: Bearer <token>`. */
  token?: string;
}

/** A typed client for one deployment: `client.GET("/{project}/relations", {params: ...})`. */
export function createRelationsClient(options: RelationsClientOptions): Client<paths> {
  const { token, headers, ...rest } = options;
  const merged = new Headers(headers as HeadersInit | undefined);
  if (token && !merged.has("Authorization")) merged.set("Authorization", `Bearer ${token}`);
  return createClient<paths>({ ...rest, headers: merged, querySerializer: relationsQuerySerializer });
}
