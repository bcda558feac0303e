//! The allow-list the rendered HTML passes through (ammonia): the elements Markdown makes and a few
//! harmless inline ones; links to `http`, `https`, `mailto` and relative URLs, with `rel="nofollow ugc
//! noopener"`; no images, scripts, styles, frames, forms or event handlers. The full list: docs/markdown.md.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::Builder;

pub(super) const LINK_REL: &str = "nofollow ugc noopener";

const TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "ul",
    "ol",
    "li",
    "pre",
    "code",
    "em",
    "strong",
    "del",
    "s",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "input",
    "kbd",
    "sub",
    "sup",
    "details",
    "summary",
    "b",
    "i",
    "ins",
    "mark",
    "dl",
    "dt",
    "dd",
    "abbr",
];

/// Removed with everything inside them (other elements off the list keep their text).
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "template", "noscript",
    "noembed", "noframes", "textarea", "select", "svg", "math", "title",
];

const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// The three cell alignments the Markdown renderer writes: the only `style` values kept.
const CELL_ALIGNMENTS: &[&str] = &[
    "text-align: left",
    "text-align: center",
    "text-align: right",
];

static POLICY: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::empty();
    let attributes: HashMap<&str, HashSet<&str>> = [
        ("a", &["href", "title", "class"][..]),
        ("code", &["class"]),
        ("ol", &["start"]),
        ("th", &["style"]),
        ("td", &["style"]),
        // `type` and `disabled` are set below, whatever the source said.
        ("input", &["checked"]),
        ("abbr", &["title"]),
    ]
    .into_iter()
    .map(|(tag, attrs)| (tag, attrs.iter().copied().collect()))
    .collect();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .tag_attributes(attributes)
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(Some(LINK_REL))
        .strip_comments(true)
        // A task list item's box, and any other `<input>`: a checkbox nobody can tick.
        .set_tag_attribute_value("input", "type", "checkbox")
        .set_tag_attribute_value("input", "disabled", "")
        .attribute_filter(keep_attribute);
    builder
});

/// Values kept of the attributes on the list whose values matter: `class` only as a mention link or a code
/// block's language, `style` only as a cell's alignment.
fn keep_attribute<'v>(element: &str, attribute: &str, value: &'v str) -> Option<Cow<'v, str>> {
    let keep = match (element, attribute) {
        ("a", "class") => value == "mention",
        ("code", "class") => value.strip_prefix("language-").is_some_and(|language| {
            (1..=40).contains(&language.len())
                && language.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'#' | b'.')
                })
        }),
        (_, "style") => CELL_ALIGNMENTS.contains(&value),
        _ => true,
    };
    keep.then_some(Cow::Borrowed(value))
}

/// `html` with everything off the allow-list removed.
pub(super) fn clean(html: &str) -> String {
    POLICY.clean(html).to_string()
}
