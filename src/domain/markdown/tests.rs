use super::{HTML_MAX_BYTES, NESTING_MAX, RAW_TAGS_MAX, mentions, render};

/// What no tag of a rendering may contain, whatever the input (text may say anything: it is escaped).
const FORBIDDEN_IN_TAGS: &[&str] = &[
    "script",
    "iframe",
    "img",
    "style=\"color",
    "svg",
    "math",
    "object",
    "embed",
    "form",
    "textarea",
    "javascript:",
    "vbscript:",
    "data:",
    "expression(",
    "srcdoc",
    "position",
];

/// The tags of `html` (between `<` and `>`), lower-cased.
fn tags(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .filter_map(|t| t.split('>').next())
        .map(str::to_lowercase)
        .collect()
}

fn assert_safe(input: &str) -> String {
    let html = render(input);
    for tag in tags(&html) {
        for bad in FORBIDDEN_IN_TAGS {
            assert!(!tag.contains(bad), "{input:?} let {bad:?} through: {html}");
        }
        // Attribute names only: quoted values (the serializer always quotes) are left out.
        let names: String = tag.split('"').step_by(2).collect();
        assert!(
            !names
                .split_whitespace()
                .skip(1)
                .any(|a| a.starts_with("on")),
            "{input:?} kept an event handler: {html}"
        );
    }
    html
}

#[test]
fn hostile_input_is_neutralised() {
    let hostile = [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "hi <b onclick=\"alert(1)\">there</b>",
        "<img src=x onerror=alert(1)>",
        "<img src=\"http://evil.example/track.png\">",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click]( javascript:alert(1) )",
        "[click](javascript&#58;alert(1))",
        "[click](javascript&#x3A;alert(1))",
        "<a href=\"javascript&#58;alert(1)\">x</a>",
        "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](data:image/png;base64,AAAA)",
        "<data:text/html,<script>alert(1)</script>>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<p style=\"color:red;background:url(javascript:alert(1))\">x</p>",
        "<div style=\"position:fixed;top:0\">overlay</div>",
        "<style>body{display:none}</style>",
        "<div><p><span onmouseover=alert(1)><a href=javascript:alert(1)>deep</a></span></p></div>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
        "<object data=\"x.swf\"></object><embed src=x.swf>",
        "<form action=\"https://evil.example\"><input type=password name=p></form>",
        "<textarea><script>alert(1)</script></textarea>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
        "<!-- <script>alert(1)</script> -->",
        "<td style=\"text-align: left; background: url(x)\">x</td>",
        "<a href=\"https://ok.example\" onclick=\"alert(1)\" style=\"color:red\">ok</a>",
        "<details open ontoggle=alert(1)><summary>s</summary>x</details>",
        "[x](https://ok.example \"t\\\" onmouseover=\\\"alert(1)\")",
    ];
    for input in hostile {
        assert_safe(input);
    }
}

#[test]
fn images_become_plain_links_to_their_url() {
    let html = assert_safe("![a cat](https://cats.example/cat.png)");
    assert_eq!(
        html,
        "<p><a href=\"https://cats.example/cat.png\" rel=\"nofollow ugc noopener\">a cat</a></p>\n"
    );
    // No alt text: the URL is the link's text.
    let html = assert_safe("![](https://cats.example/cat.png)");
    assert!(html.contains(">https://cats.example/cat.png</a>"), "{html}");
}

#[test]
fn links_carry_rel_and_keep_safe_urls() {
    let html = render(
        "[board](https://board.example/a?b=1) [mail](mailto:kim@example.com) [rel](/posts/1)",
    );
    assert_eq!(
        html.matches("rel=\"nofollow ugc noopener\"").count(),
        3,
        "{html}"
    );
    assert!(html.contains("href=\"https://board.example/a?b=1\""));
    assert!(html.contains("href=\"mailto:kim@example.com\""));
    assert!(html.contains("href=\"/posts/1\""));
    // A raw link's own rel is replaced, not merged.
    let html = render("<a href=\"https://x.example\" rel=\"opener\">x</a>");
    assert!(
        html.contains("rel=\"nofollow ugc noopener\"") && !html.contains("opener\" rel"),
        "{html}"
    );
}

#[test]
fn github_extensions_render() {
    let table = render("| a | b |\n|:--|--:|\n| 1 | 2 |\n");
    assert!(
        table.contains("<table>") && table.contains("<th style=\"text-align: left\">a</th>"),
        "{table}"
    );
    assert!(
        table.contains("<td style=\"text-align: right\">2</td>"),
        "{table}"
    );
    assert_eq!(render("~~gone~~"), "<p><del>gone</del></p>\n");
    let tasks = render("- [x] done\n- [ ] todo\n");
    assert!(
        tasks.contains("<input type=\"checkbox\" disabled=\"\" checked=\"\">")
            || tasks.contains("checked"),
        "{tasks}"
    );
    assert_eq!(tasks.matches("<input").count(), 2, "{tasks}");
    assert_eq!(tasks.matches("disabled").count(), 2, "{tasks}");
    // Any raw input is a disabled checkbox too.
    let input = render("<input type=\"text\" value=\"x\">");
    assert!(
        input.contains("type=\"checkbox\"")
            && input.contains("disabled")
            && !input.contains("value"),
        "{input}"
    );
    let code = render("```rust\nfn main() {}\n```\n");
    assert!(code.contains("<code class=\"language-rust\">"), "{code}");
    assert!(!render("```x\" onclick=\"y\nz\n```").contains("onclick"));
    assert!(!render("<code class=\"evil\">x</code>").contains("class"));
}

#[test]
fn bare_urls_become_links_like_github() {
    let html =
        render("see https://board.example/a_(b) and www.example.com/x. or (http://x.example/y).");
    assert!(html.contains("<a href=\"https://board.example/a_(b)\" rel=\"nofollow ugc noopener\">https://board.example/a_(b)</a>"), "{html}");
    assert!(html.contains("<a href=\"http://www.example.com/x\" rel=\"nofollow ugc noopener\">www.example.com/x</a>. or"), "{html}");
    assert!(html.contains(">http://x.example/y</a>)."), "{html}");
    assert!(render("<https://angle.example>").contains("href=\"https://angle.example\""));
    // Not links: no dot in the domain, inside code, already a link, mid-word.
    assert!(!render("http://localhost").contains("<a"));
    assert!(!render("`https://code.example`").contains("<a"));
    assert_eq!(
        render("[t](https://a.example) https://b.example")
            .matches("<a ")
            .count(),
        2
    );
    assert!(!render("xhttps://a.example").contains("<a"));
    assert!(!render("www.a_b.c_d").contains("<a"));
    // Entity-like tails stay outside.
    assert!(render("https://a.example/x&hl;").contains("href=\"https://a.example/x\""));
}

#[test]
fn hangul_text_and_mentions() {
    let html =
        render("# 안녕하세요\n\n**철수**님, @철수kim 과 @영희 에게 물어보세요 — 감사합니다 🦀");
    assert!(html.contains("<h1>안녕하세요</h1>"), "{html}");
    assert!(html.contains("<strong>철수</strong>님"), "{html}");
    assert!(
        html.contains("<a href=\"/users/%EC%B2%A0%EC%88%98kim\" class=\"mention\" rel=\"nofollow ugc noopener\">@철수kim</a> 과"),
        "{html}"
    );
    assert!(html.contains(">@영희</a> 에게"), "{html}");
    assert!(html.contains("감사합니다 🦀"));
    // Latin, digits, `_` and `-`; punctuation ends a name.
    let html = render("thanks @dev_kim-2, and @bob.");
    assert!(
        html.contains("href=\"/users/dev_kim-2\"") && html.contains(">@dev_kim-2</a>,"),
        "{html}"
    );
    assert!(html.contains(">@bob</a>."), "{html}");
}

#[test]
fn what_is_not_a_mention() {
    for text in [
        "mail kim@example.com",
        "`@kim` in code",
        "@a",
        "@рaypal mixes scripts",
        "[@kim](https://x.example)",
        "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is 31 characters",
    ] {
        assert!(
            !render(text).contains("mention"),
            "{text}: {}",
            render(text)
        );
    }
    let block = render("```\n@kim\n```");
    assert!(!block.contains("<a"), "{block}");
    // A forged mention class on a raw link is dropped unless it says `mention` (harmless either way).
    assert!(!render("<a class=\"x\" href=\"/\">x</a>").contains("class"));
}

#[test]
fn pathological_input_renders_in_bounded_output() {
    let n = crate::domain::board::POST_CONTENT_MAX;
    let table_columns =
        "|a".repeat(2_000) + "|\n" + &"|-".repeat(2_000) + "|\n" + &"x\n".repeat(8_000);
    let inputs = [
        ">".repeat(n),
        "> ".repeat(n / 2),
        "- ".repeat(n / 2),
        "1. ".repeat(n / 3),
        "*".repeat(n),
        "*a ".repeat(n / 3),
        "_".repeat(n),
        "[".repeat(n),
        "[a](".repeat(n / 4),
        "<".repeat(n),
        "<div>".repeat(n / 5),
        "<b>".repeat(n / 3),
        "`".repeat(n),
        "@ab ".repeat(n / 4),
        "www.a.b ".repeat(n / 8),
        "(www.a.b".repeat(n / 8),
        format!("https://a.b/{}", ")".repeat(n)),
        "_www.".repeat(n / 5),
        "![](".repeat(n / 4),
        table_columns,
        "| a |\n|---|\n".to_owned() + &"| x |\n".repeat(n / 6),
    ];
    for input in &inputs {
        let html = render(input);
        assert!(
            html.len() <= HTML_MAX_BYTES.max(input.len() * 80),
            "{} bytes of input rendered as {} bytes",
            input.len(),
            html.len()
        );
        assert!(html.len() <= HTML_MAX_BYTES + input.len() * 6);
        let deepest = max_depth(&html);
        assert!(
            deepest <= NESTING_MAX + RAW_TAGS_MAX,
            "nested {deepest} deep"
        );
    }
}

/// How deeply the elements of `html` nest (void elements do not count).
fn max_depth(html: &str) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    for tag in html.split('<').skip(1) {
        if tag.starts_with('/') {
            depth = depth.saturating_sub(1);
        } else if !(tag.starts_with("br") || tag.starts_with("hr") || tag.starts_with("input")) {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

#[test]
fn output_past_the_cap_falls_back_to_escaped_text() {
    let html = super::escaped_paragraph("<b>\"x\" & 'y'</b>");
    assert_eq!(
        html,
        "<p>&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</p>"
    );
}

#[test]
fn mentions_are_the_linked_names_only() {
    let text = "@철수kim 과 @dev_철수, `@code` [@link](https://x.example) kim@example.com\n\n```\n@block\n```\n@lee @lee";
    assert_eq!(
        mentions(text),
        vec!["철수kim", "dev_철수", "lee", "lee"],
        "{}",
        render(text)
    );
    let flood: String = (0..200).map(|i| format!("@user{i} ")).collect();
    assert_eq!(mentions(&flood).len(), 200);
}
