//! What the Redis feed hears for the cache: deletions announced by any process and this process's sync
//! marks, turned into [`Invalidation`]s for the near caches (docs/read-cache.md#the-feed).

use tokio::sync::broadcast;

use crate::adapters::redis_feed::Listener;
use crate::ports::{Deletion, Invalidation};

/// The text announcing the deletion of `keys` by the process `origin`: a header line (`~all <origin>` or
/// `~slot-values <origin>`; no key begins with `~`), then one key per line. A process that does not know
/// the header forgets it as one more key, and the keys as a plain deletion.
pub(super) fn text(keys: &[String], deletion: Deletion, origin: &str) -> String {
    let kind = match deletion {
        Deletion::All => "all",
        Deletion::SlotValues => "slot-values",
    };
    format!("~{kind} {origin}\n{}", keys.join("\n"))
}

/// Announcements longer than this are not split into keys: the near caches forget everything instead (a
/// real deletion names a few keys; a flood of huge messages must not be held 4 096 times over).
const MAX_TEXT: usize = 256 * 1024;

/// The feed's listener for deletions and this process's marks, turned into [`Invalidation`]s.
pub(super) struct Announcements {
    pub(super) marks: String,
    /// This process's name in announcements: its own are not applied again (its near cache forgot the
    /// keys before and after deleting them).
    pub(super) origin: String,
    pub(super) out: broadcast::Sender<Invalidation>,
}

impl Listener for Announcements {
    fn message(&self, channel: &str, text: &str) {
        let invalidation = if channel == self.marks {
            match text.parse() {
                Ok(n) => Invalidation::Marked(n),
                Err(_) => return,
            }
        } else if text.len() > MAX_TEXT {
            Invalidation::Everything
        } else {
            match parse(text, &self.origin) {
                Some(invalidation) => invalidation,
                None => return,
            }
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

/// The invalidation an announcement's text (see [`text`]) stands for; `None` for this process's own.
fn parse(text: &str, own: &str) -> Option<Invalidation> {
    let lines = |keys: &str| keys.split('\n').map(str::to_owned).collect();
    let Some((header, keys)) = text
        .strip_prefix('~')
        .and_then(|rest| rest.split_once('\n'))
    else {
        // Without a header (an older process): a plain deletion.
        return Some(Invalidation::Keys(lines(text)));
    };
    let (kind, origin) = header.split_once(' ').unwrap_or((header, ""));
    if origin == own {
        return None;
    }
    Some(match kind {
        "slot-values" => Invalidation::SlotValues(lines(keys)),
        // `all`, or a kind this process does not know: forgetting more is always safe.
        _ => Invalidation::Keys(lines(keys)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_say_what_changed_and_who_made_them() {
        let keys = vec!["b:v1:post:1".to_owned(), "b:v1:voted_post:2:1".to_owned()];
        assert_eq!(
            parse(&text(&keys, Deletion::All, "p1"), "p2"),
            Some(Invalidation::Keys(keys.clone()))
        );
        assert_eq!(
            parse(&text(&keys, Deletion::SlotValues, "p1"), "p2"),
            Some(Invalidation::SlotValues(keys.clone()))
        );
        // Its own announcements a process already applied.
        assert_eq!(parse(&text(&keys, Deletion::SlotValues, "p1"), "p1"), None);
        assert_eq!(parse(&text(&keys, Deletion::All, "p1"), "p1"), None);
        // An older process's (no header), and a kind not known here: plain deletions.
        assert_eq!(
            parse("b:v1:post:1", "p1"),
            Some(Invalidation::Keys(vec!["b:v1:post:1".to_owned()]))
        );
        assert_eq!(
            parse("~later p3\nb:v1:post:1", "p1"),
            Some(Invalidation::Keys(vec!["b:v1:post:1".to_owned()]))
        );
    }

    #[test]
    fn a_huge_announcement_is_not_split_but_forgets_everything() {
        let (out, mut heard) = broadcast::channel(4);
        let announcements = Announcements {
            marks: "inv:mark:p1".to_owned(),
            origin: "p1".to_owned(),
            out,
        };
        let huge = "b:v1:post:1\n".repeat(MAX_TEXT / 12 + 1);
        announcements.message("inv", &huge);
        assert_eq!(heard.try_recv().ok(), Some(Invalidation::Everything));
        announcements.message("inv", "~all p2\nb:v1:post:1");
        assert_eq!(
            heard.try_recv().ok(),
            Some(Invalidation::Keys(vec!["b:v1:post:1".to_owned()]))
        );
    }
}
