//! A Kooperationsvertrag between the Land NRW and a Kreis or kreisfreie Stadt, or a later amendment.

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::common::{PartialDate, Source, string_enum};
use super::fields::{LongText, Name, ShortText, WebUrl};
use super::validation::{Fields, ValidationErrors};
use super::{Reference, Resource, ResourceKind};

string_enum! {
    /// What a contract does for its network.
    ContractKind { Founding = "founding", Resumption = "resumption", Renewal = "renewal", Amendment = "amendment" }
}

string_enum! {
    /// The side a signatory signs for.
    Party { Land = "land", Kommune = "kommune" }
}

/// Someone who signed a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Signatory {
    /// Example: `Sylvia Löhrmann`
    pub name: Name,
    /// Example: `Schulministerin`
    pub role: Option<ShortText>,
    pub party: Party,
}

super::record! {
    /// A contract of a network.
    pub struct Contract {
        pub network_id: Uuid,
        pub kind: ContractKind,
        /// When it was signed, as precise as known (`2008`, `2019-07`, `2013-11-19`); `null` when unknown.
        pub signed_on: Option<PartialDate>,
        pub signatories: Vec<Signatory>,
        /// The Handlungsfelder the contract names.
        pub handlungsfeld_ids: Vec<Uuid>,
        pub document_url: Option<WebUrl>,
        pub notes: Option<LongText>,
        pub sources: Vec<Source>,
    }
}

/// The writable fields of a contract.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"networkId": "db672378-2759-4224-a54c-4415f60666d0", "kind": "founding", "signedOn": "2013-11-19", "signatories": [{"name": "Sylvia Löhrmann", "role": "Schulministerin", "party": "land"}, {"name": "Thomas Hendele", "role": "Landrat", "party": "kommune"}]}))]
pub struct ContractInput {
    pub network_id: Uuid,
    pub kind: ContractKind,
    pub signed_on: Option<PartialDate>,
    #[schema(required = false)]
    pub signatories: Vec<Signatory>,
    #[schema(required = false)]
    pub handlungsfeld_ids: Vec<Uuid>,
    pub document_url: Option<WebUrl>,
    pub notes: Option<LongText>,
    #[schema(required = false)]
    pub sources: Vec<Source>,
}

impl Resource for Contract {
    const DATASET: super::dataset::Section = super::dataset::Section {
        place: 3,
        references: &[("networkId", ResourceKind::Networks), ("handlungsfeldIds", ResourceKind::Handlungsfelder)],
        by_slug: false,
    };
    #[rustfmt::skip]
    const CSV_COLUMNS: &'static [super::dataset::CsvColumn] = super::dataset::csv_columns![
        id, networkId, kind, signedOn, (SIGNATORIES), handlungsfeldIds, documentUrl, notes, (SOURCES),
        createdAt, updatedAt
    ];
    const KIND: ResourceKind = ResourceKind::Contracts;
    const DESCRIPTION: &'static str = "Kooperationsverträge between the Land NRW and a Kreis or kreisfreie Stadt.";
    const NOUN: &'static str = "contract";
    const WRITABLE: &'static [&'static str] =
        &["networkId", "kind", "signedOn", "signatories", "handlungsfeldIds", "documentUrl", "notes", "sources"];
    type Input = ContractInput;

    super::record_version!();

    fn parse_input(value: &Value) -> Result<ContractInput, ValidationErrors> {
        let mut f = Fields::new(value, Self::WRITABLE, Self::READ_ONLY);
        let network_id = f.uuid("networkId");
        let kind = f.enumeration("kind", ContractKind::ALL);
        let signed_on = f.opt_date("signedOn");
        let signatories = f.list("signatories", |f, value, path| {
            f.object(value, path, &["name", "role", "party"], |s| {
                let name = s.required("name");
                let role = s.opt("role");
                let party = s.enumeration("party", Party::ALL);
                Some(Signatory { name: name?, role, party: party? })
            })
        });
        let handlungsfeld_ids = f.uuid_list("handlungsfeldIds");
        let document_url = f.opt("documentUrl");
        let notes = f.opt("notes");
        let sources = f.sources("sources");
        let input = (|| {
            Some(ContractInput {
                network_id: network_id?,
                kind: kind?,
                signed_on,
                signatories,
                handlungsfeld_ids,
                document_url,
                notes,
                sources,
            })
        })();
        f.finish(input)
    }

    fn references(input: &ContractInput) -> Vec<Reference> {
        let mut refs = vec![Reference::new("networkId", ResourceKind::Networks, input.network_id)];
        for (i, id) in input.handlungsfeld_ids.iter().enumerate() {
            refs.push(Reference::new(format!("handlungsfeldIds[{i}]"), ResourceKind::Handlungsfelder, id));
        }
        refs
    }

    fn network_of(input: &ContractInput) -> Option<Uuid> {
        Some(input.network_id)
    }
}

/// Filters of `GET /v1/contracts`; they combine with AND.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContractFilter {
    /// UUID or slug of the network.
    pub network: Option<String>,
    pub kind: Option<ContractKind>,
    /// Only the contracts of these networks (a page of networks with `expand`); not a query parameter.
    #[param(ignore)]
    pub networks: Option<Vec<Uuid>>,
}

impl super::query::FromQuery for ContractFilter {
    fn read(params: &mut impl super::query::QuerySource) -> Self {
        ContractFilter {
            network: params.text("network"),
            kind: params.one_of("kind", super::ContractKind::ALL),
            networks: None,
        }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}
