//! The registry's types and their rules. No HTTP and no database here: these types are the API's
//! representation (serde + OpenAPI schema) and the only place where input is validated.

pub mod access;
pub mod body;
pub mod calendar;
pub mod common;
pub mod contact;
pub mod contract;
pub mod dataset;
pub mod facts;
pub mod fields;
pub mod handlungsfeld;
pub mod meeting;
pub mod network;
pub mod query;
pub mod reference;
pub mod subscription;
pub mod validation;
pub mod webhook;

pub use access::{Access, ApiKey, ApiKeyInput, AuditEntry, Role};
pub use body::{Body, BodyFilter, BodyInput, BodyType};
pub use common::{Address, PartialDate, Source, Timestamp};
pub use contact::{Contact, ContactFilter, ContactInput, ContactView, PrivateReach, Visibility};
pub use contract::{Contract, ContractFilter, ContractInput, ContractKind, Party, Signatory};
pub use facts::Fact;
pub use fields::{
    DistrictKey, Email, FieldType, Function, LongText, Name, Note, Phone, PostalCode, RegionKey, ShortText, Slug,
    WebUrl,
};
pub use handlungsfeld::{Handlungsfeld, HandlungsfeldFilter, HandlungsfeldInput};
pub use meeting::{Meeting, MeetingFilter, MeetingInput, MeetingLocation, MeetingStatus};
pub use network::{Expansion, Network, NetworkFilter, NetworkInput, NetworkStatus};
pub use query::{FromQuery, QuerySource};
pub use reference::{District, Region, RegionKind};
pub use validation::{FieldError, ValidationErrors};

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

common::string_enum! {
    /// The kinds of records in the registry, as named in paths and in the change feed.
    ResourceKind {
        Districts = "districts",
        Regions = "regions",
        Networks = "networks",
        Contracts = "contracts",
        Bodies = "bodies",
        Handlungsfelder = "handlungsfelder",
        Contacts = "contacts",
        Meetings = "meetings",
    }
}

impl ResourceKind {
    /// Whether records of the kind are reference data: read-only, and not in the change feed.
    pub fn is_reference_data(self) -> bool {
        matches!(self, ResourceKind::Districts | ResourceKind::Regions)
    }

    /// The names of the editable kinds (those of the change feed); `storage::kinds` lists their types,
    /// and a test there holds the two to the same set.
    pub fn editable_names() -> Vec<&'static str> {
        let editable = |name: &&str| name.parse().is_ok_and(|kind: ResourceKind| !kind.is_reference_data());
        ResourceKind::ALL.iter().copied().filter(editable).collect()
    }
}

/// A record that another record's field points to; the storage checks that it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The input field that holds the reference, e.g. `networkId` or `handlungsfeldIds[1]`.
    pub field: String,
    pub kind: ResourceKind,
    /// The referenced key: a UUID for networks, bodies and Handlungsfelder, a key for regions and districts.
    pub key: String,
}

impl Reference {
    pub fn new(field: impl Into<String>, kind: ResourceKind, key: impl ToString) -> Self {
        Reference { field: field.into(), kind, key: key.to_string() }
    }
}

/// What the five editable resources share; the generic HTTP handlers and storage are written against it.
pub trait Resource: Serialize + utoipa::ToSchema + Clone + Send + Sync + 'static {
    const KIND: ResourceKind;
    /// One record of the kind, as messages name it ("no network has this id").
    const NOUN: &'static str;
    /// What records of the kind are, in a sentence (the OpenAPI document's tag of the kind).
    const DESCRIPTION: &'static str;
    /// What deleting one does besides, if anything, in a sentence after a space (the OpenAPI document).
    const DELETE_NOTE: &'static str = "";
    /// Fields a client sets (the body of POST and PUT, the document a merge patch applies to).
    const WRITABLE: &'static [&'static str];
    /// Fields the server sets; accepted and ignored in input so that a client can send back what it read.
    const READ_ONLY: &'static [&'static str] = &["id", "createdAt", "updatedAt"];
    /// The columns of the kind's CSV export: its fields in the order of its representation, as readable
    /// text (addresses in three columns, sources and signatories as text, see [`dataset::CellText`]).
    const CSV_COLUMNS: &'static [dataset::CsvColumn];
    /// The kind's section of the dataset file: its place there and the fields that may name records by slug.
    const DATASET: dataset::Section;

    /// The validated content of a write.
    type Input: Serialize + utoipa::ToSchema + Clone + Send + Sync + 'static;

    fn id(&self) -> Uuid;
    fn updated_at(&self) -> Timestamp;
    /// Sets the version the write that stored this state committed with (and, for a creation, its time).
    fn set_version(&mut self, created_at: Option<Timestamp>, updated_at: Timestamp);

    /// Reads and validates a complete representation, reporting every problem.
    fn parse_input(value: &Value) -> Result<Self::Input, ValidationErrors>;

    /// Records the input points to; they must exist.
    fn references(input: &Self::Input) -> Vec<Reference>;

    /// The network this record belongs to, if any (the scope of editor keys).
    fn network_of(input: &Self::Input) -> Option<Uuid>;

    /// The writable part of the current state: the document a JSON Merge Patch applies to.
    fn writable_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.retain(|key, _| Self::WRITABLE.contains(&key.as_str()));
        }
        value
    }
}

/// Declares a kind's record: the derives of the API's representation, and around the kind's own fields the
/// `id` and the `createdAt` and `updatedAt` that every record has and the server sets (read-only).
macro_rules! record {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[schema(read_only)]
            pub id: ::uuid::Uuid,
            $($(#[$field_meta])* pub $field: $ty,)*
            #[schema(read_only)]
            pub created_at: $crate::domain::Timestamp,
            #[schema(read_only)]
            pub updated_at: $crate::domain::Timestamp,
        }
    };
}
pub(crate) use record;

/// The methods of [`Resource`] that read and set a record's `id`, `created_at` and `updated_at`, which
/// every kind has under these names: `record_version!();` in its `impl Resource`.
macro_rules! record_version {
    () => {
        fn id(&self) -> ::uuid::Uuid {
            self.id
        }

        fn updated_at(&self) -> $crate::domain::Timestamp {
            self.updated_at
        }

        fn set_version(
            &mut self,
            created_at: Option<$crate::domain::Timestamp>,
            updated_at: $crate::domain::Timestamp,
        ) {
            self.created_at = created_at.unwrap_or(self.created_at);
            self.updated_at = updated_at;
        }
    };
}
pub(crate) use record_version;

/// Applies a JSON Merge Patch (RFC 7396) to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let target_map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        let mut doc = json!({"a": [1]});
        merge_patch(&mut doc, &json!({"a": [2, 3], "n": null}));
        assert_eq!(doc, json!({"a": [2, 3]}));
    }
}
