//! The contract between the generic write and list operations and one resource's table.

use uuid::Uuid;

use super::{Change, DbConnection, StoreResult};
use crate::domain::access::{Access, Scope};
use crate::domain::{FromQuery, Resource, ResourceKind, Timestamp};

/// Where a list page starts: after an id (plain lists, ordered by id), or after a change (lists with
/// `modifiedSince`, ordered by `updatedAt`, then id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Id(Uuid),
    Changed {
        at: Timestamp,
        id: Uuid,
    },
    /// After a natural key (reference data ordered by key).
    Key(String),
    /// After a start (meetings, ordered by the first instant of their start, then id).
    Start {
        key: String,
        id: Uuid,
    },
}

/// The default order of a kind's lists (`modifiedSince` lists are always in change order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    /// By id, which is creation order for UUIDv7 ids.
    Id,
    /// By the first instant of `start`, then id (meetings: the order of a calendar).
    Start,
}

/// One page's worth of a list query.
#[derive(Debug, Clone)]
pub struct Window {
    /// Rows to fetch (the HTTP layer asks for one more than it shows, to know whether a next page exists).
    pub limit: i64,
    pub after: Option<Cursor>,
    /// Only records changed at or after this time, ordered by change.
    pub since: Option<Timestamp>,
}

/// A write about to be made, as [`Table::check_conflicts`] sees it.
pub struct Proposed<'a, R: Resource> {
    /// The record's id; none for a creation.
    pub id: Option<Uuid>,
    /// Its new content.
    pub input: &'a R::Input,
    /// Its current content, when it has one: what did not change need not be checked again.
    pub before: Option<&'a R::Input>,
}

/// One resource's table. Implemented once per resource in this module's submodules.
pub trait Table: Resource + Sized {
    /// The list's filter, read from the query string (see [`FromQuery`]).
    type Filter: FromQuery;
    /// The default order of the kind's lists; [`Table::position`] gives a record's place in it.
    const ORDER: ListOrder = ListOrder::Id;

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Self>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }
    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Self>>;
    fn list(conn: &mut DbConnection, filter: &Self::Filter, window: &Window) -> StoreResult<Vec<Self>>;
    /// Whether the record exists (the reference check of writes). Kinds whose load reads more than their
    /// own row say it with a count.
    fn exists(conn: &mut DbConnection, id: Uuid) -> StoreResult<bool> {
        Ok(!Self::load_many(conn, &[id])?.is_empty())
    }
    /// Where a list in this table's default order continues after `self`: by id, unless it says otherwise.
    fn position(&self) -> Cursor {
        Cursor::Id(self.id())
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &Self::Input, now: Timestamp) -> StoreResult<()>;
    /// Updates the record if it is still at `version` (its `updatedAt`) and returns it as stored now;
    /// `None` when another write came first. The versioned statement is the first write, so nothing has
    /// changed when it returns `None`.
    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &Self::Input,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>>;
    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()>;

    /// Fills in what the input implies (a contact's network from its body); runs after the reference check.
    fn complete(_conn: &mut DbConnection, input: Self::Input) -> StoreResult<Self::Input> {
        Ok(input)
    }

    /// Where a record with this input belongs (for authorisation).
    fn scope_of_input(conn: &mut DbConnection, id: Option<Uuid>, input: &Self::Input) -> StoreResult<Scope>;
    /// Where a stored record belongs.
    fn scope_of_record(conn: &mut DbConnection, record: &Self) -> StoreResult<Scope>;

    /// Refuses values that conflict with other records (409). `before` is the record's current content,
    /// when it has one: what did not change need not be checked again.
    fn check_conflicts(_conn: &mut DbConnection, _write: Proposed<'_, Self>) -> StoreResult<()> {
        Ok(())
    }

    /// Refuses to delete a record others still depend on (409): nothing cascades silently.
    fn check_dependents(_conn: &mut DbConnection, _id: Uuid) -> StoreResult<()> {
        Ok(())
    }

    /// What `access` may see of `records`: most resources show everything; contacts hide internal ones
    /// (as tombstones) and the channels of unconsented persons.
    fn present(_conn: &mut DbConnection, records: Vec<Self>, _access: &Access) -> StoreResult<Vec<Change<Self>>> {
        Ok(records.into_iter().map(Change::Live).collect())
    }

    /// Updates records whose representation derives from this one (a contract changes its network's
    /// `foundedOn`), so their `updatedAt` and ETag move too. Returns them with their new `updatedAt`, for
    /// the change feed.
    fn touch_related(
        _conn: &mut DbConnection,
        _before: Option<&Self>,
        _after: Option<&Self::Input>,
        _now: Timestamp,
    ) -> StoreResult<Vec<(ResourceKind, Uuid, Timestamp)>> {
        Ok(Vec::new())
    }

    /// Whether a write from `before` to `after` changes a column with a unique index (a slug).
    /// PostgreSQL locks such an update's row as strongly as a delete's.
    fn changes_unique_column(_before: &Self::Input, _after: &Self::Input) -> bool {
        false
    }
}

/// Orders and limits a boxed query of `$table` by `$window` (id order, or change order with `since`).
macro_rules! apply_window {
    ($query:expr, $table:ident, $window:expr) => {{
        use $crate::storage::rows::naive;
        use $crate::storage::schema::$table::dsl as t;
        use $crate::storage::table::Cursor;
        let window = $window;
        let mut query = $query;
        let query = match window.since {
            None => {
                if let Some(Cursor::Id(after)) = &window.after {
                    query = query.filter(t::id.gt(after.to_string()));
                }
                query.order(t::id.asc())
            }
            Some(since) => {
                query = query.filter(t::updated_at.ge(naive(since)));
                if let Some(Cursor::Changed { at, id }) = &window.after {
                    query = query.filter(
                        t::updated_at.gt(naive(*at)).or(t::updated_at.eq(naive(*at)).and(t::id.gt(id.to_string()))),
                    );
                }
                query.order((t::updated_at.asc(), t::id.asc()))
            }
        };
        query.limit(window.limit)
    }};
}
pub(crate) use apply_window;

/// Restricts a boxed query by its filter's `network` (an id or slug, see `reference::networks_named`) and
/// `networks` (the networks a key may see), both on `$column`. One network, the usual case, is an
/// equality: the index on (network_id, id) then yields a page in id order without reading the network's
/// other records.
macro_rules! of_networks {
    ($conn:expr, $query:expr, $column:expr, $filter:expr) => {{
        let mut query = $query;
        if let Some(network) = &$filter.network {
            query = match $crate::storage::reference::networks_named($conn, network)?.as_slice() {
                [one] => query.filter($column.eq(one.clone())),
                many => query.filter($column.eq_any(many.to_vec())),
            };
        }
        if let Some(networks) = &$filter.networks {
            query = query.filter($column.eq_any($crate::storage::rows::ids_to_text(networks)));
        }
        query
    }};
}
pub(crate) use of_networks;

/// The methods of [`Table`] of a kind that is one row of `$table` and nothing else: rows read as `$row`
/// (`TryFrom<$row>` for the kind), written as `$values` (`$values::new(id, input, now)`). The `@…` arms
/// are the methods one by one, for a kind that writes more than its row.
macro_rules! row_table {
    ($table:ident, $row:ident, $values:ident) => {
        $crate::storage::table::row_table!(@load_many $table, $row);
        $crate::storage::table::row_table!(@insert $table, $values);
        $crate::storage::table::row_table!(@update $table, $row, $values);
        $crate::storage::table::row_table!(@delete $table);
    };
    (@load_many $table:ident, $row:ident) => {
        fn load_many(conn: &mut $crate::storage::DbConnection, ids: &[::uuid::Uuid]) -> $crate::storage::StoreResult<Vec<Self>> {
            let rows: Vec<$row> = $table::table
                .filter($table::id.eq_any($crate::storage::rows::ids_to_text(ids)))
                .select($row::as_select())
                .order($table::id)
                .load(conn)?;
            rows.into_iter().map(Self::try_from).collect()
        }
    };
    (@insert $table:ident, $values:ident) => {
        $crate::storage::table::row_table!(@insert $table, $values, |conn, id, input| ());
    };
    // `$then` writes what the kind has besides its row.
    (@insert $table:ident, $values:ident, |$conn:ident, $id:ident, $input:ident| $then:expr) => {
        fn insert(
            $conn: &mut $crate::storage::DbConnection,
            $id: ::uuid::Uuid,
            $input: &Self::Input,
            now: $crate::domain::Timestamp,
        ) -> $crate::storage::StoreResult<()> {
            diesel::insert_into($table::table).values($values::new($id, $input, now)).execute($conn)?;
            $then;
            Ok(())
        }
    };
    (@update $table:ident, $row:ident, $values:ident) => {
        $crate::storage::table::row_table!(@update $table, $row, |id, input, now| $values::new(id, input, now));
    };
    // `$changes` gives the update's changes (the values and anything the kind sets besides).
    (@update $table:ident, $row:ident, |$id:ident, $input:ident, $now:ident| $changes:expr) => {
        $crate::storage::table::row_table!(@update_fn |conn, $id, $input, $now, version| {
            let row: Option<$row> = $crate::storage::prepared::update(
                $table::table,
                $changes,
                $table::id.eq($id.to_string()).and($table::updated_at.eq($crate::storage::rows::naive(version))),
            )
            .returning($row::as_returning())
            .get_result(conn)
            .optional()?;
            row.map(Self::try_from).transpose()
        });
    };
    (@update_fn |$conn:ident, $id:ident, $input:ident, $now:ident, $version:ident| $body:block) => {
        fn update(
            $conn: &mut $crate::storage::DbConnection,
            $id: ::uuid::Uuid,
            $input: &Self::Input,
            $now: $crate::domain::Timestamp,
            $version: $crate::domain::Timestamp,
        ) -> $crate::storage::StoreResult<Option<Self>> $body
    };
    // A kind that is its row and its Handlungsfelder, in order, in `$links` (by `$owner`, its id there).
    (@linked $table:ident, $values:ident, $links:ident, $owner:ident) => {
        $crate::storage::table::row_table!(@insert $table, $values, |conn, id, input| {
            $crate::storage::table::row_table!(@write_links conn, $links, $owner, id, input)
        });

        $crate::storage::table::row_table!(@update_fn |conn, id, input, now, version| {
            let rows = $crate::storage::prepared::update(
                $table::table,
                $values::new(id, input, now),
                $table::id.eq(id.to_string()).and($table::updated_at.eq($crate::storage::rows::naive(version))),
            )
            .execute(conn)?;
            if rows != 1 {
                return Ok(None);
            }
            $crate::storage::table::row_table!(@write_links conn, $links, $owner, id, input);
            Self::load(conn, id)
        });

        fn delete(conn: &mut $crate::storage::DbConnection, id: ::uuid::Uuid) -> $crate::storage::StoreResult<()> {
            diesel::delete($links::table.filter($links::$owner.eq(id.to_string()))).execute(conn)?;
            diesel::delete($table::table.find(id.to_string())).execute(conn)?;
            Ok(())
        }
    };
    (@write_links $conn:ident, $links:ident, $owner:ident, $id:ident, $input:ident) => {{
        diesel::delete($links::table.filter($links::$owner.eq($id.to_string()))).execute($conn)?;
        for (position, handlungsfeld) in $input.handlungsfeld_ids.iter().enumerate() {
            diesel::insert_into($links::table)
                .values((
                    $links::$owner.eq($id.to_string()),
                    $links::handlungsfeld_id.eq(handlungsfeld.to_string()),
                    $links::position.eq(position as i32),
                ))
                .execute($conn)?;
        }
    }};
    // A kind whose records belong to the network of their `network_id`.
    (@network_scope) => {
        fn scope_of_input(
            conn: &mut $crate::storage::DbConnection,
            _id: Option<::uuid::Uuid>,
            input: &Self::Input,
        ) -> $crate::storage::StoreResult<$crate::domain::access::Scope> {
            $crate::storage::reference::network_scope(conn, input.network_id)
        }

        fn scope_of_record(
            conn: &mut $crate::storage::DbConnection,
            record: &Self,
        ) -> $crate::storage::StoreResult<$crate::domain::access::Scope> {
            $crate::storage::reference::network_scope(conn, record.network_id)
        }
    };
    (@delete $table:ident) => {
        fn delete(conn: &mut $crate::storage::DbConnection, id: ::uuid::Uuid) -> $crate::storage::StoreResult<()> {
            diesel::delete($table::table.find(id.to_string())).execute(conn)?;
            Ok(())
        }
    };
}
pub(crate) use row_table;
