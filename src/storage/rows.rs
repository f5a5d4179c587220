//! Conversions between database values (TEXT, TIMESTAMP, INTEGER) and domain values.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{StoreError, StoreResult};
use crate::domain::Timestamp;

pub fn naive(timestamp: Timestamp) -> NaiveDateTime {
    timestamp.0.naive_utc()
}

pub fn timestamp(value: NaiveDateTime) -> Timestamp {
    Timestamp(DateTime::<Utc>::from_naive_utc_and_offset(value, Utc))
}

pub fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("not a UUID: {text}")))
}

pub fn opt_uuid(text: Option<&str>) -> StoreResult<Option<Uuid>> {
    text.map(uuid).transpose()
}

pub fn parse<T: FromStr>(text: &str, what: &str) -> StoreResult<T> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("not a {what}: {text}")))
}

pub fn from_json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("bad JSON column: {e}")))
}

pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values serialise")
}

pub fn ids_to_text(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

/// A `LIKE` pattern matching `text` anywhere, with the wildcards in `text` escaped (escape char `\`).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both backends.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower()` of a nullable column.
    #[sql_name = "lower"]
    fn lower_opt(text: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Declares the columns a write sets, each with its type and its value from the input (borrowed where it
/// can be), between the `id` and the `createdAt` and `updatedAt` every row has: `$name::new(id, input, now)`
/// gives the insert's values and, without `id` and `createdAt`, the update's changes.
macro_rules! row_values {
    (
        $(#[$meta:meta])*
        $table:ident: $name:ident<$lt:lifetime>($input:ident: $input_type:ty) {
            $($column:ident: $type:ty = $value:expr),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Insertable, AsChangeset)]
        #[diesel(table_name = $table, treat_none_as_default_value = false, treat_none_as_null = true)]
        struct $name<$lt> {
            id: String,
            $($column: $type,)*
            #[diesel(skip_update)]
            created_at: chrono::NaiveDateTime,
            updated_at: chrono::NaiveDateTime,
        }

        impl<$lt> $name<$lt> {
            fn new(id: ::uuid::Uuid, $input: $input_type, now: $crate::domain::Timestamp) -> Self {
                $name {
                    id: id.to_string(),
                    $($column: $value,)*
                    created_at: $crate::storage::rows::naive(now),
                    updated_at: $crate::storage::rows::naive(now),
                }
            }
        }
    };
}
pub(crate) use row_values;

/// Declares a kind's row as stored, each column with its type and how the record reads it from `$row`
/// (the record's field of the same name), between the `id` and the `createdAt` and `updatedAt` every row
/// has: the row (`Queryable`, `Selectable`) and the record `TryFrom` it.
macro_rules! stored_row {
    (
        $(#[$meta:meta])*
        $table:ident: $name:ident => $record:ident |$row:ident| {
            $($column:ident: $type:ty => $value:expr),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Queryable, Selectable)]
        #[diesel(table_name = $table)]
        struct $name {
            id: String,
            $($column: $type,)*
            created_at: chrono::NaiveDateTime,
            updated_at: chrono::NaiveDateTime,
        }

        impl TryFrom<$name> for $record {
            type Error = $crate::storage::StoreError;

            fn try_from($row: $name) -> $crate::storage::StoreResult<$record> {
                Ok($record {
                    id: $crate::storage::rows::uuid(&$row.id)?,
                    $($column: $value,)*
                    created_at: $crate::storage::rows::timestamp($row.created_at),
                    updated_at: $crate::storage::rows::timestamp($row.updated_at),
                })
            }
        }
    };
}
pub(crate) use stored_row;
