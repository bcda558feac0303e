//! The moderation log on sqlx: [`write_mod_action!`] writes an entry inside the caller's transaction (every
//! moderation write uses it, so the action and its entry commit together), [`log_page`] and [`log_count`]
//! read it back.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{Db, Text, db_error, on_db, push_ids};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppResult, CategoryId, ModAction, ModActionId, ModActionKind, ModTarget, UserId,
};
use crate::request::count_db;

/// Writes one moderation log entry (`&NewModAction`) on `$conn` — `&mut *tx` of the transaction that makes
/// the change it records. Evaluates to `Result<i64, sqlx::Error>`: the entry's id.
///
/// ```ignore
/// let mut tx = pool.begin().await?;
/// // … the change …
/// write_mod_action!(&mut *tx, &log)?;
/// tx.commit().await?;
/// ```
macro_rules! write_mod_action {
    ($conn:expr, $action:expr) => {{
        let action: &$crate::domain::NewModAction = $action;
        let target = action.target.map($crate::domain::ModTarget::to_db);
        let written = sqlx::query_scalar::<_, i64>(
            "INSERT INTO mod_action (kind, reason, created_datetime, expires_datetime, target_kind, \
             target_id, category_id, moderator_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(action.kind.as_db_name())
        .bind(action.reason.as_deref())
        .bind(action.created_at)
        .bind(action.expires_at)
        .bind(target.map(|(kind, _)| kind))
        .bind(target.map(|(_, id)| id))
        .bind(action.category.map(|c| c.0))
        .bind(action.moderator.0)
        .fetch_one(&mut *$conn)
        .await;
        match written {
            // The member it concerns is told (docs/notifications.md): an entry in the same transaction.
            Ok(id) if action.kind.notifies() => $crate::adapters::sql::notifications::outbox_entry!(
                &mut *$conn,
                $crate::domain::notifications::Source::mod_action(id),
                Some(action.moderator.0),
                action.created_at
            )
            .map(|_| id),
            other => other,
        }
    }};
}
pub(crate) use write_mod_action;

#[derive(sqlx::FromRow)]
struct ModActionRow {
    id: i64,
    kind: Text,
    reason: Option<Text>,
    created_datetime: DateTime<Utc>,
    expires_datetime: Option<DateTime<Utc>>,
    target_kind: Option<Text>,
    target_id: Option<i64>,
    category_id: Option<i64>,
    moderator_id: i64,
}

impl ModActionRow {
    /// `None` for a kind this version does not know (written by a newer one).
    fn action(self) -> Option<ModAction> {
        Some(ModAction {
            id: ModActionId(self.id),
            kind: ModActionKind::from_db_name(&self.kind.0)?,
            moderator: UserId(self.moderator_id),
            target: match (self.target_kind, self.target_id) {
                (Some(kind), Some(id)) => ModTarget::from_db(&kind.0, id),
                _ => None,
            },
            category: self.category_id.map(CategoryId),
            reason: self.reason.map(String::from),
            expires_at: self.expires_datetime,
            created_at: self.created_datetime,
        })
    }
}

macro_rules! push_log_filter {
    ($query:expr, $categories:expr) => {{
        $query.push(" WHERE 1 = 1");
        if let Some(categories) = $categories {
            $query.push(" AND category_id IN (");
            push_ids!($query, categories.iter().map(|c| c.0));
        }
    }};
}

/// A page of the log (of these categories, or all of it), newest first. One round trip.
pub(crate) async fn log_page(
    db: &Db,
    categories: Option<&[CategoryId]>,
    page: &PageRequest<i64>,
) -> AppResult<Page<ModAction>> {
    if categories.is_some_and(<[CategoryId]>::is_empty) {
        return Ok(Page::empty());
    }
    let _trip = count_db();
    let rows: Vec<ModActionRow> = on_db!(db, pool => {
        let mut query = QueryBuilder::new(
            "SELECT id, kind, reason, created_datetime, expires_datetime, target_kind, target_id, \
             category_id, moderator_id FROM mod_action",
        );
        push_log_filter!(query, categories);
        if let Some(after) = page.after {
            query.push(" AND id < ").push_bind(after);
        }
        if let Some(before) = page.before {
            query.push(" AND id > ").push_bind(before);
        }
        query.push(if page.backward { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
        query.push(" LIMIT ").push_bind(page.fetch() as i64);
        query.build_query_as().fetch_all(pool).await
    })
    .map_err(db_error)?;
    let actions = rows.into_iter().filter_map(ModActionRow::action).collect();
    Ok(Page::from_rows(actions, page))
}

/// The entries with these ids (unknown ids are absent). One round trip.
pub(crate) async fn by_ids(db: &Db, ids: &[ModActionId]) -> AppResult<Vec<ModAction>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let _trip = count_db();
    let rows: Vec<ModActionRow> = on_db!(db, pool => {
        let mut query = QueryBuilder::new(
            "SELECT id, kind, reason, created_datetime, expires_datetime, target_kind, target_id, \
             category_id, moderator_id FROM mod_action WHERE id IN (",
        );
        push_ids!(query, ids.iter().map(|id| id.0));
        query.build_query_as().fetch_all(pool).await
    })
    .map_err(db_error)?;
    Ok(rows.into_iter().filter_map(ModActionRow::action).collect())
}

/// How many entries the log (of these categories) holds; counted on `ix_mod_action_category`.
pub(crate) async fn log_count(db: &Db, categories: Option<&[CategoryId]>) -> AppResult<i64> {
    if categories.is_some_and(<[CategoryId]>::is_empty) {
        return Ok(0);
    }
    let _trip = count_db();
    on_db!(db, pool => {
        let mut query = QueryBuilder::new("SELECT COUNT(*) FROM mod_action");
        push_log_filter!(query, categories);
        query.build_query_scalar().fetch_one(pool).await
    })
    .map_err(db_error)
}
