//! One answer for every viewer: a kept body whose only parts that may differ between requests are slots
//! (the viewer's own fields, and counters a vote moves), found once in the encoded body and filled per
//! request by splicing `true`/`false` or an integer in. docs/read-cache.md#one-answer-for-every-member.

use std::collections::HashMap;
use std::ops::Range;

use crate::graphql::viewer_reads::{Path, Slot, SlotValue, Step};

/// A kept body (without cost numbers) and where its slots' values are in it.
#[derive(Debug)]
pub(super) struct Template {
    body: Vec<u8>,
    /// In body order, not overlapping.
    holes: Vec<(Range<usize>, Slot)>,
}

impl Template {
    /// The template of `body` (a kept body: `{"data":…` up to the cost numbers) whose slots are `slots`;
    /// `None` when a slot is not found in it exactly once, as `true` or `false` (as an integer for a
    /// counter).
    pub fn new(body: &[u8], slots: &[(Path, Slot)]) -> Option<Self> {
        let mut root = Trie::default();
        for (index, (path, _)) in slots.iter().enumerate() {
            let mut node = root.keys.entry("data").or_default();
            for step in path {
                node = match step {
                    Step::Key(key) => node.keys.entry(key.as_str()).or_default(),
                    Step::Index(index) => node.indexes.entry(*index).or_default(),
                };
            }
            if node
                .slot
                .replace((index, slots[index].1.is_count()))
                .is_some()
            {
                return None;
            }
        }
        let mut found = Vec::with_capacity(slots.len());
        if !slots.is_empty() {
            let mut scan = Scan { bytes: body, at: 0 };
            scan.walk(&root, slots.len(), &mut found)?;
        }
        if found.len() != slots.len() {
            return None;
        }
        Some(Self {
            body: body.to_vec(),
            holes: found
                .into_iter()
                .map(|(range, index)| (range, slots[index].1))
                .collect(),
        })
    }

    /// The slots to fill, in body order.
    pub fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.holes.iter().map(|(_, slot)| *slot)
    }

    /// How many bytes the template holds.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// The body with each slot's value as `value` says (given its index among the slots, in body order).
    pub fn fill(&self, mut value: impl FnMut(usize, Slot) -> SlotValue) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.body.len() + self.holes.len() * 4);
        let mut from = 0;
        for (index, (range, slot)) in self.holes.iter().enumerate() {
            body.extend_from_slice(&self.body[from..range.start]);
            match value(index, *slot) {
                SlotValue::Bool(true) => body.extend_from_slice(b"true"),
                SlotValue::Bool(false) => body.extend_from_slice(b"false"),
                SlotValue::Count(n) => body.extend_from_slice(n.to_string().as_bytes()),
            }
            from = range.end;
        }
        body.extend_from_slice(&self.body[from..]);
        body
    }
}

/// The slots' paths, merged: the scan descends only where a slot is.
#[derive(Default)]
struct Trie<'p> {
    keys: HashMap<&'p str, Trie<'p>>,
    indexes: HashMap<usize, Trie<'p>>,
    /// The slot whose value is here, and whether it is a counter (an integer).
    slot: Option<(usize, bool)>,
}

/// A walk over compact JSON as `serde_json` writes it (whitespace tolerated).
struct Scan<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Scan<'b> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(b) = self.bytes.get(self.at) {
            if !b.is_ascii_whitespace() {
                return Some(*b);
            }
            self.at += 1;
        }
        None
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string's raw bytes (escapes as written); at its opening quote.
    fn string(&mut self) -> Option<&'b [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            match self.bytes.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return self.bytes.get(start..self.at - 1);
                }
                _ => self.at += 1,
            }
        }
    }

    /// Past one value of any kind.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.bytes.get(self.at)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while let Some(b) = self.bytes.get(self.at) {
                    if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
                        break;
                    }
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// Past the value at `node`, recording where the slots under it are; once all `wanted` are found it
    /// stops where it is, and so does every walk above it (the body ends cut off, in the cost numbers' key).
    fn walk(
        &mut self,
        node: &Trie<'_>,
        wanted: usize,
        found: &mut Vec<(Range<usize>, usize)>,
    ) -> Option<()> {
        if let Some((index, count)) = node.slot {
            self.peek()?;
            let start = self.at;
            let rest = self.bytes.get(start..)?;
            let len = if count {
                integer_len(rest)?
            } else if rest.starts_with(b"true") {
                4
            } else if rest.starts_with(b"false") {
                5
            } else {
                return None;
            };
            self.at += len;
            found.push((start..start + len, index));
            return Some(());
        }
        match self.peek()? {
            b'{' => {
                self.at += 1;
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    let key = self.string()?;
                    self.eat(b':')?;
                    let child = std::str::from_utf8(key)
                        .ok()
                        .and_then(|key| node.keys.get(key));
                    match child {
                        Some(child) => {
                            self.walk(child, wanted, found)?;
                            if found.len() == wanted {
                                return Some(());
                            }
                        }
                        None => self.skip()?,
                    }
                    if self.eat(b',').is_none() {
                        return self.eat(b'}');
                    }
                }
            }
            b'[' => {
                self.at += 1;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                let mut index = 0;
                loop {
                    match node.indexes.get(&index) {
                        Some(child) => {
                            self.walk(child, wanted, found)?;
                            if found.len() == wanted {
                                return Some(());
                            }
                        }
                        None => self.skip()?,
                    }
                    index += 1;
                    if self.eat(b',').is_none() {
                        return self.eat(b']');
                    }
                }
            }
            _ => self.skip(),
        }
    }
}

/// The length of the JSON integer `bytes` begin with (`-`? digits, then a delimiter); `None` for anything
/// else (a fraction, an exponent, a string).
fn integer_len(bytes: &[u8]) -> Option<usize> {
    let sign = usize::from(bytes.first() == Some(&b'-'));
    let digits = bytes[sign..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let end = sign + digits;
    let delimited = bytes
        .get(end)
        .is_none_or(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace());
    (digits > 0 && delimited).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PostId, UserId};

    fn path(steps: &[&str]) -> Path {
        steps
            .iter()
            .map(|s| match s.parse() {
                Ok(index) => Step::Index(index),
                Err(_) => Step::Key((*s).to_owned()),
            })
            .collect()
    }

    /// A kept body: the answer without its cost numbers.
    fn kept(data: serde_json::Value) -> Vec<u8> {
        let mut body = serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap();
        body.pop();
        body.extend_from_slice(b",\"extensions\":{\"cost\":");
        body
    }

    fn data(body: &[u8]) -> serde_json::Value {
        let mut whole = body.to_vec();
        whole.extend_from_slice(b"{\"requested\":1,\"remaining\":9}}}");
        serde_json::from_slice::<serde_json::Value>(&whole).unwrap()["data"].take()
    }

    #[test]
    fn slots_are_found_by_path_and_filled_per_viewer() {
        // Text that looks like the fields, aliases, Hangul, escapes: only the paths count.
        let body = kept(serde_json::json!({
            "posts": { "edges": [
                { "node": { "title": "\"viewerHasVoted\":true 투표", "mine": true, "viewerHasVoted": false } },
                { "node": { "title": "[{\\", "mine": false, "viewerHasVoted": true } },
            ] },
            "after": { "viewerHasVoted": true },
        }));
        let slots = [
            (
                path(&["posts", "edges", "0", "node", "mine"]),
                Slot::VotedPost(PostId(1)),
            ),
            (
                path(&["posts", "edges", "1", "node", "viewerHasVoted"]),
                Slot::VotedPost(PostId(2)),
            ),
            (
                path(&["posts", "edges", "1", "node", "mine"]),
                Slot::CanEdit {
                    author: UserId(5),
                    active: true,
                },
            ),
        ];
        let template = Template::new(&body, &slots).expect("every slot found");
        assert_eq!(template.slots().count(), 3);
        // Another viewer: voted for post 1 only, may not edit.
        let filled = template.fill(|_, slot| SlotValue::Bool(slot == Slot::VotedPost(PostId(1))));
        let filled = data(&filled);
        let edges = &filled["posts"]["edges"];
        assert_eq!(edges[0]["node"]["mine"], true);
        assert_eq!(edges[1]["node"]["viewerHasVoted"], false);
        assert_eq!(edges[1]["node"]["mine"], false);
        // Everything else is the template's, byte for byte.
        assert_eq!(edges[0]["node"]["title"], "\"viewerHasVoted\":true 투표");
        assert_eq!(edges[0]["node"]["viewerHasVoted"], false);
        assert_eq!(filled["after"]["viewerHasVoted"], true);
        // Filled with what the builder had, it is the body it was made from.
        let same = template.fill(|_, slot| SlotValue::Bool(matches!(slot, Slot::VotedPost(_))));
        assert_eq!(same, body);
    }

    #[test]
    fn a_slot_not_found_as_a_boolean_makes_no_template() {
        let body = kept(serde_json::json!({ "post": null, "other": { "viewerCanEdit": "true" } }));
        for steps in [
            &["post", "viewerHasVoted"][..],
            &["other", "viewerCanEdit"],
            &["missing"],
        ] {
            let slots = [(path(steps), Slot::VotedPost(PostId(1)))];
            assert!(Template::new(&body, &slots).is_none(), "{steps:?}");
        }
        // The same path twice is not a template either.
        let body = kept(serde_json::json!({ "v": true }));
        let twice = [
            (path(&["v"]), Slot::VotedPost(PostId(1))),
            (path(&["v"]), Slot::VotedPost(PostId(2))),
        ];
        assert!(Template::new(&body, &twice).is_none());
        // No slot at all: the body as it is, for every member.
        let none = Template::new(&body, &[]).expect("a template without slots");
        assert_eq!(none.fill(|_, _| SlotValue::Bool(true)), body);
    }

    #[test]
    fn counters_are_found_as_integers_and_filled_at_any_width() {
        let body = kept(serde_json::json!({
            "posts": [
                { "voteCount": 9, "title": "9", "viewerHasVoted": false },
                { "voteCount": -1, "title": "철수kim" },
            ],
        }));
        let slots = [
            (
                path(&["posts", "0", "voteCount"]),
                Slot::PostVotes(PostId(1)),
            ),
            (
                path(&["posts", "0", "viewerHasVoted"]),
                Slot::VotedPost(PostId(1)),
            ),
            (
                path(&["posts", "1", "voteCount"]),
                Slot::PostVotes(PostId(2)),
            ),
        ];
        let template = Template::new(&body, &slots).expect("every slot found");
        let filled = data(&template.fill(|_, slot| match slot {
            Slot::PostVotes(PostId(1)) => SlotValue::Count(10),
            Slot::PostVotes(_) => SlotValue::Count(1_234_567),
            _ => SlotValue::Bool(true),
        }));
        assert_eq!(filled["posts"][0]["voteCount"], 10);
        assert_eq!(filled["posts"][0]["viewerHasVoted"], true);
        assert_eq!(filled["posts"][0]["title"], "9");
        assert_eq!(filled["posts"][1]["voteCount"], 1_234_567);
        assert_eq!(filled["posts"][1]["title"], "철수kim");
        // A counter slot must hold an integer, and a boolean slot a boolean.
        for (steps, slot) in [
            (&["posts", "0", "title"][..], Slot::PostVotes(PostId(1))),
            (
                &["posts", "0", "viewerHasVoted"],
                Slot::PostVotes(PostId(1)),
            ),
            (&["posts", "0", "voteCount"], Slot::VotedPost(PostId(1))),
        ] {
            assert!(
                Template::new(&body, &[(path(steps), slot)]).is_none(),
                "{steps:?}"
            );
        }
        assert_eq!(integer_len(b"12,"), Some(2));
        assert_eq!(integer_len(b"-3}"), Some(2));
        assert_eq!(integer_len(b"1.5,"), None);
        assert_eq!(integer_len(b"1e3,"), None);
        assert_eq!(integer_len(b"-,"), None);
    }
}
