-- The notification outbox in two stages (docs/notifications.md#two-stages).
--
-- Additions to the ERD:
--   notification_outbox.stage  0: nobody was told yet; 1: the members named directly (mentions, replies,
--                              moderation) were, the watchers wait. Every waiting write's direct part goes
--                              before any write's watchers, so one hot post watched by thousands does not
--                              hold back the mentions and replies of the rest of the board.
--   index: pending entries of a stage in order

ALTER TABLE notification_outbox ADD COLUMN stage SMALLINT NOT NULL DEFAULT 0;
CREATE INDEX ix_notification_outbox_stage ON notification_outbox (stage, id);
