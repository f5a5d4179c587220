//! The bodies the API answers with, in one place: the handlers render them and the OpenAPI document
//! states their schemas, without either depending on the other.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr, Schema};
use uuid::Uuid;

use crate::domain::{ApiKey, Body, Contact, Contract, Expansion, Handlungsfeld, Network, ResourceKind, Timestamp};
use crate::storage::Related;

/// The version of the API, sent in every response's `API-Version` header and in discovery.
pub const API_VERSION: &str = "1";

/// A list page: `{"data": [...], "links": {"self", "next"}}`. Every list renders one (see
/// `crud::page_response`); its schema is [`page_schema`] of the item's.
#[derive(Debug, Serialize)]
pub struct Page {
    pub data: Vec<Value>,
    pub links: Links,
}

/// The links of a [`Page`].
#[derive(Debug, Serialize)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The change feed only: where to continue later, even from its (current) last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
}

impl utoipa::PartialSchema for Links {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("`self`: this page; `next`: the next page, absent on the last one (also in the Link header); `resume`: change feed only."))
            .property("self", ObjectBuilder::new().schema_type(Type::String))
            .required("self")
            .property("next", ObjectBuilder::new().schema_type(Type::String))
            .property(
                "resume",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Change feed only: where to continue later, present on every page.")),
            )
            .into()
    }
}

impl ToSchema for Links {}

/// What a list with `modifiedSince` shows of a deleted record (or one the reader may not see):
/// `{"id", "deleted": true, "updatedAt"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    pub id: Uuid,
    /// Always `true`.
    pub deleted: bool,
    pub updated_at: Timestamp,
}

impl Tombstone {
    pub fn new(id: Uuid, updated_at: Timestamp) -> Tombstone {
        Tombstone { id, deleted: true, updated_at }
    }
}

impl utoipa::PartialSchema for Tombstone {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("A deleted record (or one the reader may not see), in lists with modifiedSince."))
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
            )
            .required("id")
            .property("deleted", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])))
            .required("deleted")
            .property("updatedAt", Ref::from_schema_name("Timestamp"))
            .required("updatedAt")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for Tombstone {}

/// The schema of a page of `item`s: records of a list with `modifiedSince` may be [`Tombstone`]s.
pub fn page_schema(item: RefOr<Schema>) -> Schema {
    let entry = OneOfBuilder::new().item(item).item(Ref::from_schema_name("Tombstone"));
    ObjectBuilder::new()
        .property("data", ArrayBuilder::new().items(entry))
        .required("data")
        .property("links", Ref::from_schema_name("Links"))
        .required("links")
        .into()
}

/// Cuts a list fetched with one item more than `limit` down to the page. The extra item tells that there
/// is a next page: then the cursor of the page's last item (which the next page continues after) comes
/// along. Every list pages this way.
pub fn cut_page<T, C>(mut items: Vec<T>, limit: i64, cursor: impl FnOnce(&T) -> C) -> (Vec<T>, Option<C>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let next = items.last().map(cursor);
    (items, next)
}

/// The discovery document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    #[schema(example = "rbn-registry")]
    pub name: String,
    pub title: String,
    #[schema(example = "0.1.0")]
    pub version: String,
    #[schema(example = "1")]
    pub api_version: String,
    /// The licence of the data.
    #[schema(value_type = Object)]
    pub licence: Value,
    /// When anything in the registry last changed.
    pub last_change: Option<Timestamp>,
    /// How many networks the registry holds, and how many the source documents speak of.
    pub facts: Facts,
    /// Where to go from here: the OpenAPI document, the docs and every collection.
    #[schema(value_type = Object)]
    pub links: Value,
}

/// The networks the registry holds next to what the source documents state about their number.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The networks the registry holds now (counted when asked).
    #[schema(example = 47)]
    pub networks: i64,
    /// The same in words, with the numbers of `statements`.
    #[schema(
        example = "Das Register verzeichnet 47 Netzwerke. Die Quelldokumente sprechen von 43 (2010-05-06), 50 (2013-11-19), 52 (undatiert), 13 im Regierungsbezirk Düsseldorf (undatiert), 8 im Regierungsbezirk Münster (undatiert); sie nennen nicht jedes Netzwerk, das sie zählen, mit Namen. Die Aussagen mit ihren Quellen stehen in statements."
    )]
    pub summary: String,
    /// What the source documents state about the networks as a whole, quoted, with their sources (the
    /// `facts` section of the dataset).
    pub statements: Vec<crate::domain::Fact>,
}

impl Facts {
    /// `districts`: the names of the Regierungsbezirke by key.
    pub fn new(networks: i64, statements: Vec<crate::domain::Fact>, districts: &[(i32, String)]) -> Facts {
        let counts: Vec<String> = statements
            .iter()
            .filter_map(|fact| {
                let count = fact.count?;
                let scope = fact.district_key.map_or_else(String::new, |key| {
                    let name = districts.iter().find(|(k, _)| *k == key).map_or(key.to_string(), |(_, n)| n.clone());
                    format!(" im Regierungsbezirk {name}")
                });
                let date = fact.date.map_or_else(|| "undatiert".to_string(), |date| date.to_string());
                Some(format!("{count}{scope} ({date})"))
            })
            .collect();
        let mut summary = format!("Das Register verzeichnet {networks} Netzwerke.");
        if !counts.is_empty() {
            summary.push_str(&format!(
                " Die Quelldokumente sprechen von {}; sie nennen nicht jedes Netzwerk, das sie zählen, mit Namen.",
                counts.join(", ")
            ));
        }
        if !statements.is_empty() {
            summary.push_str(" Die Aussagen mit ihren Quellen stehen in statements.");
        }
        Facts { networks, summary, statements }
    }
}

/// One entry of the change feed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFeedEntry {
    /// Position in the feed; grows with every write.
    pub seq: i64,
    #[serde(rename = "type")]
    pub resource_type: ResourceKind,
    pub id: Uuid,
    /// `true` for deleted records (and records the reader may not see).
    pub deleted: bool,
    pub updated_at: Timestamp,
    /// The record as it is now; absent when deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// A key just created, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret to send as `Authorization: Bearer <secret>`. It is not stored and cannot be shown again.
    #[schema(example = "rbn_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg")]
    pub secret: String,
}

/// A network with the related records `expand` asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedNetwork {
    #[serde(flatten)]
    pub network: Network,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contracts: Option<Vec<Contract>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bodies: Option<Vec<Body>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handlungsfelder: Option<Vec<Handlungsfeld>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
}

impl ExpandedNetwork {
    pub fn new(network: Network, related: Related, expand: Expansion) -> ExpandedNetwork {
        ExpandedNetwork {
            network,
            contracts: expand.contracts.then_some(related.contracts),
            bodies: expand.bodies.then_some(related.bodies),
            handlungsfelder: expand.handlungsfelder.then_some(related.handlungsfelder),
            contacts: expand.contacts.then_some(related.contacts),
        }
    }
}
