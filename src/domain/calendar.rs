//! When something happens, as the documents say it, and its iCalendar form (RFC 5545).
//!
//! A meeting's time is a date-time with its offset ("2027-03-15T09:00:00+01:00"), a day for a whole-day
//! event ("2027-03-15"), or a planning date of reduced precision ("2027-03", "2027"). It is kept exactly as
//! given: the registry never invents a precision nor moves a time to another offset. Calendars carry the
//! events that are known at least to the day; the rest are plans, not yet entries in anyone's calendar.
//!
//! The iCalendar text is written here, by hand, because it is small and exact: escaping, line folding at
//! 75 octets on character boundaries and CRLF line ends are all RFC 5545 asks of a publisher; a crate
//! would add a dependency for these few rules.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::common::{PartialDate, Timestamp};

/// A point or span of time as given: a date-time with offset, or a date of year, month or day precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTime {
    /// An RFC 3339 date-time; `text` is what was given, `at` the instant it names.
    At { text: String, at: DateTime<FixedOffset> },
    /// A date known to the year, the month or the day.
    Date(PartialDate),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a date-time with offset (RFC 3339) nor a date of the form YYYY, YYYY-MM or YYYY-MM-DD")]
pub struct InvalidEventTime;

impl FromStr for EventTime {
    type Err = InvalidEventTime;

    fn from_str(text: &str) -> Result<Self, InvalidEventTime> {
        if !text.contains(['T', 't']) {
            return text.parse().map(EventTime::Date).map_err(|_| InvalidEventTime);
        }
        let at = DateTime::parse_from_rfc3339(text).map_err(|_| InvalidEventTime)?;
        // What the schema's pattern states, and what calendars can read: no leap second (chrono takes
        // `:60`, Python's icalendar and most apps refuse the whole feed over it), at most nine digits of a
        // second (chrono takes any number).
        let fraction = text.split_once('.').map_or(0, |(_, rest)| rest.bytes().take_while(u8::is_ascii_digit).count());
        if at.nanosecond() >= 1_000_000_000 || fraction > 9 {
            return Err(InvalidEventTime);
        }
        // Both the local and the UTC year must have four digits, or neither RFC 3339 nor RFC 5545 can
        // write the time back.
        let years = 1000..=9999;
        if !years.contains(&at.year()) || !years.contains(&at.with_timezone(&Utc).year()) {
            return Err(InvalidEventTime);
        }
        Ok(EventTime::At { text: text.to_owned(), at })
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventTime::At { text, .. } => f.write_str(text),
            EventTime::Date(date) => date.fmt(f),
        }
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl EventTime {
    /// The first instant the time can mean, in UTC: what lists sort by and `from`/`to` compare. A date
    /// counts from its first day's midnight UTC.
    pub fn earliest(&self) -> DateTime<Utc> {
        match self {
            EventTime::At { at, .. } => at.with_timezone(&Utc),
            EventTime::Date(date) => date.first_day().and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// The last instant the time can mean (exclusive), in UTC: a date lasts until its period's end.
    pub fn latest(&self) -> DateTime<Utc> {
        match self {
            EventTime::At { at, .. } => at.with_timezone(&Utc),
            EventTime::Date(date) => date.after_last_day().and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// Whether `end` may end an event that begins at `self`: the same kind of time (both date-times or
    /// both dates), and not before it.
    pub fn may_end_at(&self, end: &EventTime) -> Result<(), &'static str> {
        match (self, end) {
            (EventTime::At { at: start, .. }, EventTime::At { at: end, .. }) => {
                if end < start {
                    return Err("must not be before start");
                }
            }
            (EventTime::Date(start), EventTime::Date(end)) => {
                if end.first_day() < start.first_day() {
                    return Err("must not be before start");
                }
            }
            _ => return Err("must be of the same kind as start: both date-times with offset, or both dates"),
        }
        Ok(())
    }

    /// The event's start in iCalendar, if the time is known at least to the day.
    fn ical_start(&self) -> Option<IcalTime> {
        match self {
            EventTime::At { at, .. } => Some(IcalTime::Utc(at.with_timezone(&Utc))),
            EventTime::Date(date) => date.day().map(IcalTime::Day),
        }
    }

    /// The event's (exclusive) end in iCalendar: whole days end the morning after their last day. None
    /// for a month or a year, and for 9999-12-31, whose next day has no four-digit year to be written in.
    fn ical_end(&self) -> Option<IcalTime> {
        match self {
            EventTime::At { at, .. } => Some(IcalTime::Utc(at.with_timezone(&Utc))),
            EventTime::Date(date) => {
                date.day().and_then(|day| day.succ_opt()).filter(|next| next.year() <= 9999).map(IcalTime::Day)
            }
        }
    }
}

impl PartialOrd for EventTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By the first instant, then the less precise first ("2027" before "2027-01-01"), then by the text.
impl Ord for EventTime {
    fn cmp(&self, other: &Self) -> Ordering {
        self.earliest()
            .cmp(&other.earliest())
            .then_with(|| other.latest().cmp(&self.latest()))
            .then_with(|| self.to_string().cmp(&other.to_string()))
    }
}

/// What [`EventTime`] accepts, as a JSON Schema pattern: a date as `PartialDate` has it (real days, leap
/// years included), or a day with a time of day and an offset. Date-times keep a year from 1001 to 9998,
/// so that every offset leaves the UTC year four digits long, as the parser requires.
pub const EVENT_TIME_PATTERN: &str = concat!(
    r"^[1-9][0-9]{3}(-(0[1-9]|1[0-2]))?$",
    r"|^[1-9][0-9]{3}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))$",
    r"|^([1-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26])00)-02-29$",
    r"|^(100[1-9]|10[1-9][0-9]|1[1-9][0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])",
    r"-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))",
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    r"|^([1-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26])00)-02-29",
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
);

impl utoipa::PartialSchema for EventTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(EVENT_TIME_PATTERN))
            .description(Some(
                "A date-time with offset (RFC 3339), a date for a whole-day event, or a planning date of \
                 reduced precision (year or year-month). Returned exactly as given.",
            ))
            .examples([
                serde_json::json!("2027-03-15T09:00:00+01:00"),
                serde_json::json!("2027-03-15"),
                serde_json::json!("2027-03"),
            ])
            .into()
    }
}

impl utoipa::ToSchema for EventTime {}

/// What an event's `STATUS` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    fn as_ical(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Tentative => "TENTATIVE",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One event of a calendar feed.
#[derive(Debug, Clone)]
pub struct CalendarEvent<'a> {
    /// The record's id: the event's UID, which never changes.
    pub id: Uuid,
    /// Grows with every change of the record (RFC 5545 §3.8.7.4).
    pub sequence: u32,
    pub created: Timestamp,
    /// The last change: also the DTSTAMP, so that the feed's bytes (and its ETag) change only with the data.
    pub updated: Timestamp,
    pub summary: &'a str,
    pub description: Option<&'a str>,
    pub location: Option<String>,
    pub url: Option<&'a str>,
    pub status: EventStatus,
    pub start: &'a EventTime,
    pub end: Option<&'a EventTime>,
}

impl CalendarEvent<'_> {
    /// Whether the event can stand in a calendar: its start is known at least to the day.
    pub fn is_dated(&self) -> bool {
        self.start.ical_start().is_some()
    }
}

enum IcalTime {
    Utc(DateTime<Utc>),
    Day(NaiveDate),
}

impl IcalTime {
    /// The property with its parameters, e.g. `DTSTART;VALUE=DATE:20270315`.
    fn property(&self, name: &str) -> String {
        match self {
            IcalTime::Utc(at) => format!("{name}:{}", at.format("%Y%m%dT%H%M%SZ")),
            IcalTime::Day(day) => format!("{name};VALUE=DATE:{}", day.format("%Y%m%d")),
        }
    }
}

/// The domain part of every UID: RFC 5545 asks for a globally unique identifier, and a record's UUID with
/// the registry's name is one, whatever host serves it.
const UID_DOMAIN: &str = "rbn-registry.nrw";

/// A whole `text/calendar` document: one VEVENT per dated event (undated plans are left out).
pub fn to_ical<'a>(name: &str, events: impl IntoIterator<Item = CalendarEvent<'a>>) -> String {
    let mut out = Lines::default();
    out.line("BEGIN:VCALENDAR");
    out.line("VERSION:2.0");
    out.line("PRODID:-//rbn-registry//Regionale Bildungsnetzwerke NRW//DE");
    out.line("CALSCALE:GREGORIAN");
    out.line("METHOD:PUBLISH");
    out.line(&format!("X-WR-CALNAME:{}", escape_text(name)));
    for event in events {
        let Some(start) = event.start.ical_start() else { continue };
        // A time without an end is a moment (RFC 5545 §3.6.1). A day lasts to its end's next morning; when
        // that end is known only to the month or year (or cannot be written), it is left out, and the
        // event is the start's day (§3.6.1 again) rather than not in the calendar at all.
        let end = event.end.and_then(EventTime::ical_end).or_else(|| match start {
            IcalTime::Day(_) => event.start.ical_end(),
            IcalTime::Utc(_) => None,
        });
        out.line("BEGIN:VEVENT");
        out.line(&format!("UID:{}@{UID_DOMAIN}", event.id));
        out.line(&format!("DTSTAMP:{}", ical_utc(event.updated)));
        out.line(&start.property("DTSTART"));
        if let Some(end) = end {
            out.line(&end.property("DTEND"));
        }
        out.line(&format!("SEQUENCE:{}", event.sequence));
        out.line(&format!("CREATED:{}", ical_utc(event.created)));
        out.line(&format!("LAST-MODIFIED:{}", ical_utc(event.updated)));
        out.line(&format!("SUMMARY:{}", escape_text(event.summary)));
        if let Some(description) = event.description {
            out.line(&format!("DESCRIPTION:{}", escape_text(description)));
        }
        if let Some(location) = &event.location {
            out.line(&format!("LOCATION:{}", escape_text(location)));
        }
        if let Some(url) = event.url {
            // URL is of type URI, not TEXT: not escaped (validated URLs hold no control characters).
            out.line(&format!("URL:{url}"));
        }
        out.line(&format!("STATUS:{}", event.status.as_ical()));
        out.line("END:VEVENT");
    }
    out.line("END:VCALENDAR");
    out.0
}

fn ical_utc(at: Timestamp) -> String {
    at.0.format("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT values (RFC 5545 §3.3.11): backslash, semicolon and comma escaped, line breaks as `\n`, other
/// control characters dropped (they may not appear in content lines).
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Content lines ending in CRLF, folded so that no line is longer than 75 octets (RFC 5545 §3.1), never
/// inside a UTF-8 character.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn line(&mut self, content: &str) {
        let mut budget = 75;
        let mut used = 0;
        for c in content.chars() {
            if used + c.len_utf8() > budget {
                self.0.push_str("\r\n ");
                used = 0;
                budget = 74; // the leading space of a continuation line counts
            }
            self.0.push(c);
            used += c.len_utf8();
        }
        let _ = self.0.write_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> EventTime {
        text.parse().unwrap()
    }

    #[test]
    fn times_are_kept_exactly_as_given() {
        for text in [
            "2027-03-15T09:00:00+01:00",
            "2027-03-15T09:00:00.5-05:30",
            "2027-03-15T08:00:00Z",
            "2027-03-15",
            "2027-03",
            "2027",
        ] {
            assert_eq!(time(text).to_string(), text);
            assert_eq!(serde_json::to_value(time(text)).unwrap(), serde_json::json!(text));
        }
        for bad in [
            "2027-03-15T09:00",
            "2027-03-15T09:00:00",
            "2027-3",
            "2027-02-30",
            "15.03.2027",
            "",
            "9999-12-31T23:00:00-05:00",
            "2027-03-15T25:00:00Z",
            "2027-06-30T23:59:60Z",
            "2027-03-15T09:00:00.1234567891Z",
        ] {
            assert_eq!(bad.parse::<EventTime>(), Err(InvalidEventTime), "{bad}");
        }
    }

    #[test]
    fn the_extremes_the_pattern_allows_parse() {
        for text in [
            "1000",
            "9999-12",
            "2028-02-29",
            "1001-01-01T00:00:00+23:59",
            "9998-12-31T23:59:59.123456789-23:59",
            "2024-02-29t12:00:00z",
            "2027-03-15T09:00:00-00:00",
        ] {
            assert_eq!(time(text).to_string(), text);
        }
    }

    #[test]
    fn times_sort_by_their_first_instant_and_ends_are_checked() {
        let mut times = [time("2027-03-15T09:00:00+01:00"), time("2027-03"), time("2027"), time("2027-03-15")];
        times.sort();
        let sorted: Vec<String> = times.iter().map(ToString::to_string).collect();
        assert_eq!(sorted, ["2027", "2027-03", "2027-03-15", "2027-03-15T09:00:00+01:00"]);
        assert!(time("2027-03-15T09:00:00+01:00").may_end_at(&time("2027-03-15T08:30:00Z")).is_ok());
        assert!(time("2027-03-15T09:00:00+01:00").may_end_at(&time("2027-03-15T07:59:59Z")).is_err());
        assert!(time("2027-03-15").may_end_at(&time("2027-03-16")).is_ok());
        assert!(time("2027-03-15").may_end_at(&time("2027-03-14")).is_err());
        assert!(time("2027-03-15").may_end_at(&time("2027-03-15T18:00:00+01:00")).is_err());
    }

    fn event<'a>(start: &'a EventTime, end: Option<&'a EventTime>) -> CalendarEvent<'a> {
        let at = Timestamp::parse("2026-12-01T10:00:00Z").unwrap();
        CalendarEvent {
            id: Uuid::nil(),
            sequence: 3,
            created: at,
            updated: at,
            summary: "Bildungskonferenz 2027; Thema: Übergänge, Schule\\Beruf",
            description: Some("Zeile 1\r\nZeile 2"),
            location: Some("Rathaus, Düsseldorf".into()),
            url: Some("https://example.org/konferenz"),
            status: EventStatus::Cancelled,
            start,
            end,
        }
    }

    #[test]
    fn a_calendar_has_events_per_rfc_5545() {
        let (start, end) = (time("2027-03-15T09:00:00+01:00"), time("2027-03-15T16:00:00+01:00"));
        let day = time("2027-06-01");
        let plan = time("2027-09");
        let text = to_ical("Kreis Mettmann", [event(&start, Some(&end)), event(&day, None), event(&plan, None)]);
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'), "only CRLF line ends");
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2, "the undated plan is left out");
        for line in [
            "DTSTART:20270315T080000Z",
            "DTEND:20270315T150000Z",
            "DTSTART;VALUE=DATE:20270601",
            "DTEND;VALUE=DATE:20270602",
            "UID:00000000-0000-0000-0000-000000000000@rbn-registry.nrw",
            "DTSTAMP:20261201T100000Z",
            "SEQUENCE:3",
            "STATUS:CANCELLED",
            "LOCATION:Rathaus\\, Düsseldorf",
            "DESCRIPTION:Zeile 1\\nZeile 2",
        ] {
            assert!(text.contains(&format!("\r\n{line}\r\n")), "{line} in\n{text}");
        }
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("SUMMARY:Bildungskonferenz 2027\\; Thema: Übergänge\\, Schule\\\\Beruf\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let name = "Ä".repeat(100);
        let text = to_ical(&name, []);
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert!(text.replace("\r\n ", "").contains(&format!("X-WR-CALNAME:{name}\r\n")));
    }
}
