//! The board end to end over HTTP: categories, posts with versions, comments, votes, saves and watches,
//! lists, round trips.

mod categories;
mod category_caps;
mod comments;
mod lists;
mod markdown;
mod posts;
mod round_trips;
mod saves;
mod signed_in;
mod threads;
mod votes;
mod watches;

use crate::helpers::{Session, TestApp, code, field};
use futures::future::join_all;
use serde_json::{Value, json};

const CREATE_POST: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title content version } } }";
const UPDATE_POST: &str =
    "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { id title version } } }";
const CREATE_COMMENT: &str =
    "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id content } } }";
const VOTE: &str =
    "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } }";
const UNVOTE: &str = "mutation($id: ID!) { unvotePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } }";

async fn category(app: &TestApp, name: &str) -> String {
    let data = app
        .ok(
            "{ categories { id name children { id name children { id name } } } }",
            json!({}),
            None,
        )
        .await;
    fn find(list: &Value, name: &str) -> Option<String> {
        list.as_array()?.iter().find_map(|c| {
            if c["name"] == name {
                c["id"].as_str().map(str::to_owned)
            } else {
                find(&c["children"], name)
            }
        })
    }
    find(&data["categories"], name).unwrap_or_else(|| panic!("no category {name}"))
}

async fn post(app: &TestApp, who: &Session, category: &str, title: &str, content: &str) -> String {
    app.create_post(&who.access, category, title, content).await
}

async fn comment(app: &TestApp, who: &Session, post: &str, content: &str) -> String {
    let data = app
        .ok(
            CREATE_COMMENT,
            json!({ "i": { "postId": post, "content": content } }),
            Some(&who.access),
        )
        .await;
    data["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
