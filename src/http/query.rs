//! Query strings: every parameter is read by name, unknown or repeated ones are refused (400), and all
//! problems are reported at once. Also the opaque list cursors.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::problem::ApiError;
use crate::domain::{
    Access, BodyFilter, ContactFilter, ContractFilter, FieldError, HandlungsfeldFilter, NetworkFilter, Timestamp,
};
use crate::storage::{Cursor, Window};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The parameters of one query string.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    taken: Vec<String>,
    errors: Vec<FieldError>,
}

impl QueryParams {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::BadRequest("The query string is not valid URL encoding.".into()))?;
        let mut errors = Vec::new();
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(other, _)| other == name)
                && !errors.iter().any(|e: &FieldError| &e.field == name)
            {
                errors.push(FieldError::new(name.clone(), "must be given once"));
            }
        }
        Ok(QueryParams { pairs, taken: Vec::new(), errors })
    }

    /// The value of `name`, if given (an empty value counts as not given).
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.taken.push(name.to_string());
        let value = self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim().to_string())?;
        if value.is_empty() {
            return None;
        }
        if value.chars().count() > 200 || value.chars().any(char::is_control) {
            self.error(name, "must be at most 200 characters without control characters");
            return None;
        }
        Some(value)
    }

    pub fn parsed<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let text = self.text(name)?;
        match text.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.error(name, format!("must be {expected}"));
                None
            }
        }
    }

    pub fn one_of<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> Option<T> {
        self.parsed(name, &format!("one of: {}", allowed.join(", ")))
    }

    pub fn district(&mut self, name: &str) -> Option<i32> {
        let key: i32 = self.parsed(name, "a Regierungsbezirk key: 1, 3, 5, 7 or 9")?;
        if ![1, 3, 5, 7, 9].contains(&key) {
            self.error(name, "must be a Regierungsbezirk key: 1, 3, 5, 7 or 9");
            return None;
        }
        Some(key)
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    /// Ends reading: every parameter must have been read, and read without error.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for (name, _) in &self.pairs {
            if !self.taken.contains(name) && !self.errors.iter().any(|e| &e.field == name) {
                self.errors.push(FieldError::new(name.clone(), "unknown query parameter"));
            }
        }
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::Invalid(self.errors)) }
    }
}

/// `limit`, `cursor` and `modifiedSince`, shared by every list.
#[derive(Debug, Clone)]
pub struct Paging {
    pub limit: i64,
    pub after: Option<Cursor>,
    pub since: Option<Timestamp>,
}

impl Paging {
    /// Reads the three shared parameters; `default_limit` is 50 except for small reference lists.
    pub fn read(params: &mut QueryParams, default_limit: i64) -> Paging {
        let limit = match params.parsed::<i64>("limit", "an integer from 1 to 500") {
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                params.error("limit", "must be an integer from 1 to 500");
                default_limit
            }
            None => default_limit,
        };
        let since = params.text("modifiedSince").and_then(|text| {
            let parsed = Timestamp::parse(&text);
            if parsed.is_none() {
                params.error("modifiedSince", "must be an RFC 3339 date-time, e.g. 2026-11-21T12:00:00Z");
            }
            parsed
        });
        let after = params.text("cursor").and_then(|text| {
            let cursor = decode_cursor(&text);
            if cursor.is_none() {
                params.error("cursor", "is not a cursor this service issued; use links.next as given");
            }
            cursor
        });
        Paging { limit, after, since }
    }

    /// Lists of records page by id, or by change with `modifiedSince`; a cursor of the other kind is refused.
    pub fn require_record_cursor(&self, params: &mut QueryParams) {
        let fits = match &self.after {
            None => true,
            Some(Cursor::Id(_)) => self.since.is_none(),
            Some(Cursor::Changed { .. }) => self.since.is_some(),
            Some(Cursor::Key(_)) => false,
        };
        if !fits {
            params.error("cursor", "belongs to another list or another modifiedSince; start again without cursor");
        }
    }

    /// The storage window: one row more than the page, to know whether a next page exists.
    pub fn window(&self) -> Window {
        Window { limit: self.limit + 1, after: self.after.clone(), since: self.since }
    }
}

pub fn encode_cursor(cursor: &Cursor) -> String {
    let text = match cursor {
        Cursor::Id(id) => format!("i|{id}"),
        Cursor::Changed { at, id } => format!("c|{}|{id}", at.to_rfc3339()),
        Cursor::Key(key) => format!("k|{key}"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

pub fn decode_cursor(text: &str) -> Option<Cursor> {
    if text.len() > 200 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('|');
    let cursor = match (parts.next()?, parts.next(), parts.next()) {
        ("i", Some(id), None) => Cursor::Id(Uuid::parse_str(id).ok()?),
        ("c", Some(at), Some(id)) => Cursor::Changed { at: Timestamp::parse(at)?, id: Uuid::parse_str(id).ok()? },
        ("k", Some(key), None)
            if !key.is_empty() && key.len() <= 20 && key.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Cursor::Key(key.to_string())
        }
        _ => return None,
    };
    parts.next().is_none().then_some(cursor)
}

/// Reads a resource's filters from the query string.
pub trait FromQuery: Sized + Send + Sync + 'static {
    fn read(params: &mut QueryParams) -> Self;

    /// Narrows the filter to what the caller may see (contacts).
    fn restrict(&mut self, _access: &Access) {}

    /// Narrows the filter to one network, for the lists under `/v1/networks/{id}/…`; `None` when the
    /// resource has no such list.
    fn for_network(&mut self, _network: Uuid) -> Option<()> {
        None
    }
}

impl FromQuery for NetworkFilter {
    fn read(params: &mut QueryParams) -> Self {
        NetworkFilter {
            district: params.district("district"),
            region: params.text("region"),
            status: params.one_of("status", crate::domain::NetworkStatus::ALL),
            handlungsfeld: params.text("handlungsfeld"),
            q: params.text("q"),
        }
    }
}

impl FromQuery for ContractFilter {
    fn read(params: &mut QueryParams) -> Self {
        ContractFilter {
            network: params.text("network"),
            kind: params.one_of("kind", crate::domain::ContractKind::ALL),
        }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}

impl FromQuery for BodyFilter {
    fn read(params: &mut QueryParams) -> Self {
        BodyFilter { network: params.text("network"), body_type: params.one_of("type", crate::domain::BodyType::ALL) }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}

impl FromQuery for HandlungsfeldFilter {
    fn read(params: &mut QueryParams) -> Self {
        HandlungsfeldFilter { q: params.text("q"), network: None }
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network);
        Some(())
    }
}

impl FromQuery for ContactFilter {
    fn read(params: &mut QueryParams) -> Self {
        ContactFilter {
            network: params.text("network"),
            body: params.parsed("body", "a UUID"),
            district: params.district("district"),
            q: params.text("q"),
            reach: Default::default(),
        }
    }

    fn restrict(&mut self, access: &Access) {
        self.reach = access.private_reach();
    }

    fn for_network(&mut self, network: Uuid) -> Option<()> {
        self.network = Some(network.to_string());
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = Uuid::now_v7();
        for cursor in [Cursor::Id(id), Cursor::Changed { at: Timestamp::now(), id }] {
            assert_eq!(decode_cursor(&encode_cursor(&cursor)), Some(cursor));
        }
        for forged in
            ["", "abc", "aXxub3Q", &URL_SAFE_NO_PAD.encode("i|x"), &URL_SAFE_NO_PAD.encode(format!("i|{id}|x"))]
        {
            assert_eq!(decode_cursor(forged), None, "{forged}");
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let mut params = QueryParams::parse("limit=5&limit=6&colour=red").unwrap();
        let _ = Paging::read(&mut params, DEFAULT_LIMIT);
        let ApiError::Invalid(errors) = params.finish().unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "colour"]);
    }
}
