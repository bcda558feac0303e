use super::*;

fn tree() -> CategoryTree {
    let c = |id, tier, parent: Option<i64>| Category {
        id: CategoryId(id),
        name: format!("c{id}"),
        tier,
        parent_id: parent.map(CategoryId),
        moderators: Vec::new(),
    };
    CategoryTree {
        categories: vec![
            c(1, 1, None),
            c(2, 2, Some(1)),
            c(3, 3, Some(2)),
            c(4, 1, None),
        ],
    }
}

#[test]
fn descendants_and_cycles() {
    let t = tree();
    assert_eq!(
        t.with_descendants(CategoryId(1)),
        vec![CategoryId(1), CategoryId(2), CategoryId(3)]
    );
    assert!(t.is_within(CategoryId(3), CategoryId(1)));
    assert!(!t.is_within(CategoryId(4), CategoryId(1)));
    assert_eq!(
        t.with_ancestors(CategoryId(3)),
        vec![CategoryId(3), CategoryId(2), CategoryId(1)]
    );
    assert_eq!(t.tier_under(Some(CategoryId(3))).unwrap(), 4);
    assert_eq!(t.roots().len(), 2);
    assert!(t.sibling_named(Some(CategoryId(1)), "c2", None));
    assert!(!t.sibling_named(Some(CategoryId(1)), "c2", Some(CategoryId(2))));
}

#[test]
fn a_cyclic_tree_is_walked_once() {
    let mut t = tree();
    // 1 → 2 → 3 → 1: what two unserialised moves could leave behind.
    t.categories[0].parent_id = Some(CategoryId(3));
    let mut all = t.with_descendants(CategoryId(1));
    all.sort();
    assert_eq!(all, vec![CategoryId(1), CategoryId(2), CategoryId(3)]);
    assert_eq!(t.with_ancestors(CategoryId(3)).len(), 3);
    assert!(t.is_within(CategoryId(2), CategoryId(3)));
}

#[test]
fn moves_are_planned_with_their_tiers() {
    let t = tree();
    assert_eq!(
        t.plan_update(CategoryId(2), None, Some(Some(CategoryId(4))))
            .unwrap(),
        vec![],
        "same tier: nothing to rewrite"
    );
    assert_eq!(
        t.plan_update(CategoryId(4), None, Some(Some(CategoryId(3))))
            .unwrap(),
        vec![(CategoryId(4), 4)]
    );
    assert_eq!(
        t.plan_update(CategoryId(2), None, Some(None)).unwrap(),
        vec![(CategoryId(2), 1), (CategoryId(3), 2)]
    );
    assert!(
        t.plan_update(CategoryId(1), None, Some(Some(CategoryId(3))))
            .is_err()
    );
    assert!(t.plan_update(CategoryId(9), None, None).is_err());
    assert!(t.plan_create("c4", None).is_err());
    assert_eq!(t.plan_create("c4", Some(CategoryId(4))).unwrap(), 2);
}

#[test]
fn a_cached_post_or_comment_without_its_html_does_not_decode() {
    // The cache stores entities as JSON; an entry written before `content_html` existed must be a miss
    // (read again from the database), never a post with empty HTML.
    let post = serde_json::json!({
        "id": 1, "author_id": 2, "category_id": 3, "created_at": "2026-01-01T00:00:00Z",
        "is_active": true, "title": "t", "content": "*c*", "version": 0,
        "updated_at": "2026-01-01T00:00:00Z", "vote_count": 0, "comment_count": 0,
        "top_comment_count": 0,
    });
    assert!(serde_json::from_value::<Post>(post.clone()).is_err());
    let mut with_html = post;
    with_html["content_html"] = "<p><em>c</em></p>".into();
    let decoded: Post = serde_json::from_value(with_html).unwrap();
    assert_eq!(decoded.content_html, "<p><em>c</em></p>");
    let comment = serde_json::json!({
        "id": 1, "post_id": 2, "author_id": 3, "created_at": "2026-01-01T00:00:00Z",
        "is_active": true, "content": "c", "version": 0,
        "updated_at": "2026-01-01T00:00:00Z", "vote_count": 0,
    });
    assert!(serde_json::from_value::<Comment>(comment.clone()).is_err());
    // Nor one written before threads (no depth or reply count): its replies would read as none.
    let mut before_threads = comment;
    before_threads["content_html"] = "<p>c</p>".into();
    assert!(serde_json::from_value::<Comment>(before_threads.clone()).is_err());
    before_threads["depth"] = 0.into();
    before_threads["reply_count"] = 2.into();
    let decoded: Comment = serde_json::from_value(before_threads).unwrap();
    assert_eq!((decoded.parent_id, decoded.reply_count), (None, 2));
    let revision = serde_json::json!({
        "version": 0, "title": null, "content": "c", "created_at": "2026-01-01T00:00:00Z",
    });
    assert!(serde_json::from_value::<Revision>(revision).is_err());
}

#[test]
fn what_the_anonymous_may_see_every_viewer_may_see() {
    // The GraphQL layer decides visible content without reading the viewer (so it stays one answer for
    // every member); that needs this to hold for every state and every viewer.
    let viewer = |id, role| User {
        id: UserId(id),
        name: Some(format!("u{id}")),
        email: None,
        role,
        states: vec![],
        created_at: chrono::Utc::now(),
    };
    let viewers = [
        viewer(1, crate::domain::Role::User),
        viewer(2, crate::domain::Role::User),
        viewer(3, crate::domain::Role::Admin),
    ];
    let moderators = Access::ModeratorsOf(CategoryId(1));
    for is_active in [true, false] {
        for removed in [true, false] {
            if hidden_access(is_active, removed, UserId(1), None, moderators) != Access::Visible {
                continue;
            }
            for v in &viewers {
                let access = hidden_access(is_active, removed, UserId(1), Some(v), moderators);
                assert_eq!(access, Access::Visible, "{is_active} {removed} {v:?}");
            }
        }
    }
}

#[test]
fn text_rules() {
    assert!(post_title("   ").is_err());
    assert_eq!(post_title("  hi  ").unwrap(), "hi");
    assert!(post_title(&"t".repeat(201)).is_err());
    assert!(post_content(&"c".repeat(40_001)).is_err());
    assert!(comment_content(" \n ").is_err());
    assert!(search_term(&"s".repeat(101)).is_err());
    assert!(category_name(&"가".repeat(50)).is_ok());
}
