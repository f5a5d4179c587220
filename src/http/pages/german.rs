//! German wording for the pages: dates at the precision the data has, times in German local time, and
//! the names of the domain's kinds and states.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};

use crate::domain::calendar::EventTime;
use crate::domain::{BodyType, ContractKind, MeetingStatus, PartialDate, RegionKind, Timestamp};

const MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

/// `2008`, `Juli 2019` or `19. November 2013`: never more precise than the data.
pub fn date(date: &PartialDate) -> String {
    let text = date.to_string();
    let mut parts = text.split('-').map(|part| part.parse::<usize>().unwrap_or_default());
    let (year, month, day) = (parts.next(), parts.next(), parts.next());
    let month_name = |m: usize| MONTHS.get(m.wrapping_sub(1)).copied().unwrap_or_default();
    match (year.unwrap_or_default(), month, day) {
        (year, Some(month), Some(day)) => format!("{day}. {} {year}", month_name(month)),
        (year, Some(month), None) => format!("{} {year}", month_name(month)),
        (year, _, _) => year.to_string(),
    }
}

/// A meeting's time at its precision; a time of day as given, in the offset it was given in.
pub fn event_time(time: &EventTime) -> String {
    match time {
        EventTime::Date(day) => date(day),
        EventTime::At { at, .. } => {
            format!(
                "{}. {} {}, {:02}:{:02} Uhr",
                at.day(),
                MONTHS[at.month0() as usize],
                at.year(),
                at.hour(),
                at.minute()
            )
        }
    }
}

pub fn meeting_status(status: MeetingStatus) -> &'static str {
    match status {
        MeetingStatus::Planned => "geplant",
        MeetingStatus::Held => "hat stattgefunden",
        MeetingStatus::Cancelled => "abgesagt",
        MeetingStatus::Postponed => "verschoben",
    }
}

/// The last Sunday of a month, at 01:00 UTC: when German summer time starts (March) and ends (October).
fn last_sunday_0100_utc(year: i32, month: u32) -> chrono::DateTime<Utc> {
    let first_of_next = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("March and October are followed by a month");
    let mut day = first_of_next - Duration::days(1);
    while day.weekday() != Weekday::Sun {
        day -= Duration::days(1);
    }
    Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).expect("01:00 exists"))
}

/// A point in time in German local time (MEZ/MESZ), e.g. `1. Dezember 2026, 10:17 Uhr`.
pub fn time(timestamp: &Timestamp) -> String {
    let utc = timestamp.0;
    let summer = utc >= last_sunday_0100_utc(utc.year(), 3) && utc < last_sunday_0100_utc(utc.year(), 10);
    let local = utc.naive_utc() + Duration::hours(if summer { 2 } else { 1 });
    format!(
        "{}. {} {}, {:02}:{:02} Uhr",
        local.day(),
        MONTHS[local.month0() as usize],
        local.year(),
        local.hour(),
        local.minute()
    )
}

pub fn contract_kind(kind: ContractKind) -> &'static str {
    match kind {
        ContractKind::Founding => "Kooperationsvertrag zur Gründung",
        ContractKind::Resumption => "Wiederaufnahme des Kooperationsvertrags",
        ContractKind::Renewal => "Verlängerung des Kooperationsvertrags",
        ContractKind::Amendment => "Änderung des Kooperationsvertrags",
    }
}

pub fn body_type(kind: BodyType) -> &'static str {
    match kind {
        BodyType::Bildungskonferenz => "Bildungskonferenz",
        BodyType::Lenkungskreis => "Lenkungskreis",
        BodyType::Bildungsbuero => "Regionales Bildungsbüro",
        BodyType::Arbeitsgruppe => "Arbeitsgruppe",
        BodyType::Other => "Weiteres Gremium",
    }
}

pub fn region_kind(kind: RegionKind) -> &'static str {
    match kind {
        RegionKind::Kreis => "Kreis",
        RegionKind::KreisfreieStadt => "Kreisfreie Stadt",
        RegionKind::Staedteregion => "Städteregion",
    }
}

/// A key to sort region names the way a German index does: umlauts as their base letters, and "Kreis …"
/// under the name that follows.
pub fn sort_key(name: &str) -> String {
    let name = name.strip_prefix("Kreis ").unwrap_or(name);
    name.to_lowercase().replace('ä', "a").replace('ö', "o").replace('ü', "u").replace('ß', "ss")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_their_precision() {
        let d = |text: &str| date(&text.parse().unwrap());
        assert_eq!(d("2008"), "2008");
        assert_eq!(d("2019-07"), "Juli 2019");
        assert_eq!(d("2013-11-19"), "19. November 2013");
        assert_eq!(d("2019-07-08"), "8. Juli 2019");
        assert_eq!(d("2020-03"), "März 2020");
    }

    #[test]
    fn times_are_german_local_time() {
        let t = |text: &str| time(&Timestamp::parse(text).unwrap());
        assert_eq!(t("2026-12-01T09:17:00Z"), "1. Dezember 2026, 10:17 Uhr");
        assert_eq!(t("2026-07-01T09:17:00Z"), "1. Juli 2026, 11:17 Uhr");
        // Summer time of 2026: from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(t("2026-03-29T00:59:00Z"), "29. März 2026, 01:59 Uhr");
        assert_eq!(t("2026-03-29T01:00:00Z"), "29. März 2026, 03:00 Uhr");
        assert_eq!(t("2026-10-25T00:59:00Z"), "25. Oktober 2026, 02:59 Uhr");
        assert_eq!(t("2026-10-25T01:00:00Z"), "25. Oktober 2026, 02:00 Uhr");
    }

    #[test]
    fn regions_sort_like_an_index() {
        let mut names = vec!["Kreis Wesel", "Duisburg", "Kreis Düren", "Bonn", "Oberbergischer Kreis"];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(names, ["Bonn", "Duisburg", "Kreis Düren", "Oberbergischer Kreis", "Kreis Wesel"]);
    }
}
