//! A contact: Bildungsbüro staff, functional mailboxes, Regionalkoordination, Servicestellen.
//!
//! Contacts are often real people, so what anonymous readers see is decided here ([`Contact::view_for`]).

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::access::{Access, Role, Scope};
use super::common::{Address, Source, string_enum};
use super::fields::{DistrictKey, Email, Function, Name, Phone, ShortText};
use super::validation::{Fields, ValidationErrors};
use super::{Reference, Resource, ResourceKind};

string_enum! {
    /// `internal` contacts are shown only to API keys whose scope covers them.
    Visibility { Public = "public", Internal = "internal" }
}

super::record! {
    /// A contact of a network, a body or a Bezirksregierung.
    pub struct Contact {
        pub network_id: Option<Uuid>,
        /// A body of `networkId`.
        pub body_id: Option<Uuid>,
        /// Regierungsbezirk key, for the Servicestellen and the Regionalkoordination of a Bezirksregierung.
        pub district_key: Option<DistrictKey>,
        /// Example: `Servicestelle Regionale Bildungsnetzwerke`
        pub name: Name,
        /// Example: `Bezirkskoordination`
        pub function: Option<Function>,
        /// Example: `Bezirksregierung Düsseldorf`
        pub organisation: Option<ShortText>,
        /// Left out (`null`) for anonymous readers when the contact is a person without publication consent.
        pub email: Option<Email>,
        /// Left out (`null`) for anonymous readers when the contact is a person without publication consent.
        pub phone: Option<Phone>,
        pub address: Option<Address>,
        pub visibility: Visibility,
        /// A natural person (personal data under the DSGVO) rather than a function or mailbox.
        pub is_person: bool,
        /// The person agreed to the publication of e-mail and phone.
        pub publication_consent: bool,
        pub sources: Vec<Source>,
    }
}

/// The writable fields of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"districtKey": 1, "name": "Servicestelle Regionale Bildungsnetzwerke", "organisation": "Bezirksregierung Düsseldorf", "address": {"street": "Am Bonneshof 35", "postalCode": "40474", "city": "Düsseldorf"}}))]
pub struct ContactInput {
    /// At least one of `networkId`, `bodyId` and `districtKey` is required; with only `bodyId`, the network is
    /// the body's.
    pub network_id: Option<Uuid>,
    pub body_id: Option<Uuid>,
    pub district_key: Option<DistrictKey>,
    pub name: Name,
    pub function: Option<Function>,
    pub organisation: Option<ShortText>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
    /// Defaults to `public`.
    #[schema(required = false)]
    pub visibility: Visibility,
    /// Defaults to `false`.
    #[schema(required = false)]
    pub is_person: bool,
    /// Defaults to `false`.
    #[schema(required = false)]
    pub publication_consent: bool,
    #[schema(required = false)]
    pub sources: Vec<Source>,
}

/// Fields that hold personal data when the contact is a person: never written to the audit log.
pub const PERSONAL_FIELDS: &[&str] = &["name", "function", "email", "phone", "address"];

impl Resource for Contact {
    const DATASET: super::dataset::Section = super::dataset::Section {
        place: 4,
        references: &[("networkId", ResourceKind::Networks), ("bodyId", ResourceKind::Bodies)],
        by_slug: false,
    };
    #[rustfmt::skip]
    const CSV_COLUMNS: &'static [super::dataset::CsvColumn] = super::dataset::csv_columns![
        id, networkId, bodyId, districtKey, name, function, organisation, email, phone, (ADDRESS_STREET),
        (ADDRESS_POSTAL_CODE), (ADDRESS_CITY), visibility, isPerson, publicationConsent, (SOURCES), createdAt,
        updatedAt
    ];
    const KIND: ResourceKind = ResourceKind::Contacts;
    const DESCRIPTION: &'static str =
        "Contacts of networks, bodies and Bezirksregierungen; internal ones need an API key.";
    const DELETE_NOTE: &'static str =
        " Deleting a person erases their data for real; only the tombstone (id and time) remains.";
    const NOUN: &'static str = "contact";
    const WRITABLE: &'static [&'static str] = &[
        "networkId",
        "bodyId",
        "districtKey",
        "name",
        "function",
        "organisation",
        "email",
        "phone",
        "address",
        "visibility",
        "isPerson",
        "publicationConsent",
        "sources",
    ];
    type Input = ContactInput;

    super::record_version!();

    fn parse_input(value: &Value) -> Result<ContactInput, ValidationErrors> {
        let mut f = Fields::new(value, Self::WRITABLE, Self::READ_ONLY);
        let network_id = f.opt_uuid("networkId");
        let body_id = f.opt_uuid("bodyId");
        let district_key = f.opt_district_key("districtKey");
        let name = f.required("name");
        let function = f.opt("function");
        let organisation = f.opt("organisation");
        let email = f.opt("email");
        let phone = f.opt("phone");
        let address = f.opt_address("address");
        let visibility = f.opt_enumeration("visibility", Visibility::ALL).unwrap_or(Visibility::Public);
        let is_person = f.opt_bool("isPerson").unwrap_or(false);
        let publication_consent = f.opt_bool("publicationConsent").unwrap_or(false);
        let sources = f.sources("sources");
        let owner_given = |field: &str| value.get(field).is_some_and(|v| !v.is_null());
        if !owner_given("networkId") && !owner_given("bodyId") && !owner_given("districtKey") {
            f.error(
                "networkId",
                "a contact belongs to a network, a body or a district: set networkId, bodyId or districtKey",
            );
        }
        let input = (|| {
            Some(ContactInput {
                network_id,
                body_id,
                district_key,
                name: name?,
                function,
                organisation,
                email,
                phone,
                address,
                visibility,
                is_person,
                publication_consent,
                sources,
            })
        })();
        f.finish(input)
    }

    fn references(input: &ContactInput) -> Vec<Reference> {
        let mut refs = Vec::new();
        if let Some(id) = input.network_id {
            refs.push(Reference::new("networkId", ResourceKind::Networks, id));
        }
        if let Some(id) = input.body_id {
            refs.push(Reference::new("bodyId", ResourceKind::Bodies, id));
        }
        if let Some(key) = input.district_key {
            refs.push(Reference::new("districtKey", ResourceKind::Districts, key));
        }
        refs
    }

    fn network_of(input: &ContactInput) -> Option<Uuid> {
        input.network_id
    }
}

/// How much of a contact a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactView {
    Full,
    /// E-mail and phone left out.
    WithoutChannels,
    Hidden,
}

impl Contact {
    /// What `access` may see of this contact. `scope` is where the contact belongs (its network's id and
    /// district, or its own district).
    pub fn view_for(&self, access: &Access, scope: &Scope) -> ContactView {
        if access.reads_private(scope) {
            ContactView::Full
        } else if self.visibility == Visibility::Internal {
            ContactView::Hidden
        } else if self.is_person && !self.publication_consent {
            ContactView::WithoutChannels
        } else {
            ContactView::Full
        }
    }

    /// The contact as `view` allows, or `None` when it is hidden.
    pub fn redacted(mut self, view: ContactView) -> Option<Contact> {
        match view {
            ContactView::Full => Some(self),
            ContactView::WithoutChannels => {
                self.email = None;
                self.phone = None;
                Some(self)
            }
            ContactView::Hidden => None,
        }
    }
}

/// Filters of `GET /v1/contacts`; they combine with AND.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactFilter {
    /// UUID or slug of the network.
    pub network: Option<String>,
    /// UUID of the body.
    pub body: Option<Uuid>,
    /// Regierungsbezirk key: contacts of the district itself and of the networks in it.
    pub district: Option<i32>,
    /// Case-insensitive text search in name, function and organisation.
    pub q: Option<String>,
    /// Which internal contacts the reader may see (set from the API key, not from the query).
    #[param(ignore)]
    pub reach: PrivateReach,
    /// Only the contacts of these networks (a page of networks with `expand`); not a query parameter.
    #[param(ignore)]
    pub networks: Option<Vec<Uuid>>,
}

/// The records whose internal and personal parts a reader may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PrivateReach {
    #[default]
    Nothing,
    Everything,
    District(i32),
    Networks(Vec<Uuid>),
}

impl Access {
    pub fn private_reach(&self) -> PrivateReach {
        match self.key() {
            None => PrivateReach::Nothing,
            Some(key) => match key.role {
                Role::Admin => PrivateReach::Everything,
                Role::District => key.district_key.map_or(PrivateReach::Nothing, PrivateReach::District),
                Role::Editor => PrivateReach::Networks(key.network_ids.clone()),
            },
        }
    }
}

impl super::query::FromQuery for ContactFilter {
    fn read(params: &mut impl super::query::QuerySource) -> Self {
        ContactFilter {
            network: params.text("network"),
            body: params.parsed("body", "a UUID"),
            district: params.district("district"),
            q: params.text("q"),
            reach: Default::default(),
            networks: None,
        }
    }

    fn restrict(&mut self, access: &super::Access) {
        self.reach = access.private_reach();
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}
