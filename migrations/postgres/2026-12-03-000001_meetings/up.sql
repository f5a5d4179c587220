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

-- rbn_journal restamps the records it wrote by kind; it named each table, and meetings are one more.
-- Now the kind names the table (every kind is its table's name).
DROP FUNCTION rbn_journal;
CREATE FUNCTION rbn_journal(
    p_change_ids TEXT[],
    p_change_kinds TEXT[],
    p_change_times TIMESTAMP[],
    p_change_deleted INTEGER[],
    p_at TIMESTAMP,
    p_audit_id TEXT,
    p_key_id TEXT,
    p_key_name TEXT,
    p_request_id TEXT,
    p_kind TEXT,
    p_resource_id TEXT,
    p_action TEXT,
    p_changed_fields TEXT
) RETURNS TIMESTAMP LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_at TIMESTAMP;
    v_created BOOLEAN;
BEGIN
    UPDATE write_lock SET writes = writes + 1 WHERE id = 1;
    -- The statement starts after the lock was granted, so it sees the previous writer's changes.
    SELECT GREATEST(p_at, MAX(updated_at) + INTERVAL '1 microsecond') INTO v_at FROM changes;
    FOR i IN 1 .. coalesce(array_length(p_change_ids, 1), 0) LOOP
        -- Usually writers reach the lock in the order of their provisional times: nothing to restamp.
        IF p_change_deleted[i] = 0 AND p_change_times[i] <> v_at THEN
            -- The record itself comes last; a created record was created when it got its version.
            v_created := p_action = 'create' AND p_change_ids[i] = p_resource_id;
            -- The kind is the table's name: a new kind needs no new version of this function.
            EXECUTE format(
                'UPDATE %I SET updated_at = $1, created_at = CASE WHEN $2 THEN $1 ELSE created_at END WHERE id = $3',
                p_change_kinds[i]
            ) USING v_at, v_created, p_change_ids[i];
        END IF;
        INSERT INTO changes (resource_id, kind, updated_at, deleted, seq)
        SELECT p_change_ids[i], p_change_kinds[i], v_at, p_change_deleted[i], COALESCE(MAX(seq), 0) + 1
        FROM changes
        ON CONFLICT (resource_id) DO UPDATE SET
            kind = excluded.kind, seq = excluded.seq, updated_at = excluded.updated_at, deleted = excluded.deleted;
    END LOOP;
    INSERT INTO audit_log (id, at, key_id, key_name, request_id, kind, resource_id, action, changed_fields, seq)
    SELECT p_audit_id, v_at, p_key_id, p_key_name, p_request_id, p_kind, p_resource_id, p_action, p_changed_fields,
        COALESCE(MAX(seq), 0) + 1
    FROM audit_log;
    RETURN v_at;
END
$$;
