//! API keys: random secrets of 256 bits, stored only as SHA-256 hashes.

use base64::Engine;
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::rows::{from_json, naive, parse, timestamp, to_json, uuid};
use super::schema::api_keys as k;
use super::{Actor, Db, DbConnection, StoreError, StoreResult, audit, check_references};
use crate::domain::{ApiKey, ApiKeyInput, Reference, ResourceKind, Timestamp};

/// A key just created: the only time its secret exists outside the client.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

/// An API key's columns as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = k)]
struct KeyRow {
    id: String,
    name: String,
    role: String,
    district_key: Option<i32>,
    network_ids: String,
    prefix: String,
    secret_hash: String,
    expires_at: Option<chrono::NaiveDateTime>,
    revoked_at: Option<chrono::NaiveDateTime>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

/// The columns of a new key.
#[derive(Insertable)]
#[diesel(table_name = k, treat_none_as_default_value = false)]
struct NewKeyRow<'a> {
    id: String,
    name: &'a str,
    role: &'static str,
    district_key: Option<i32>,
    network_ids: String,
    prefix: &'a str,
    secret_hash: String,
    expires_at: Option<chrono::NaiveDateTime>,
    revoked_at: Option<chrono::NaiveDateTime>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: uuid(&row.id)?,
            name: row.name,
            role: parse(&row.role, "role")?,
            district_key: row.district_key,
            network_ids: from_json(&row.network_ids)?,
            prefix: row.prefix,
            expires_at: row.expires_at.map(timestamp),
            revoked_at: row.revoked_at.map(timestamp),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        })
    }
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn new_secret() -> StoreResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
    Ok(format!("rbn_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

impl Db {
    /// Creates a key and returns its secret (shown once).
    pub fn create_key(&self, input: &ApiKeyInput, actor: &Actor) -> StoreResult<NewKey> {
        let secret = new_secret()?;
        let id = Uuid::now_v7();
        let now = Timestamp::now();
        self.transaction(actor, |conn: &mut DbConnection| -> StoreResult<NewKey> {
            // An editor key names networks that exist (400 for each that does not).
            let networks: Vec<Reference> = (input.network_ids.iter().enumerate())
                .map(|(i, id)| Reference::new(format!("networkIds[{i}]"), ResourceKind::Networks, id))
                .collect();
            check_references(conn, &networks)?;
            let row = NewKeyRow {
                id: id.to_string(),
                name: &input.name,
                role: input.role.as_str(),
                district_key: input.district_key,
                network_ids: to_json(&input.network_ids),
                prefix: &secret[..10],
                secret_hash: hash_secret(&secret),
                expires_at: input.expires_at.map(naive),
                revoked_at: None,
                created_at: naive(now),
                updated_at: naive(now),
            };
            diesel::insert_into(k::table).values(row).execute(conn)?;
            audit::append(conn, actor, audit::API_KEYS, id, "create", &["role".into()], now)?;
            let row: KeyRow = k::table.find(id.to_string()).select(KeyRow::as_select()).first(conn)?;
            Ok(NewKey { key: row.try_into()?, secret: secret.clone() })
        })
    }

    /// The key with this secret, if it exists, is not revoked and has not expired.
    pub fn authenticate(&self, secret: &str) -> StoreResult<Option<ApiKey>> {
        let hash = hash_secret(secret);
        // One lookup, no transaction: this runs for every authenticated request.
        let mut conn = self.conn()?;
        let row: Option<KeyRow> =
            k::table.filter(k::secret_hash.eq(&hash)).select(KeyRow::as_select()).first(&mut *conn).optional()?;
        drop(conn);
        let Some(row) = row else { return Ok(None) };
        if !constant_time_eq(row.secret_hash.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        let key = ApiKey::try_from(row)?;
        let now = Timestamp::now();
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        Ok(Some(key))
    }

    pub fn keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.read(|conn| {
            let rows: Vec<KeyRow> = k::table.select(KeyRow::as_select()).order(k::id).load(conn)?;
            rows.into_iter().map(ApiKey::try_from).collect()
        })
    }

    /// Revokes a key; it stops working at once. Revoking it again changes nothing: it keeps the time it
    /// was first revoked at.
    pub fn revoke_key(&self, id: Uuid, actor: &Actor) -> StoreResult<ApiKey> {
        let now = Timestamp::now();
        self.transaction(actor, |conn: &mut DbConnection| -> StoreResult<ApiKey> {
            let updated = diesel::update(k::table.find(id.to_string()).filter(k::revoked_at.is_null()))
                .set((k::revoked_at.eq(Some(naive(now))), k::updated_at.eq(naive(now))))
                .execute(conn)?;
            let row: Option<KeyRow> =
                k::table.find(id.to_string()).select(KeyRow::as_select()).first(conn).optional()?;
            let row = row.ok_or(StoreError::NotFound)?;
            if updated > 0 {
                audit::append(conn, actor, audit::API_KEYS, id, "revoke", &["revokedAt".into()], now)?;
            }
            row.try_into()
        })
    }
}
