//! Downloads of the public data: the dataset file and CSV per resource, with ETags.

use std::io::BufWriter;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::auth::Caller;
use super::conditional::{cache_control, etag_of, if_none_match, none_match_hits, respond_bytes};
use super::middleware::HeadRequest;
use super::openapi_parts::{IfNoneMatch, ListProblems, NotModified, ReadProblems, path_param, query_param};
use super::pipe::pipe;
use super::problem::ApiError;
use super::query::{FromQuery, QueryParams};
use crate::domain::Access;
use crate::domain::dataset::{CsvColumn, CsvSeparator, to_csv};
use crate::http::problem::Reply;
use crate::http::state::State;
use crate::storage::kinds::{KindVisitor, editable_names, with_kind};
use crate::storage::{Db, ExportError, SnapshotVersion, StoreResult, Table};

/// The CSV columns of the editable kind named `resource` (`networks`, …), if it is one.
pub fn csv_columns(resource: &str) -> Option<&'static [CsvColumn]> {
    struct Columns(Option<&'static [CsvColumn]>);
    impl KindVisitor for Columns {
        fn visit<R: Table>(&mut self) {
            self.0 = Some(R::CSV_COLUMNS);
        }
    }
    let mut columns = Columns(None);
    with_kind(resource.parse().ok()?, &mut columns);
    columns.0
}

/// The records of the editable kind named `resource` as JSON values, as `access` may see them; `None`
/// when there is no such kind.
pub fn resource_values(db: &Db, resource: &str, access: &Access) -> StoreResult<Option<Vec<serde_json::Value>>> {
    struct Values<'a> {
        db: &'a Db,
        access: &'a Access,
        values: Option<StoreResult<Vec<serde_json::Value>>>,
    }
    impl KindVisitor for Values<'_> {
        fn visit<R: Table>(&mut self) {
            let mut filter = R::Filter::default();
            filter.restrict(self.access);
            self.values = Some(
                self.db
                    .all::<R>(&filter, self.access)
                    .map(|records| records.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect()),
            );
        }
    }
    let Ok(kind) = resource.parse() else { return Ok(None) };
    let mut values = Values { db, access, values: None };
    with_kind(kind, &mut values);
    values.values.transpose()
}

pub use super::state::CONCURRENT_EXPORTS;

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
#[utoipa::path(
    get, path = "/v1/exports/dataset.json", operation_id = "export_dataset", tag = "exports",
    summary = "The public dataset",
    description = "The whole public registry in the dataset format that `rbn import` reads (internal contacts and \
        unconsented persons' channels left out), with the data licence. Streamed while it is read from one consistent \
        snapshot, so it has no `Content-Length`; a download that breaks off ends without the last chunk, never as a \
        shorter document. The ETag derives from the snapshot's version: a revalidation (304) reads no records. A \
        service streams a few downloads at once (503 with `Retry-After` beyond), and gives up one whose client reads \
        nothing for the request time-out.",
    params(IfNoneMatch),
    responses(
        (status = 200, description = "The dataset.", body = inline(DatasetShape), headers(("ETag" = String))),
        NotModified, ListProblems,
    ),
)]
pub async fn dataset(req: HttpRequest, state: State, caller: Caller) -> Reply {
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

/// The outline of the dataset (its full format is `rbn import`'s; see `domain::dataset`).
struct DatasetShape;

impl ToSchema for DatasetShape {}

impl PartialSchema for DatasetShape {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("format", ObjectBuilder::new().schema_type(Type::String))
            .property("formatVersion", ObjectBuilder::new().schema_type(Type::Integer))
            .property("licence", ObjectBuilder::new())
            .into()
    }
}

/// "`networks.csv`, …, `handlungsfelder.csv` or `contacts.csv`.": the CSV files, one per editable kind.
fn csv_files() -> String {
    let files: Vec<String> = editable_names().iter().map(|name| format!("`{name}.csv`")).collect();
    let (last, others) = files.split_last().expect("there are editable kinds");
    format!("{} or {last}.", others.join(", "))
}

/// The parameters of a CSV export: the file and the separator.
struct CsvParams;

impl IntoParams for CsvParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let separator = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(CsvSeparator::ALL.iter().copied()))
            .default(Some(json!("comma")));
        vec![
            path_param("file", &csv_files(), json!("networks.csv")),
            query_param(
                "separator",
                "The character between cells: `comma` (the default) or `semicolon`, for spreadsheets whose list \
                 separator is `;` (German Excel). Each has its own ETag.",
                separator,
                json!("semicolon"),
            ),
        ]
    }
}

/// `/v1/exports/{resource}.csv`: one resource's public records as CSV.
#[utoipa::path(
    get, path = "/v1/exports/{file}", operation_id = "export_csv", tag = "exports", summary = "One resource as CSV",
    description = "The public records of one resource as CSV for spreadsheets: UTF-8 with byte-order mark (so that \
        Excel reads umlauts), RFC 4180 quoting (a cell with `,`, `;`, a double quote, tab or line break is quoted, its \
        double quotes doubled), CRLF; cells separated by `,`, or by `;` with `separator=semicolon` (German Excel opens \
        that in columns). The columns are the fields of the JSON representation in its order, every cell readable \
        text, never JSON: lists of ids joined with `, `; an address in three columns `addressStreet`, \
        `addressPostalCode`, `addressCity`; `sources` as `Title (publisher, date, URL)` with the parts a source has, \
        joined with `; `; a contract's `signatories` as `Name (role, party)`, joined with `; `; booleans \
        `true`/`false`; empty cells for absent values. The dataset export has every field in full. No cell is a \
        formula in a spreadsheet, whichever list separator it splits at: a `'` precedes each `=`, `+`, `-`, `@`, tab \
        or CR that starts the text or follows a `,`, `;`, tab or line break (after blanks and quotes).",
    params(CsvParams, IfNoneMatch),
    responses(
        (status = 200, description = "The CSV file.", body = String, content_type = "text/csv; charset=utf-8", headers(
            ("ETag" = String, description = "Validator of the file."),
            ("Content-Disposition" = String, description = "`attachment; filename=\"rbn-networks.csv\"`"),
            ("Cache-Control" = String, description = "`public, max-age=60`"),
        ), example = json!("\u{feff}id,slug,name\r\n…")),
        NotModified, ReadProblems,
    ),
)]
pub async fn csv(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let mut params = QueryParams::parse(req.query_string())?;
    let separator = params.one_of::<CsvSeparator>("separator", CsvSeparator::ALL).unwrap_or(CsvSeparator::Comma);
    params.finish()?;
    let file = path.into_inner();
    let resource = file.strip_suffix(".csv").unwrap_or("").to_string();
    let columns = csv_columns(&resource).ok_or_else(|| {
        let names = editable_names();
        let (last, others) = names.split_last().expect("there are editable kinds");
        ApiError::NotFound(format!("Exports exist for {} and {last}: /v1/exports/networks.csv", others.join(", ")))
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
