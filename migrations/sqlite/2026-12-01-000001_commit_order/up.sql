-- Every write stamps its records a microsecond after the latest change committed before it (see
-- `storage::commit_time`): this index finds that change without a scan.
CREATE INDEX changes_updated_at ON changes (updated_at);
