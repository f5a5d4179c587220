DROP INDEX changes_updated_at;
