//! The field types of the resources. Each states its rule once: how a given string is checked (with the
//! messages the API reports) and the JSON Schema the OpenAPI document gives the field.
//!
//! The document states these types inline (see `http::openapi`): a property of type [`Slug`] carries the
//! slug's pattern and length itself, as if the rule were written on every field.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use uuid::Uuid;

use super::reference::{DISTRICT_KEYS, REGION_KEYS};
use super::validation::{MAX_NAME, MAX_SHORT, MAX_SLUG, MAX_TEXT, MAX_URL, is_email, is_phone, is_slug, is_web_url};

/// What a string value of a field must be.
pub trait FieldType: Sized {
    /// Checks a string as given: `Ok(None)` when it means "no value" (a blank text), else the value or
    /// what is wrong with it.
    fn read(text: &str) -> Result<Option<Self>, Cow<'static, str>>;
}

/// Why a text is not acceptable, if it is not. Length and characters are checked before trimming, as the
/// schemas' `maxLength` and `pattern` state them.
pub fn text_problem(text: &str, max_chars: usize, newlines: bool) -> Option<String> {
    if text.chars().count() > max_chars {
        return Some(format!("must be at most {max_chars} characters long"));
    }
    let bad_control = text.chars().any(|c| forbidden(c, newlines));
    bad_control.then(|| "must not contain control characters".to_string())
}

/// Characters no text field may hold (C0 and C1 controls), except line breaks and tabs where allowed.
pub(crate) fn forbidden(c: char, newlines: bool) -> bool {
    (c.is_control() && !(newlines && matches!(c, '\t' | '\n' | '\r'))) || is_deceptive(c)
}

/// Invisible and direction-changing characters that have no place in the registry's texts: a zero-width
/// space makes a name look empty, and bidi overrides and isolates make text (and URLs) display other than
/// they read ("Trojan Source"). Joiners and the left-to-right and right-to-left marks stay: languages need
/// them. [`patterns`] states the same set for the OpenAPI document.
fn is_deceptive(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The JSON Schema patterns of the field types. The checks accept exactly what they match (the contract
/// tests generate values from them).
pub mod patterns {
    /// What no text may hold, as the inside of a character class: C0 and C1 controls and the deceptive
    /// characters of `is_deceptive`.
    macro_rules! deceptive {
        () => {
            r"\u200b\u202a-\u202e\u2060\u2066-\u2069\ufeff"
        };
    }
    macro_rules! unprintable {
        () => {
            concat!(r"\x00-\x1f\x7f-\x9f", deceptive!())
        };
    }
    /// A one-line text with at least one visible character.
    pub const TEXT: &str = concat!("^[^", unprintable!(), "]*[^\\s", unprintable!(), "][^", unprintable!(), "]*$");
    /// An optional one-line text (blank means none).
    pub const OPTIONAL_TEXT: &str = concat!("^[^", unprintable!(), "]*$");
    /// An optional multi-line text: tabs and line breaks allowed.
    pub const MULTI_LINE_TEXT: &str = concat!(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f", deceptive!(), "]*$");
    pub const SLUG: &str = r"^[a-z0-9]+(-[a-z0-9]+)*$";
    pub const URL: &str = concat!(
        r"^https?://[^\s",
        unprintable!(),
        r#""<>/?#:@\\\[\]]+(:[0-9]{1,5})?([/?#][^\s"#,
        unprintable!(),
        r#""<>\\]*)?$"#
    );
    pub const EMAIL: &str = concat!(
        r"^[^\s",
        unprintable!(),
        r#"@<>()\[\]\\,;:"]+@[^\s"#,
        unprintable!(),
        r#"@<>()\[\]\\,;:".]+(\.[^\s"#,
        unprintable!(),
        r#"@<>()\[\]\\,;:".]+)+$"#
    );
    pub const PHONE: &str = r"^[ +()/.-]*[0-9][ +()/.-]*[0-9][ +()/.-]*[0-9][0-9 +()/.-]*$";
    pub const POSTAL_CODE: &str = r"^[0-9]{5}$";
    pub const REGION_KEY: &str = r"^05\d{3}$";
    /// Year, year-month or a real calendar date (leap years included), years 1000 to 9999.
    pub const PARTIAL_DATE: &str = concat!(
        r"^[1-9][0-9]{3}(-(0[1-9]|1[0-2]))?$",
        r"|^[1-9][0-9]{3}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))$",
        r"|^([1-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26])00)-02-29$"
    );
}

/// Declares string field types: the newtype, its serde (transparent: stored JSON is trusted, input goes
/// through [`FieldType::read`]), its access as `&str`, and its schema's name.
macro_rules! string_types {
    ($($(#[$meta:meta])* $name:ident;)+) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
            #[serde(transparent)]
            pub struct $name(String);

            impl $name {
                pub fn as_str(&self) -> &str {
                    &self.0
                }

                pub fn into_string(self) -> String {
                    self.0
                }

                /// A value read back from storage, where it was checked when written.
                pub fn from_stored(text: String) -> Self {
                    $name(text)
                }
            }

            impl Deref for $name {
                type Target = str;
                fn deref(&self) -> &str {
                    &self.0
                }
            }

            impl From<$name> for String {
                fn from(value: $name) -> String {
                    value.0
                }
            }

            impl AsRef<str> for $name {
                fn as_ref(&self) -> &str {
                    &self.0
                }
            }

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(&self.0)
                }
            }

            impl PartialEq<str> for $name {
                fn eq(&self, other: &str) -> bool {
                    self.0 == other
                }
            }

            impl PartialEq<String> for $name {
                fn eq(&self, other: &String) -> bool {
                    self.0 == *other
                }
            }

            impl PartialEq<&str> for $name {
                fn eq(&self, other: &&str) -> bool {
                    self.0 == *other
                }
            }

            impl utoipa::ToSchema for $name {}
        )+

        /// The field types' schemas by name, which the OpenAPI document states inline where they are used.
        pub fn inline_schemas() -> Vec<(&'static str, RefOr<Schema>)> {
            vec![
                $((stringify!($name), <$name as utoipa::PartialSchema>::schema()),)+
                ("DistrictKey", <DistrictKey as utoipa::PartialSchema>::schema()),
            ]
        }
    };
}

string_types! {
    /// Unique, URL-friendly name: lower-case letters and digits in groups joined by single hyphens.
    Slug;
    /// A required one-line text of at most [`MAX_NAME`] characters: names and titles.
    Name;
    /// An optional one-line text of at most [`MAX_SHORT`] characters: organisations, roles, parts of addresses.
    ShortText;
    /// An optional one-line text of at most [`MAX_TEXT`] characters: notes on sources.
    Note;
    /// An optional multi-line text of at most [`MAX_TEXT`] characters: descriptions and notes.
    LongText;
    /// An optional multi-line text of at most 2000 characters: a contact's function.
    Function;
    /// An absolute http(s) URL.
    WebUrl;
    /// An e-mail address.
    Email;
    /// A phone number.
    Phone;
    /// A German postal code.
    PostalCode;
    /// The Kreisschlüssel of one of the 53 Kreise and kreisfreie Städte of NRW.
    RegionKey;
}

/// A string schema with the given keywords.
fn string_schema(pattern: &str, min_length: Option<usize>, max_length: Option<usize>) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).min_length(min_length).max_length(max_length)
}

/// Reads a text: checked as given, then trimmed; blank is no value.
fn read_text(text: &str, max_chars: usize, newlines: bool) -> Result<Option<String>, Cow<'static, str>> {
    if let Some(problem) = text_problem(text, max_chars, newlines) {
        return Err(problem.into());
    }
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// Reads a string of a fixed syntax (URL, e-mail, phone, code): checked as given, not trimmed.
fn read_token(
    text: &str,
    max_chars: usize,
    syntax: fn(&str) -> bool,
    message: &'static str,
) -> Result<Option<String>, Cow<'static, str>> {
    if let Some(problem) = text_problem(text, max_chars, false) {
        return Err(problem.into());
    }
    if !syntax(text) {
        return Err(message.into());
    }
    Ok(Some(text.to_string()))
}

/// Declares the text types: how long they may be, whether they may break lines, and their pattern.
macro_rules! text_types {
    ($($name:ident: $max:expr, newlines $newlines:literal, $pattern:expr, min $min:expr;)+) => {$(
        impl FieldType for $name {
            fn read(text: &str) -> Result<Option<Self>, Cow<'static, str>> {
                Ok(read_text(text, $max, $newlines)?.map($name))
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string_schema($pattern, $min, Some($max)).into()
            }
        }
    )+};
}

text_types! {
    Name: MAX_NAME, newlines false, patterns::TEXT, min Some(1);
    ShortText: MAX_SHORT, newlines false, patterns::OPTIONAL_TEXT, min None;
    Note: MAX_TEXT, newlines false, patterns::OPTIONAL_TEXT, min None;
    LongText: MAX_TEXT, newlines true, patterns::MULTI_LINE_TEXT, min None;
    Function: 2000, newlines true, patterns::MULTI_LINE_TEXT, min None;
}

impl FieldType for Slug {
    fn read(text: &str) -> Result<Option<Self>, Cow<'static, str>> {
        let Some(slug) = read_text(text, MAX_SLUG, false)? else { return Ok(None) };
        if !is_slug(&slug) {
            return Err(
                "must be lower-case letters and digits in groups joined by single hyphens, e.g. kreis-mettmann".into(),
            );
        }
        if Uuid::parse_str(&slug).is_ok() {
            return Err("must not look like a UUID".into());
        }
        Ok(Some(Slug(slug)))
    }
}

impl utoipa::PartialSchema for Slug {
    fn schema() -> RefOr<Schema> {
        string_schema(patterns::SLUG, Some(1), Some(MAX_SLUG)).into()
    }
}

/// Declares the types of a fixed syntax: how long they may be, the check, its message, and its pattern.
macro_rules! token_types {
    ($($name:ident: $max:expr, $syntax:expr, $message:literal, $pattern:expr;)+) => {$(
        impl FieldType for $name {
            fn read(text: &str) -> Result<Option<Self>, Cow<'static, str>> {
                Ok(read_token(text, $max, $syntax, $message)?.map($name))
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string_schema($pattern, None, Some($max)).into()
            }
        }
    )+};
}

token_types! {
    WebUrl: MAX_URL, is_web_url, "must be an absolute http(s) URL, e.g. https://www.example.de/bildungsbuero", patterns::URL;
    Email: 254, is_email, "must be an e-mail address, e.g. bildungsbuero@kreis.example", patterns::EMAIL;
    Phone: 50, is_phone, "must be a phone number of digits, spaces and + ( ) - / .", patterns::PHONE;
}

impl FieldType for PostalCode {
    fn read(text: &str) -> Result<Option<Self>, Cow<'static, str>> {
        let five_digits = |code: &str| code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit());
        Ok(read_token(text, 10, five_digits, "must be a German postal code of five digits")?.map(PostalCode))
    }
}

impl utoipa::PartialSchema for PostalCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(patterns::POSTAL_CODE)).into()
    }
}

impl FieldType for RegionKey {
    fn read(text: &str) -> Result<Option<Self>, Cow<'static, str>> {
        let Some(key) = read_text(text, 5, false)? else { return Ok(None) };
        if !REGION_KEYS.contains(&key.as_str()) {
            return Err(RegionKey::invalid().into());
        }
        Ok(Some(RegionKey(key)))
    }
}

impl RegionKey {
    /// What is wrong with a text that is no region key (also the document's example of a field error).
    pub fn invalid() -> &'static str {
        "must be the Kreisschlüssel of one of the 53 Kreise and kreisfreie Städte of NRW, e.g. 05158"
    }
}

impl utoipa::PartialSchema for RegionKey {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::REGION_KEY))
            .enum_values(Some(REGION_KEYS.iter().copied()))
            .into()
    }
}

/// The key of a Regierungsbezirk: 1, 3, 5, 7 or 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DistrictKey(i32);

impl DistrictKey {
    pub const INVALID: &'static str = "must be the key of a Regierungsbezirk: 1, 3, 5, 7 or 9";

    /// The key, if `key` is one.
    pub fn new(key: i64) -> Option<Self> {
        DISTRICT_KEYS.iter().copied().find(|k| i64::from(*k) == key).map(DistrictKey)
    }

    /// A key read back from storage, where it was checked when written.
    pub fn from_stored(key: i32) -> Self {
        DistrictKey(key)
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl fmt::Display for DistrictKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl utoipa::PartialSchema for DistrictKey {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .enum_values(Some(DISTRICT_KEYS))
            .into()
    }
}

impl utoipa::ToSchema for DistrictKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_blank_is_none() {
        assert_eq!(Name::read("  Kreis Mettmann ").unwrap().unwrap().as_str(), "Kreis Mettmann");
        assert_eq!(ShortText::read("   ").unwrap(), None);
        assert!(Name::read("a\nb").is_err());
        assert!(LongText::read("a\nb").unwrap().is_some());
        assert!(Name::read("a\u{202e}b").is_err());
    }

    #[test]
    fn tokens_are_taken_as_given() {
        assert!(WebUrl::read(" https://example.de").is_err());
        assert!(WebUrl::read("").is_err());
        assert_eq!(Slug::read(" kreis-mettmann ").unwrap().unwrap().as_str(), "kreis-mettmann");
        assert!(Slug::read("db672378-2759-4224-a54c-4415f60666d0").is_err());
        assert!(PostalCode::read("4047").is_err());
        assert!(RegionKey::read("05158").unwrap().is_some());
        assert!(RegionKey::read("05999").is_err());
    }
}
