//! The gate's operations on operators and API tokens: the CLI (`tvgate
//! admin ...`), the console's login and the JSON API's token check all go
//! through these, so there is one rule for each.
//!
//! Operator logins share the failed-login limiter with lines, under keys no
//! username can take (a NUL prefix), so guessing at the console is slowed
//! exactly like guessing at `player_api.php` and cannot lock out a line.

use super::{Gate, GateError};
use crate::access::credentials;
use crate::admin::{self, Admin, ApiToken, NewApiToken};
use crate::UnixTime;
use std::net::IpAddr;

/// The result of an operator's login.
#[derive(Debug, Clone)]
pub enum AdminAuthn {
    /// Over the failure budget; nothing was checked.
    RateLimited {
        retry_after_secs: u32,
    },
    /// Unknown name or wrong password.
    NotProven,
    Proven(Admin),
}

fn limiter_key(name: &str) -> String {
    format!("\u{0}admin\u{0}{name}")
}

impl Gate {
    /// Creates an operator with a generated password, returned once.
    pub async fn create_admin(
        &self,
        name: &str,
        now: UnixTime,
    ) -> Result<(Admin, String), GateError> {
        admin::validate_name("an operator's name", name).map_err(GateError::Invalid)?;
        let password = credentials::generate_password(&mut rand::thread_rng());
        let hash = self.kdf.hash(password.clone(), self.settings.kdf).await?;
        let admin = self.store.insert_admin(name.to_string(), hash, now).await?;
        Ok((admin, password))
    }

    /// Gives an operator a new generated password, returned once.
    pub async fn reset_admin_password(&self, name: &str) -> Result<String, GateError> {
        let admin = self.admin(name).await?;
        let password = credentials::generate_password(&mut rand::thread_rng());
        let hash = self.kdf.hash(password.clone(), self.settings.kdf).await?;
        self.store.set_admin_password(admin.id, hash).await?;
        Ok(password)
    }

    pub async fn admins(&self) -> Result<Vec<Admin>, GateError> {
        Ok(self.store.admins().await?)
    }

    async fn admin(&self, name: &str) -> Result<Admin, GateError> {
        self.store
            .admin_by_name(name.to_string())
            .await?
            .ok_or_else(|| GateError::Invalid(format!("no operator named {name:?}")))
    }

    /// Checks an operator's name and password (the console's login).
    pub async fn admin_login(
        &self,
        raw_name: &str,
        raw_password: &str,
        ip: IpAddr,
        now: UnixTime,
    ) -> Result<AdminAuthn, GateError> {
        let name = credentials::clean_presented(raw_name);
        let password = credentials::clean_presented(raw_password).into_owned();
        let key = limiter_key(&name);
        if let Some(retry_after_secs) = self.limiter().check(ip, &key, now) {
            return Ok(AdminAuthn::RateLimited { retry_after_secs });
        }
        let found = self.store.admin_by_name(name.to_string()).await?;
        // An unknown name pays the same argon2 work as a wrong password:
        // the dummy hash at the configured cost (argon2's work is set by
        // the parameters in the hash string, whatever its salt and value).
        let phc = found.as_ref().map_or_else(
            || self.console_dummy_phc.clone(),
            |a| a.password_hash.clone(),
        );
        let matches = self.kdf.verify(password, phc).await;
        match found {
            Some(admin) if matches => {
                self.login_proven(ip, &key);
                Ok(AdminAuthn::Proven(admin))
            }
            _ => {
                self.login_failed(ip, &key, now);
                Ok(AdminAuthn::NotProven)
            }
        }
    }

    /// Makes an API token for an operator; the token is returned once and
    /// only its hash is kept.
    pub async fn create_api_token(
        &self,
        admin_name: &str,
        token_name: &str,
        now: UnixTime,
    ) -> Result<(ApiToken, String), GateError> {
        admin::validate_name("a token's name", token_name).map_err(GateError::Invalid)?;
        let owner = self.admin(admin_name).await?;
        let token = admin::generate_token(&mut rand::thread_rng());
        let stored = self
            .store
            .insert_api_token(NewApiToken {
                admin: owner.id,
                name: token_name.to_string(),
                hash: admin::token_hash(&token),
                created_at: now,
            })
            .await?;
        Ok((stored, token))
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, GateError> {
        Ok(self.store.api_tokens().await?)
    }

    pub async fn revoke_api_token(&self, id: i64, now: UnixTime) -> Result<(), GateError> {
        Ok(self.store.revoke_api_token(id, now).await?)
    }

    /// The live (not revoked) token a request presented, if any.
    pub async fn check_api_token(&self, presented: &str) -> Result<Option<ApiToken>, GateError> {
        if !presented.starts_with(admin::TOKEN_PREFIX) {
            return Ok(None);
        }
        let found = self
            .store
            .api_token_by_hash(admin::token_hash(presented))
            .await?;
        Ok(found.filter(|t| t.revoked_at.is_none()))
    }
}
