//! A Handlungsfeld (field of action): the shared vocabulary of what networks work on.

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::common::Source;
use super::fields::{LongText, Name, Slug};
use super::validation::{Fields, ValidationErrors};
use super::{Reference, Resource, ResourceKind};

super::record! {
    /// A field of action, e.g. "Übergang Schule–Beruf".
    pub struct Handlungsfeld {
        /// Example: `schulische-inklusion`
        pub slug: Slug,
        /// Example: `Schulische Inklusion`
        pub name: Name,
        pub description: Option<LongText>,
        pub sources: Vec<Source>,
    }
}

/// The writable fields of a Handlungsfeld.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"slug": "schulische-inklusion", "name": "Schulische Inklusion"}))]
pub struct HandlungsfeldInput {
    pub slug: Slug,
    pub name: Name,
    pub description: Option<LongText>,
    #[schema(required = false)]
    pub sources: Vec<Source>,
}

impl Resource for Handlungsfeld {
    const DATASET: super::dataset::Section = super::dataset::Section { place: 0, references: &[], by_slug: true };
    #[rustfmt::skip]
    const CSV_COLUMNS: &'static [super::dataset::CsvColumn] = super::dataset::csv_columns![
        id, slug, name, description, (SOURCES), createdAt, updatedAt
    ];
    const KIND: ResourceKind = ResourceKind::Handlungsfelder;
    const DESCRIPTION: &'static str = "The shared vocabulary of fields of action.";
    const DELETE_NOTE: &'static str = " A Handlungsfeld still named by networks or contracts is not deleted (409).";
    const NOUN: &'static str = "Handlungsfeld";
    const WRITABLE: &'static [&'static str] = &["slug", "name", "description", "sources"];
    type Input = HandlungsfeldInput;

    super::record_version!();

    fn parse_input(value: &Value) -> Result<HandlungsfeldInput, ValidationErrors> {
        let mut f = Fields::new(value, Self::WRITABLE, Self::READ_ONLY);
        let slug = f.required("slug");
        let name = f.required("name");
        let description = f.opt("description");
        let sources = f.sources("sources");
        let input = (|| Some(HandlungsfeldInput { slug: slug?, name: name?, description, sources }))();
        f.finish(input)
    }

    fn references(_: &HandlungsfeldInput) -> Vec<Reference> {
        Vec::new()
    }

    fn network_of(_: &HandlungsfeldInput) -> Option<Uuid> {
        None
    }
}

/// Filters of `GET /v1/handlungsfelder`.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HandlungsfeldFilter {
    /// Case-insensitive text search in name and slug.
    #[param(example = "inklusion")]
    pub q: Option<String>,
    /// Only the Handlungsfelder of this network (the list under `/v1/networks/{id}/handlungsfelder`).
    #[param(ignore)]
    pub network: Option<Uuid>,
}

impl super::query::FromQuery for HandlungsfeldFilter {
    fn read(params: &mut impl super::query::QuerySource) -> Self {
        HandlungsfeldFilter { q: params.text("q"), network: None }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network);
        Some(())
    }
}
