//! The handlers of the reference data: Regierungsbezirke and regions (read-only).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::auth::Caller;
use super::conditional::respond;
use super::crud::page_response;
use super::problem::ApiError;
use super::query::{CursorKind, Paging, QueryParams};
use super::responses::cut_page;
use super::state::AppState;
use crate::domain::{District, Region};
use crate::storage::Cursor;

/// Reference lists are small: regions and districts come in one page by default.
const REFERENCE_LIMIT: i64 = 100;

pub async fn districts(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
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

pub async fn regions(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
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

fn reference_page<T: Serialize>(
    req: &HttpRequest,
    caller: &Caller,
    items: Vec<T>,
    paging: &Paging,
    key: impl Fn(&T) -> String,
) -> Result<HttpResponse, ApiError> {
    let (items, next) = cut_page(items, paging.limit, key);
    let data = items.iter().map(|item| serde_json::to_value(item).unwrap_or_default()).collect();
    Ok(page_response(req, &caller.0, data, next))
}

pub async fn district(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    // One spelling per district ("5", not "05" or "+5"): one URL per record, one cache entry.
    let key: i32 = Some(path.as_str())
        .filter(|text| text.len() == 1)
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ApiError::NotFound("Regierungsbezirke have the keys 1, 3, 5, 7 and 9.".into()))?;
    let db = state.db.clone();
    let district = web::block(move || db.district(key))
        .await??
        .ok_or_else(|| ApiError::NotFound("Regierungsbezirke have the keys 1, 3, 5, 7 and 9.".into()))?;
    Ok(respond(&req, &caller.0, StatusCode::OK, &district, Some(district.updated_at)))
}

pub async fn region(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    let key = path.into_inner();
    if key.len() != 5 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::NotFound("Regions are keyed by their 5-digit Kreisschlüssel, e.g. 05158.".into()));
    }
    let db = state.db.clone();
    let region = web::block(move || db.region(&key))
        .await??
        .ok_or_else(|| ApiError::NotFound("No region of NRW has this Kreisschlüssel.".into()))?;
    Ok(respond(&req, &caller.0, StatusCode::OK, &region, Some(region.updated_at)))
}
