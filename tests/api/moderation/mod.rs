//! Moderation: bans (site-wide with an end, per category) and the report queue.

mod bans;
