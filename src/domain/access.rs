//! Who may do what. The rules live here, in one place; the HTTP layer asks, the storage supplies the
//! [`Scope`] of the records involved.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::{Timestamp, string_enum};

string_enum! {
    /// What an API key may write: everything, the networks of one Regierungsbezirk, or named networks.
    Role { Admin = "admin", District = "district", Editor = "editor" }
}

/// An API key as the registry shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    #[schema(example = "Bildungsbüro Kreis Mettmann")]
    pub name: String,
    pub role: Role,
    /// For `district` keys: the Regierungsbezirk.
    pub district_key: Option<i32>,
    /// For `editor` keys: the networks it may edit.
    pub network_ids: Vec<Uuid>,
    /// The first characters of the key, to recognise it; not enough to use it.
    #[schema(example = "rbn_3f9a1c")]
    pub prefix: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a key is being created with.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInput {
    pub name: String,
    pub role: Role,
    pub district_key: Option<i32>,
    pub network_ids: Vec<Uuid>,
    pub expires_at: Option<Timestamp>,
}

/// Where a record belongs, for access decisions: its network and that network's Regierungsbezirk, or
/// a Regierungsbezirk of its own (a Servicestelle). A network being created or moved to another region
/// has no network in its scope: placing a network is for admin and district keys, not its editors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub network_id: Option<Uuid>,
    pub district_key: Option<i32>,
}

/// The caller of a request.
#[derive(Debug, Clone, Default)]
pub enum Access {
    #[default]
    Anonymous,
    Key(ApiKey),
}

impl Access {
    pub fn key(&self) -> Option<&ApiKey> {
        match self {
            Access::Anonymous => None,
            Access::Key(key) => Some(key),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.key().is_some_and(|k| k.role == Role::Admin)
    }

    /// May write records that belong to `scope`.
    pub fn may_write(&self, scope: &Scope) -> bool {
        let Some(key) = self.key() else { return false };
        match key.role {
            Role::Admin => true,
            Role::District => key.district_key.is_some() && key.district_key == scope.district_key,
            Role::Editor => scope.network_id.is_some_and(|id| key.network_ids.contains(&id)),
        }
    }

    /// May read the internal and personal parts of records that belong to `scope`.
    pub fn reads_private(&self, scope: &Scope) -> bool {
        self.may_write(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(role: Role, district_key: Option<i32>, network_ids: Vec<Uuid>) -> Access {
        let now = Timestamp::now();
        Access::Key(ApiKey {
            id: Uuid::nil(),
            name: "k".into(),
            role,
            district_key,
            network_ids,
            prefix: "rbn_".into(),
            expires_at: None,
            revoked_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    #[test]
    fn scopes() {
        let net = Uuid::from_u128(7);
        let in_scope = Scope { network_id: Some(net), district_key: Some(1) };
        let other = Scope { network_id: Some(Uuid::from_u128(8)), district_key: Some(5) };
        assert!(!Access::Anonymous.may_write(&in_scope));
        assert!(key(Role::Admin, None, vec![]).may_write(&other));
        assert!(key(Role::District, Some(1), vec![]).may_write(&in_scope));
        assert!(!key(Role::District, Some(1), vec![]).may_write(&other));
        assert!(key(Role::Editor, None, vec![net]).may_write(&in_scope));
        assert!(!key(Role::Editor, None, vec![net]).may_write(&other));
        assert!(!key(Role::Editor, None, vec![net]).may_write(&Scope::default()));
    }
}

/// One write, as the audit log keeps it: who, when, what, which fields — never the values.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: Timestamp,
    pub key_id: Option<Uuid>,
    pub key_name: Option<String>,
    pub request_id: Option<String>,
    #[schema(example = "networks")]
    pub resource_type: String,
    pub resource_id: Uuid,
    #[schema(example = "patch")]
    pub action: String,
    #[schema(example = json!(["website"]))]
    pub changed_fields: Vec<String>,
}
