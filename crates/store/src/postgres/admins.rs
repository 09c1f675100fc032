//! Operators and their API tokens on PostgreSQL. Neither bumps the change
//! stamp: a running server reads them from the store on every check.

use super::{backend, is_unique_violation, Context};
use deadpool_postgres::Object;
use tokio_postgres::Row;
use tvgate_core::admin::{Admin, AdminId, ApiToken, NewApiToken};
use tvgate_core::ports::{StoreError, StoreResult};
use tvgate_core::UnixTime;

const ADMIN_COLUMNS: &str = "id, name, password_hash, created_at";
const TOKEN_SELECT: &str = "SELECT t.id, t.admin_id, a.name, t.name, t.created_at, t.revoked_at
     FROM api_tokens t JOIN admins a ON a.id = t.admin_id";

fn admin_from_row(row: &Row) -> Result<Admin, tokio_postgres::Error> {
    Ok(Admin {
        id: AdminId(row.try_get(0)?),
        name: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

fn token_from_row(row: &Row) -> Result<ApiToken, tokio_postgres::Error> {
    Ok(ApiToken {
        id: row.try_get(0)?,
        admin: AdminId(row.try_get(1)?),
        admin_name: row.try_get(2)?,
        name: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
    })
}

pub(super) async fn insert(
    c: &Object,
    name: &str,
    password_hash: &str,
    created_at: UnixTime,
) -> StoreResult<Admin> {
    const CONTEXT: &str = "inserting an operator";
    let result = c
        .query_one(
            "INSERT INTO admins (name, password_hash, created_at) VALUES ($1, $2, $3)
             RETURNING id",
            &[&name, &password_hash, &created_at],
        )
        .await;
    let id = match result {
        Ok(row) => row.try_get(0).ctx(CONTEXT)?,
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                what: "operator",
                value: name.to_string(),
            })
        }
        Err(e) => return Err(backend(CONTEXT, &e)),
    };
    Ok(Admin {
        id: AdminId(id),
        name: name.to_string(),
        password_hash: password_hash.to_string(),
        created_at,
    })
}

pub(super) async fn by_name(c: &Object, name: &str) -> StoreResult<Option<Admin>> {
    const CONTEXT: &str = "reading an operator";
    c.query_opt(
        &format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE name = $1"),
        &[&name],
    )
    .await
    .ctx(CONTEXT)?
    .map(|row| admin_from_row(&row).ctx(CONTEXT))
    .transpose()
}

pub(super) async fn all(c: &Object) -> StoreResult<Vec<Admin>> {
    const CONTEXT: &str = "listing operators";
    c.query(
        // The C collation: the byte order SQLite's ORDER BY gives.
        &format!("SELECT {ADMIN_COLUMNS} FROM admins ORDER BY name COLLATE \"C\""),
        &[],
    )
    .await
    .ctx(CONTEXT)?
    .iter()
    .map(|row| admin_from_row(row).ctx(CONTEXT))
    .collect()
}

pub(super) async fn set_password(c: &Object, id: AdminId, hash: &str) -> StoreResult<()> {
    let changed = c
        .execute(
            "UPDATE admins SET password_hash = $2 WHERE id = $1",
            &[&id.0, &hash],
        )
        .await
        .ctx("changing an operator's password")?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "operator",
            id: id.0.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn insert_token(c: &Object, t: NewApiToken) -> StoreResult<ApiToken> {
    const CONTEXT: &str = "inserting an API token";
    let row = c
        .query_one(
            "WITH t AS (
                 INSERT INTO api_tokens (admin_id, name, token_hash, created_at)
                 VALUES ($1, $2, $3, $4)
                 RETURNING id, admin_id, name, created_at, revoked_at)
             SELECT t.id, t.admin_id, a.name, t.name, t.created_at, t.revoked_at
             FROM t JOIN admins a ON a.id = t.admin_id",
            &[&t.admin.0, &t.name, &t.hash, &t.created_at],
        )
        .await
        .ctx(CONTEXT)?;
    token_from_row(&row).ctx(CONTEXT)
}

pub(super) async fn token_by_hash(c: &Object, hash: &[u8]) -> StoreResult<Option<ApiToken>> {
    const CONTEXT: &str = "reading an API token";
    c.query_opt(&format!("{TOKEN_SELECT} WHERE t.token_hash = $1"), &[&hash])
        .await
        .ctx(CONTEXT)?
        .map(|row| token_from_row(&row).ctx(CONTEXT))
        .transpose()
}

pub(super) async fn tokens(c: &Object) -> StoreResult<Vec<ApiToken>> {
    const CONTEXT: &str = "listing API tokens";
    c.query(&format!("{TOKEN_SELECT} ORDER BY t.id"), &[])
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| token_from_row(row).ctx(CONTEXT))
        .collect()
}

pub(super) async fn revoke_token(c: &Object, id: i64, at: UnixTime) -> StoreResult<()> {
    let changed = c
        .execute(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            &[&id, &at],
        )
        .await
        .ctx("revoking an API token")?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "API token",
            id: id.to_string(),
        });
    }
    Ok(())
}
