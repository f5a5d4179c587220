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
            CASE p_change_kinds[i]
                WHEN 'networks' THEN
                    UPDATE networks SET updated_at = v_at,
                        created_at = CASE WHEN v_created THEN v_at ELSE created_at END
                    WHERE id = p_change_ids[i];
                WHEN 'contracts' THEN
                    UPDATE contracts SET updated_at = v_at,
                        created_at = CASE WHEN v_created THEN v_at ELSE created_at END
                    WHERE id = p_change_ids[i];
                WHEN 'bodies' THEN
                    UPDATE bodies SET updated_at = v_at,
                        created_at = CASE WHEN v_created THEN v_at ELSE created_at END
                    WHERE id = p_change_ids[i];
                WHEN 'handlungsfelder' THEN
                    UPDATE handlungsfelder SET updated_at = v_at,
                        created_at = CASE WHEN v_created THEN v_at ELSE created_at END
                    WHERE id = p_change_ids[i];
                WHEN 'contacts' THEN
                    UPDATE contacts SET updated_at = v_at,
                        created_at = CASE WHEN v_created THEN v_at ELSE created_at END
                    WHERE id = p_change_ids[i];
            END CASE;
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
DROP TABLE meetings;
