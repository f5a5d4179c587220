//! Field-by-field validation of JSON input that reports every problem at once.
//!
//! Typed serde deserialisation stops at the first error; clients fixing a form want all of them. So input
//! arrives as a `serde_json::Value` and each resource reads its fields through [`Fields`], which collects
//! a [`FieldError`] per problem and yields `None` for a field it could not read.

use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::{Address, PartialDate, Source};
use super::fields::{DistrictKey, FieldType, forbidden, text_problem};

/// The fields' patterns live with the field types.
pub use super::fields::patterns;

/// One problem with one field of a request body or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer-like path of the field, e.g. `signatories[0].party`.
    #[schema(example = "regionKey")]
    pub field: String,
    /// What is wrong, in plain words.
    #[schema(example = super::fields::RegionKey::invalid)]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// All problems found in one input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

/// Limits shared by all resources.
pub const MAX_NAME: usize = 300;
pub const MAX_SLUG: usize = 100;
pub const MAX_TEXT: usize = 5000;
pub const MAX_URL: usize = 2000;
pub const MAX_SHORT: usize = 200;
pub const MAX_LIST: usize = 100;

/// Reads the fields of one JSON object, collecting errors.
pub struct Fields<'a> {
    object: Option<&'a Map<String, Value>>,
    prefix: String,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Starts reading `value`, which must be an object whose keys are all in `writable` or `read_only`
    /// (read-only keys such as `id` or `createdAt` are accepted so a client can send back what it read).
    pub fn new(value: &'a Value, writable: &[&str], read_only: &[&str]) -> Self {
        Self::nested(value, String::new(), writable, read_only)
    }

    fn nested(value: &'a Value, prefix: String, writable: &[&str], read_only: &[&str]) -> Self {
        let mut fields = Fields { object: None, prefix, errors: Vec::new() };
        match value.as_object() {
            Some(object) => {
                for key in object.keys() {
                    if !writable.contains(&key.as_str()) && !read_only.contains(&key.as_str()) {
                        let path = fields.path(key);
                        fields.errors.push(FieldError::new(path, "unknown field"));
                    }
                }
                fields.object = Some(object);
            }
            None => {
                let path = if fields.prefix.is_empty() { "(body)".to_string() } else { fields.prefix.clone() };
                fields.errors.push(FieldError::new(path, "must be a JSON object"));
            }
        }
        fields
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) }
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        self.errors.push(FieldError::new(path, message));
    }

    /// The raw value of a field; `None` when absent or `null`.
    fn raw(&self, name: &str) -> Option<&'a Value> {
        self.object.and_then(|o| o.get(name)).filter(|v| !v.is_null())
    }

    /// An optional one-line string: absent, `null` and blank all mean "no value". Length and characters
    /// are checked before trimming. Resource fields have their types instead ([`Fields::opt`]).
    pub fn opt_string(&mut self, name: &str, max_chars: usize) -> Option<String> {
        let value = self.raw(name)?;
        let Some(text) = value.as_str() else {
            self.error(name, "must be a string");
            return None;
        };
        if let Some(message) = text_problem(text, max_chars, false) {
            self.error(name, message);
            return None;
        }
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(text.to_string())
    }

    pub fn string(&mut self, name: &str, max_chars: usize) -> Option<String> {
        let present = self.raw(name).is_some();
        let value = self.opt_string(name, max_chars);
        self.require(name, present, value)
    }

    /// "is required", or "must not be empty" for a blank value, unless the field has an error already.
    fn require<T>(&mut self, name: &str, present: bool, value: Option<T>) -> Option<T> {
        if value.is_none() && !self.has_error(name) {
            self.error(name, if present { "must not be empty" } else { "is required" });
        }
        value
    }

    fn has_error(&self, name: &str) -> bool {
        let path = self.path(name);
        self.errors.iter().any(|e| e.field == path)
    }

    /// An optional field of a field type; absent and `null` (and for texts, blank) mean "no value".
    pub fn opt<T: FieldType>(&mut self, name: &str) -> Option<T> {
        let value = self.raw(name)?;
        let Some(text) = value.as_str() else {
            self.error(name, "must be a string");
            return None;
        };
        match T::read(text) {
            Ok(value) => value,
            Err(message) => {
                self.error(name, message);
                None
            }
        }
    }

    /// A required field of a field type.
    pub fn required<T: FieldType>(&mut self, name: &str) -> Option<T> {
        let present = self.raw(name).is_some();
        let value = self.opt(name);
        self.require(name, present, value)
    }

    /// A required value of a closed set (`FromStr` of a domain enum); lists the allowed values on error.
    pub fn enumeration<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> Option<T> {
        let value = self.opt_enumeration(name, allowed);
        if value.is_none() && !self.has_error(name) {
            self.error(name, "is required");
        }
        value
    }

    pub fn opt_enumeration<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> Option<T> {
        let raw = self.raw(name)?;
        match raw.as_str().map(T::from_str) {
            Some(Ok(value)) => Some(value),
            _ => {
                self.error(name, format!("must be one of: {}", allowed.join(", ")));
                None
            }
        }
    }

    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        self.opt_json(name, Value::as_bool, "must be true or false")
    }

    /// A value of a JSON type (`read` gives it), or the field error `message`.
    fn opt_json<T>(&mut self, name: &str, read: fn(&Value) -> Option<T>, message: &str) -> Option<T> {
        let value = read(self.raw(name)?);
        if value.is_none() {
            self.error(name, message);
        }
        value
    }

    pub fn opt_date(&mut self, name: &str) -> Option<PartialDate> {
        let raw = self.raw(name)?;
        match raw.as_str().map(PartialDate::from_str) {
            Some(Ok(date)) => Some(date),
            _ => {
                self.error(name, "must be a date of year, month or day precision: 2008, 2019-07 or 2013-11-19");
                None
            }
        }
    }

    pub fn opt_uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.raw(name)?;
        match raw.as_str().and_then(parse_uuid) {
            Some(id) => Some(id),
            None => {
                self.error(name, "must be a UUID");
                None
            }
        }
    }

    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let value = self.opt_uuid(name);
        if value.is_none() && !self.has_error(name) {
            self.error(name, "is required");
        }
        value
    }

    pub fn opt_integer(&mut self, name: &str) -> Option<i64> {
        self.opt_json(name, Value::as_i64, "must be an integer")
    }

    /// The key of a Regierungsbezirk; absent or `null` is none.
    pub fn opt_district_key(&mut self, name: &str) -> Option<DistrictKey> {
        let key = self.opt_integer(name)?;
        let key = DistrictKey::new(key);
        if key.is_none() {
            self.error(name, DistrictKey::INVALID);
        }
        key
    }

    /// A list whose items are read by `item`; absent or `null` is the empty list.
    pub fn list<T>(
        &mut self,
        name: &str,
        mut item: impl FnMut(&mut Fields<'a>, &'a Value, String) -> Option<T>,
    ) -> Vec<T> {
        let Some(raw) = self.raw(name) else {
            return Vec::new();
        };
        let Some(items) = raw.as_array() else {
            self.error(name, "must be an array");
            return Vec::new();
        };
        if items.len() > MAX_LIST {
            self.error(name, format!("must have at most {MAX_LIST} items"));
            return Vec::new();
        }
        let base = self.path(name);
        items.iter().enumerate().filter_map(|(i, value)| item(self, value, format!("{base}[{i}]"))).collect()
    }

    /// A list of UUIDs without duplicates.
    pub fn uuid_list(&mut self, name: &str) -> Vec<Uuid> {
        let ids = self.list(name, |fields, value, path| match value.as_str().and_then(parse_uuid) {
            Some(id) => Some(id),
            None => {
                fields.errors.push(FieldError::new(path, "must be a UUID"));
                None
            }
        });
        // A set: an id named twice counts once, in its first place.
        let mut seen = std::collections::HashSet::new();
        ids.into_iter().filter(|id| seen.insert(*id)).collect()
    }

    /// Reads a nested object with its own fields, e.g. `address` or `signatories[0]`.
    pub fn object<T>(
        &mut self,
        value: &'a Value,
        path: String,
        writable: &[&str],
        read: impl FnOnce(&mut Fields<'a>) -> Option<T>,
    ) -> Option<T> {
        let mut nested = Fields::nested(value, path, writable, &[]);
        let result = if nested.object.is_some() { read(&mut nested) } else { None };
        let ok = nested.errors.is_empty();
        self.errors.append(&mut nested.errors);
        if ok { result } else { None }
    }

    pub fn opt_address(&mut self, name: &str) -> Option<Address> {
        let raw = self.raw(name)?;
        let path = self.path(name);
        self.object(raw, path, &["street", "postalCode", "city"], |f| {
            let street = f.opt("street");
            let postal_code = f.opt("postalCode");
            let city = f.opt("city");
            if street.is_none() && postal_code.is_none() && city.is_none() {
                return None;
            }
            Some(Address { street, postal_code, city })
        })
    }

    pub fn sources(&mut self, name: &str) -> Vec<Source> {
        self.list(name, |fields, value, path| {
            fields.object(value, path, &["document", "title", "publisher", "date", "url", "note"], |f| {
                let document = f.opt("document");
                let title = f.required("title");
                let publisher = f.opt("publisher");
                let date = f.opt_date("date");
                let url = f.opt("url");
                let note = f.opt("note");
                Some(Source { document, title: title?, publisher, date, url, note })
            })
        })
    }

    /// Ends reading: the value built from the fields, or every error found.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ if self.errors.is_empty() => Err(ValidationErrors::single("(body)", "is invalid")),
            _ => Err(ValidationErrors(self.errors)),
        }
    }
}

/// The syntax of slugs ([`patterns::SLUG`]): lower-case letters and digits in groups joined by single
/// hyphens, at most [`MAX_SLUG`] long. A text that is not one names no record, so lookups by slug need not
/// ask the database (PostgreSQL refuses some texts, a NUL byte, with an error).
pub fn is_slug(text: &str) -> bool {
    text.len() <= MAX_SLUG
        && text
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A UUID in its hyphenated form only (`format: uuid`), any case.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    let hyphens_right = text.len() == 36 && [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-');
    if hyphens_right { Uuid::parse_str(text).ok() } else { None }
}

/// An absolute http or https URL: a host without white space or delimiters, an optional port, then an
/// optional path, query or fragment without white space, quotes, angle brackets or backslashes.
pub fn is_web_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host_end = rest.find([':', '/', '?', '#']).unwrap_or(rest.len());
    let (host, mut rest) = rest.split_at(host_end);
    let host_ok = !host.is_empty()
        && host.chars().all(|c| !c.is_whitespace() && !forbidden(c, false) && !"\"<>/?#:@\\[]".contains(c));
    if !host_ok {
        return false;
    }
    if let Some(after_colon) = rest.strip_prefix(':') {
        let digits = after_colon.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_colon.len());
        if !(1..=5).contains(&digits) {
            return false;
        }
        rest = &after_colon[digits..];
    }
    rest.is_empty()
        || (rest.starts_with(['/', '?', '#'])
            && rest.chars().all(|c| !c.is_whitespace() && !forbidden(c, false) && !"\"<>\\".contains(c)))
}

/// An e-mail address: a local part, `@`, and a domain of at least two dot-separated labels, without white
/// space or the delimiters `<>()[]\,;:"`.
pub fn is_email(email: &str) -> bool {
    let allowed = |c: char| !c.is_whitespace() && !forbidden(c, false) && !"@<>()[]\\,;:\"".contains(c);
    let Some((local, domain)) = email.split_once('@') else { return false };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local.chars().all(allowed)
        && labels.len() >= 2
        && labels.iter().all(|label| !label.is_empty() && label.chars().all(allowed))
}

/// Digits, spaces and `+ ( ) - / .`, with at least three digits.
pub fn is_phone(phone: &str) -> bool {
    phone.chars().all(|c| c.is_ascii_digit() || " +()/.-".contains(c))
        && phone.chars().filter(char::is_ascii_digit).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error() {
        let body = json!({"name": "", "website": "ftp://x", "extra": 1, "status": "gone"});
        let mut fields = Fields::new(&body, &["name", "website", "status", "slug"], &["id"]);
        fields.required::<super::super::Name>("name");
        fields.opt::<super::super::WebUrl>("website");
        fields.required::<super::super::Slug>("slug");
        fields.enumeration::<crate::domain::NetworkStatus>("status", &["active", "inactive"]);
        let errors = fields.finish(Some(())).unwrap_err().0;
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["extra", "name", "website", "slug", "status"]);
    }

    #[test]
    fn urls_and_emails() {
        assert!(is_web_url("https://www.kreis-mettmann.de/bildung?x=1"));
        assert!(is_web_url("http://bildungsbüro.de"));
        assert!(!is_web_url("javascript:alert(1)"));
        assert!(!is_web_url("https://"));
        assert!(!is_web_url("https://a b.de"));
        assert!(is_email("bildungsbuero@kreis-mettmann.de"));
        assert!(!is_email("no-at.de"));
        assert!(!is_email("a@b"));
    }
}
