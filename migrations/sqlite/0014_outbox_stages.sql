-- The notification outbox in two stages (see the MariaDB migration 0014 and docs/notifications.md).
--
-- Additions to the ERD:
--   notification_outbox.stage  0: nobody was told yet; 1: the direct part is done, the watchers wait
--   index: pending entries of a stage in order

ALTER TABLE notification_outbox ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ix_notification_outbox_stage ON notification_outbox (stage, id);
