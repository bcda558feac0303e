//! `CategoryRepo` on sqlx.

use async_trait::async_trait;

use super::mod_log::write_mod_action;
use super::{Db, Text, db_error, on_db, retry_lost_races};
use crate::domain::{
    AppError, AppResult, Category, CategoryId, CategoryTree, ModTarget, NewModAction, UserId,
};
use crate::ports::{CategoryChange, CategoryRepo};
use crate::request::count_db;

pub struct SqlCategoryRepo {
    db: Db,
}

impl SqlCategoryRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(sqlx::FromRow)]
struct CategoryRow {
    id: i64,
    tier: i32,
    name: Text,
    parent_id: Option<i64>,
    /// Comma-separated user ids (only [`ALL`] reads them).
    #[sqlx(default)]
    moderators: Option<Text>,
}

fn write_error(err: sqlx::Error) -> AppError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => {
            AppError::conflict("name", "a sibling category already has this name")
        }
        Some(db) if db.is_foreign_key_violation() => {
            AppError::invalid("parentId", "no such category")
        }
        _ => db_error(err),
    }
}

impl CategoryRow {
    fn category(self) -> Category {
        Category {
            id: CategoryId(self.id),
            name: self.name.0,
            tier: self.tier,
            parent_id: self.parent_id.map(CategoryId),
            moderators: self
                .moderators
                .map(|ids| {
                    ids.0
                        .split(',')
                        .filter_map(|id| id.trim().parse().ok())
                        .map(UserId)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

const ALL: &str = "SELECT id, tier, name, parent_id FROM category ORDER BY tier, id";
/// The tree as readers see it: with each category's moderators, in the same round trip.
const ALL_WITH_MODERATORS: &str = "SELECT c.id, c.tier, c.name, c.parent_id, \
     (SELECT GROUP_CONCAT(CAST(m.user_id AS CHAR)) FROM category_moderator m WHERE m.category_id = c.id) AS moderators \
     FROM category c ORDER BY c.tier, c.id";
/// The first statement of every category write: on one server its row lock (MariaDB) or the database's
/// write lock (SQLite) queues category writers, each reading the tree the previous one committed; on a
/// multi-primary Galera cluster two concurrent writes through different nodes both write this row, so
/// certification aborts one (migration 0007).
const BUMP_TREE_VERSION: &str =
    "UPDATE category_tree_version SET version = version + 1 WHERE id = 1";
/// MariaDB: a locking read of every category row, so a write that did not begin with the bump (there is
/// none) still could not slip between the read and the write.
const ALL_LOCKED_MYSQL: &str =
    "SELECT id, tier, name, parent_id FROM category ORDER BY id FOR UPDATE";

/// Opens a transaction holding the category write lock and reads the tree inside it.
macro_rules! locked_tree {
    ($db:expr, $pool:ident, $tx:ident) => {{
        let mysql = matches!($db, Db::MySql(_));
        let mut $tx = $pool.begin().await?;
        sqlx::query(BUMP_TREE_VERSION).execute(&mut *$tx).await?;
        let rows: Vec<CategoryRow> = sqlx::query_as(if mysql { ALL_LOCKED_MYSQL } else { ALL })
            .fetch_all(&mut *$tx)
            .await?;
        let tree = CategoryTree {
            categories: rows.into_iter().map(CategoryRow::category).collect(),
        };
        ($tx, tree)
    }};
}

#[async_trait]
impl CategoryRepo for SqlCategoryRepo {
    async fn all(&self) -> AppResult<Vec<Category>> {
        let _trip = count_db();
        let rows: Vec<CategoryRow> =
            on_db!(&self.db, pool => sqlx::query_as(ALL_WITH_MODERATORS).fetch_all(pool).await)
                .map_err(db_error)?;
        Ok(rows.into_iter().map(CategoryRow::category).collect())
    }

    async fn create(
        &self,
        name: &str,
        parent: Option<CategoryId>,
        log: &NewModAction,
    ) -> AppResult<CategoryId> {
        let db = &self.db;
        let outcome = retry_lost_races("the category tree", write_error, || async move {
            on_db!(db, pool => async {
                let (mut tx, tree) = locked_tree!(db, pool, tx);
                let tier = match tree.plan_create(name, parent) {
                    Ok(tier) => tier,
                    // Dropping the transaction rolls it back.
                    Err(err) => return Ok(Err(err)),
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO category (tier, name, parent_id) VALUES (?, ?, ?) RETURNING id",
                )
                .bind(tier)
                .bind(name)
                .bind(parent.map(|p| p.0))
                .fetch_one(&mut *tx)
                .await?;
                let created = CategoryId(id);
                let mut log = log.clone();
                log.target = Some(ModTarget::Category(created));
                log.category = Some(created);
                write_mod_action!(&mut *tx, &log)?;
                tx.commit().await?;
                Ok(Ok(id))
            })
        })
        .await;
        outcome?.map(CategoryId)
    }

    async fn update(
        &self,
        id: CategoryId,
        change: CategoryChange,
        log: &NewModAction,
    ) -> AppResult<()> {
        let db = &self.db;
        let change = &change;
        let outcome = retry_lost_races("the category tree", write_error, || async move {
            on_db!(db, pool => async {
                let (mut tx, tree) = locked_tree!(db, pool, tx);
                let tiers = match tree.plan_update(id, change.name.as_deref(), change.parent) {
                    Ok(tiers) => tiers,
                    Err(err) => return Ok(Err(err)),
                };
                if let Some(name) = &change.name {
                    sqlx::query("UPDATE category SET name = ? WHERE id = ?")
                        .bind(name)
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(parent) = change.parent {
                    sqlx::query("UPDATE category SET parent_id = ? WHERE id = ?")
                        .bind(parent.map(|p| p.0))
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                }
                for (category, tier) in &tiers {
                    sqlx::query("UPDATE category SET tier = ? WHERE id = ?")
                        .bind(*tier)
                        .bind(category.0)
                        .execute(&mut *tx)
                        .await?;
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok(Ok(()))
            })
        })
        .await;
        outcome?
    }

    async fn delete(&self, id: CategoryId) -> AppResult<()> {
        let _trip = count_db();
        let blocked: (i64, i64) = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM category WHERE parent_id = ?), (SELECT COUNT(*) FROM post WHERE category_id = ?)",
        )
        .bind(id.0)
        .bind(id.0)
        .fetch_one(pool)
        .await)
        .map_err(db_error)?;
        match blocked {
            (0, 0) => {}
            (children, 0) => {
                return Err(AppError::Conflict {
                    field: Some("categoryId".into()),
                    message: format!(
                        "the category still has {children} subcategories; move or delete them first"
                    ),
                });
            }
            (_, posts) => {
                return Err(AppError::Conflict {
                    field: Some("categoryId".into()),
                    message: format!(
                        "the category still has {posts} posts (deleted ones included); move them first"
                    ),
                });
            }
        }
        let _trip = count_db();
        let deleted = on_db!(&self.db, pool => sqlx::query("DELETE FROM category WHERE id = ?")
            .bind(id.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| match e.as_database_error() {
            // A post or child arrived between the check and the delete.
            Some(db) if db.is_foreign_key_violation() => AppError::Conflict {
                field: Some("categoryId".into()),
                message: "the category is in use".into(),
            },
            _ => db_error(e),
        })?;
        if deleted == 0 {
            return Err(AppError::NotFound("no such category".into()));
        }
        Ok(())
    }
}
