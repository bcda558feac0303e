//! The `NotificationRepo` contract the fan-out stands on, on a server that is built but not serving (so no
//! fan-out runs beside the test): a claim is exclusive until its lease ends, an expired claim is taken
//! over, a second insert from one source notifies nobody twice, marking read touches only one's own, and
//! expiry deletes only read notifications.

use board::adapters::sql::SqlNotificationRepo;
use board::domain::notifications::{About, NotificationKind, Source, Stage};
use board::domain::{Email, NewPassword, NotificationId, PostContent, PostTitle, User, UserName};
use board::ports::NotificationRepo;
use chrono::{Duration, Utc};

use crate::helpers::{Backend, test_config};

async fn contract(backend: Backend) {
    let (config, _cleanup) = test_config(backend).await;
    let app = board::App::build(config).await.unwrap();
    let repo = SqlNotificationRepo::new(app.db.clone());
    let mut members: Vec<User> = Vec::new();
    for name in ["철수kim", "앨리스_bob", "dev_철수"] {
        let session = app
            .services
            .accounts
            .sign_up(
                UserName::parse("name", name).unwrap(),
                Email::parse(
                    "email",
                    &format!("{}@example.com", crate::helpers::unique("o")),
                )
                .unwrap(),
                &NewPassword::parse("password", "password-1").unwrap(),
                "127.0.0.1",
            )
            .await
            .unwrap();
        members.push(session.user);
    }
    let category = app.services.board.category_tree().await.unwrap().roots()[0].id;
    let post = app
        .services
        .board
        .create_post(
            &members[0],
            category,
            &PostTitle::parse("제목").unwrap(),
            &PostContent::parse("본문").unwrap(),
        )
        .await
        .unwrap();

    // The post's creation left one entry, in the transaction of the write.
    let now = Utc::now();
    let pending = repo.pending(Stage::Direct, now, 16).await.unwrap();
    assert_eq!(pending.len(), 1);
    let entry = pending[0];
    assert_eq!(entry.source, Source::post(post.id.0, 0));
    assert_eq!(entry.actor, Some(members[0].id));
    assert_eq!(entry.attempts, 0);

    // One claim at a time; a claimed entry is not pending until its lease ends.
    let lease = now + Duration::seconds(60);
    assert!(repo.claim(entry.id, now, lease).await.unwrap());
    assert!(!repo.claim(entry.id, now, lease).await.unwrap());
    assert!(
        repo.pending(Stage::Direct, now, 16)
            .await
            .unwrap()
            .is_empty()
    );
    let later = lease + Duration::seconds(1);
    let again = repo.pending(Stage::Direct, later, 16).await.unwrap();
    assert_eq!(again.len(), 1, "an expired claim is pending again");
    assert_eq!(again[0].attempts, 1);
    assert!(
        repo.claim(entry.id, later, later + Duration::seconds(60))
            .await
            .unwrap()
    );

    // Inserting twice from one source: the second notifies only whom the first did not.
    let source = entry.source;
    let about = About {
        actor: Some(members[0].id),
        post: Some(post.id),
        category: Some(post.category_id),
        ..About::default()
    };
    let (b, c) = (members[1].id, members[2].id);
    let first = repo
        .insert(source, &about, &[(b, NotificationKind::Mention)], now)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, b);
    let second = repo
        .insert(
            source,
            &about,
            &[
                (b, NotificationKind::WatchedCategoryPost),
                (c, NotificationKind::WatchedCategoryPost),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "b was told already");
    assert_eq!(second[0].0, c);
    assert!(second[0].1 > first[0].1, "a later chunk's ids are above");
    let only_second = repo
        .by_source(source, second[0].1, second[0].1)
        .await
        .unwrap();
    assert_eq!(
        only_second.len(),
        1,
        "a chunk reads back its own notifications only"
    );
    let chunk = repo
        .by_source(source, first[0].1, second[0].1)
        .await
        .unwrap();
    assert_eq!(chunk.len(), 2);
    let of_b = chunk.iter().find(|n| n.user == b).unwrap();
    assert_eq!(of_b.kind, NotificationKind::Mention, "the first kind stays");
    let of_c = chunk.iter().find(|n| n.user == c).unwrap();

    // The direct part done, the entry waits unclaimed for its watchers' part, behind no direct part.
    repo.advance(entry.id).await.unwrap();
    assert!(
        repo.pending(Stage::Direct, later, 16)
            .await
            .unwrap()
            .is_empty()
    );
    let watchers = repo.pending(Stage::Watchers, later, 16).await.unwrap();
    assert_eq!(watchers.len(), 1);
    assert_eq!(watchers[0].stage, Stage::Watchers);
    assert_eq!(watchers[0].attempts, 0);
    assert!(
        repo.claim(entry.id, later, later + Duration::seconds(60))
            .await
            .unwrap()
    );

    // Finished: the outbox is empty.
    repo.finish(entry.id).await.unwrap();
    assert_eq!(repo.outbox_len().await.unwrap(), 0);

    // Marking read: only one's own, once.
    let ids = [of_b.id];
    assert_eq!(repo.mark_read(c, Some(&ids), now).await.unwrap(), 0);
    assert_eq!(repo.mark_read(b, Some(&ids), now).await.unwrap(), 1);
    assert_eq!(repo.mark_read(b, Some(&ids), now).await.unwrap(), 0);
    assert_eq!(
        repo.mark_read(b, Some(&[] as &[NotificationId]), now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(repo.count(b, true).await.unwrap(), 0);
    assert_eq!(repo.count(c, true).await.unwrap(), 1);

    // Expiry deletes read notifications older than the cut, never unread ones.
    assert_eq!(
        repo.expire_read(now - Duration::days(1), 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        repo.expire_read(now + Duration::days(1), 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(repo.by_ids(&[of_b.id, of_c.id]).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_contract_holds_on_sqlite() {
    contract(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn the_outbox_contract_holds_on_mariadb() {
    crate::helpers::require_external();
    contract(Backend::MariaDb).await;
}
