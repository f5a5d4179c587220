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

type Row = (
    String,
    String,
    String,
    Option<i32>,
    String,
    String,
    String,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn api_key(row: Row) -> StoreResult<ApiKey> {
    let (id, name, role, district_key, network_ids, prefix, _hash, expires_at, revoked_at, created_at, updated_at) =
        row;
    Ok(ApiKey {
        id: uuid(&id)?,
        name,
        role: parse(&role, "role")?,
        district_key,
        network_ids: from_json(&network_ids)?,
        prefix,
        expires_at: expires_at.map(timestamp),
        revoked_at: revoked_at.map(timestamp),
        created_at: timestamp(created_at),
        updated_at: timestamp(updated_at),
    })
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
            diesel::insert_into(k::table)
                .values((
                    k::id.eq(id.to_string()),
                    k::name.eq(&input.name),
                    k::role.eq(input.role.as_str()),
                    k::district_key.eq(input.district_key),
                    k::network_ids.eq(to_json(&input.network_ids)),
                    k::prefix.eq(&secret[..10]),
                    k::secret_hash.eq(hash_secret(&secret)),
                    k::expires_at.eq(input.expires_at.map(naive)),
                    k::revoked_at.eq(None::<chrono::NaiveDateTime>),
                    k::created_at.eq(naive(now)),
                    k::updated_at.eq(naive(now)),
                ))
                .execute(conn)?;
            audit::append(conn, actor, audit::API_KEYS, id, "create", &["role".into()], now)?;
            let row: Row = k::table.find(id.to_string()).select(k::all_columns).first(conn)?;
            Ok(NewKey { key: api_key(row)?, secret: secret.clone() })
        })
    }

    /// The key with this secret, if it exists, is not revoked and has not expired.
    pub fn authenticate(&self, secret: &str) -> StoreResult<Option<ApiKey>> {
        let hash = hash_secret(secret);
        // One lookup, no transaction: this runs for every authenticated request.
        let mut conn = self.conn()?;
        let row: Option<Row> =
            k::table.filter(k::secret_hash.eq(&hash)).select(k::all_columns).first(&mut *conn).optional()?;
        drop(conn);
        let Some(row) = row else { return Ok(None) };
        if !constant_time_eq(row.6.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        let key = api_key(row)?;
        let now = Timestamp::now();
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        Ok(Some(key))
    }

    pub fn keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.read(|conn| {
            let rows: Vec<Row> = k::table.select(k::all_columns).order(k::id).load(conn)?;
            rows.into_iter().map(api_key).collect()
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
            let row: Option<Row> = k::table.find(id.to_string()).select(k::all_columns).first(conn).optional()?;
            let row = row.ok_or(StoreError::NotFound)?;
            if updated > 0 {
                audit::append(conn, actor, audit::API_KEYS, id, "revoke", &["revokedAt".into()], now)?;
            }
            api_key(row)
        })
    }
}
