//! The unique columns that input sets, and the field of the input each one is: a value that is taken is
//! a 409 naming the field, whether the check before the insert found it or the database's unique index
//! did (two writers racing on PostgreSQL), and never with the database's own words.

use diesel::result::DatabaseErrorInformation;

use super::StoreError;
use crate::domain::FieldError;

/// Table, column, the input field, and what a taken value means.
const UNIQUE_FIELDS: &[(&str, &str, &str, &str)] = &[
    ("networks", "slug", "slug", "is already used by another network"),
    ("networks", "region_key", "regionKey", "already has a network: at most one network per Kreis or kreisfreie Stadt"),
    ("handlungsfelder", "slug", "slug", "is already used by another Handlungsfeld"),
];

/// The 409 for a taken value of `table.column`; `detail` says more where the caller knows the value.
pub fn taken(table: &str, column: &str, detail: Option<String>) -> StoreError {
    match UNIQUE_FIELDS.iter().find(|(t, c, _, _)| *t == table && *c == column) {
        Some((_, _, field, message)) => StoreError::Taken {
            detail: detail.unwrap_or_else(|| format!("{field} {message}")),
            error: FieldError::new(*field, *message),
        },
        None => StoreError::Conflict("a value that must be unique is already taken".into()),
    }
}

/// Refuses `$slug` (409 naming `slug`) when a record of `$table` other than `$id` has it: the check before
/// a write, which can name the value.
macro_rules! slug_free {
    ($conn:expr, $table:ident, $id:expr, $slug:expr, $noun:literal) => {{
        let own = $id.map(|id| id.to_string()).unwrap_or_default();
        let taken: i64 = $table::table
            .filter($table::slug.eq($slug.as_str()))
            .filter($table::id.ne(&own))
            .select(diesel::dsl::count_star())
            .first($conn)?;
        if taken > 0 {
            let detail = format!("the slug '{}' is already used by another {}", $slug, $noun);
            Err($crate::storage::unique::taken(stringify!($table), "slug", Some(detail)))
        } else {
            Ok(())
        }
    }};
}
pub(crate) use slug_free;

/// The 409 for a unique violation the database reported. PostgreSQL names the constraint
/// (`{table}_{column}_key` for a `UNIQUE` column), SQLite the column in its message
/// (`UNIQUE constraint failed: {table}.{column}`).
pub fn violation(info: &dyn DatabaseErrorInformation) -> StoreError {
    let named = |table: &str, column: &str| {
        info.constraint_name() == Some(&format!("{table}_{column}_key"))
            || info.message().ends_with(&format!(": {table}.{column}"))
    };
    match UNIQUE_FIELDS.iter().find(|(table, column, _, _)| named(table, column)) {
        Some((table, column, _, _)) => taken(table, column, None),
        None => taken("", "", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str, Option<&'static str>);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.1
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn field(error: StoreError) -> Option<String> {
        match error {
            StoreError::Taken { error, detail } => {
                assert!(!detail.contains("constraint") && !detail.contains("key value"), "{detail}");
                Some(error.field)
            }
            StoreError::Conflict(detail) => {
                assert!(!detail.contains("constraint"), "{detail}");
                None
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn violations_name_the_field_on_both_backends() {
        let postgres = |constraint| Info("duplicate key value violates unique constraint \"x\"", Some(constraint));
        assert_eq!(field(violation(&postgres("networks_slug_key"))).as_deref(), Some("slug"));
        assert_eq!(field(violation(&postgres("networks_region_key_key"))).as_deref(), Some("regionKey"));
        assert_eq!(field(violation(&postgres("handlungsfelder_slug_key"))).as_deref(), Some("slug"));
        assert_eq!(field(violation(&postgres("api_keys_secret_hash_key"))), None);
        let sqlite = |message| Info(message, None);
        assert_eq!(
            field(violation(&sqlite("UNIQUE constraint failed: networks.region_key"))).as_deref(),
            Some("regionKey")
        );
        assert_eq!(
            field(violation(&sqlite("UNIQUE constraint failed: handlungsfelder.slug"))).as_deref(),
            Some("slug")
        );
        assert_eq!(field(violation(&sqlite("UNIQUE constraint failed: changes.seq"))), None);
    }
}
