//! Links found in plain text: GitHub's extended autolinks (`https://…`, `http://…`, `www.…`) and `@name`
//! mentions. One pass; each candidate is looked at a bounded distance ahead, so the work is linear.

use pulldown_cmark::{CowStr, Event, LinkType, Tag, TagEnd};

use super::MENTION_PATH;
use crate::domain::names;

/// Appends `text` to `out` as text, autolinks and mentions.
pub(super) fn link_text<'a>(text: &str, out: &mut Vec<Event<'a>>) {
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let found = match bytes[i] {
            b'@' if mention_may_start(text, i) => mention(text, i),
            b'h' | b'H' | b'w' | b'W' if url_may_start(text, i) => url(text, i),
            _ => None,
        };
        let Some((end, link)) = found else {
            i += 1;
            continue;
        };
        if plain_from < i {
            out.push(Event::Text(CowStr::from(text[plain_from..i].to_owned())));
        }
        out.extend(link);
        i = end;
        plain_from = end;
    }
    if plain_from < bytes.len() {
        out.push(Event::Text(CowStr::from(text[plain_from..].to_owned())));
    }
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

/// `@` at the start, or after a character that cannot end a word, an address or a URL (`kim@example.com`
/// is no mention).
fn mention_may_start(text: &str, i: usize) -> bool {
    char_before(text, i)
        .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '/' | '+')))
}

/// A mention at `at` (the `@`): the longest run of name characters after it, if that run is a valid user
/// name. Answers where it ends and its events: `<a href="/users/<name>" class="mention">@name</a>`.
fn mention<'a>(text: &str, at: usize) -> Option<(usize, Vec<Event<'a>>)> {
    let start = at + 1;
    let mut end = start;
    for (count, c) in text[start..].chars().enumerate() {
        if !(c.is_alphanumeric() || c == '_' || c == '-') {
            break;
        }
        if count == names::NAME_MAX_CHARS {
            // Longer than any name: not a mention (and not a shorter one cut from it).
            return None;
        }
        end += c.len_utf8();
    }
    let name = names::user_name("name", &text[start..end]).ok()?;
    let href = format!("{MENTION_PATH}{}", percent_encode(&name));
    let events = vec![
        Event::InlineHtml(CowStr::from(format!(
            r#"<a href="{href}" class="mention">"#
        ))),
        Event::Text(CowStr::from(text[at..end].to_owned())),
        Event::InlineHtml(CowStr::from("</a>")),
    ];
    Some((end, events))
}

/// Whether `html` is the opening tag [`mention`] writes.
pub(super) fn opens_mention(html: &str) -> bool {
    html.starts_with(r#"<a href=""#)
        && html[9..].starts_with(MENTION_PATH)
        && html.ends_with(r#"" class="mention">"#)
}

/// Every byte but ASCII letters, digits, `-`, `_`, `.` and `~` as `%XX`.
fn percent_encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len() * 3);
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// GitHub's rule: an extended autolink starts a line, or follows whitespace or one of `*`, `_`, `~`, `(`.
fn url_may_start(text: &str, i: usize) -> bool {
    char_before(text, i).is_none_or(|c| c.is_whitespace() || matches!(c, '*' | '_' | '~' | '('))
}

/// The longest host name DNS allows.
const DOMAIN_MAX_BYTES: usize = 253;

fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// An extended autolink at `at`: `http://`, `https://` or `www.`, a domain with a dot, then everything up to
/// whitespace or `<`, less trailing punctuation, an unbalanced `)` and a trailing entity-like `&name;`.
fn url<'a>(text: &str, at: usize) -> Option<(usize, Vec<Event<'a>>)> {
    let rest = &text[at..];
    let (domain_from, prefix) = if starts_with_ignoring_case(rest, "https://") {
        (8, "")
    } else if starts_with_ignoring_case(rest, "http://") {
        (7, "")
    } else if starts_with_ignoring_case(rest, "www.") {
        (0, "http://")
    } else {
        return None;
    };
    let mut domain_len = 0;
    for c in rest[domain_from..].chars() {
        if !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_')) {
            break;
        }
        domain_len += c.len_utf8();
        // Longer than any host name: no link, and a bounded look from every position.
        if domain_len > DOMAIN_MAX_BYTES {
            return None;
        }
    }
    let domain = &rest[domain_from..domain_from + domain_len];
    if !valid_domain(domain) {
        return None;
    }
    let len = rest
        .find(|c: char| c.is_whitespace() || c == '<')
        .unwrap_or(rest.len());
    let link = trim_link_end(&rest[..len]);
    if link.len() <= domain_from {
        return None;
    }
    let href = format!("{prefix}{link}");
    let events = vec![
        Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: CowStr::from(href),
            title: CowStr::from(""),
            id: CowStr::from(""),
        }),
        Event::Text(CowStr::from(link.to_owned())),
        Event::End(TagEnd::Link),
    ];
    Some((at + link.len(), events))
}

/// At least one dot; no underscore in the last two labels; no empty label.
fn valid_domain(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
        && labels.iter().rev().take(2).all(|l| !l.contains('_'))
}

/// `link` less what GitHub leaves out of its end: trailing punctuation, a `)` without its `(`, an
/// entity-like `&name;`. Parentheses are counted once, so a link ending in many `)` costs linear time.
fn trim_link_end(link: &str) -> &str {
    let mut opened = link.matches('(').count();
    let mut closed = link.matches(')').count();
    let mut link = link;
    while let Some(last) = link.chars().next_back() {
        if matches!(
            last,
            '?' | '!' | '.' | ',' | ':' | '*' | '_' | '~' | '\'' | '"'
        ) {
            link = &link[..link.len() - 1];
        } else if last == ')' && closed > opened {
            link = &link[..link.len() - 1];
            closed -= 1;
        } else if last == ';'
            && let Some(amp) = link.rfind('&')
            && link.len() - amp > 2
            && link[amp + 1..link.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        {
            let cut = &link[amp..];
            opened -= cut.matches('(').count();
            closed -= cut.matches(')').count();
            link = &link[..amp];
        } else {
            break;
        }
    }
    link
}
