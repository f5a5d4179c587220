//! Downloads of the public data: the dataset file and CSV per resource, with ETags.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Caller;
use super::conditional::respond_bytes;
use super::problem::ApiError;
use super::query::{FromQuery, QueryParams};
use super::state::AppState;
use crate::domain::dataset::{CsvColumn, CsvSeparator, to_csv};
use crate::domain::{Access, Body, Contact, Contract, Handlungsfeld, Network};
use crate::storage::{Db, StoreResult, Table};

/// The columns of a resource's CSV: its fields in the order of its representation, as readable text
/// (addresses in three columns, sources and signatories as text, see [`crate::domain::dataset::CellText`]).
pub fn csv_columns(resource: &str) -> Option<&'static [CsvColumn]> {
    use CsvColumn as C;
    const NETWORKS: &[CsvColumn] = &[
        C::plain("id"),
        C::plain("slug"),
        C::plain("name"),
        C::plain("regionKey"),
        C::plain("status"),
        C::plain("website"),
        C::plain("description"),
        C::plain("handlungsfeldIds"),
        C::plain("foundedOn"),
        C::SOURCES,
        C::plain("createdAt"),
        C::plain("updatedAt"),
    ];
    const CONTRACTS: &[CsvColumn] = &[
        C::plain("id"),
        C::plain("networkId"),
        C::plain("kind"),
        C::plain("signedOn"),
        C::SIGNATORIES,
        C::plain("handlungsfeldIds"),
        C::plain("documentUrl"),
        C::plain("notes"),
        C::SOURCES,
        C::plain("createdAt"),
        C::plain("updatedAt"),
    ];
    const BODIES: &[CsvColumn] = &[
        C::plain("id"),
        C::plain("networkId"),
        C::plain("type"),
        C::plain("name"),
        C::plain("description"),
        C::ADDRESS_STREET,
        C::ADDRESS_POSTAL_CODE,
        C::ADDRESS_CITY,
        C::plain("email"),
        C::plain("phone"),
        C::plain("website"),
        C::SOURCES,
        C::plain("createdAt"),
        C::plain("updatedAt"),
    ];
    const HANDLUNGSFELDER: &[CsvColumn] = &[
        C::plain("id"),
        C::plain("slug"),
        C::plain("name"),
        C::plain("description"),
        C::SOURCES,
        C::plain("createdAt"),
        C::plain("updatedAt"),
    ];
    const CONTACTS: &[CsvColumn] = &[
        C::plain("id"),
        C::plain("networkId"),
        C::plain("bodyId"),
        C::plain("districtKey"),
        C::plain("name"),
        C::plain("function"),
        C::plain("organisation"),
        C::plain("email"),
        C::plain("phone"),
        C::ADDRESS_STREET,
        C::ADDRESS_POSTAL_CODE,
        C::ADDRESS_CITY,
        C::plain("visibility"),
        C::plain("isPerson"),
        C::plain("publicationConsent"),
        C::SOURCES,
        C::plain("createdAt"),
        C::plain("updatedAt"),
    ];
    Some(match resource {
        "networks" => NETWORKS,
        "contracts" => CONTRACTS,
        "bodies" => BODIES,
        "handlungsfelder" => HANDLUNGSFELDER,
        "contacts" => CONTACTS,
        _ => return None,
    })
}

fn values<R: Table>(db: &Db, access: &Access) -> StoreResult<Vec<serde_json::Value>>
where
    R::Filter: Default + FromQuery,
{
    let mut filter = R::Filter::default();
    filter.restrict(access);
    Ok(db.all::<R>(&filter, access)?.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect())
}

/// The records of one resource type as JSON values, as `access` may see them.
pub fn resource_values(db: &Db, resource: &str, access: &Access) -> StoreResult<Option<Vec<serde_json::Value>>> {
    Ok(Some(match resource {
        "networks" => values::<Network>(db, access)?,
        "contracts" => values::<Contract>(db, access)?,
        "bodies" => values::<Body>(db, access)?,
        "handlungsfelder" => values::<Handlungsfeld>(db, access)?,
        "contacts" => values::<Contact>(db, access)?,
        _ => return Ok(None),
    }))
}

/// `/v1/exports/dataset.json`: the public dataset, in the format `rbn import` reads.
pub async fn dataset(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    let db = state.db.clone();
    let document = web::block(move || db.export(&Access::Anonymous)).await??;
    let mut body = serde_json::to_vec_pretty(&document).unwrap_or_default();
    body.push(b'\n');
    Ok(respond_bytes(&req, &caller.0, StatusCode::OK, body, "application/json", None))
}

/// `/v1/exports/{resource}.csv`: one resource's public records as CSV.
pub async fn csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let separator = params.one_of::<CsvSeparator>("separator", CsvSeparator::ALL).unwrap_or(CsvSeparator::Comma);
    params.finish()?;
    let file = path.into_inner();
    let resource = file.strip_suffix(".csv").unwrap_or("").to_string();
    let columns = csv_columns(&resource).ok_or_else(|| {
        ApiError::NotFound(
            "Exports exist for networks, contracts, bodies, handlungsfelder and contacts: /v1/exports/networks.csv"
                .into(),
        )
    })?;
    let db = state.db.clone();
    let name = resource.clone();
    let records = web::block(move || resource_values(&db, &name, &Access::Anonymous)).await??.unwrap_or_default();
    let body = to_csv(columns, &records, separator).into_bytes();
    let mut response = respond_bytes(&req, &caller.0, StatusCode::OK, body, "text/csv; charset=utf-8", None);
    if let Ok(value) = format!("attachment; filename=\"rbn-{resource}.csv\"").parse() {
        response.headers_mut().insert(actix_web::http::header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
