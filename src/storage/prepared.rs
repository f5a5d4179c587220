//! Write statements that stay prepared on the connection.
//!
//! Diesel never keeps UPDATEs or `sql_query` text prepared, because it cannot know how many different
//! SQL texts they produce. PostgreSQL then parses and plans each of them on every write, and planning
//! was the largest cost of a write. The statements built here produce one fixed SQL text each, so they
//! tell diesel that caching is safe; without a static query id diesel keys its cache by the SQL text,
//! so two different texts never share a prepared statement.

use diesel::backend::Backend;
use diesel::expression::Expression;
use diesel::query_builder::{AsChangeset, AstPass, Query, QueryFragment, QueryId};
use diesel::query_source::{QuerySource, Table};
use diesel::{QueryResult, RunQueryDsl};

/// Hand-written SQL around bound values: `head`, the values separated by commas, then `tail`.
/// `values` is a tuple of `value.into_sql::<SqlType>()`, so placeholders are right on either backend.
#[derive(Debug, Clone)]
pub struct Handwritten<V> {
    pub head: &'static str,
    pub values: V,
    pub tail: &'static str,
}

impl<V: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Handwritten<V> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.head);
        self.values.walk_ast(out.reborrow())?;
        out.push_sql(self.tail);
        Ok(())
    }
}

impl<V> Handwritten<V> {
    /// The statement as a query that returns one value of SQL type `ST` (a function's result).
    pub fn returning<ST>(self) -> HandwrittenQuery<V, ST> {
        HandwrittenQuery { statement: self, returns: std::marker::PhantomData }
    }
}

/// A [`Handwritten`] statement that returns one value of SQL type `ST`.
#[derive(Debug, Clone)]
pub struct HandwrittenQuery<V, ST> {
    statement: Handwritten<V>,
    returns: std::marker::PhantomData<ST>,
}

impl<V: QueryFragment<DB>, ST, DB: Backend> QueryFragment<DB> for HandwrittenQuery<V, ST> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.statement.walk_ast(out)
    }
}

impl<V, ST: diesel::sql_types::SqlType + diesel::sql_types::SingleValue> Query for HandwrittenQuery<V, ST> {
    type SqlType = ST;
}

/// `UPDATE table SET changes WHERE filter`, where `changes` always sets the same columns.
#[derive(Debug, Clone)]
pub struct Update<F, C, W> {
    from: F,
    changes: C,
    filter: W,
}

/// Like `diesel::update(table.filter(filter)).set(changes)`, kept prepared. `changes` must set the
/// same columns every time (no `Option` that skips a column), which is how every write here is built.
pub fn update<T, V, W>(table: T, changes: V, filter: W) -> Update<T::FromClause, V::Changeset, W>
where
    T: Table + QuerySource,
    V: AsChangeset<Target = T>,
{
    Update { from: table.from_clause(), changes: changes.as_changeset(), filter }
}

impl<F, C, W, DB> QueryFragment<DB> for Update<F, C, W>
where
    DB: Backend,
    F: QueryFragment<DB>,
    C: QueryFragment<DB>,
    W: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        Ok(())
    }
}

impl<F, C, W> Update<F, C, W> {
    /// `… RETURNING columns`: the updated row comes back with the update, in the same round trip.
    pub fn returning<R>(self, columns: R) -> UpdateReturning<Self, R> {
        UpdateReturning { update: self, columns }
    }
}

/// An [`Update`] that returns `columns` of the updated row.
#[derive(Debug, Clone)]
pub struct UpdateReturning<U, R> {
    update: U,
    columns: R,
}

impl<U, R, DB> QueryFragment<DB> for UpdateReturning<U, R>
where
    DB: Backend,
    U: QueryFragment<DB>,
    R: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.update.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING ");
        self.columns.walk_ast(out.reborrow())
    }
}

impl<U, R: Expression> Query for UpdateReturning<U, R> {
    type SqlType = R::SqlType;
}

macro_rules! keyed_by_sql_text {
    ($($name:ident<$($param:ident),+>),+) => {$(
        impl<$($param),+> QueryId for $name<$($param),+> {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
        impl<$($param,)+ Conn> RunQueryDsl<Conn> for $name<$($param),+> {}
    )+};
}
keyed_by_sql_text!(Handwritten<V>, HandwrittenQuery<V, ST>, Update<F, C, W>, UpdateReturning<U, R>);
