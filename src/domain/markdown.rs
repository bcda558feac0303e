//! Post and comment text → the HTML readers get: CommonMark with GitHub's tables, strikethrough, task lists
//! and autolinks, `@name` mentions as links, images as plain links, then an allow-list sanitiser. Pure:
//! written once per version, stored beside the source. Design, bounds and the allow-list: docs/markdown.md.

mod links;
mod policy;
#[cfg(test)]
mod tests;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, TextMergeStream};

/// Elements open at once in the HTML; deeper ones are left out (their text stays). Bounds the sanitiser's
/// work per element (it scans the open elements) and the depth of the tree readers get.
pub const NESTING_MAX: usize = 32;

/// Raw HTML tags a text may use; past this, all of its raw HTML is shown as text. Bounds how deeply raw
/// HTML nests, which the sanitiser's parser pays for per element.
pub const RAW_TAGS_MAX: usize = 1_000;

/// HTML larger than this (before or after sanitising) is replaced by the escaped source in one paragraph:
/// a backstop that bounds the sanitiser's work and keeps a stored and cached version small.
pub const HTML_MAX_BYTES: usize = 512 * 1024;

/// Where a mention links to: `/users/<name>` (the name percent-encoded).
pub const MENTION_PATH: &str = "/users/";

fn events(source: &str) -> Vec<Event<'_>> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    transform(TextMergeStream::new(Parser::new_ext(source, options)))
}

/// The sanitised HTML of Markdown `source`.
pub fn render(source: &str) -> String {
    let events = events(source);
    let mut html = String::with_capacity(source.len() + source.len() / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    if html.len() > HTML_MAX_BYTES {
        return escaped_paragraph(source);
    }
    let clean = policy::clean(&html);
    if clean.len() > HTML_MAX_BYTES {
        return escaped_paragraph(source);
    }
    clean
}

/// The names `source` mentions, in order (repeats included): exactly the mentions [`render`] links, so
/// none inside code, links or URLs.
pub fn mentions(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut opened = false;
    for event in events(source) {
        match event {
            Event::InlineHtml(html) => opened = links::opens_mention(&html),
            Event::Text(text) if opened => {
                if let Some(name) = text.strip_prefix('@') {
                    names.push(name.to_owned());
                }
                opened = false;
            }
            _ => opened = false,
        }
    }
    names
}

/// A version's stored HTML, or — for a version written by a process that predates the column, until the
/// start-up backfill reaches it — its rendering now (cached with the entity, so not on every read).
pub fn stored_or_rendered(stored: Option<String>, source: &str) -> String {
    stored.unwrap_or_else(|| render(source))
}

/// One open element of the source: whether it was written out, and for an image turned into a link, its
/// URL (written as the text of a link without any).
struct Open {
    kept: bool,
    image_url: Option<String>,
}

/// Images become links, elements past [`NESTING_MAX`] are dropped, and plain text (outside links and code)
/// gets its autolinks and mentions.
fn transform<'a>(events: impl Iterator<Item = Event<'a>>) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut kept_depth = 0_usize;
    // Inside a link, an image or a code block: text stays as it is.
    let mut verbatim = 0_usize;
    let mut raw = Vec::new();
    let mut raw_tags = 0_usize;
    for event in events {
        match event {
            Event::Start(tag) => {
                let (tag, image_url) = match tag {
                    Tag::Image {
                        link_type,
                        dest_url,
                        title,
                        id,
                    } => {
                        let url = dest_url.to_string();
                        let link = Tag::Link {
                            link_type,
                            dest_url,
                            title,
                            id,
                        };
                        (link, Some(url))
                    }
                    other => (other, None),
                };
                if matches!(tag, Tag::Link { .. } | Tag::CodeBlock(_)) {
                    verbatim += 1;
                }
                let kept = kept_depth < NESTING_MAX;
                if kept {
                    kept_depth += 1;
                    out.push(Event::Start(tag));
                }
                open.push(Open { kept, image_url });
            }
            Event::End(end) => {
                let Some(element) = open.pop() else { continue };
                let end = match end {
                    TagEnd::Image => TagEnd::Link,
                    other => other,
                };
                if matches!(end, TagEnd::Link | TagEnd::CodeBlock) {
                    verbatim = verbatim.saturating_sub(1);
                }
                if element.kept {
                    kept_depth -= 1;
                    if let Some(url) = element.image_url
                        && matches!(out.last(), Some(Event::Start(Tag::Link { .. })))
                    {
                        out.push(Event::Text(CowStr::from(url)));
                    }
                    out.push(Event::End(end));
                }
            }
            Event::Text(text) if verbatim == 0 => links::link_text(&text, &mut out),
            Event::Html(html) | Event::InlineHtml(html) => {
                raw_tags += html.matches('<').count();
                raw.push(out.len());
                out.push(Event::InlineHtml(html));
            }
            other => out.push(other),
        }
    }
    if raw_tags > RAW_TAGS_MAX {
        for at in raw {
            if let Event::InlineHtml(html) = std::mem::replace(&mut out[at], Event::SoftBreak) {
                out[at] = Event::Text(html);
            }
        }
    }
    out
}

/// The source as text, escaped, in one paragraph.
fn escaped_paragraph(source: &str) -> String {
    let mut html = String::with_capacity(source.len() + 7);
    html.push_str("<p>");
    for c in source.chars() {
        match c {
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '&' => html.push_str("&amp;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
    html.push_str("</p>");
    html
}
