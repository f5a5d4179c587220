DROP FUNCTION rbn_journal;
DROP INDEX changes_updated_at;
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
) RETURNS VOID LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE write_lock SET writes = writes + 1 WHERE id = 1;
    FOR i IN 1 .. coalesce(array_length(p_change_ids, 1), 0) LOOP
        INSERT INTO changes (resource_id, kind, updated_at, deleted, seq)
        SELECT p_change_ids[i], p_change_kinds[i], p_change_times[i], p_change_deleted[i], COALESCE(MAX(seq), 0) + 1
        FROM changes
        ON CONFLICT (resource_id) DO UPDATE SET
            kind = excluded.kind, seq = excluded.seq, updated_at = excluded.updated_at, deleted = excluded.deleted;
    END LOOP;
    INSERT INTO audit_log (id, at, key_id, key_name, request_id, kind, resource_id, action, changed_fields, seq)
    SELECT p_audit_id, p_at, p_key_id, p_key_name, p_request_id, p_kind, p_resource_id, p_action, p_changed_fields,
        COALESCE(MAX(seq), 0) + 1
    FROM audit_log;
END
$$;
