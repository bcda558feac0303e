-- The write an outbox entry comes from, as a trace (see the MariaDB migration 0015 and docs/traces.md).
--
-- Additions to the ERD:
--   notification_outbox.trace_parent  the W3C traceparent of the write's span, or NULL

ALTER TABLE notification_outbox ADD COLUMN trace_parent TEXT;
