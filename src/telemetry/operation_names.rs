//! Which GraphQL operation names become metric label values. Slots are few ([`SLOTS`]), and a name earns
//! one only by executing successfully; a slot's score decays (half-life [`HALF_LIFE`]) and a newcomer may
//! take the weakest slot once that slot's score has decayed below one execution. So a flood of one-off
//! names cannot keep the slots: a name needs a sustained rate of successful executions to hold one, and
//! operations that real clients repeat keep theirs. Whatever has no slot is reported as `other`.
//! (Label values ever emitted are capped again by the exporter: 2 000 attribute sets per instrument.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const SLOTS: usize = 200;
pub const MAX_NAME_LEN: usize = 64;
pub const HALF_LIFE: Duration = Duration::from_secs(600);

struct Slot {
    score: f64,
    at: Instant,
}

impl Slot {
    fn decayed(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.at).as_secs_f64();
        self.score * 0.5_f64.powf(age / HALF_LIFE.as_secs_f64())
    }
}

#[derive(Default)]
pub struct OperationNames {
    slots: HashMap<String, Slot>,
}

impl OperationNames {
    /// The label for an operation named `name` that just finished (`succeeded`: without errors).
    pub fn label(&mut self, name: Option<&str>, succeeded: bool, now: Instant) -> String {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return "anonymous".into();
        };
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(MAX_NAME_LEN)
            .collect();
        if clean.is_empty() {
            return "other".into();
        }
        if let Some(slot) = self.slots.get_mut(&clean) {
            if succeeded {
                slot.score = slot.decayed(now) + 1.0;
                slot.at = now;
            }
            return clean;
        }
        if !succeeded {
            return "other".into();
        }
        if self.slots.len() >= SLOTS {
            let weakest = self
                .slots
                .iter()
                .map(|(k, s)| (k, s.decayed(now)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|(_, score)| *score < 1.0)
                .map(|(k, _)| k.clone());
            match weakest {
                Some(k) => {
                    self.slots.remove(&k);
                }
                None => return "other".into(),
            }
        }
        self.slots.insert(
            clean.clone(),
            Slot {
                score: 1.0,
                at: now,
            },
        );
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_and_need_a_success() {
        let mut names = OperationNames::default();
        let now = Instant::now();
        assert_eq!(names.label(None, true, now), "anonymous");
        assert_eq!(names.label(Some(""), true, now), "anonymous");
        assert_eq!(names.label(Some("a-b c"), true, now), "abc");
        assert_eq!(names.label(Some("Failing"), false, now), "other");
        assert_eq!(names.label(Some("GetPost"), true, now), "GetPost");
        assert_eq!(names.label(Some("GetPost"), false, now), "GetPost");
        assert_eq!(
            names.label(Some(&"x".repeat(100)), true, now).len(),
            MAX_NAME_LEN
        );
    }

    #[test]
    fn a_flood_of_one_off_names_cannot_keep_the_slots() {
        let mut names = OperationNames::default();
        let start = Instant::now();
        for i in 0..20 {
            names.label(Some("RealFeed"), true, start + Duration::from_millis(i));
        }
        for i in 0..(SLOTS as u64 + 10) {
            names.label(
                Some(&format!("Junk{i:03}")),
                true,
                start + Duration::from_millis(100 + i),
            );
        }
        let later = start + Duration::from_secs(1);
        assert_eq!(
            names.label(Some("RealFeed"), true, later),
            "RealFeed",
            "a busy name keeps its slot"
        );
        assert_eq!(
            names.label(Some("NewOp"), true, later),
            "NewOp",
            "a new name takes a quiet slot"
        );
        assert!(names.slots.len() <= SLOTS);
    }

    #[test]
    fn busy_slots_are_not_taken() {
        let mut names = OperationNames::default();
        let now = Instant::now();
        for i in 0..SLOTS {
            for _ in 0..3 {
                names.label(Some(&format!("Busy{i}")), true, now);
            }
        }
        assert_eq!(names.label(Some("Late"), true, now), "other");
        let much_later = now + HALF_LIFE * 4;
        assert_eq!(names.label(Some("Late"), true, much_later), "Late");
    }
}
