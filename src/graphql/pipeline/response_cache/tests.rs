//! The response cache's rules, one at a time: kept answers, flights, templates.

use super::*;
use crate::adapters::cache::MemoryCache;
use crate::adapters::cache::fakes::FeedCache;

const TTL: Duration = Duration::from_secs(60);

fn responses() -> (Arc<NearCache>, ResponseCache) {
    let near = NearCache::start(TTL, 100, Arc::new(MemoryCache::new(10, 1 << 20)));
    (Arc::clone(&near), ResponseCache::new(near, TTL))
}

fn miss(lookup: Found<'_>) -> MissTicket<'_> {
    match lookup {
        Found::Miss(Some(miss)) => miss,
        Found::Kept(_) => panic!("a hit"),
        Found::Template(..) => panic!("a template"),
        Found::Miss(None) => panic!("not cacheable"),
    }
}

fn hit(lookup: Found<'_>) -> Arc<CachedResponse> {
    match lookup {
        Found::Kept(kept) => kept,
        _ => panic!("not kept"),
    }
}

#[tokio::test]
async fn a_kept_answer_is_served_until_a_deletion_retires_it() {
    let (near, answers) = responses();
    let ticket = miss(answers.lookup([1; 32], None).await);
    answers.keep(ticket, b"{\"data\":1}", 1, None);
    let kept = hit(answers.lookup([1; 32], None).await);
    assert_eq!(kept.body.as_slice(), &b"{\"data\":1}"[..]);
    miss(answers.lookup([2; 32], None).await);
    // Any deletion, of any key, retires every kept answer.
    near.forget(&["user:5".to_owned()]);
    miss(answers.lookup([1; 32], None).await);
}

#[tokio::test]
async fn the_same_request_meanwhile_waits_for_the_answer_being_built() {
    let (_, answers) = responses();
    let answers = Arc::new(answers);
    let ticket = miss(answers.lookup([1; 32], None).await);
    let waiting = {
        let answers = Arc::clone(&answers);
        tokio::spawn(async move { answers.lookup([1; 32], None).await.is_kept() })
    };
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiting.is_finished(),
        "it waits rather than building its own"
    );
    answers.keep(ticket, b"{\"data\":2}", 1, None);
    assert!(waiting.await.unwrap(), "served the answer built meanwhile");
}

#[tokio::test]
async fn an_answer_built_across_a_deletion_goes_to_those_waiting_but_is_not_kept() {
    let (near, answers) = responses();
    let answers = Arc::new(answers);
    let ticket = miss(answers.lookup([1; 32], None).await);
    let waiting = {
        let answers = Arc::clone(&answers);
        tokio::spawn(async move { answers.lookup([1; 32], None).await.is_kept() })
    };
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    // A deletion while it was built: the waiting request began before it, and takes the answer.
    near.forget(&["post:1".to_owned()]);
    answers.keep(ticket, b"{}", 1, None);
    assert!(waiting.await.unwrap(), "served the answer it waited for");
    // A later request does not get it.
    miss(answers.lookup([1; 32], None).await);
}

#[tokio::test]
async fn an_answer_not_kept_lets_the_waiting_requests_build_theirs() {
    let (_, answers) = responses();
    let answers = Arc::new(answers);
    let ticket = miss(answers.lookup([1; 32], None).await);
    let waiting = {
        let answers = Arc::clone(&answers);
        tokio::spawn(
            async move { matches!(answers.lookup([1; 32], None).await, Found::Miss(Some(_))) },
        )
    };
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    // Too large to keep (or not kept at all: an error, a database read): each builds its own.
    answers.keep(ticket, &vec![b' '; MAX_BODY + 1], 1, None);
    assert!(waiting.await.unwrap(), "got a ticket to build its own");
}

#[tokio::test]
async fn a_request_after_a_deletion_does_not_wait_for_an_answer_from_before_it() {
    let (near, answers) = responses();
    let _building = miss(answers.lookup([1; 32], None).await);
    near.forget(&["post:1".to_owned()]);
    // Answered at once (a ticket of its own), not after the answer begun before the deletion.
    let lookup = tokio::time::timeout(Duration::from_secs(10), answers.lookup([1; 32], None)).await;
    miss(lookup.expect("waited for the answer begun before the deletion"));
}

#[test]
fn each_viewer_and_anonymous_have_keys_of_their_own() {
    let request = async_graphql::Request::new("{ posts { totalCount } }");
    let key = |viewer| ResponseCache::key(&request, None, 1, viewer);
    assert_eq!(key(For::Viewer(UserId(3))), key(For::Viewer(UserId(3))));
    assert_ne!(key(For::Viewer(UserId(3))), key(For::Viewer(UserId(4))));
    assert_ne!(key(For::Anonymous), key(For::Viewer(UserId(0))));
    assert_ne!(key(For::Members), key(For::Anonymous));
    assert_ne!(key(For::Members), key(For::Viewer(UserId(0))));
}

#[tokio::test]
async fn an_answer_built_while_a_deletion_happened_is_not_kept() {
    let (near, answers) = responses();
    let ticket = miss(answers.lookup([1; 32], None).await);
    // The request resolves; meanwhile a write deletes a key it may have read.
    near.forget(&["post:1".to_owned()]);
    answers.keep(ticket, b"{}", 1, None);
    let ticket = miss(answers.lookup([1; 32], None).await);
    // A request that began after the deletion keeps its answer.
    answers.keep(ticket, b"{}", 1, None);
    hit(answers.lookup([1; 32], None).await);
}

#[tokio::test]
async fn large_answers_and_answers_without_a_live_feed_are_not_kept() {
    let (_, answers) = responses();
    let ticket = miss(answers.lookup([1; 32], None).await);
    answers.keep(ticket, &vec![b' '; MAX_BODY + 1], 1, None);
    miss(answers.lookup([1; 32], None).await);
    // Not following the deletions: nothing is looked up, nothing may be kept.
    let shared = FeedCache::new(Duration::from_millis(1));
    let near = NearCache::start(TTL, 100, shared.clone());
    let answers = ResponseCache::new(near, TTL);
    shared.connection(false);
    for _ in 0..200 {
        if matches!(answers.lookup([1; 32], None).await, Found::Miss(None)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still looked up while the feed is down");
}

impl Found<'_> {
    fn is_kept(&self) -> bool {
        matches!(self, Found::Kept(_))
    }
}

/// The kept body of an answer with one slot, `viewerHasVoted` of post 7.
const VOTED: &[u8] = b"{\"data\":{\"post\":{\"viewerHasVoted\":true}},\"extensions\":{\"cost\":";

fn voted_slot() -> Vec<(Path, Slot)> {
    use crate::graphql::viewer_reads::Step;
    vec![(
        vec![Step::Key("post".into()), Step::Key("viewerHasVoted".into())],
        Slot::VotedPost(crate::domain::PostId(7)),
    )]
}

fn template(lookup: Found<'_>) -> (Arc<KeptTemplate>, MissTicket<'_>) {
    match lookup {
        Found::Template(template, _, ticket) => (template, ticket),
        Found::Kept(_) => panic!("a kept answer"),
        Found::Miss(_) => panic!("a miss"),
    }
}

const MEMBERS: Key = [9; 32];

#[tokio::test]
async fn an_answer_whose_only_viewer_fields_are_slots_is_every_members_template() {
    let (near, answers) = responses();
    // Viewer 1 builds it: a template for every member, and their own answer.
    let ticket = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    assert!(ticket.records_viewer());
    answers.keep(ticket, VOTED, 3, Some(&voted_slot()));
    hit(answers.lookup([1; 32], Some(MEMBERS)).await);
    // Viewer 2 gets the template, fills it with their own value, and keeps that as their answer.
    let (kept, ticket) = template(answers.lookup([2; 32], Some(MEMBERS)).await);
    assert_eq!(kept.cost, 3);
    assert_eq!(
        kept.template.slots().collect::<Vec<_>>(),
        [Slot::VotedPost(crate::domain::PostId(7))]
    );
    let theirs = kept
        .template
        .fill(|_, _| crate::graphql::viewer_reads::SlotValue::Bool(false));
    assert!(!ticket.records_viewer(), "a template is not built again");
    answers.keep(ticket, &theirs, kept.cost, None);
    let served = hit(answers.lookup([2; 32], Some(MEMBERS)).await);
    assert!(
        served
            .body
            .ends_with(b"\"viewerHasVoted\":false}},\"extensions\":{\"cost\":")
    );
    // A deletion retires the template with every kept answer.
    near.forget(&["voted_post:2:7".to_owned()]);
    miss(answers.lookup([3; 32], Some(MEMBERS)).await);
}

#[tokio::test]
async fn a_deletion_of_slot_values_retires_kept_answers_but_not_templates() {
    let (near, answers) = responses();
    let ticket = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    answers.keep(ticket, VOTED, 1, Some(&voted_slot()));
    hit(answers.lookup([1; 32], Some(MEMBERS)).await);
    // A vote: the counter's and the voter's entries change, which answers show only in slots.
    near.forget_slot_values(&["post:7".to_owned(), "voted_post:1:7".to_owned()]);
    // Viewer 1's own answer is retired (its slots hold the old values); the template is filled again.
    let (_, ticket) = template(answers.lookup([1; 32], Some(MEMBERS)).await);
    // An answer built across such a deletion is not kept; its template is.
    near.forget_slot_values(&["post:7".to_owned()]);
    answers.keep(ticket, VOTED, 1, None);
    template(answers.lookup([1; 32], Some(MEMBERS)).await);
    let ticket = miss(answers.lookup([5; 32], Some([8; 32])).await);
    near.forget_slot_values(&["post:7".to_owned()]);
    answers.keep(ticket, VOTED, 1, Some(&voted_slot()));
    template(answers.lookup([6; 32], Some([8; 32])).await);
    // Any other deletion retires templates too, and one built across it is not kept.
    near.forget(&["post:7".to_owned()]);
    let ticket = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    near.forget(&["post:8".to_owned()]);
    answers.keep(ticket, VOTED, 1, Some(&voted_slot()));
    miss(answers.lookup([2; 32], Some(MEMBERS)).await);
}

#[tokio::test]
async fn an_answer_that_read_the_viewer_otherwise_is_kept_for_them_alone() {
    let (_, answers) = responses();
    let ticket = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    answers.keep(ticket, VOTED, 1, None);
    hit(answers.lookup([1; 32], Some(MEMBERS)).await);
    let other = miss(answers.lookup([2; 32], Some(MEMBERS)).await);
    assert!(other.records_viewer(), "it may still become a template");
    // A slot not found in the body as a boolean: the viewer's alone too.
    use crate::graphql::viewer_reads::Step;
    let elsewhere = vec![(
        vec![Step::Key("nowhere".into())],
        Slot::VotedPost(crate::domain::PostId(7)),
    )];
    answers.keep(other, VOTED, 1, Some(&elsewhere));
    miss(answers.lookup([3; 32], Some(MEMBERS)).await);
}

#[tokio::test]
async fn another_member_waits_for_the_template_being_built() {
    let (_, answers) = responses();
    let answers = Arc::new(answers);
    let ticket = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    let waiting = {
        let answers = Arc::clone(&answers);
        tokio::spawn(async move {
            matches!(
                answers.lookup([2; 32], Some(MEMBERS)).await,
                Found::Template(..)
            )
        })
    };
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiting.is_finished(),
        "it waits rather than building its own"
    );
    answers.keep(ticket, VOTED, 1, Some(&voted_slot()));
    assert!(
        waiting.await.unwrap(),
        "filled the template built meanwhile"
    );
}

#[tokio::test]
async fn members_do_not_wait_for_an_answer_known_to_be_the_viewers_own() {
    let (near, answers) = responses();
    let ticket = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    answers.keep(ticket, VOTED, 1, None);
    near.forget(&["user:1".to_owned()]);
    // Viewer 1 builds again; viewer 2 meanwhile builds their own instead of waiting.
    let _building = miss(answers.lookup([1; 32], Some(MEMBERS)).await);
    let lookup = tokio::time::timeout(
        Duration::from_secs(10),
        answers.lookup([2; 32], Some(MEMBERS)),
    )
    .await;
    let theirs = miss(lookup.expect("waited for an answer that is the viewer's own"));
    // If theirs makes a template after all, it is kept and served.
    answers.keep(theirs, VOTED, 1, Some(&voted_slot()));
    template(answers.lookup([3; 32], Some(MEMBERS)).await);
}
