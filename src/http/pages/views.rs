//! The pages' templates (askama, escaping by default) and the view models they show, built from the
//! registry's records as an anonymous reader sees them.

use askama::Template;
use serde_json::{Value, json};

use super::geo::{self, Geometry};
use super::german;
use crate::domain::{
    Address, Body, Contact, Contract, District, Handlungsfeld, Meeting, MeetingLocation, MeetingStatus, Network,
    NetworkStatus, PartialDate, Party, Region, RegionKind, Source, Timestamp,
};

/// What every page's `<head>` and footer need.
pub struct PageMeta {
    pub title: String,
    pub description: String,
    /// The absolute URL of the page, for `rel=canonical` and Open Graph (`None`: not to be indexed, e.g.
    /// embeds and error pages).
    pub canonical: Option<String>,
    /// schema.org JSON-LD, already serialised for a `<script>` element.
    pub json_ld: Option<String>,
    /// The page shows the map: the BKG's attribution must be there.
    pub shows_map: bool,
    /// An embed: links open in the embedding page's window, the site header and footer are compact.
    pub embedded: bool,
}

impl PageMeta {
    /// The meta of a page about `subject` in the site's title scheme: not indexed, no JSON-LD, no map.
    pub fn about(subject: impl std::fmt::Display, description: String) -> Self {
        PageMeta {
            title: format!("{subject} – Regionale Bildungsnetzwerke NRW"),
            description,
            canonical: None,
            json_ld: None,
            shows_map: false,
            embedded: false,
        }
    }
}

/// A date at the data's precision: ISO 8601 for machines (`<time datetime>`), German for people.
pub struct DateView {
    pub iso: String,
    pub text: String,
}

impl DateView {
    pub fn of(date: &PartialDate) -> DateView {
        DateView { iso: date.to_string(), text: german::date(date) }
    }

    pub fn of_time(time: &Timestamp) -> DateView {
        DateView { iso: time.to_rfc3339(), text: german::time(time) }
    }
}

/// The state an area of the map is drawn in: the CSS class and its legend.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AreaState {
    Active,
    Inactive,
    None,
}

impl AreaState {
    pub fn class(&self) -> &'static str {
        match self {
            AreaState::Active => "aktiv",
            AreaState::Inactive => "inaktiv",
            AreaState::None => "ohne",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            AreaState::Active => "Aktives Regionales Bildungsnetzwerk",
            AreaState::Inactive => "Bildungsnetzwerk derzeit nicht aktiv",
            AreaState::None => "Kein Bildungsnetzwerk im Register",
        }
    }
}

/// One Kreis or kreisfreie Stadt on the map and in the list below it.
pub struct MapArea {
    pub key: String,
    pub name: String,
    /// What the list says after the name: the network's name, or that there is none.
    pub network_name: Option<String>,
    pub href: String,
    pub path: &'static str,
    pub state: AreaState,
}

/// The regions of one Regierungsbezirk.
pub struct DistrictGroup {
    pub key: i32,
    pub name: String,
    pub areas: Vec<MapArea>,
}

/// The map: its areas in the order of the list (by Regierungsbezirk, then alphabetically), which is
/// also the keyboard order.
pub struct MapView {
    pub view_box: String,
    pub groups: Vec<DistrictGroup>,
    pub states: Vec<(AreaState, usize)>,
    pub embedded: bool,
    pub caption: String,
}

impl MapView {
    /// The map of all of NRW (`district: None`) or of one Regierungsbezirk.
    pub fn build(
        geometry: &'static Geometry,
        districts: &[District],
        regions: &[Region],
        networks: &[Network],
        district: Option<i32>,
        embedded: bool,
    ) -> MapView {
        let mut groups = Vec::new();
        let mut counts = [0usize; 3];
        for d in districts.iter().filter(|d| district.is_none_or(|key| key == d.key)) {
            let mut areas: Vec<MapArea> = regions
                .iter()
                .filter(|r| r.district_key == d.key)
                .filter_map(|region| {
                    let area = geometry.area(&region.key)?;
                    let network = networks.iter().find(|n| n.region_key == region.key);
                    let state = match network.map(|n| n.status) {
                        Some(NetworkStatus::Active) => AreaState::Active,
                        Some(NetworkStatus::Inactive) => AreaState::Inactive,
                        None => AreaState::None,
                    };
                    counts[state as usize] += 1;
                    Some(MapArea {
                        key: region.key.clone(),
                        name: region.name.clone(),
                        network_name: network.map(|n| n.name.to_string()),
                        href: network
                            .map_or_else(|| format!("/regionen/{}", region.key), |n| format!("/netzwerke/{}", n.slug)),
                        path: &area.path,
                        state,
                    })
                })
                .collect();
            areas.sort_by_key(|a| german::sort_key(&a.name));
            groups.push(DistrictGroup { key: d.key, name: d.name.clone(), areas });
        }
        let states = [AreaState::Active, AreaState::Inactive, AreaState::None]
            .into_iter()
            .map(|state| (state, counts[state as usize]))
            .collect();
        let caption = match groups.as_slice() {
            [one] if district.is_some() => {
                format!("Karte der Kreise und kreisfreien Städte im Regierungsbezirk {}", one.name)
            }
            _ => "Karte der 53 Kreise und kreisfreien Städte in Nordrhein-Westfalen".to_string(),
        };
        MapView { view_box: geometry.bounds_of(district).view_box(4.0), groups, states, embedded, caption }
    }

    pub fn areas(&self) -> impl Iterator<Item = &MapArea> {
        self.groups.iter().flat_map(|g| g.areas.iter())
    }
}

#[derive(Template)]
#[template(path = "map.html")]
pub struct MapPage {
    pub page: PageMeta,
    pub map: MapView,
    pub last_change: Option<DateView>,
}

#[derive(Template)]
#[template(path = "embed_map.html")]
pub struct EmbedMapPage {
    pub page: PageMeta,
    pub map: MapView,
}

/// One contract of a network's history.
pub struct ContractView {
    pub kind: &'static str,
    pub signed_on: Option<DateView>,
    pub signatories: Vec<String>,
    pub document_url: Option<String>,
    pub notes: Option<String>,
}

/// A channel: e-mail, phone, website, address; each shown only when there.
pub struct Channels {
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The phone number for a `tel:` link: digits and a leading `+` only.
    pub phone_link: Option<String>,
    pub website: Option<String>,
    pub address: Option<String>,
}

impl Channels {
    fn new(email: Option<&str>, phone: Option<&str>, website: Option<&str>, address: &Option<Address>) -> Self {
        let address = address.as_ref().map(|a| {
            let city =
                [a.postal_code.as_deref(), a.city.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            [a.street.as_deref(), Some(city.as_str())]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let phone_link = phone.map(|p| {
            p.chars()
                .enumerate()
                .filter(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '+'))
                .map(|(_, c)| c)
                .collect()
        });
        Channels {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            phone_link,
            website: website.map(str::to_owned),
            address: address.filter(|a| !a.is_empty()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none() && self.website.is_none() && self.address.is_none()
    }
}

pub struct BodyView {
    pub kind: &'static str,
    pub name: String,
    pub description: Option<String>,
    pub channels: Channels,
}

pub struct ContactView {
    pub name: String,
    pub function: Option<String>,
    pub organisation: Option<String>,
    pub channels: Channels,
}

impl ContactView {
    /// A contact as the page shows it. `contact` must already be as an anonymous reader sees it (internal
    /// contacts left out, withheld channels removed); this only formats.
    fn of(contact: &Contact) -> ContactView {
        ContactView {
            name: contact.name.to_string(),
            function: contact.function.clone().map(Into::into),
            organisation: contact.organisation.clone().map(Into::into),
            channels: Channels::new(contact.email.as_deref(), contact.phone.as_deref(), None, &contact.address),
        }
    }
}

pub struct HandlungsfeldView {
    pub name: String,
    pub description: Option<String>,
}

pub struct SourceView {
    pub title: String,
    pub publisher: Option<String>,
    pub date: Option<DateView>,
    pub url: Option<String>,
}

fn sources(sources: &[Source]) -> Vec<SourceView> {
    sources
        .iter()
        .map(|s| SourceView {
            title: s.title.to_string(),
            publisher: s.publisher.clone().map(Into::into),
            date: s.date.as_ref().map(DateView::of),
            url: s.url.clone().map(Into::into),
        })
        .collect()
}

/// Everything a network's page and card show.
pub struct NetworkView {
    pub slug: String,
    pub name: String,
    pub active: bool,
    pub region_name: String,
    pub region_kind: &'static str,
    /// The region's name, with "kreisfreie Stadt" after the name of a city.
    pub region_label: String,
    pub district_key: Option<i32>,
    pub district_name: Option<String>,
    pub authority: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    pub founded_on: Option<DateView>,
    pub contracts: Vec<ContractView>,
    pub bodies: Vec<BodyView>,
    pub handlungsfelder: Vec<HandlungsfeldView>,
    pub contacts: Vec<ContactView>,
    /// The next meetings, soonest first.
    pub meetings: Vec<MeetingView>,
    /// The Servicestelle of the Bezirksregierung: who supports the network.
    pub servicestellen: Vec<ContactView>,
    pub sources: Vec<SourceView>,
    pub updated: DateView,
}

/// The records behind a network's page, as an anonymous reader sees them.
pub struct NetworkData {
    pub network: Network,
    pub region: Option<Region>,
    pub district: Option<District>,
    pub contracts: Vec<Contract>,
    pub bodies: Vec<Body>,
    pub handlungsfelder: Vec<Handlungsfeld>,
    pub contacts: Vec<Contact>,
    /// The district's own contacts (not those of a network or body).
    pub district_contacts: Vec<Contact>,
    /// The meetings that have not ended yet, soonest first.
    pub meetings: Vec<Meeting>,
}

/// A meeting on a network's page.
pub struct MeetingView {
    pub name: String,
    /// ISO 8601 as given, for `<time datetime>`.
    pub iso: String,
    pub when: String,
    pub until: Option<String>,
    pub status: &'static str,
    pub location: Option<String>,
    pub url: Option<String>,
}

impl NetworkData {
    /// When anything shown on the page last changed.
    fn updated(&self) -> Timestamp {
        let n = &self.network;
        std::iter::once(n.updated_at)
            .chain(self.contracts.iter().map(|c| c.updated_at))
            .chain(self.bodies.iter().map(|b| b.updated_at))
            .chain(self.handlungsfelder.iter().map(|h| h.updated_at))
            .chain(self.contacts.iter().map(|c| c.updated_at))
            .chain(self.meetings.iter().map(|m| m.updated_at))
            .max()
            .unwrap_or(n.updated_at)
    }
}

impl NetworkView {
    pub fn build(data: &NetworkData) -> NetworkView {
        let network = &data.network;
        let mut contracts: Vec<&Contract> = data.contracts.iter().collect();
        // Oldest first; contracts without a known date at the end.
        contracts.sort_by_key(|c| (c.signed_on.is_none(), c.signed_on));
        let mut bodies: Vec<&Body> = data.bodies.iter().collect();
        bodies.sort_by_key(|b| b.body_type as u8);
        NetworkView {
            slug: network.slug.to_string(),
            name: network.name.to_string(),
            active: network.status == NetworkStatus::Active,
            region_name: data.region.as_ref().map_or_else(|| network.region_key.to_string(), |r| r.name.clone()),
            region_kind: data.region.as_ref().map_or("Region", |r| german::region_kind(r.kind)),
            region_label: match &data.region {
                Some(r) if r.kind == RegionKind::KreisfreieStadt => format!("{} (kreisfreie Stadt)", r.name),
                Some(r) => r.name.clone(),
                None => network.region_key.to_string(),
            },
            district_key: data.district.as_ref().map(|d| d.key),
            district_name: data.district.as_ref().map(|d| d.name.clone()),
            authority: data.district.as_ref().map(|d| d.authority.clone()),
            website: network.website.clone().map(Into::into),
            description: network.description.clone().map(Into::into),
            founded_on: network.founded_on.as_ref().map(DateView::of),
            contracts: contracts
                .into_iter()
                .map(|c| ContractView {
                    kind: german::contract_kind(c.kind),
                    signed_on: c.signed_on.as_ref().map(DateView::of),
                    signatories: c
                        .signatories
                        .iter()
                        .map(|s| {
                            let party = match s.party {
                                Party::Land => "für das Land NRW",
                                Party::Kommune => "für die Kommune",
                            };
                            match &s.role {
                                Some(role) => format!("{} ({role}, {party})", s.name),
                                None => format!("{} ({party})", s.name),
                            }
                        })
                        .collect(),
                    document_url: c.document_url.clone().map(Into::into),
                    notes: c.notes.clone().map(Into::into),
                })
                .collect(),
            bodies: bodies
                .into_iter()
                .map(|b| BodyView {
                    kind: german::body_type(b.body_type),
                    name: b.name.to_string(),
                    description: b.description.clone().map(Into::into),
                    channels: Channels::new(b.email.as_deref(), b.phone.as_deref(), b.website.as_deref(), &b.address),
                })
                .collect(),
            handlungsfelder: data
                .handlungsfelder
                .iter()
                .map(|h| HandlungsfeldView {
                    name: h.name.to_string(),
                    description: h.description.clone().map(Into::into),
                })
                .collect(),
            contacts: data.contacts.iter().map(ContactView::of).collect(),
            meetings: data
                .meetings
                .iter()
                .map(|m| MeetingView {
                    name: m.name.to_string(),
                    iso: m.start.to_string(),
                    when: german::event_time(&m.start),
                    until: m.end.as_ref().map(german::event_time),
                    status: german::meeting_status(m.status),
                    location: m.location.as_ref().map(MeetingLocation::text).filter(|t| !t.is_empty()),
                    url: m.url.as_deref().map(str::to_string),
                })
                .collect(),
            servicestellen: data.district_contacts.iter().map(ContactView::of).collect(),
            sources: sources(&network.sources),
            updated: DateView::of_time(&data.updated()),
        }
    }

    /// schema.org JSON-LD: the network as an organisation serving its Kreis, under its Bezirksregierung.
    pub fn json_ld(&self, data: &NetworkData, page_url: &str) -> Value {
        let network = &data.network;
        let mut points: Vec<Value> = Vec::new();
        let mut point = |name: &str, kind: &str, email: Option<&str>, phone: Option<&str>| {
            if email.is_none() && phone.is_none() {
                return;
            }
            let mut p = json!({"@type": "ContactPoint", "name": name, "contactType": kind, "availableLanguage": "de"});
            if let Some(email) = email {
                p["email"] = json!(email);
            }
            if let Some(phone) = phone {
                p["telephone"] = json!(phone);
            }
            points.push(p);
        };
        for body in &data.bodies {
            point(&body.name, german::body_type(body.body_type), body.email.as_deref(), body.phone.as_deref());
        }
        for contact in &data.contacts {
            let function = contact.function.as_deref().unwrap_or("Kontakt");
            point(&contact.name, function, contact.email.as_deref(), contact.phone.as_deref());
        }
        let mut document = json!({
            "@context": "https://schema.org",
            "@type": "Organization",
            "@id": format!("{page_url}#netzwerk"),
            "name": network.name,
            "url": network.website.as_deref().unwrap_or(page_url),
            "mainEntityOfPage": page_url,
            "areaServed": {
                "@type": "AdministrativeArea",
                "name": self.region_name,
                "identifier": network.region_key,
            },
            "knowsAbout": data.handlungsfelder.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        });
        if let Some(founded) = &network.founded_on {
            document["foundingDate"] = json!(founded.to_string());
        }
        if let Some(description) = &network.description {
            document["description"] = json!(description);
        }
        if !points.is_empty() {
            document["contactPoint"] = Value::Array(points);
        }
        if let Some(authority) = &self.authority {
            document["parentOrganization"] = json!({"@type": "GovernmentOrganization", "name": authority});
        }
        if !data.meetings.is_empty() {
            let id = format!("{page_url}#netzwerk");
            document["event"] = data.meetings.iter().map(|m| meeting_json_ld(m, &id)).collect();
        }
        document
    }
}

/// A meeting as a schema.org `Event` organised by the network (`organizer` names the network's node).
fn meeting_json_ld(meeting: &Meeting, organizer: &str) -> Value {
    let status = match meeting.status {
        MeetingStatus::Planned | MeetingStatus::Held => "EventScheduled",
        MeetingStatus::Cancelled => "EventCancelled",
        MeetingStatus::Postponed => "EventPostponed",
    };
    let mut event = json!({
        "@type": "Event",
        "name": meeting.name,
        "startDate": meeting.start.to_string(),
        "eventStatus": format!("https://schema.org/{status}"),
        "organizer": {"@id": organizer},
    });
    if let Some(end) = &meeting.end {
        event["endDate"] = json!(end.to_string());
    }
    if let Some(description) = &meeting.description {
        event["description"] = json!(description);
    }
    if let Some(url) = &meeting.url {
        event["url"] = json!(url);
    }
    let location = meeting.location.as_ref();
    let mut places = Vec::new();
    if let Some(address) = location.and_then(|l| l.address.as_ref()) {
        let mut postal = json!({"@type": "PostalAddress", "addressCountry": "DE"});
        for (key, value) in [
            ("streetAddress", address.street.as_deref()),
            ("postalCode", address.postal_code.as_deref()),
            ("addressLocality", address.city.as_deref()),
        ] {
            if let Some(value) = value {
                postal[key] = json!(value);
            }
        }
        places.push(json!({"@type": "Place", "address": postal}));
    }
    if let Some(url) = location.and_then(|l| l.online_url.as_ref()) {
        places.push(json!({"@type": "VirtualLocation", "url": url}));
    }
    let mode = match (places.len(), location.is_some_and(|l| l.online_url.is_some())) {
        (2, _) => Some("MixedEventAttendanceMode"),
        (1, true) => Some("OnlineEventAttendanceMode"),
        (1, false) => Some("OfflineEventAttendanceMode"),
        _ => None,
    };
    if let Some(mode) = mode {
        event["eventAttendanceMode"] = json!(format!("https://schema.org/{mode}"));
    }
    match places.len() {
        0 => {}
        1 => event["location"] = places.remove(0),
        _ => event["location"] = Value::Array(places),
    }
    event
}

/// Serialises JSON for a `<script type="application/ld+json">` element: `<`, `>` and `&` are escaped as
/// JSON `\u` sequences, so no text of the data can end the element.
pub fn script_json(value: &Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[derive(Template)]
#[template(path = "network.html")]
pub struct NetworkPage {
    pub page: PageMeta,
    pub net: NetworkView,
}

#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPage {
    pub page: PageMeta,
    pub net: NetworkView,
}

/// A region without a network in the registry.
#[derive(Template)]
#[template(path = "region.html")]
pub struct RegionPage {
    pub page: PageMeta,
    pub name: String,
    pub kind: &'static str,
    pub district_name: Option<String>,
    pub authority: Option<String>,
    pub servicestellen: Vec<ContactView>,
}

impl RegionPage {
    pub fn build(page: PageMeta, region: &Region, district: Option<&District>, contacts: &[Contact]) -> RegionPage {
        RegionPage {
            page,
            name: region.name.clone(),
            kind: german::region_kind(region.kind),
            district_name: district.map(|d| d.name.clone()),
            authority: district.map(|d| d.authority.clone()),
            servicestellen: contacts.iter().map(ContactView::of).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: PageMeta,
    pub status: u16,
    pub heading: String,
    pub message: String,
}

/// The geometry the pages draw.
pub fn geometry() -> &'static Geometry {
    geo::nrw()
}
