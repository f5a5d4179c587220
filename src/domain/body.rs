//! A Gremium of a network: Bildungskonferenz, Lenkungskreis, Regionales Bildungsbüro and others.

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::common::{Address, Source, string_enum};
use super::fields::{Email, LongText, Name, Phone, WebUrl};
use super::validation::{Fields, ValidationErrors};
use super::{Reference, Resource, ResourceKind};

string_enum! {
    /// The kind of a Gremium.
    BodyType {
        Bildungskonferenz = "bildungskonferenz",
        Lenkungskreis = "lenkungskreis",
        Bildungsbuero = "bildungsbuero",
        Arbeitsgruppe = "arbeitsgruppe",
        Other = "other",
    }
}

super::record! {
    /// A body (Gremium) of a network.
    pub struct Body {
        pub network_id: Uuid,
        #[serde(rename = "type")]
        pub body_type: BodyType,
        /// The local name, e.g. "Lenkungsgruppe".
        ///
        /// Example: `Regionales Bildungsbüro`
        pub name: Name,
        pub description: Option<LongText>,
        pub address: Option<Address>,
        /// Example: `bildungsbuero@kreis.example`
        pub email: Option<Email>,
        /// Example: `+49 2104 99 0`
        pub phone: Option<Phone>,
        pub website: Option<WebUrl>,
        pub sources: Vec<Source>,
    }
}

/// The writable fields of a body.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"networkId": "db672378-2759-4224-a54c-4415f60666d0", "type": "bildungsbuero", "name": "Regionales Bildungsbüro"}))]
pub struct BodyInput {
    pub network_id: Uuid,
    #[serde(rename = "type")]
    pub body_type: BodyType,
    pub name: Name,
    pub description: Option<LongText>,
    pub address: Option<Address>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub website: Option<WebUrl>,
    #[schema(required = false)]
    pub sources: Vec<Source>,
}

impl Resource for Body {
    const DATASET: super::dataset::Section =
        super::dataset::Section { place: 2, references: &[("networkId", ResourceKind::Networks)], by_slug: false };
    #[rustfmt::skip]
    const CSV_COLUMNS: &'static [super::dataset::CsvColumn] = super::dataset::csv_columns![
        id, networkId, type, name, description, (ADDRESS_STREET), (ADDRESS_POSTAL_CODE), (ADDRESS_CITY), email,
        phone, website, (SOURCES), createdAt, updatedAt
    ];
    const KIND: ResourceKind = ResourceKind::Bodies;
    const DESCRIPTION: &'static str =
        "Gremien: Bildungskonferenz, Lenkungskreis, Regionales Bildungsbüro, working groups.";
    const DELETE_NOTE: &'static str = " A body that still has contacts is not deleted (409).";
    const NOUN: &'static str = "body";
    const WRITABLE: &'static [&'static str] =
        &["networkId", "type", "name", "description", "address", "email", "phone", "website", "sources"];
    type Input = BodyInput;

    super::record_version!();

    fn parse_input(value: &Value) -> Result<BodyInput, ValidationErrors> {
        let mut f = Fields::new(value, Self::WRITABLE, Self::READ_ONLY);
        let network_id = f.uuid("networkId");
        let body_type = f.enumeration("type", BodyType::ALL);
        let name = f.required("name");
        let description = f.opt("description");
        let address = f.opt_address("address");
        let email = f.opt("email");
        let phone = f.opt("phone");
        let website = f.opt("website");
        let sources = f.sources("sources");
        let input = (|| {
            Some(BodyInput {
                network_id: network_id?,
                body_type: body_type?,
                name: name?,
                description,
                address,
                email,
                phone,
                website,
                sources,
            })
        })();
        f.finish(input)
    }

    fn references(input: &BodyInput) -> Vec<Reference> {
        vec![Reference::new("networkId", ResourceKind::Networks, input.network_id)]
    }

    fn network_of(input: &BodyInput) -> Option<Uuid> {
        Some(input.network_id)
    }
}

/// Filters of `GET /v1/bodies`; they combine with AND.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BodyFilter {
    /// UUID or slug of the network.
    pub network: Option<String>,
    #[param(rename = "type")]
    pub body_type: Option<BodyType>,
    /// Only the bodies of these networks (a page of networks with `expand`); not a query parameter.
    #[param(ignore)]
    pub networks: Option<Vec<Uuid>>,
}

impl super::query::FromQuery for BodyFilter {
    fn read(params: &mut impl super::query::QuerySource) -> Self {
        BodyFilter {
            network: params.text("network"),
            body_type: params.one_of("type", super::BodyType::ALL),
            networks: None,
        }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}
