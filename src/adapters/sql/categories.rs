//! `CategoryRepo` on sqlx.

use async_trait::async_trait;

use super::{Db, Text, db_error, on_db};
use crate::domain::{AppError, AppResult, Category, CategoryId};
use crate::ports::{CategoryChange, CategoryRepo};
use crate::telemetry::roundtrips::count_db;

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

#[async_trait]
impl CategoryRepo for SqlCategoryRepo {
    async fn all(&self) -> AppResult<Vec<Category>> {
        let _trip = count_db();
        let rows: Vec<CategoryRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, tier, name, parent_id FROM category ORDER BY tier, id",
        )
        .fetch_all(pool)
        .await)
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| Category {
                id: CategoryId(r.id),
                name: r.name.0,
                tier: r.tier,
                parent_id: r.parent_id.map(CategoryId),
            })
            .collect())
    }

    async fn create(
        &self,
        name: &str,
        parent: Option<CategoryId>,
        tier: i32,
    ) -> AppResult<CategoryId> {
        let _trip = count_db();
        let id: i64 = on_db!(&self.db, pool => sqlx::query_scalar(
            "INSERT INTO category (tier, name, parent_id) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(tier)
        .bind(name)
        .bind(parent.map(|p| p.0))
        .fetch_one(pool)
        .await)
        .map_err(write_error)?;
        Ok(CategoryId(id))
    }

    async fn update(&self, id: CategoryId, change: CategoryChange) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
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
            for (category, tier) in &change.tiers {
                sqlx::query("UPDATE category SET tier = ? WHERE id = ?")
                    .bind(*tier)
                    .bind(category.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
        .map_err(write_error)
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
