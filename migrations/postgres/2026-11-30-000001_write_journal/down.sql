DROP FUNCTION rbn_journal;
