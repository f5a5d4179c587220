#!/usr/bin/env python3
"""Helpers of bench/scale.sh.

  scale.py history FACTOR sqlite PATH   writes the history into a migrated, empty SQLite database
  scale.py history FACTOR postgres      prints the same as SQL for psql
  scale.py writes BASE_URL KEY FACTOR   a few writes through the API, as a day of editing would bring;
                                        prints what the polls of a mirror start from (shell assignments)

The history is what years of editing leave behind: the change feed keeps one entry per record ever
written, so a registry whose contacts, bodies and contracts came and went holds mostly tombstones, and
the audit log one entry per write. FACTOR × 10,000 entries each (a million at 100×), minus what the
import of the dataset adds itself; written straight in SQL (a million writes through the API would take
hours), spread over five years up to yesterday, in sequence order, before the dataset is imported.
"""
import json
import sys
import time
import urllib.request

ENTRIES_PER_FACTOR = 10_000
YEARS = 5
# Of ten deleted records: three contracts, two bodies, five contacts.
KINDS = "CASE i % 10 WHEN 0 THEN 'contracts' WHEN 1 THEN 'contracts' WHEN 2 THEN 'contracts' " \
        "WHEN 3 THEN 'bodies' WHEN 4 THEN 'bodies' ELSE 'contacts' END"
ACTIONS = "CASE i % 3 WHEN 0 THEN 'create' WHEN 1 THEN 'patch' ELSE 'delete' END"


def history_size(factor):
    """Entries to generate: the import adds one change and one audit entry per record of the dataset."""
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import dataset
    records = sum(len(v) for v in dataset.build(factor).values() if isinstance(v, list))
    return factor * ENTRIES_PER_FACTOR - records


def history_sql(factor, backend):
    count = history_size(factor)
    end = int(time.time()) - 86_400
    start = end - YEARS * 365 * 86_400
    step = (end - start) // count
    if backend == "sqlite":
        series = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
        source = "FROM n"
        tombstone_id = "'fee1dead-0000-4000-8000-' || printf('%012x', i)"
        audit_id = "printf('00000000-0000-7000-8000-%012x', i)"
        at = f"strftime('%Y-%m-%d %H:%M:%S', {start} + i * {step}, 'unixepoch') || '.000000'"
    else:
        series = ""
        source = f"FROM generate_series(1, {count}) AS i"
        tombstone_id = "'fee1dead-0000-4000-8000-' || lpad(to_hex(i), 12, '0')"
        audit_id = "'00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0')"
        at = f"to_timestamp({start} + i * {step})::timestamptz AT TIME ZONE 'UTC'"
    return f"""
{series}INSERT INTO changes (resource_id, kind, seq, updated_at, deleted)
SELECT {tombstone_id}, {KINDS}, i, {at}, 1 {source};
{series}INSERT INTO audit_log (seq, id, at, key_id, key_name, request_id, kind, resource_id, action, changed_fields)
SELECT i, {audit_id}, {at}, NULL, 'Bildungsbüro (Verlauf)', NULL, {KINDS}, {tombstone_id}, {ACTIONS},
       CASE i % 3 WHEN 1 THEN '["function","email"]' ELSE '[]' END {source};
UPDATE write_lock SET writes = writes + {count};
"""


def request(method, url, key, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/merge-patch+json" if method == "PATCH" else "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    with urllib.request.urlopen(req) as reply:
        text = reply.read()
        return json.loads(text) if text else None, reply.headers


def writes(base, key, factor):
    """Changes three contacts and deletes one, like an editor's day; prints `mark` (the first change's
    updatedAt: a mirror's recent `modifiedSince`) and `resume` (the change feed's sequence number before them)."""
    page, _ = request("GET", f"{base}/v1/networks/netzwerk-05111/contacts?limit=4", key)
    contacts = [c["id"] for c in page["data"]]
    mark = None
    for contact in contacts[:3]:
        _, headers = request("GET", f"{base}/v1/contacts/{contact}", key)
        changed, _ = request("PATCH", f"{base}/v1/contacts/{contact}", key, {"function": "Koordination (neu)"},
                             {"If-Match": headers["ETag"]})
        mark = mark or changed["updatedAt"]
    _, headers = request("GET", f"{base}/v1/contacts/{contacts[3]}", key)
    request("DELETE", f"{base}/v1/contacts/{contacts[3]}", key, headers={"If-Match": headers["ETag"]})
    # Before these writes the feed ended with the import: the history and one entry per imported record.
    resume = factor * ENTRIES_PER_FACTOR
    feed, _ = request("GET", f"{base}/v1/changes?cursor={resume}", key)
    assert len(feed["data"]) >= 4 and all(e["updatedAt"] >= mark for e in feed["data"]), feed
    print(f"recent_mark={mark}")
    print(f"recent_seq={resume}")


def main():
    command = sys.argv[1]
    if command == "history":
        factor, backend = int(sys.argv[2]), sys.argv[3]
        sql = history_sql(factor, backend)
        if backend == "sqlite":
            import sqlite3
            db = sqlite3.connect(sys.argv[4])
            db.executescript("BEGIN;" + sql + "COMMIT;")
            db.close()
        else:
            print("BEGIN;" + sql + "COMMIT;")
    elif command == "writes":
        writes(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
