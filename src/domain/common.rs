//! Value types shared by several resources.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::fields::{Name, Note, PostalCode, ShortText, WebUrl};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// A date of the domain, known to the year, the month or the day (ISO 8601 reduced precision).
///
/// Sources often say only "2008" or "im Juli 2019"; the registry never invents the missing parts.
/// Ordering compares year, then month, then day, with an unknown part before any known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartialDate {
    year: u16,
    month: Option<u8>,
    day: Option<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")]
pub struct InvalidDate;

impl FromStr for PartialDate {
    type Err = InvalidDate;

    fn from_str(text: &str) -> Result<Self, InvalidDate> {
        let parts: Vec<&str> = text.split('-').collect();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let shape_ok = match parts.as_slice() {
            [y] => digits(y, 4),
            [y, m] => digits(y, 4) && digits(m, 2),
            [y, m, d] => digits(y, 4) && digits(m, 2) && digits(d, 2),
            _ => false,
        };
        if !shape_ok {
            return Err(InvalidDate);
        }
        let year: u16 = parts[0].parse().map_err(|_| InvalidDate)?;
        let month: Option<u8> = parts.get(1).map(|m| m.parse()).transpose().map_err(|_| InvalidDate)?;
        let day: Option<u8> = parts.get(2).map(|d| d.parse()).transpose().map_err(|_| InvalidDate)?;
        if !(1000..=9999).contains(&year) {
            return Err(InvalidDate);
        }
        if let Some(m) = month
            && !(1..=12).contains(&m)
        {
            return Err(InvalidDate);
        }
        if let (Some(m), Some(d)) = (month, day)
            && NaiveDate::from_ymd_opt(year.into(), m.into(), d.into()).is_none()
        {
            return Err(InvalidDate);
        }
        Ok(PartialDate { year, month, day })
    }
}

impl PartialDate {
    /// The first day of the period the date names.
    pub fn first_day(&self) -> NaiveDate {
        let (month, day) = (self.month.unwrap_or(1), self.day.unwrap_or(1));
        NaiveDate::from_ymd_opt(self.year.into(), month.into(), day.into()).expect("validated on parsing")
    }

    /// The day after the last day of the period: a year's, a month's or the day's end.
    pub fn after_last_day(&self) -> NaiveDate {
        let first = self.first_day();
        match (self.month, self.day) {
            (_, Some(_)) => first + chrono::TimeDelta::days(1),
            (Some(_), None) => first.checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX),
            (None, None) => first.checked_add_months(chrono::Months::new(12)).unwrap_or(NaiveDate::MAX),
        }
    }

    /// The day, if the date is known to the day.
    pub fn day(&self) -> Option<NaiveDate> {
        self.day.map(|_| self.first_day())
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A point in time, always UTC, serialised as RFC 3339 with microseconds and `Z`.
///
/// Truncated to microseconds on creation so that both databases store and return the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().trunc_subsecs(6))
    }

    /// Now, or a microsecond after `previous` if the clock is not past it.
    pub fn now_after(previous: Timestamp) -> Self {
        Timestamp::now().max(previous.next())
    }

    /// A microsecond later: the next time a record can have.
    pub fn next(self) -> Self {
        Timestamp(self.0 + chrono::TimeDelta::microseconds(1))
    }

    /// An RFC 3339 date-time whose UTC time is one too (years 0000 to 9999): `9999-12-31T23:59:59-01:00`
    /// is in year 10000 in UTC, which RFC 3339 cannot write.
    pub fn parse(text: &str) -> Option<Self> {
        let at = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc).trunc_subsecs(6);
        (0..=9999).contains(&at.year()).then_some(Timestamp(at))
    }

    pub fn to_rfc3339(&self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    /// The HTTP date format of `Last-Modified` (whole seconds).
    pub fn to_http_date(&self) -> String {
        self.0.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 date-time"))
    }
}

impl utoipa::PartialSchema for PartialDate {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(super::fields::patterns::PARTIAL_DATE))
            .description(Some("ISO 8601 date with reduced precision: year, year-month or full date."))
            .examples([serde_json::json!("2013-11-19"), serde_json::json!("2008")])
            .into()
    }
}

impl ToSchema for PartialDate {}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 date-time in UTC."))
            .examples([serde_json::json!("2026-11-21T12:00:00.000000Z")])
            .into()
    }
}

impl ToSchema for Timestamp {}

/// A postal address; every part is optional because sources often give only some of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Example: `Am Bonneshof 35`
    pub street: Option<ShortText>,
    /// Example: `40474`
    pub postal_code: Option<PostalCode>,
    /// Example: `Düsseldorf`
    pub city: Option<ShortText>,
}

/// Where a record's content comes from: a document, its publisher and date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// File name or identifier of the document.
    ///
    /// Example: `000_5f1d657e03a14db8.txt`
    pub document: Option<ShortText>,
    /// Example: `50. Regionales Bildungsnetzwerk im Kreis Mettmann`
    pub title: Name,
    /// Example: `Ministerium für Schule und Weiterbildung NRW`
    pub publisher: Option<ShortText>,
    pub date: Option<PartialDate>,
    /// Example: `https://www.schulministerium.nrw/`
    pub url: Option<WebUrl>,
    /// What a reader should know about the source, e.g. why a field is left open. Absent when there is none.
    ///
    /// Example: `Dokument 000 nennt keinen Herausgeber; deshalb bleibt publisher leer.`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Note>,
}

/// Declares a closed set of string values: `FromStr`, `as_str`, serde and OpenAPI from one list.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().copied()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(text: &str) -> Result<Self, ()> {
                match text { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc_3339_in_utc_or_refused() {
        let latest = Timestamp::parse("9999-12-31T23:59:59.999999Z").unwrap();
        assert_eq!(latest.to_rfc3339(), "9999-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59+01:00").unwrap().to_rfc3339(), "9999-12-31T22:59:59.000000Z");
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59-23:59"), None);
        assert_eq!(Timestamp::parse("0000-01-01T00:00:00+00:01"), None);
        assert_eq!(Timestamp::parse("0000-01-01T00:00:00Z").unwrap().to_rfc3339(), "0000-01-01T00:00:00.000000Z");
    }

    #[test]
    fn partial_dates() {
        for ok in ["2008", "2019-07", "2013-11-19", "2024-02-29"] {
            assert_eq!(ok.parse::<PartialDate>().unwrap().to_string(), ok);
        }
        for bad in ["2019-13", "2019-7", "08", "2013-11-31", "2023-02-29", "2019-00", "x", "", "2019-07-08T00:00"] {
            assert!(bad.parse::<PartialDate>().is_err(), "{bad}");
        }
        let year: PartialDate = "2008".parse().unwrap();
        let day: PartialDate = "2008-05-01".parse().unwrap();
        assert!(year < day);
    }
}
