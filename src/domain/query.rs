//! How a list's filter is read from a query string. The filters are domain types (their parameters are
//! stated next to them, with `IntoParams`); the HTTP layer supplies the parameters ([`QuerySource`]), so
//! reading them needs no HTTP here and every editable kind's filter can be read generically.

use std::str::FromStr;

use utoipa::IntoParams;
use uuid::Uuid;

use super::Access;

/// The query parameters of one request, read by name (implemented by `http::query::QueryParams`). A value
/// that is given but invalid is recorded as a field error by the source and read as absent.
pub trait QuerySource {
    /// A free-text value, trimmed; an empty value counts as not given.
    fn text(&mut self, name: &str) -> Option<String>;
    /// A typed value; `expected` says what it must be ("a UUID").
    fn parsed<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T>;
    /// One of `allowed`.
    fn one_of<T: FromStr>(&mut self, name: &str, allowed: &[&str]) -> Option<T>;
    /// A Regierungsbezirk key: 1, 3, 5, 7 or 9.
    fn district(&mut self, name: &str) -> Option<i32>;
}

/// A resource's list filter: what it reads from the query string and how it narrows. Every editable
/// kind's `Table::Filter` is one, so routes, exports and the OpenAPI document handle all kinds alike.
pub trait FromQuery: IntoParams + Default + Send + Sync + 'static {
    fn read(params: &mut impl QuerySource) -> Self;

    /// Narrows the filter to what the caller may see (contacts).
    fn restrict(&mut self, _access: &Access) {}

    /// Narrows the filter to one network, for the lists under `/v1/networks/{id}/…`; `None` when the
    /// resource has no such list.
    fn for_network(&mut self, _network: Uuid) -> Option<()> {
        None
    }
}
