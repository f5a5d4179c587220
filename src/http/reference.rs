//! The handlers of the reference data: Regierungsbezirke and regions (read-only).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde::Serialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::auth::Caller;
use super::conditional::respond;
use super::crud::page_response;
use super::openapi_parts::{IfNoneMatch, KeyPaging, ListProblems, NotModified, Page, ReadProblems, query_param};
use super::problem::ApiError;
use super::query::{CursorKind, Paging, QueryParams};
use super::responses::cut_page;
use super::state::AppState;
use crate::domain::reference::DISTRICT_KEYS;
use crate::domain::{District, Region, Timestamp};
use crate::http::problem::Reply;
use crate::http::state::State;
use crate::storage::{Cursor, Db, StoreResult};

/// The pages of the reference lists (the annotations name types without generics).
type Districts = Page<District>;
type Regions = Page<Region>;

/// Reference lists are small: regions and districts come in one page by default.
const REFERENCE_LIMIT: i64 = 100;

#[utoipa::path(
    get, path = "/v1/districts", operation_id = "list_districts", tag = "reference",
    summary = "List Regierungsbezirke", description = "The five Regierungsbezirke of NRW, by key.",
    params(KeyPaging<1>, IfNoneMatch),
    responses(
        (status = 200, description = "The Regierungsbezirke.", body = inline(Districts), headers(("Link" = String))),
        NotModified, ListProblems,
    ),
    security((), ("apiKey" = [])),
)]
pub async fn districts(req: HttpRequest, state: State, caller: Caller) -> Reply {
    let mut params = QueryParams::parse(req.query_string())?;
    let paging = Paging::read(&mut params, REFERENCE_LIMIT, CursorKind::Key(1));
    params.finish()?;
    let db = state.db.clone();
    let all: Vec<District> = web::block(move || db.districts()).await??;
    let after = match &paging.after {
        Some(Cursor::Key(key)) => key.parse::<i32>().ok(),
        _ => None,
    };
    let selected: Vec<District> = all
        .into_iter()
        .filter(|d| after.is_none_or(|a| d.key > a))
        .filter(|d| paging.since.is_none_or(|since| d.updated_at >= since))
        .collect();
    reference_page(&req, &caller, selected, &paging, |d| d.key.to_string())
}

#[utoipa::path(
    get, path = "/v1/regions", operation_id = "list_regions", tag = "reference",
    summary = "List regions",
    description = "The 53 Kreise, kreisfreie Städte and the StädteRegion Aachen, by Kreisschlüssel (one page by default).",
    params(
RegionFilter, KeyPaging<5>, IfNoneMatch
    ),
    responses(
        (status = 200, description = "The regions.", body = inline(Regions), headers(("Link" = String))),
        NotModified, ListProblems,
    ),
    security((), ("apiKey" = [])),
)]
pub async fn regions(req: HttpRequest, state: State, caller: Caller) -> Reply {
    let mut params = QueryParams::parse(req.query_string())?;
    let district = params.district("district");
    let paging = Paging::read(&mut params, REFERENCE_LIMIT, CursorKind::Key(5));
    params.finish()?;
    let after = match &paging.after {
        Some(Cursor::Key(key)) => Some(key.clone()),
        _ => None,
    };
    let db = state.db.clone();
    let all: Vec<Region> = web::block(move || db.regions(district, after.as_deref(), 1000)).await??;
    let selected: Vec<Region> =
        all.into_iter().filter(|r| paging.since.is_none_or(|since| r.updated_at >= since)).collect();
    reference_page(&req, &caller, selected, &paging, |r| r.key.clone())
}

/// The filter of `/v1/regions`.
struct RegionFilter;

impl IntoParams for RegionFilter {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let key = ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some(DISTRICT_KEYS));
        vec![query_param("district", "Regierungsbezirk key (1, 3, 5, 7, 9).", key, json!(1))]
    }
}

fn reference_page<T: Serialize>(
    req: &HttpRequest,
    caller: &Caller,
    items: Vec<T>,
    paging: &Paging,
    key: impl Fn(&T) -> String,
) -> Reply {
    let (items, next) = cut_page(items, paging.limit, key);
    let data = items.iter().map(|item| serde_json::to_value(item).unwrap_or_default()).collect();
    Ok(page_response(req, &caller.0, data, next))
}

/// A reference record that `/v1/{type}/{key}` reads by its key.
pub trait Keyed: Serialize + Send + Sized + 'static {
    type Key: Send + 'static;
    /// What a key names that no record has.
    const UNKNOWN: &'static str;
    /// The key the path spells, or the 404 for a path that spells none.
    fn key(path: &str) -> Result<Self::Key, ApiError>;
    fn load(db: &Db, key: Self::Key) -> StoreResult<Option<Self>>;
    fn updated_at(&self) -> Timestamp;
}

impl Keyed for District {
    type Key = i32;
    const UNKNOWN: &'static str = "Regierungsbezirke have the keys 1, 3, 5, 7 and 9.";

    fn key(path: &str) -> Result<i32, ApiError> {
        // One spelling per district ("5", not "05" or "+5"): one URL per record, one cache entry.
        Some(path)
            .filter(|text| text.len() == 1)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| ApiError::NotFound(Self::UNKNOWN.into()))
    }
    fn load(db: &Db, key: i32) -> StoreResult<Option<District>> {
        db.district(key)
    }
    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
}

impl Keyed for Region {
    type Key = String;
    const UNKNOWN: &'static str = "No region of NRW has this Kreisschlüssel.";

    fn key(path: &str) -> Result<String, ApiError> {
        if path.len() != 5 || !path.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::NotFound("Regions are keyed by their 5-digit Kreisschlüssel, e.g. 05158.".into()));
        }
        Ok(path.to_string())
    }
    fn load(db: &Db, key: String) -> StoreResult<Option<Region>> {
        db.region(&key)
    }
    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
}

#[utoipa::path(
    get, path = "/v1/districts/{key}", operation_id = "get_district", tag = "reference",
    summary = "Read a Regierungsbezirk", description = "One Regierungsbezirk by its key.",
    params(("key" = String, Path, description = "The key: 1, 3, 5, 7 or 9.", example = "1"), IfNoneMatch),
    responses(
        (status = 200, description = "The Regierungsbezirk.", body = District, headers(("ETag" = String))),
        NotModified, ReadProblems,
    ),
    security((), ("apiKey" = [])),
)]
pub async fn district(request: ItemRequest) -> Reply {
    item::<District>(request).await
}

#[utoipa::path(
    get, path = "/v1/regions/{key}", operation_id = "get_region", tag = "reference",
    summary = "Read a region", description = "One region by its key.",
    params(("key" = String, Path, description = "The 5-digit Kreisschlüssel.", example = "05158"), IfNoneMatch),
    responses(
        (status = 200, description = "The region.", body = Region, headers(("ETag" = String))),
        NotModified, ReadProblems,
    ),
    security((), ("apiKey" = [])),
)]
pub async fn region(request: ItemRequest) -> Reply {
    item::<Region>(request).await
}

/// What a read of one reference record extracts: the request, the state, the key and the caller.
type ItemRequest = (HttpRequest, web::Data<AppState>, web::Path<String>, Caller);

/// `/v1/districts/{key}` and `/v1/regions/{key}`: one reference record.
async fn item<T: Keyed>((req, state, path, caller): ItemRequest) -> Reply {
    QueryParams::parse(req.query_string())?.finish()?;
    let key = T::key(&path)?;
    let db = state.db.clone();
    let record = web::block(move || T::load(&db, key)).await??.ok_or_else(|| ApiError::NotFound(T::UNKNOWN.into()))?;
    Ok(respond(&req, &caller.0, StatusCode::OK, &record, Some(record.updated_at())))
}
