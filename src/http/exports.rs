//! Downloads of the public data: the dataset file and CSV per resource, with ETags.

use std::io::BufWriter;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::auth::Caller;
use super::conditional::{cache_control, etag_of, if_none_match, none_match_hits, respond_bytes};
use super::middleware::HeadRequest;
use super::pipe::pipe;
use super::problem::ApiError;
use super::query::{FromQuery, QueryParams};
use super::state::AppState;
use crate::domain::dataset::{CellText, CsvColumn, CsvSeparator, to_csv};
use crate::domain::{Access, Body, Contact, Contract, Handlungsfeld, Meeting, Network};
use crate::storage::{Db, ExportError, SnapshotVersion, StoreResult, Table};

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
    const MEETINGS: &[CsvColumn] = &[
        C::plain("id"),
        C::plain("networkId"),
        C::plain("bodyId"),
        C::plain("name"),
        C::plain("start"),
        C::plain("end"),
        C::plain("status"),
        C { header: "locationStreet", field: "location", text: CellText::Part("address.street") },
        C { header: "locationPostalCode", field: "location", text: CellText::Part("address.postalCode") },
        C { header: "locationCity", field: "location", text: CellText::Part("address.city") },
        C { header: "locationOnlineUrl", field: "location", text: CellText::Part("onlineUrl") },
        C::plain("description"),
        C::plain("url"),
        C::plain("documentationUrl"),
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
        "meetings" => MEETINGS,
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
        "meetings" => values::<Meeting>(db, access)?,
        _ => return Ok(None),
    }))
}

/// How many full exports one process streams at once; each reads on a database connection of its own.
pub const CONCURRENT_EXPORTS: usize = 4;

/// The bytes an export hands to the client at a time, and how many such chunks wait for it at most:
/// with the page of records being read, all the memory one export takes, whatever the dataset's size.
const EXPORT_CHUNK: usize = 64 * 1024;
const EXPORT_CHUNKS_WAITING: usize = 4;

/// `/v1/exports/dataset.json`: the public dataset, in the format `rbn import` reads.
///
/// Streamed: a blocking task reads the dataset page by page from one snapshot and writes it into a
/// bounded pipe while the client reads (see `pipe`), so memory stays flat however large the registry is.
/// The ETag is known before the first byte: it derives from the snapshot's version (see
/// [`dataset_etag`]), so a revalidation (304) or a HEAD reads no records at all.
pub async fn dataset(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    let permit = state.exports.clone().try_acquire_owned().map_err(|_| {
        ApiError::Busy(format!(
            "{CONCURRENT_EXPORTS} downloads of the dataset are in progress, as many as the service streams at once; \
             retry shortly."
        ))
    })?;
    // A client that reads nothing for as long as a request may take loses the download and its snapshot.
    let (writer, body) = pipe(EXPORT_CHUNKS_WAITING, state.config.request_timeout);
    let (version_tx, version_rx) = tokio::sync::oneshot::channel();
    let db = state.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let _permit = permit;
        let mut version_tx = Some(version_tx);
        let exported = db.export(&Access::Anonymous, |version| {
            version_tx.take()?.send(Ok(version.clone())).ok()?;
            writer.wait_for_reader().then(|| BufWriter::with_capacity(EXPORT_CHUNK, writer))
        });
        match exported {
            Ok(Some(out)) => match out.into_inner() {
                Ok(writer) => writer.finish(),
                Err(error) => tracing::debug!(error = %error.error(), "the dataset download was not read to its end"),
            },
            Ok(None) => {}
            Err(error) => match version_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(error));
                }
                None => match error {
                    ExportError::Write(error) => {
                        tracing::debug!(%error, "the dataset download was not read to its end")
                    }
                    ExportError::Store(error) => tracing::warn!(%error, "the dataset download broke off"),
                },
            },
        }
    });
    let version = version_rx.await.map_err(|_| ApiError::Internal("the export ended before it began".into()))?;
    let version = version.map_err(|error| match error {
        ExportError::Store(error) => ApiError::from(error),
        ExportError::Write(error) => ApiError::Internal(error.to_string()),
    })?;
    let etag = dataset_etag(&version);
    let not_modified = if_none_match(&req).is_some_and(|tags| none_match_hits(&tags, &etag));
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control(&req, &caller.0)))
        .insert_header((header::VARY, HeaderValue::from_static("Authorization")))
        .content_type("application/json");
    // A client that has the export, and HEAD, get the headers without a body: dropping the pipe tells the
    // task to read nothing. `encoding::serve` turns the first into its 304, with the ETag of its coding.
    if not_modified || req.extensions().get::<HeadRequest>().is_some() {
        return Ok(response.streaming(futures_util::stream::empty::<std::io::Result<Bytes>>()));
    }
    Ok(response.streaming(body))
}

/// The ETag of the dataset export: a hash of what decides its bytes, all known before they are read — the
/// snapshot's version (which moves with every committed write), the reader's view (every caller gets the
/// anonymous one) and the release of the service (which decides the format). The same state gives the
/// same tag on every instance; any change of the data gives another.
fn dataset_etag(version: &SnapshotVersion) -> String {
    let last_change = version.last_change.map_or(0, |at| at.0.timestamp_micros());
    let release = env!("CARGO_PKG_VERSION");
    etag_of(format!("dataset.json {release} anonymous {} {last_change}", version.writes).as_bytes())
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
            "Exports exist for networks, contracts, bodies, handlungsfelder, contacts and meetings: /v1/exports/networks.csv"
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
