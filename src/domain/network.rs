//! A Regionales Bildungsnetzwerk: one per Kreis or kreisfreie Stadt.

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::common::{PartialDate, Source, string_enum};
use super::contract::ContractKind;
use super::fields::{LongText, Name, RegionKey, Slug, WebUrl};
use super::validation::{Fields, ValidationErrors};
use super::{Reference, Resource, ResourceKind};

string_enum! {
    /// Whether the network's cooperation contract is currently in force.
    NetworkStatus { Active = "active", Inactive = "inactive" }
}

super::record! {
    /// A Regionales Bildungsnetzwerk.
    pub struct Network {
        /// Unique, URL-friendly name; `/v1/networks/{slug}` works like the UUID.
        ///
        /// Example: `kreis-mettmann`
        pub slug: Slug,
        /// Example: `Regionales Bildungsnetzwerk Kreis Mettmann`
        pub name: Name,
        /// Kreisschlüssel of the Kreis or kreisfreie Stadt; at most one network per region.
        ///
        /// Example: `05158`
        pub region_key: RegionKey,
        pub status: NetworkStatus,
        /// Example: `https://www.kreis-mettmann.de/bildung`
        pub website: Option<WebUrl>,
        pub description: Option<LongText>,
        /// The Handlungsfelder the network works on (`/v1/networks/{id}/handlungsfelder` lists them).
        pub handlungsfeld_ids: Vec<Uuid>,
        /// Derived from the contracts: the earliest known date of a `founding` contract (unknown when the
        /// founding contract's date is unknown), else the earliest known date of any contract.
        #[schema(read_only)]
        pub founded_on: Option<PartialDate>,
        pub sources: Vec<Source>,
    }
}

/// The writable fields of a network (POST, PUT; PATCH merges into them).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"slug": "kreis-mettmann", "name": "Regionales Bildungsnetzwerk Kreis Mettmann", "regionKey": "05158", "status": "active", "website": "https://www.kreis-mettmann.de/bildung"}))]
pub struct NetworkInput {
    pub slug: Slug,
    pub name: Name,
    pub region_key: RegionKey,
    /// Defaults to `active`.
    #[schema(required = false)]
    pub status: NetworkStatus,
    pub website: Option<WebUrl>,
    pub description: Option<LongText>,
    #[schema(required = false)]
    pub handlungsfeld_ids: Vec<Uuid>,
    #[schema(required = false)]
    pub sources: Vec<Source>,
}

impl Resource for Network {
    const DATASET: super::dataset::Section = super::dataset::Section {
        place: 1,
        references: &[("handlungsfeldIds", ResourceKind::Handlungsfelder)],
        by_slug: true,
    };
    #[rustfmt::skip]
    const CSV_COLUMNS: &'static [super::dataset::CsvColumn] = super::dataset::csv_columns![
        id, slug, name, regionKey, status, website, description, handlungsfeldIds, foundedOn, (SOURCES),
        createdAt, updatedAt
    ];
    const KIND: ResourceKind = ResourceKind::Networks;
    const DESCRIPTION: &'static str = "Regionale Bildungsnetzwerke, one per Kreis or kreisfreie Stadt.";
    const DELETE_NOTE: &'static str =
        " A network that still has contracts, bodies or contacts is not deleted (409): nothing cascades.";
    const NOUN: &'static str = "network";
    const WRITABLE: &'static [&'static str] =
        &["slug", "name", "regionKey", "status", "website", "description", "handlungsfeldIds", "sources"];
    const READ_ONLY: &'static [&'static str] = &["id", "createdAt", "updatedAt", "foundedOn"];
    type Input = NetworkInput;

    super::record_version!();

    fn parse_input(value: &Value) -> Result<NetworkInput, ValidationErrors> {
        let mut f = Fields::new(value, Self::WRITABLE, Self::READ_ONLY);
        let slug = f.required("slug");
        let name = f.required("name");
        let region_key = f.required("regionKey");
        let status = f.opt_enumeration("status", NetworkStatus::ALL).unwrap_or(NetworkStatus::Active);
        let website = f.opt("website");
        let description = f.opt("description");
        let handlungsfeld_ids = f.uuid_list("handlungsfeldIds");
        let sources = f.sources("sources");
        let input = (|| {
            Some(NetworkInput {
                slug: slug?,
                name: name?,
                region_key: region_key?,
                status,
                website,
                description,
                handlungsfeld_ids,
                sources,
            })
        })();
        f.finish(input)
    }

    fn references(input: &NetworkInput) -> Vec<Reference> {
        let mut refs = vec![Reference::new("regionKey", ResourceKind::Regions, &*input.region_key)];
        for (i, id) in input.handlungsfeld_ids.iter().enumerate() {
            refs.push(Reference::new(format!("handlungsfeldIds[{i}]"), ResourceKind::Handlungsfelder, id));
        }
        refs
    }

    fn network_of(_: &NetworkInput) -> Option<Uuid> {
        None
    }
}

/// The founding date a network's contracts give: the earliest known date of a founding contract (none when
/// the founding contracts' dates are all unknown), or without a founding contract the earliest known date.
pub fn derive_founded_on(contracts: &[(ContractKind, Option<PartialDate>)]) -> Option<PartialDate> {
    let founding: Vec<_> = contracts.iter().filter(|(kind, _)| *kind == ContractKind::Founding).collect();
    if founding.is_empty() {
        contracts.iter().filter_map(|(_, date)| *date).min()
    } else {
        founding.iter().filter_map(|(_, date)| *date).min()
    }
}

/// Filters of `GET /v1/networks`; they combine with AND.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NetworkFilter {
    /// Regierungsbezirk key (1, 3, 5, 7, 9).
    #[param(example = 1)]
    pub district: Option<i32>,
    /// Kreisschlüssel of the region.
    #[param(example = "05158")]
    pub region: Option<String>,
    pub status: Option<NetworkStatus>,
    /// UUID or slug of a Handlungsfeld the network works on.
    #[param(example = "schulische-inklusion")]
    pub handlungsfeld: Option<String>,
    /// Case-insensitive text search in name and slug.
    #[param(example = "mettmann")]
    pub q: Option<String>,
}

/// The related records `expand` embeds in a network, in its single read and in the network list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expansion {
    pub contracts: bool,
    pub bodies: bool,
    pub handlungsfelder: bool,
    pub contacts: bool,
}

impl Expansion {
    /// The names `expand` takes, in the order the embedded arrays appear.
    pub const NAMES: &'static [&'static str] = &["contracts", "bodies", "handlungsfelder", "contacts"];
    pub const ALL: Expansion = Expansion { contracts: true, bodies: true, handlungsfelder: true, contacts: true };

    /// A comma-separated list of [`Expansion::NAMES`] (any subset, repeats allowed); `None` when a name is
    /// not one of them (an empty list names nothing valid either).
    pub fn parse(list: &str) -> Option<Expansion> {
        let mut expansion = Expansion::default();
        for name in list.split(',') {
            match name {
                "contracts" => expansion.contracts = true,
                "bodies" => expansion.bodies = true,
                "handlungsfelder" => expansion.handlungsfelder = true,
                "contacts" => expansion.contacts = true,
                _ => return None,
            }
        }
        Some(expansion)
    }

    pub fn is_empty(&self) -> bool {
        *self == Expansion::default()
    }
}

impl super::query::FromQuery for NetworkFilter {
    fn read(params: &mut impl super::query::QuerySource) -> Self {
        NetworkFilter {
            district: params.district("district"),
            region: params.text("region"),
            status: params.one_of("status", super::NetworkStatus::ALL),
            handlungsfeld: params.text("handlungsfeld"),
            q: params.text("q"),
        }
    }
}

#[cfg(test)]
mod expansion_tests {
    use super::Expansion;

    #[test]
    fn parses_subsets_and_refuses_anything_else() {
        assert_eq!(Expansion::parse("contracts,bodies,handlungsfelder,contacts"), Some(Expansion::ALL));
        let contacts = Expansion::parse("contacts").unwrap();
        assert!(contacts.contacts && !contacts.contracts && !contacts.bodies && !contacts.handlungsfelder);
        for wrong in ["", "contacts,", "Contacts", "contacts, bodies", "regions", "contacts,,bodies"] {
            assert_eq!(Expansion::parse(wrong), None, "{wrong:?}");
        }
    }
}
