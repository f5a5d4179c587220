// What a Bildungsbüro website or an integrator writes with openapi-fetch and the types openapi-typescript
// generates (schema.d.ts, from openapi/openapi.json). tests/clients/run.sh type-checks it with tsc --noEmit;
// the @ts-expect-error lines prove that the types are precise enough to catch mistakes.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Network = components["schemas"]["Network"];
type Problem = components["schemas"]["Problem"];

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });

/** Every network, page by page, following the opaque cursor of `links.next`. */
export async function allNetworks(): Promise<Network[]> {
  const networks: Network[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await client.GET("/v1/networks", { params: { query: { limit: 100, cursor } } });
    if (error) throw new Error(problemText(error));
    for (const item of data.data) {
      if (!("deleted" in item)) networks.push(item);
    }
    cursor = data.links.next ? (new URL(data.links.next, "http://x").searchParams.get("cursor") ?? undefined) : undefined;
  } while (cursor);
  return networks;
}

/** One network with its contracts and bodies; the ETag to write with. */
export async function networkWithBodies(slug: string): Promise<{ name: string; bodies: number; etag: string }> {
  const { data, error, response } = await client.GET("/v1/networks/{id}", {
    params: { path: { id: slug }, query: { expand: "contracts,bodies" } },
  });
  if (error) throw new Error(problemText(error));
  return { name: data.name, bodies: data.bodies?.length ?? 0, etag: response.headers.get("ETag") ?? "" };
}

/** Every network with its contacts, in one request: `expand` on the list. */
export async function networksWithContacts(): Promise<Array<{ slug: string; contacts: number }>> {
  const { data, error } = await client.GET("/v1/networks", {
    params: { query: { limit: 500, expand: "contacts" } },
  });
  if (error) throw new Error(problemText(error));
  return data.data.flatMap((item) => ("deleted" in item ? [] : [{ slug: item.slug, contacts: item.contacts?.length ?? 0 }]));
}

/** A merge patch with If-Match: 412 when someone changed the network in between. */
export async function describe(slug: string, etag: string, description: string | null, key: string) {
  const { data, error, response } = await client.PATCH("/v1/networks/{id}", {
    params: { path: { id: slug }, header: { "If-Match": etag } },
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/merge-patch+json" },
    body: { description },
  });
  if (error) return { conflict: response.status === 412, problem: problemText(error) };
  const network: Network = data;
  return { conflict: false, etag: response.headers.get("ETag"), updatedAt: network.updatedAt };
}

/** The change feed from a stored `links.resume`. */
export async function changesSince(resume: string | undefined) {
  const { data, error } = await client.GET("/v1/changes", { params: { query: { cursor: resume, limit: 500 } } });
  if (error) throw new Error(problemText(error));
  return { entries: data.data.map((entry) => entry.id), resume: data.links.resume };
}

function problemText(problem: Problem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`).join("; ");
  return `${problem.status} ${problem.title}: ${problem.detail}${fields ? ` (${fields})` : ""}`;
}

export async function mistakes() {
  // @ts-expect-error: no such path
  await client.GET("/v1/network");
  // @ts-expect-error: limit is a number
  await client.GET("/v1/networks", { params: { query: { limit: "ten" } } });
  // @ts-expect-error: expand is a comma-separated string, not a list
  await client.GET("/v1/networks", { params: { query: { expand: ["contacts"] } } });
  // @ts-expect-error: PATCH needs If-Match
  await client.PATCH("/v1/networks/{id}", { params: { path: { id: "x" } }, body: {} });
}
