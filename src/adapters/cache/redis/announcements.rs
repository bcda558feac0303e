//! What the Redis feed hears for the cache: deletions announced by any process and this process's sync
//! marks, turned into [`Invalidation`]s for the near caches (docs/read-cache.md#the-feed).

use tokio::sync::broadcast;

use crate::adapters::redis_feed::Listener;
use crate::ports::Invalidation;

/// What a deletion changed, as its announcement says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    All,
    /// Values answers show only in slots ([`Invalidation::SlotValues`]).
    SlotValues,
}

/// The first line of an announcement of [`Scope::SlotValues`] (no key begins with `~`). A process that does
/// not know it forgets it as one more key, and the others as a plain deletion.
const SLOT_VALUES: &str = "~slot-values";

/// The text announcing the deletion of `keys`: one key per line.
pub(super) fn text(keys: &[String], scope: Scope) -> String {
    let keys = keys.join("\n");
    match scope {
        Scope::All => keys,
        Scope::SlotValues => format!("{SLOT_VALUES}\n{keys}"),
    }
}

/// The feed's listener for deletions and this process's marks, turned into [`Invalidation`]s.
pub(super) struct Announcements {
    pub(super) marks: String,
    pub(super) out: broadcast::Sender<Invalidation>,
}

impl Listener for Announcements {
    fn message(&self, channel: &str, text: &str) {
        let invalidation = if channel == self.marks {
            match text.parse() {
                Ok(n) => Invalidation::Marked(n),
                Err(_) => return,
            }
        } else {
            parse(text)
        };
        let _ = self.out.send(invalidation);
    }

    fn lost(&self) {
        let _ = self.out.send(Invalidation::Lost);
    }

    fn live(&self) {
        let _ = self.out.send(Invalidation::Live);
    }
}

/// The invalidation an announcement's text (see [`text`]) stands for.
fn parse(text: &str) -> Invalidation {
    match text
        .strip_prefix(SLOT_VALUES)
        .and_then(|rest| rest.strip_prefix('\n'))
    {
        Some(keys) => Invalidation::SlotValues(keys.split('\n').map(str::to_owned).collect()),
        None => Invalidation::Keys(text.split('\n').map(str::to_owned).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_say_what_changed() {
        let keys = vec!["b:v1:post:1".to_owned(), "b:v1:voted_post:2:1".to_owned()];
        assert_eq!(
            parse(&text(&keys, Scope::All)),
            Invalidation::Keys(keys.clone())
        );
        assert_eq!(
            parse(&text(&keys, Scope::SlotValues)),
            Invalidation::SlotValues(keys.clone())
        );
        // One key, and a key that merely starts like the header: plain deletions.
        assert_eq!(
            parse("b:v1:post:1"),
            Invalidation::Keys(vec!["b:v1:post:1".to_owned()])
        );
        assert_eq!(
            parse("~slot-valuesX"),
            Invalidation::Keys(vec!["~slot-valuesX".to_owned()])
        );
    }
}
