-- Meetings of a network's bodies (above all the annual Bildungskonferenz). `span` holds start and end
-- exactly as given, as an ISO 8601 interval (`start/end`, or `start` alone; diesel's tables end at 16
-- columns without a slower build); `start_key` and `end_key` are the first and last instant they can
-- mean, in UTC, as fixed-width text (YYYYMMDDhhmmss and microseconds), so that lists sort by start and
-- `from`/`to` compare with the span on both backends alike. `sequence` counts the changes: the
-- calendars' SEQUENCE.
CREATE TABLE meetings (
    id TEXT PRIMARY KEY NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id),
    body_id TEXT REFERENCES bodies (id),
    name TEXT NOT NULL,
    span TEXT NOT NULL,
    start_key TEXT NOT NULL,
    end_key TEXT NOT NULL,
    status TEXT NOT NULL,
    location TEXT,
    description TEXT,
    url TEXT,
    documentation_url TEXT,
    sources TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX meetings_start ON meetings (start_key, id);
CREATE INDEX meetings_network ON meetings (network_id, start_key, id);
CREATE INDEX meetings_body ON meetings (body_id);
CREATE INDEX meetings_updated_at ON meetings (updated_at, id);
