//! Who may moderate where: admins appoint moderators per category; a moderator's rights cover the
//! category and its descendants, nothing else.

use super::*;
use crate::helpers::code;

backend_tests!(
    moderators_act_in_their_category_and_below_and_nowhere_else,
    only_admins_appoint_moderators
);

async fn moderators_act_in_their_category_and_below_and_nowhere_else(app: TestApp) {
    let w = world(&app).await;
    let listed = app
        .ok(
            "query($id: ID!) { category(id: $id) { moderators { id } children { name moderators { id } } } }",
            json!({ "id": w.qna }),
            None,
        )
        .await;
    assert_eq!(
        listed["category"]["moderators"],
        json!([{ "id": w.moderator.user_id }])
    );
    assert_eq!(
        listed["category"]["children"][0]["moderators"],
        json!([]),
        "rights flow down; the list names the appointment"
    );

    // A post in `tech`, below `qna`: the moderator of `qna` removes it.
    let in_child = app
        .create_post(&w.author.access, &w.tech, "질문 question", "본문")
        .await;
    let removed = remove(&app, &w.moderator, &in_child, "스팸 spam").await;
    assert!(removed.get("errors").is_none(), "{removed:#}");
    assert_eq!(
        removed["data"]["removeContent"]["subject"]["moderation"]["removed"],
        true
    );

    // Outside: `life` is below `community`.
    let outside = app
        .create_post(&w.author.access, &w.life, "일상", "본문")
        .await;
    let refused = remove(&app, &w.moderator, &outside, "off topic").await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    // Nor may another member, nor the author (a delete is theirs, a removal is not).
    for who in [&w.member, &w.author] {
        let refused = remove(&app, who, &outside, "nope").await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    }
    let refused = app
        .gql(
            "mutation($id: ID!) { lockPost(input: { postId: $id, locked: true }) { post { locked } } }",
            json!({ "id": outside }),
            Some(&w.moderator.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    // Admins moderate everywhere.
    let by_admin = remove(&app, &w.admin, &outside, "admin").await;
    assert!(by_admin.get("errors").is_none(), "{by_admin:#}");

    // Dismissed: the next request knows.
    let dismissed = set_moderator(&app, &w.admin, &w.qna, &w.moderator, false).await;
    assert_eq!(
        dismissed["data"]["setCategoryModerator"]["category"]["moderators"],
        json!([])
    );
    let another = app
        .create_post(&w.author.access, &w.tech, "둘째", "본문")
        .await;
    let refused = remove(&app, &w.moderator, &another, "spam").await;
    assert_eq!(code(&refused), "FORBIDDEN");
    // A blank reason names the field; an id of another type too.
    let blank = remove(&app, &w.admin, &another, "   ").await;
    assert_eq!(code(&blank), "BAD_USER_INPUT");
    assert_eq!(crate::helpers::field(&blank), "reason");
    let wrong = remove(&app, &w.admin, &w.qna, "spam").await;
    assert_eq!(crate::helpers::field(&wrong), "subjectId");
}

async fn only_admins_appoint_moderators(app: TestApp) {
    let w = world(&app).await;
    for who in [&w.moderator, &w.member] {
        let refused = set_moderator(&app, who, &w.community, &w.member, true).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    }
    let anonymous = app
        .gql(
            SET_MODERATOR,
            json!({ "i": { "categoryId": w.community, "userId": w.member.user_id, "moderator": true } }),
            None,
        )
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let unknown_user = app
        .gql(
            SET_MODERATOR,
            json!({ "i": { "categoryId": w.community, "userId": "VXNlcjo5OTk5OTk=", "moderator": true } }),
            Some(&w.admin.access),
        )
        .await;
    assert_eq!(code(&unknown_user), "NOT_FOUND", "{unknown_user:#}");
    // Appointing twice is one appointment and one log entry.
    for _ in 0..2 {
        let again = set_moderator(&app, &w.admin, &w.qna, &w.moderator, true).await;
        assert_eq!(
            again["data"]["setCategoryModerator"]["category"]["moderators"],
            json!([{ "id": w.moderator.user_id, "name": again["data"]["setCategoryModerator"]["category"]["moderators"][0]["name"] }])
        );
    }
    let entries = log(&app, Some(&w.qna), Some(&w.admin)).await;
    assert_eq!(
        super::entries(&entries, "SET_MODERATOR", &w.moderator.user_id),
        1
    );
}
