//! Query strings: every parameter is read by name, unknown or repeated ones are refused (400), and all
//! problems are reported at once. Also the list cursors: opaque to clients, but of a fixed syntax the
//! OpenAPI document states, so that every cursor the syntax allows is one the service can continue from.

use std::str::FromStr;

use uuid::Uuid;

use super::problem::ApiError;
pub use crate::domain::query::FromQuery;
use crate::domain::query::QuerySource;
use crate::domain::{FieldError, Timestamp};
use crate::storage::{Cursor, ListOrder, Window};

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

    /// The value of `name` as given, if given.
    fn raw(&mut self, name: &str) -> Option<String> {
        self.taken.push(name.to_string());
        let value = self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())?;
        if value.chars().count() > 200 || value.chars().any(char::is_control) {
            self.error(name, "must be at most 200 characters without control characters");
            return None;
        }
        Some(value)
    }

    /// A free-text value (search, slug or key), trimmed; an empty value counts as not given.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.raw(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// A typed value: an empty one is as invalid as a wrong one.
    pub fn parsed<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let text = self.raw(name)?;
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

/// The filters of the domain read their parameters through the methods above.
impl QuerySource for QueryParams {
    fn text(&mut self, name: &str) -> Option<String> {
        QueryParams::text(self, name)
    }
    fn parsed<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        QueryParams::parsed(self, name, expected)
    }
    fn one_of<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> Option<T> {
        QueryParams::one_of(self, name, allowed)
    }
    fn district(&mut self, name: &str) -> Option<i32> {
        QueryParams::district(self, name)
    }
}

/// The syntax of a list's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// Lists of records: `i` and a UUID (id order), or `c`, `modifiedSince` and the position in change
    /// order (16-digit microseconds since 1970 each, and a UUID).
    Records,
    /// The change feed and the audit log: a sequence number.
    Sequence,
    /// Reference lists: the key of the last item (`digits` long).
    Key(usize),
    /// Lists in start order (meetings): `s`, the start's first instant (20 digits), its precision (1 digit) and a UUID; or `c` as
    /// for [`CursorKind::Records`].
    Starts,
}

impl From<ListOrder> for CursorKind {
    fn from(order: ListOrder) -> Self {
        match order {
            ListOrder::Id => CursorKind::Records,
            ListOrder::Start => CursorKind::Starts,
        }
    }
}

impl CursorKind {
    /// The cursor's syntax as a JSON Schema pattern.
    pub fn pattern(self) -> String {
        match self {
            CursorKind::Records => "^(i[0-9a-f]{32}|c[0-9]{32}[0-9a-f]{32})$".into(),
            CursorKind::Sequence => "^[0-9]{1,18}$".into(),
            CursorKind::Key(digits) => format!("^[0-9]{{{digits}}}$"),
            CursorKind::Starts => "^(s[0-9]{21}[0-9a-f]{32}|c[0-9]{32}[0-9a-f]{32})$".into(),
        }
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
    /// Reads the three shared parameters; `default_limit` is 50 except for small reference lists. A cursor
    /// continues the list it came from: it fixes the order and, for change order, `modifiedSince`.
    pub fn read(params: &mut QueryParams, default_limit: i64, kind: CursorKind) -> Paging {
        let limit = match params.parsed::<i64>("limit", "an integer from 1 to 500") {
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                params.error("limit", "must be an integer from 1 to 500");
                default_limit
            }
            None => default_limit,
        };
        let mut since = params.parsed::<String>("modifiedSince", "").and_then(|text| {
            let parsed = Timestamp::parse(&text);
            if parsed.is_none() {
                params.error("modifiedSince", "must be an RFC 3339 date-time, e.g. 2026-11-21T12:00:00Z");
            }
            parsed
        });
        let after = params.parsed::<String>("cursor", "").and_then(|text| match decode_cursor(kind, &text) {
            Some((cursor, cursor_since)) => {
                if matches!(kind, CursorKind::Records | CursorKind::Starts) {
                    since = cursor_since;
                }
                Some(cursor)
            }
            None => {
                params.error("cursor", "is not a cursor of this list; use links.next as given");
                None
            }
        });
        Paging { limit, after, since }
    }

    /// The storage window: one row more than the page, to know whether a next page exists.
    pub fn window(&self) -> Window {
        Window { limit: self.limit + 1, after: self.after.clone(), since: self.since }
    }

    /// The cursor text for continuing after `cursor`.
    pub fn encode(&self, cursor: &Cursor) -> String {
        encode_cursor(cursor, self.since)
    }
}

fn micros(at: Timestamp) -> i64 {
    at.0.timestamp_micros()
}

fn from_micros(digits: &str) -> Option<Timestamp> {
    let micros: i64 = digits.parse().ok()?;
    chrono::DateTime::from_timestamp_micros(micros).map(Timestamp)
}

pub fn encode_cursor(cursor: &Cursor, since: Option<Timestamp>) -> String {
    match cursor {
        Cursor::Id(id) => format!("i{}", id.simple()),
        Cursor::Changed { at, id } => {
            format!("c{:016}{:016}{}", micros(since.unwrap_or(*at)).max(0), micros(*at).max(0), id.simple())
        }
        Cursor::Key(key) => key.clone(),
        Cursor::Start { key, id } => format!("s{key}{}", id.simple()),
    }
}

/// A cursor of `kind`, with the `modifiedSince` a change-order cursor carries.
pub fn decode_cursor(kind: CursorKind, text: &str) -> Option<(Cursor, Option<Timestamp>)> {
    // Every cursor is ASCII; the checks below cut the text at byte positions, which are char boundaries
    // only then (a '€' across position 32 would panic the worker).
    if !text.is_ascii() {
        return None;
    }
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let lower_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    match kind {
        CursorKind::Starts if text.starts_with('s') => {
            let rest = &text[1..];
            // The start key: 20 digits of the instant, one of its precision.
            let (key, hex) = (rest.get(..21)?, rest.get(21..)?);
            (all_digits(key) && hex.len() == 32 && lower_hex(hex))
                .then(|| Some((Cursor::Start { key: key.to_string(), id: Uuid::parse_str(hex).ok()? }, None)))
                .flatten()
        }
        CursorKind::Starts => decode_cursor(CursorKind::Records, text).filter(|(c, _)| !matches!(c, Cursor::Id(_))),
        CursorKind::Records => {
            if let Some(hex) = text.strip_prefix('i') {
                (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
                    .then(|| Uuid::parse_str(hex).ok())
                    .flatten()
                    .map(|id| (Cursor::Id(id), None))
            } else {
                let rest = text.strip_prefix('c')?;
                if rest.len() != 64 || !all_digits(&rest[..32]) {
                    return None;
                }
                let hex = &rest[32..];
                if !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                    return None;
                }
                let since = from_micros(&rest[..16])?;
                let at = from_micros(&rest[16..32])?;
                Some((Cursor::Changed { at, id: Uuid::parse_str(hex).ok()? }, Some(since)))
            }
        }
        CursorKind::Sequence => (text.len() <= 18 && all_digits(text)).then(|| (Cursor::Key(text.to_string()), None)),
        CursorKind::Key(digits) => {
            (text.len() == digits && all_digits(text)).then(|| (Cursor::Key(text.to_string()), None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = Uuid::now_v7();
        let since = Timestamp::parse("2026-01-01T00:00:00Z");
        let at = Timestamp::now();
        assert_eq!(
            decode_cursor(CursorKind::Records, &encode_cursor(&Cursor::Id(id), None)),
            Some((Cursor::Id(id), None))
        );
        let changed = Cursor::Changed { at, id };
        assert_eq!(decode_cursor(CursorKind::Records, &encode_cursor(&changed, since)), Some((changed, since)));
        let pattern = CursorKind::Records.pattern();
        assert!(pattern.contains("[0-9]{32}"));
        for forged in
            ["", "abc", "i123", "iXYZ", "c1", "05158", &format!("i{}", id.simple().to_string().to_uppercase())]
        {
            assert_eq!(decode_cursor(CursorKind::Records, forged), None, "{forged}");
        }
        assert_eq!(decode_cursor(CursorKind::Sequence, "12"), Some((Cursor::Key("12".into()), None)));
        assert_eq!(decode_cursor(CursorKind::Sequence, "1 OR 1=1"), None);
        assert_eq!(decode_cursor(CursorKind::Key(5), "05158"), Some((Cursor::Key("05158".into()), None)));
        assert_eq!(decode_cursor(CursorKind::Key(5), "0515"), None);
    }

    /// A property test: cursors of arbitrary bytes (as a query string can carry them) never panic, and
    /// whatever decodes is a cursor the service itself would write (so it round-trips exactly).
    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_accepts_only_real_cursors() {
        // xorshift64*: deterministic, so a failure reproduces.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let kinds =
            [CursorKind::Records, CursorKind::Sequence, CursorKind::Key(1), CursorKind::Key(5), CursorKind::Starts];
        // Bytes that make near misses likely: the syntax's own characters, and the parts of multi-byte UTF-8.
        let alphabet: Vec<u8> = b"ic0123456789abcdefABCDEF-_ %"
            .iter()
            .copied()
            .chain([0x00, 0x80, 0xbf, 0xc3, 0xe2, 0x82, 0xac, 0xf0, 0xff])
            .collect();
        let valid =
            format!("c{:016}{:016}{}", 1_700_000_000_000_000u64, 1_700_000_000_000_001u64, Uuid::nil().simple());
        let mut decoded = 0;
        for round in 0..100_000 {
            let bytes: Vec<u8> = if round % 4 == 0 {
                // A valid change-order cursor with one to three bytes replaced or inserted.
                let mut bytes = valid.clone().into_bytes();
                for _ in 0..=(next() % 3) {
                    let at = (next() % bytes.len() as u64) as usize;
                    let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                    if next() % 2 == 0 { bytes[at] = byte } else { bytes.insert(at, byte) }
                }
                bytes
            } else {
                let len = (next() % 80) as usize;
                (0..len)
                    .map(|_| {
                        if next() % 4 == 0 { next() as u8 } else { alphabet[(next() % alphabet.len() as u64) as usize] }
                    })
                    .collect()
            };
            // The query string parser yields text: invalid UTF-8 is lossily decoded, as percent-decoding does.
            let text = String::from_utf8_lossy(&bytes);
            for kind in kinds {
                let Some((cursor, since)) = decode_cursor(kind, &text) else { continue };
                decoded += 1;
                assert!(text.is_ascii(), "{text:?}");
                let pattern_ok = match kind {
                    CursorKind::Records => matches!(cursor, Cursor::Id(_) | Cursor::Changed { .. }),
                    CursorKind::Starts => matches!(cursor, Cursor::Start { .. } | Cursor::Changed { .. }),
                    _ => matches!(cursor, Cursor::Key(_)),
                };
                assert!(pattern_ok, "{text:?} as {kind:?}");
                if matches!(kind, CursorKind::Records | CursorKind::Starts) {
                    assert_eq!(encode_cursor(&cursor, since), text, "a cursor decodes only from its one spelling");
                }
            }
        }
        assert!(decoded > 0, "the generator never produced a valid cursor");
        // Garbage the issue names, and cuts at every byte of a multi-byte character.
        let euro = "c1111111111111111111111111111111\u{20ac}000000000000000000000000000000";
        assert_eq!(decode_cursor(CursorKind::Records, euro), None);
        for at in 0..=64 {
            let mut text = valid.clone();
            text.insert(at.min(text.len()), '\u{20ac}');
            for kind in kinds {
                assert_eq!(decode_cursor(kind, &text), None, "{text}");
            }
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let mut params = QueryParams::parse("limit=5&limit=6&colour=red").unwrap();
        let _ = Paging::read(&mut params, DEFAULT_LIMIT, CursorKind::Records);
        let ApiError::Invalid(errors) = params.finish().unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "colour"]);
    }
}
