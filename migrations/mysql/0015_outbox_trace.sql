-- The write an outbox entry comes from, as a trace (docs/traces.md#events-and-links).
--
-- Additions to the ERD:
--   notification_outbox.trace_parent  the W3C traceparent of the write's span, set only while traces are
--                                     exported (else NULL): the fan-out's span links to it, and the
--                                     notifications it announces carry it to the subscriptions.

ALTER TABLE notification_outbox ADD COLUMN trace_parent VARCHAR(55) NULL;
