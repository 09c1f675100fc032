//! Operators (`admins`) and their API tokens (`api_tokens`). Neither bumps
//! the change stamp: a running server reads them from the store on every
//! check, so nothing is cached that could go stale.

use super::{is_unique_violation, Context};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tvgate_core::admin::{Admin, AdminId, ApiToken, NewApiToken};
use tvgate_core::ports::{StoreError, StoreResult};
use tvgate_core::UnixTime;

const ADMIN_COLUMNS: &str = "id, name, password_hash, created_at";
const TOKEN_SELECT: &str = "SELECT t.id, t.admin_id, a.name, t.name, t.created_at, t.revoked_at
     FROM api_tokens t JOIN admins a ON a.id = t.admin_id";

fn admin_from_row(row: &Row<'_>) -> rusqlite::Result<Admin> {
    Ok(Admin {
        id: AdminId(row.get(0)?),
        name: row.get(1)?,
        password_hash: row.get(2)?,
        created_at: row.get(3)?,
    })
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: row.get(0)?,
        admin: AdminId(row.get(1)?),
        admin_name: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

pub(super) fn insert(
    conn: &mut Connection,
    name: &str,
    password_hash: &str,
    created_at: UnixTime,
) -> StoreResult<Admin> {
    const CONTEXT: &str = "inserting an operator";
    match conn.execute(
        "INSERT INTO admins (name, password_hash, created_at) VALUES (?1, ?2, ?3)",
        params![name, password_hash, created_at],
    ) {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                what: "operator",
                value: name.to_string(),
            })
        }
        Err(e) => return Err(super::backend(CONTEXT, e)),
    }
    Ok(Admin {
        id: AdminId(conn.last_insert_rowid()),
        name: name.to_string(),
        password_hash: password_hash.to_string(),
        created_at,
    })
}

pub(super) fn by_name(conn: &mut Connection, name: &str) -> StoreResult<Option<Admin>> {
    conn.query_row(
        &format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE name = ?1"),
        [name],
        admin_from_row,
    )
    .optional()
    .ctx("reading an operator")
}

pub(super) fn all(conn: &mut Connection) -> StoreResult<Vec<Admin>> {
    const CONTEXT: &str = "listing operators";
    let mut stmt = conn
        .prepare(&format!("SELECT {ADMIN_COLUMNS} FROM admins ORDER BY name"))
        .ctx(CONTEXT)?;
    let rows = stmt.query_map([], admin_from_row).ctx(CONTEXT)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx(CONTEXT)
}

pub(super) fn set_password(conn: &mut Connection, id: AdminId, hash: &str) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE admins SET password_hash = ?2 WHERE id = ?1",
            params![id.0, hash],
        )
        .ctx("changing an operator's password")?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "operator",
            id: id.0.to_string(),
        });
    }
    Ok(())
}

pub(super) fn insert_token(conn: &mut Connection, t: NewApiToken) -> StoreResult<ApiToken> {
    const CONTEXT: &str = "inserting an API token";
    conn.execute(
        "INSERT INTO api_tokens (admin_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![t.admin.0, t.name, t.hash, t.created_at],
    )
    .ctx(CONTEXT)?;
    let id = conn.last_insert_rowid();
    conn.query_row(
        &format!("{TOKEN_SELECT} WHERE t.id = ?1"),
        [id],
        token_from_row,
    )
    .ctx(CONTEXT)
}

pub(super) fn token_by_hash(conn: &mut Connection, hash: &[u8]) -> StoreResult<Option<ApiToken>> {
    conn.query_row(
        &format!("{TOKEN_SELECT} WHERE t.token_hash = ?1"),
        [hash],
        token_from_row,
    )
    .optional()
    .ctx("reading an API token")
}

pub(super) fn tokens(conn: &mut Connection) -> StoreResult<Vec<ApiToken>> {
    const CONTEXT: &str = "listing API tokens";
    let mut stmt = conn
        .prepare(&format!("{TOKEN_SELECT} ORDER BY t.id"))
        .ctx(CONTEXT)?;
    let rows = stmt.query_map([], token_from_row).ctx(CONTEXT)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx(CONTEXT)
}

pub(super) fn revoke_token(conn: &mut Connection, id: i64, at: UnixTime) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            params![id, at],
        )
        .ctx("revoking an API token")?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "API token",
            id: id.to_string(),
        });
    }
    Ok(())
}
