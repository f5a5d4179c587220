//! Webhook subscriptions and their deliveries as the API shows them, and who may manage which.
//!
//! A subscription's signing secrets are not part of any type here that is serialised: the storage hands
//! them to the worker only (see `storage::webhooks`).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::{Access, Role};
use super::validation::{Fields, MAX_TEXT};
use super::webhook::check_target_url;
use super::{ResourceKind, Timestamp, ValidationErrors};

/// The longest target URL.
const MAX_URL: usize = 2000;

/// A subscription to the change feed, delivered as signed webhooks.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: Uuid,
    /// Where deliveries are `POST`ed: `https` and a public address (unless the operator allows others).
    #[schema(example = "https://bildungsbuero.example.org/hooks/rbn")]
    pub url: String,
    pub description: Option<String>,
    /// Inactive subscriptions get no events; one that failed for days is deactivated with a reason.
    pub active: bool,
    /// The resource kinds to deliver; empty: all.
    pub types: Vec<ResourceKind>,
    /// Only records of these networks; empty: all.
    pub network_ids: Vec<Uuid>,
    /// Only records of this Regierungsbezirk.
    pub district_key: Option<i32>,
    /// Why the registry deactivated the subscription (cleared when it is activated again).
    pub deactivated_reason: Option<String>,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A subscription just created or with a new secret: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionWithSecret {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// `whsec_` and the base64 of the key: verify deliveries with it (Standard Webhooks). Shown once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// What a subscription is created or replaced with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInput {
    pub url: String,
    pub description: Option<String>,
    pub active: bool,
    pub types: Vec<ResourceKind>,
    pub network_ids: Vec<Uuid>,
    pub district_key: Option<i32>,
}

impl Subscription {
    pub const WRITABLE: &'static [&'static str] =
        &["url", "description", "active", "types", "networkIds", "districtKey"];
    pub const READ_ONLY: &'static [&'static str] =
        &["id", "deactivatedReason", "previousSecretExpiresAt", "createdAt", "updatedAt"];

    /// The writable fields as a document, for JSON Merge Patch.
    pub fn writable_value(&self) -> Value {
        serde_json::json!({
            "url": self.url,
            "description": self.description,
            "active": self.active,
            "types": self.types,
            "networkIds": self.network_ids,
            "districtKey": self.district_key,
        })
    }

    /// Whether `access` may see and manage this subscription: admin keys all; a district key those of
    /// its Regierungsbezirk; an editor key those confined to its networks.
    pub fn visible_to(&self, access: &Access) -> bool {
        let Some(key) = access.key() else { return false };
        match key.role {
            Role::Admin => true,
            Role::District => key.district_key.is_some() && self.district_key == key.district_key,
            Role::Editor => {
                !self.network_ids.is_empty() && self.network_ids.iter().all(|id| key.network_ids.contains(id))
            }
        }
    }

    /// Whether a change of a record in `network`/`district` of `kind` is for this subscription.
    pub fn wants(&self, kind: ResourceKind, network: Option<Uuid>, district: Option<i32>) -> bool {
        (self.types.is_empty() || self.types.contains(&kind))
            && (self.network_ids.is_empty() || network.is_some_and(|n| self.network_ids.contains(&n)))
            && (self.district_key.is_none() || self.district_key == district)
    }
}

/// Why a key may not have a subscription with these filters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct OutOfScope(pub &'static str);

impl SubscriptionInput {
    /// Reads and checks a subscription document; the URL is checked as `check_target_url` says.
    pub fn parse(value: &Value, allow_private: bool) -> Result<SubscriptionInput, ValidationErrors> {
        let mut f = Fields::new(value, Subscription::WRITABLE, Subscription::READ_ONLY);
        let url = f.string("url", MAX_URL).and_then(|url| {
            if !allow_private && !host_name_url(&url) {
                f.error("url", "must be an https URL of a host name, e.g. https://example.org/hook");
                return None;
            }
            match check_target_url(&url, allow_private) {
                Ok(parsed) => Some(parsed.to_string()),
                Err(error) => {
                    f.error("url", error.to_string());
                    None
                }
            }
        });
        let description = f.opt_string("description", MAX_TEXT);
        let active = f.opt_bool("active").unwrap_or(true);
        let names: Vec<&Value> = f.list("types", |_, item, _| Some(item));
        // The kinds whose changes a subscription can ask for: those of the change feed.
        let event_types = ResourceKind::editable_names();
        let mut types_seen = Vec::new();
        for name in names {
            match name.as_str().filter(|t| event_types.contains(t)).and_then(|t| t.parse().ok()) {
                Some(kind) if !types_seen.contains(&kind) => types_seen.push(kind),
                Some(_) => {}
                None => f.error("types", format!("must list only {}", event_types.join(", "))),
            }
        }
        let network_ids = f.uuid_list("networkIds");
        let district_key = match f.opt_integer("districtKey") {
            Some(key @ (1 | 3 | 5 | 7 | 9)) => Some(key as i32),
            Some(_) => {
                f.error("districtKey", "must be the key of a Regierungsbezirk: 1, 3, 5, 7 or 9");
                None
            }
            None => None,
        };
        let input =
            url.map(|url| SubscriptionInput { url, description, active, types: types_seen, network_ids, district_key });
        f.finish(input)
    }

    /// Confines the filters to what `access` may subscribe to: a district key's subscriptions are of its
    /// Regierungsbezirk, an editor key's of its networks (its own when none are named).
    pub fn confine(mut self, access: &Access) -> Result<SubscriptionInput, OutOfScope> {
        let Some(key) = access.key() else { return Err(OutOfScope("webhooks need an API key")) };
        match key.role {
            Role::Admin => {}
            Role::District => match (self.district_key, key.district_key) {
                (_, None) => return Err(OutOfScope("this key has no Regierungsbezirk")),
                (None, own) => self.district_key = own,
                (Some(asked), Some(own)) if asked != own => {
                    return Err(OutOfScope("a district key subscribes only to its own Regierungsbezirk"));
                }
                _ => {}
            },
            Role::Editor => {
                if self.network_ids.is_empty() {
                    self.network_ids = key.network_ids.clone();
                }
                if self.network_ids.is_empty() || !self.network_ids.iter().all(|id| key.network_ids.contains(id)) {
                    return Err(OutOfScope("an editor key subscribes only to the networks it may edit"));
                }
            }
        }
        Ok(self)
    }
}

/// The form of target URLs the OpenAPI document states (`URL_PATTERN`): `https://`, a host name of
/// labels (letters, digits, inner hyphens) and an alphabetic top-level label, an optional port, then
/// a path, query or fragment of printable ASCII. Literal addresses are for private targets only.
pub fn host_name_url(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://") else { return false };
    let end = rest.find([':', '/', '?', '#']).unwrap_or(rest.len());
    let (host, rest) = rest.split_at(end);
    let labels: Vec<&str> = host.split('.').collect();
    let Some((top, inner)) = labels.split_last() else { return false };
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if inner.is_empty() || !inner.iter().all(label_ok) || !(2..=63).contains(&top.len()) {
        return false;
    }
    if !top.chars().all(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    let rest = match rest.strip_prefix(':') {
        Some(port) => {
            let digits = port.find(['/', '?', '#']).unwrap_or(port.len());
            let (number, after) = port.split_at(digits);
            let valid = (1..=4).contains(&number.len())
                && !number.starts_with('0')
                && number.chars().all(|c| c.is_ascii_digit());
            if !valid {
                return false;
            }
            after
        }
        None => rest,
    };
    rest.is_empty() || (rest.starts_with(['/', '?', '#']) && rest.chars().all(|c| ('!'..='~').contains(&c)))
}

/// [`host_name_url`] as a JSON Schema pattern.
pub const URL_PATTERN: &str =
    "^https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?([/?#][!-~]*)?$";

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet delivered; retried until it is or gives up.
    Pending,
    Delivered,
    /// Given up after the retries (about a day).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event for one subscription, and how its delivery went.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The `webhook-id` header: the same on every attempt.
    #[schema(example = "msg_0193a1b2c3d4e5f60718293a4b5c6d7e")]
    pub id: String,
    /// The event's `type`: `<kind>.created`, `<kind>.updated`, `<kind>.deleted` or `ping`.
    #[schema(example = "networks.updated")]
    pub event_type: String,
    /// The position of the change in the change feed (absent for a ping).
    pub seq: Option<i64>,
    pub resource_id: Option<Uuid>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// The HTTP status of the last attempt, if the receiver answered.
    pub last_status: Option<i32>,
    /// What went wrong in the last attempt.
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub last_latency_ms: Option<i64>,
    pub last_attempt_at: Option<Timestamp>,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// The action of an event: a record that was created, updated, or deleted (or is no longer visible).
pub fn action(deleted: bool, record: Option<&Value>, updated_at: Timestamp) -> &'static str {
    match record {
        None => "deleted",
        Some(_) if deleted => "deleted",
        Some(record) => {
            let created = record.get("createdAt").and_then(Value::as_str).and_then(Timestamp::parse);
            if created == Some(updated_at) { "created" } else { "updated" }
        }
    }
}

/// An event of the change feed as a webhook delivers it (Standard Webhooks: `type`, `timestamp`,
/// `data`). `data` is the entry of `/v1/changes` (`seq`, `type`, `id`, `deleted`, `updatedAt`, and the
/// record as anonymous readers see it in `data`) with its `action`.
pub fn change_event(
    seq: i64,
    kind: ResourceKind,
    id: Uuid,
    action: &str,
    updated_at: Timestamp,
    record: Option<Value>,
) -> Value {
    let mut data = serde_json::json!({
        "seq": seq,
        "type": kind,
        "id": id,
        "action": action,
        "deleted": action == "deleted",
        "updatedAt": updated_at,
    });
    if let (Some(record), Some(fields)) = (record.filter(|_| action != "deleted"), data.as_object_mut()) {
        fields.insert("data".into(), record);
    }
    serde_json::json!({ "type": format!("{kind}.{action}"), "timestamp": Timestamp::now(), "data": data })
}

/// The event of `POST /v1/webhooks/{id}/test`.
pub fn ping_event(subscription: Uuid, message_id: &str) -> Value {
    serde_json::json!({
        "type": "ping",
        "timestamp": Timestamp::now(),
        "data": { "subscriptionId": subscription, "webhookId": message_id },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApiKey;

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
    fn documents_are_checked() {
        let input = SubscriptionInput::parse(
            &serde_json::json!({"url": "https://example.org/hook", "types": ["bodies", "bodies"], "districtKey": 3}),
            false,
        )
        .unwrap();
        assert_eq!(input.types, vec![ResourceKind::Bodies]);
        assert!(input.active);
        let errors = SubscriptionInput::parse(
            &serde_json::json!({"url": "http://127.0.0.1/", "types": ["regions"], "districtKey": 2, "secret": "x"}),
            false,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["secret", "url", "types", "districtKey"]);
        assert!(SubscriptionInput::parse(&serde_json::json!({"url": "http://127.0.0.1/"}), true).is_ok());
    }

    #[test]
    fn target_urls_have_the_documented_form() {
        for good in ["https://example.org", "https://a.B-c.example.org:8443/hook?x=1#y", "https://x1.de?q"] {
            assert!(host_name_url(good), "{good}");
        }
        for bad in [
            "https://0.aa*",
            "https://example",
            "https://10.1.2.3/",
            "https://-a.org/",
            "https://a.o/",
            "https://a.org:0/",
            "https://a.org:12345/",
            "https://a.org/ x",
            "http://a.org/",
            "https://a.org./",
            "https://a.123/",
        ] {
            assert!(!host_name_url(bad), "{bad}");
        }
    }

    #[test]
    fn keys_subscribe_within_their_scope() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let input = SubscriptionInput::parse(&serde_json::json!({"url": "https://example.org/"}), false).unwrap();
        let editor = key(Role::Editor, None, vec![a]);
        assert_eq!(input.clone().confine(&editor).unwrap().network_ids, vec![a]);
        let other = SubscriptionInput { network_ids: vec![a, b], ..input.clone() };
        assert!(other.confine(&editor).is_err());
        let district = key(Role::District, Some(5), vec![]);
        assert_eq!(input.clone().confine(&district).unwrap().district_key, Some(5));
        assert!(SubscriptionInput { district_key: Some(1), ..input.clone() }.confine(&district).is_err());
        assert!(input.clone().confine(&Access::Anonymous).is_err());
        let now = Timestamp::now();
        let subscription = Subscription {
            id: Uuid::nil(),
            url: input.url,
            description: None,
            active: true,
            types: vec![ResourceKind::Contacts],
            network_ids: vec![a],
            district_key: None,
            deactivated_reason: None,
            previous_secret_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        assert!(subscription.visible_to(&editor) && !subscription.visible_to(&district));
        assert!(subscription.visible_to(&key(Role::Admin, None, vec![])));
        assert!(subscription.wants(ResourceKind::Contacts, Some(a), Some(1)));
        assert!(!subscription.wants(ResourceKind::Contacts, Some(b), Some(1)));
        assert!(!subscription.wants(ResourceKind::Bodies, Some(a), Some(1)));
        assert!(!subscription.wants(ResourceKind::Contacts, None, Some(1)));
    }

    #[test]
    fn events_say_what_happened() {
        let at = Timestamp::now();
        let record = serde_json::json!({"createdAt": at, "updatedAt": at});
        assert_eq!(action(false, Some(&record), at), "created");
        assert_eq!(action(false, Some(&record), Timestamp::now_after(at)), "updated");
        assert_eq!(action(false, None, at), "deleted");
        let event = change_event(7, ResourceKind::Networks, Uuid::nil(), "deleted", at, Some(record));
        assert_eq!(event["type"], "networks.deleted");
        assert_eq!(event["data"]["seq"], 7);
        assert_eq!(event["data"]["deleted"], true);
        assert!(event["data"].get("data").is_none(), "a deletion carries no record");
    }
}
