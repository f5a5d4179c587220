//! A meeting of a network's body: above all the annual Bildungskonferenz, also the Lenkungskreis.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::calendar::{CalendarEvent, EventStatus, EventTime};
use super::common::{Address, Source, string_enum};
use super::fields::{LongText, Name, WebUrl};
use super::validation::{Fields, ValidationErrors};
use super::{Reference, Resource, ResourceKind};

string_enum! {
    /// Where a meeting stands.
    MeetingStatus {
        Planned = "planned",
        Held = "held",
        Cancelled = "cancelled",
        Postponed = "postponed",
    }
}

/// Where a meeting takes place: an address, an online URL, or both (a hybrid meeting).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Where to join online.
    ///
    /// Example: `https://konferenz.kreis.example/bildungskonferenz`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_url: Option<WebUrl>,
}

impl MeetingLocation {
    /// One line for a calendar's LOCATION and the pages: the address, then the online URL.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(address) = &self.address {
            let town = [address.postal_code.as_deref(), address.city.as_deref()].into_iter().flatten();
            let town = town.collect::<Vec<_>>().join(" ");
            let street = address.street.as_deref().map(str::to_string);
            let line = [street, Some(town).filter(|t| !t.is_empty())].into_iter().flatten();
            parts.push(line.collect::<Vec<_>>().join(", "));
        }
        if let Some(url) = &self.online_url {
            parts.push(url.to_string());
        }
        parts.join(" / ")
    }
}

super::record! {
    /// A meeting of a network, usually of one of its bodies.
    pub struct Meeting {
        pub network_id: Uuid,
        /// The body that meets: a body of the same network, usually its Bildungskonferenz.
        pub body_id: Option<Uuid>,
        /// Example: `Bildungskonferenz 2027`
        #[schema(max_length = 300)]
        pub name: Name,
        pub start: EventTime,
        /// Of the same kind as `start` (both date-times, or both dates) and not before it.
        pub end: Option<EventTime>,
        pub status: MeetingStatus,
        pub location: Option<MeetingLocation>,
        #[schema(max_length = 5000)]
        pub description: Option<LongText>,
        /// The announcement.
        pub url: Option<WebUrl>,
        /// The results (minutes, presentations).
        pub documentation_url: Option<WebUrl>,
        pub sources: Vec<Source>,
        /// The number of changes since the meeting was created: the SEQUENCE of its calendar entry.
        #[serde(skip)]
        pub sequence: u32,
    }
}

/// The writable fields of a meeting.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"networkId": "db672378-2759-4224-a54c-4415f60666d0", "name": "Bildungskonferenz 2027", "start": "2027-03-15T09:00:00+01:00", "end": "2027-03-15T16:00:00+01:00", "status": "planned"}))]
pub struct MeetingInput {
    pub network_id: Uuid,
    pub body_id: Option<Uuid>,
    #[schema(max_length = 300)]
    pub name: Name,
    pub start: EventTime,
    pub end: Option<EventTime>,
    pub status: MeetingStatus,
    pub location: Option<MeetingLocation>,
    #[schema(max_length = 5000)]
    pub description: Option<LongText>,
    pub url: Option<WebUrl>,
    pub documentation_url: Option<WebUrl>,
    #[schema(required = false)]
    pub sources: Vec<Source>,
}

/// The first or last instant of a time as sortable text: fixed width (years have four digits), so text
/// order is time order on every backend.
pub fn instant_key(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S%6f").to_string()
}

/// The last instant a time can mean (inclusive): a moment itself, a date its period's last microsecond.
fn last_instant(time: &EventTime) -> DateTime<Utc> {
    match time {
        EventTime::At { .. } => time.latest(),
        EventTime::Date(_) => time.latest() - TimeDelta::microseconds(1),
    }
}

/// What lists sort by: the first instant of a start, then its precision, the less precise first as
/// [`EventTime`] orders ("2027" before "2027-01" before "2027-01-01" before a time at its midnight), so
/// that a year and the day it begins with come in that order, not in the order of their ids.
pub fn start_key(start: &EventTime) -> String {
    let precision = match start {
        EventTime::Date(date) if date.day().is_some() => '2',
        EventTime::Date(date) if date.after_last_day() - date.first_day() <= TimeDelta::days(31) => '1',
        EventTime::Date(_) => '0',
        EventTime::At { .. } => '3',
    };
    format!("{}{precision}", instant_key(start.earliest()))
}

/// The bounds `from` and `to` filters compare with: a meeting is in a range if its span (start to end,
/// each as wide as its precision) overlaps it.
pub fn from_key(from: &EventTime) -> String {
    instant_key(from.earliest())
}

/// Compared with start keys: past every precision digit of a start at the same instant.
pub fn to_key(to: &EventTime) -> String {
    format!("{}9", instant_key(last_instant(to)))
}

impl MeetingInput {
    /// What lists sort by: the first instant of `start`.
    pub fn start_key(&self) -> String {
        start_key(&self.start)
    }

    /// The last instant of the meeting's span: of `end`, or of `start` without one.
    pub fn end_key(&self) -> String {
        instant_key(last_instant(self.end.as_ref().unwrap_or(&self.start)))
    }
}

impl Meeting {
    /// The meeting as an event of a calendar feed.
    pub fn calendar_event(&self) -> CalendarEvent<'_> {
        CalendarEvent {
            id: self.id,
            sequence: self.sequence,
            created: self.created_at,
            updated: self.updated_at,
            summary: &self.name,
            description: self.description.as_deref(),
            location: self.location.as_ref().map(MeetingLocation::text).filter(|text| !text.is_empty()),
            url: self.url.as_deref(),
            status: match self.status {
                MeetingStatus::Planned | MeetingStatus::Held => EventStatus::Confirmed,
                MeetingStatus::Postponed => EventStatus::Tentative,
                MeetingStatus::Cancelled => EventStatus::Cancelled,
            },
            start: &self.start,
            end: self.end.as_ref(),
        }
    }
}

/// A location's parts in columns of their own.
impl super::dataset::CsvColumn {
    const LOCATION_STREET: Self = Self::location("locationStreet", "address.street");
    const LOCATION_POSTAL_CODE: Self = Self::location("locationPostalCode", "address.postalCode");
    const LOCATION_CITY: Self = Self::location("locationCity", "address.city");
    const LOCATION_ONLINE_URL: Self = Self::location("locationOnlineUrl", "onlineUrl");

    const fn location(header: &'static str, part: &'static str) -> Self {
        Self { header, field: "location", text: super::dataset::CellText::Part(part) }
    }
}

impl Resource for Meeting {
    const DATASET: super::dataset::Section =
        super::dataset::Section { place: 5, references: &[("networkId", ResourceKind::Networks)], by_slug: false };
    #[rustfmt::skip]
    const CSV_COLUMNS: &'static [super::dataset::CsvColumn] = super::dataset::csv_columns![
        id, networkId, bodyId, name, start, end, status, (LOCATION_STREET), (LOCATION_POSTAL_CODE),
        (LOCATION_CITY), (LOCATION_ONLINE_URL), description, url, documentationUrl, (SOURCES), createdAt, updatedAt
    ];
    const KIND: ResourceKind = ResourceKind::Meetings;
    const DESCRIPTION: &'static str =
        "Meetings of the bodies, above all the annual Bildungskonferenz, also as calendar feeds.";
    const NOUN: &'static str = "meeting";
    const WRITABLE: &'static [&'static str] = &[
        "networkId",
        "bodyId",
        "name",
        "start",
        "end",
        "status",
        "location",
        "description",
        "url",
        "documentationUrl",
        "sources",
    ];
    type Input = MeetingInput;

    super::record_version!();

    fn parse_input(value: &Value) -> Result<MeetingInput, ValidationErrors> {
        let mut f = Fields::new(value, Self::WRITABLE, Self::READ_ONLY);
        let network_id = f.uuid("networkId");
        let body_id = f.opt_uuid("bodyId");
        let name = f.required("name");
        let start = event_time(&mut f, value, "start");
        if start.is_none() && value.get("start").is_none_or(Value::is_null) {
            f.error("start", "is required");
        }
        let end = event_time(&mut f, value, "end");
        if let (Some(start), Some(end)) = (&start, &end)
            && let Err(message) = start.may_end_at(end)
        {
            f.error("end", message);
        }
        let status = f.enumeration("status", MeetingStatus::ALL);
        let location = value.get("location").filter(|v| !v.is_null()).and_then(|raw| {
            f.object(raw, "location".into(), &["address", "onlineUrl"], |l| {
                let address = l.opt_address("address");
                let online_url = l.opt("onlineUrl");
                if ["address", "onlineUrl"].iter().all(|key| raw.get(*key).is_none_or(Value::is_null)) {
                    l.error("address", "a location needs an address, an onlineUrl or both");
                }
                (address.is_some() || online_url.is_some()).then_some(MeetingLocation { address, online_url })
            })
        });
        let description = f.opt("description");
        let url = f.opt("url");
        let documentation_url = f.opt("documentationUrl");
        let sources = f.sources("sources");
        let input = (|| {
            Some(MeetingInput {
                network_id: network_id?,
                body_id,
                name: name?,
                start: start?,
                end,
                status: status?,
                location,
                description,
                url,
                documentation_url,
                sources,
            })
        })();
        f.finish(input)
    }

    fn references(input: &MeetingInput) -> Vec<Reference> {
        let mut refs = vec![Reference::new("networkId", ResourceKind::Networks, input.network_id)];
        if let Some(body) = input.body_id {
            refs.push(Reference::new("bodyId", ResourceKind::Bodies, body));
        }
        refs
    }

    fn network_of(input: &MeetingInput) -> Option<Uuid> {
        Some(input.network_id)
    }
}

/// A time field: a date-time with offset, or a date of year, month or day precision.
fn event_time(f: &mut Fields, value: &Value, name: &str) -> Option<EventTime> {
    let raw = value.as_object()?.get(name).filter(|v| !v.is_null())?;
    match raw.as_str().map(str::parse::<EventTime>) {
        Some(Ok(time)) => Some(time),
        _ => {
            f.error(
                name,
                "must be a date-time with offset (2027-03-15T09:00:00+01:00), a day (2027-03-15) or a planning \
                 date of reduced precision (2027-03, 2027)",
            );
            None
        }
    }
}

/// Filters of `GET /v1/meetings`; they combine with AND.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeetingFilter {
    /// UUID or slug of the network.
    pub network: Option<String>,
    /// UUID of the body.
    pub body: Option<Uuid>,
    /// Regierungsbezirk key (1, 3, 5, 7, 9): the meetings of its networks.
    pub district: Option<i32>,
    pub status: Option<MeetingStatus>,
    /// Only meetings that end at or after this time (a date counts from its first day). The same syntax
    /// as `start`.
    #[param(value_type = Option<EventTime>)]
    pub from: Option<EventTime>,
    /// Only meetings that begin at or before this time (a date counts to its last day). The same syntax
    /// as `start`.
    #[param(value_type = Option<EventTime>)]
    pub to: Option<EventTime>,
    /// Only the meetings of these networks (a page of networks); not a query parameter.
    #[param(ignore)]
    pub networks: Option<Vec<Uuid>>,
}

impl super::query::FromQuery for MeetingFilter {
    fn read(params: &mut impl super::query::QuerySource) -> Self {
        const TIME: &str =
            "a date-time with offset (RFC 3339) or a date: 2027-03-15T09:00:00+01:00, 2027-03-15, 2027-03 or 2027";
        MeetingFilter {
            network: params.text("network"),
            body: params.parsed("body", "a UUID"),
            district: params.district("district"),
            status: params.one_of("status", MeetingStatus::ALL),
            from: params.parsed("from", TIME),
            to: params.parsed("to", TIME),
            networks: None,
        }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_error_is_reported_at_once() {
        let errors = Meeting::parse_input(&json!({
            "networkId": "x", "name": "", "start": "15.03.2027", "status": "maybe",
            "location": {}, "url": "ftp://x", "colour": "red"
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for field in ["colour", "networkId", "name", "start", "status", "location.address", "url"] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
        let errors = Meeting::parse_input(&json!({
            "networkId": Uuid::nil(), "name": "K", "start": "2027-03-15", "end": "2027-03-14T10:00:00Z",
            "status": "planned"
        }))
        .unwrap_err();
        assert_eq!(errors.0[0].field, "end");
    }

    #[test]
    fn spans_are_as_wide_as_their_precision() {
        let input = |start: &str, end: Option<&str>| {
            let mut value = json!({"networkId": Uuid::nil(), "name": "K", "start": start, "status": "planned"});
            if let Some(end) = end {
                value["end"] = json!(end);
            }
            Meeting::parse_input(&value).unwrap()
        };
        let year = input("2027", None);
        assert_eq!((year.start_key(), year.end_key()), ("202701010000000000000".into(), "20271231235959999999".into()));
        let times = input("2027-03-15T09:00:00+01:00", Some("2027-03-15T16:00:00+01:00"));
        assert_eq!(times.start_key(), "202703150800000000003");
        assert_eq!(times.end_key(), "20270315150000000000");
        assert_eq!(times.start.to_string(), "2027-03-15T09:00:00+01:00", "kept as given");
        assert_eq!(to_key(&"2027-03".parse().unwrap()), "202703312359599999999");
        assert_eq!(input("2027-01", None).start_key(), "202701010000000000001");
        assert_eq!(input("2027-01-01", None).start_key(), "202701010000000000002");
        assert_eq!(from_key(&"2027-03".parse().unwrap()), "20270301000000000000");
    }
}
