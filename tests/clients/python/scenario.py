"""An integrator's scenario with the client openapi-python-client generates from openapi/openapi.json,
used as generated (no edits): page through networks by cursor, expand one and a whole page,
PATCH/PUT/DELETE with If-Match, read problem details, resume the change feed.

Usage: scenario.py BASE_URL ADMIN_KEY (the generated package `rbn_client` on sys.path)."""
import sys
import uuid
from urllib.parse import parse_qs, urlsplit

from rbn_client import AuthenticatedClient, Client
from rbn_client.api.handlungsfelder import (
    create_handlungsfelder,
    delete_handlungsfelder,
    get_handlungsfelder,
    replace_handlungsfelder,
)
from rbn_client.api.networks import get_networks, list_networks, patch_networks
from rbn_client.api.sync import list_changes
from rbn_client.models import HandlungsfeldInput, NetworkPatch, Problem
from rbn_client.types import UNSET

base_url, key = sys.argv[1], sys.argv[2]
anonymous = Client(base_url=base_url)
admin = AuthenticatedClient(base_url=base_url, token=key)
checks = 0


def check(condition, message):
    global checks
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def cursor_of(link):
    """The opaque cursor of a `links.next` or `links.resume`."""
    return parse_qs(urlsplit(link).query)["cursor"][0]


# 1. Every network, ten per page, following the cursor.
slugs, cursor, pages = [], UNSET, 0
while True:
    page = list_networks.sync_detailed(client=anonymous, limit=10, cursor=cursor)
    check(page.status_code == 200, f"list networks: {page.status_code} {page.content[:200]!r}")
    pages += 1
    slugs += [network.slug for network in page.parsed.data]
    if not page.parsed.links.next_:
        break
    cursor = cursor_of(page.parsed.links.next_)
check(pages >= 5 and len(slugs) == len(set(slugs)) >= 47, f"{pages} pages, {len(slugs)} networks")
check("kreis-mettmann" in slugs, "Kreis Mettmann is listed")

# 2. One network with everything it has.
expanded = get_networks.sync_detailed("kreis-mettmann", client=anonymous, expand="contracts,bodies,handlungsfelder,contacts")
check(expanded.status_code == 200, f"expand: {expanded.status_code}")
network = expanded.parsed
check(len(network.contracts) >= 1 and len(network.bodies) == 3, "the network's contracts and three Gremien")
check(network.handlungsfelder is not UNSET and network.contacts is not UNSET, "Handlungsfelder and contacts")

# 2b. Every network with its Gremien and contacts in one request: expand on the list.
page = list_networks.sync_detailed(client=anonymous, limit=100, expand="bodies,contacts")
check(page.status_code == 200, f"list with expand: {page.status_code} {page.content[:200]!r}")
networks = page.parsed.data
check(len(networks) == len(slugs), f"one page of {len(networks)} networks")
check(all(n.bodies is not UNSET and n.contacts is not UNSET for n in networks), "each with bodies and contacts")
check(all(n.contracts is UNSET for n in networks), "contracts were not asked for")
mettmann = next(n for n in networks if n.slug == "kreis-mettmann")
check(len(mettmann.bodies) == 3, f"Kreis Mettmann's three Gremien in the list: {len(mettmann.bodies)}")

# 3. PATCH with If-Match (merge patch), then a stale ETag is refused with a problem.
etag = get_networks.sync_detailed("kreis-mettmann", client=admin).headers["etag"]
patched = patch_networks.sync_detailed(
    "kreis-mettmann", client=admin, if_match=etag, body=NetworkPatch(description="Geändert vom Python-Client")
)
check(patched.status_code == 200, f"patch: {patched.status_code} {patched.content[:300]!r}")
check(patched.parsed.description == "Geändert vom Python-Client", "the patch is applied")
check(patched.headers["etag"] != etag, "a new ETag")
stale = patch_networks.sync_detailed("kreis-mettmann", client=admin, if_match=etag, body=NetworkPatch(description="x"))
check(stale.status_code == 412 and isinstance(stale.parsed, Problem), f"stale If-Match: {stale.status_code}")
check(stale.parsed.status == 412 and stale.headers["content-type"] == "application/problem+json", "412 problem")

# 4. Problem details: not found, and every invalid field at once.
missing = get_networks.sync_detailed("no-such-network", client=anonymous)
check(missing.status_code == 404 and isinstance(missing.parsed, Problem), f"404: {missing.status_code}")
invalid = create_handlungsfelder.sync_detailed(client=admin, body=HandlungsfeldInput(slug="Not A Slug!", name=""))
check(invalid.status_code == 400 and isinstance(invalid.parsed, Problem), f"400: {invalid.status_code}")
fields = sorted(error.field for error in invalid.parsed.errors)
check(fields == ["name", "slug"], f"both invalid fields: {fields}")

# 5. The change feed: read to the end, keep `links.resume`, write, resume: exactly the new change.
resume, cursor = None, UNSET
while True:
    feed = list_changes.sync_detailed(client=anonymous, limit=100, cursor=cursor)
    check(feed.status_code == 200, f"changes: {feed.status_code}")
    resume = feed.parsed.links.resume or resume
    if not feed.parsed.links.next_:
        break
    cursor = cursor_of(feed.parsed.links.next_)
check(bool(resume), "links.resume at the end of the feed")

# 6. POST, PUT and DELETE with If-Match.
slug = f"python-client-{uuid.uuid4().hex[:8]}"
created = create_handlungsfelder.sync_detailed(client=admin, body=HandlungsfeldInput(slug=slug, name="Aus Python"))
check(created.status_code == 201, f"create: {created.status_code} {created.content[:300]!r}")
record = created.parsed
replaced = replace_handlungsfelder.sync_detailed(
    record.id,
    client=admin,
    if_match=created.headers["etag"],
    body=HandlungsfeldInput(slug=slug, name="Aus Python, ersetzt", description="PUT ersetzt alles"),
)
check(replaced.status_code == 200 and replaced.parsed.name == "Aus Python, ersetzt", f"put: {replaced.status_code}")
refused = delete_handlungsfelder.sync_detailed(record.id, client=admin, if_match=created.headers["etag"])
check(refused.status_code == 412, f"delete with a stale ETag: {refused.status_code}")
deleted = delete_handlungsfelder.sync_detailed(record.id, client=admin, if_match=replaced.headers["etag"])
check(deleted.status_code == 204, f"delete: {deleted.status_code}")
check(get_handlungsfelder.sync_detailed(record.id, client=anonymous).status_code == 404, "gone")

resumed = list_changes.sync_detailed(client=anonymous, cursor=cursor_of(resume))
check(resumed.status_code == 200, f"resume: {resumed.status_code}")
changes = [(entry.type_.value, str(entry.id), entry.deleted) for entry in resumed.parsed.data]
check(
    changes == [("handlungsfelder", str(record.id), True)],
    f"resuming gives the deleted Handlungsfeld, nothing else: {changes}",
)

print(f"python client scenario: {checks} passed, 0 failed")
