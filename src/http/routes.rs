//! The URL space: which handler serves which path and method.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Caller, require_key};
use super::conditional::respond;
use super::crud::{self, Edit, page_response};
use super::problem::ApiError;
use super::query::{CursorKind, FromQuery, Paging, QueryParams};
use super::state::AppState;
use super::{exports, meta, problem};
use crate::domain::{Body, Contact, Contract, District, Expansion, Handlungsfeld, Network, Region, Resource};
use crate::storage::{Change, Cursor, Related, Table};

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Routes are matched in order, and patterns with a parameter cost a regular-expression match each:
    // the hot read paths of websites come first.
    cfg.service(
        web::resource("/v1/networks/{id}")
            .route(web::get().to(get_network))
            .route(web::put().to(crud::replace::<Network>))
            .route(web::patch().to(crud::patch::<Network>))
            .route(web::delete().to(crud::delete::<Network>)),
    );
    cfg.service(
        web::resource("/v1/networks")
            .route(web::get().to(list_networks))
            .route(web::post().to(crud::create::<Network>)),
    );
    cfg.service(web::resource("/healthz").route(web::get().to(meta::healthz)))
        .service(web::resource("/readyz").route(web::get().to(meta::readyz)))
        .service(web::resource("/v1").route(web::get().to(meta::discovery)))
        .service(web::resource("/v1/networks/{id}/contracts").route(web::get().to(nested::<Contract>)))
        .service(web::resource("/v1/networks/{id}/bodies").route(web::get().to(nested::<Body>)))
        .service(web::resource("/v1/networks/{id}/contacts").route(web::get().to(nested::<Contact>)))
        .service(web::resource("/v1/networks/{id}/handlungsfelder").route(web::get().to(nested::<Handlungsfeld>)))
        .service(
            web::resource("/v1/networks/{id}/handlungsfelder/{handlungsfeld}")
                .route(web::put().to(link))
                .route(web::delete().to(unlink)),
        );
    collection::<Contract>(cfg, true);
    collection::<Body>(cfg, true);
    collection::<Handlungsfeld>(cfg, true);
    collection::<Contact>(cfg, true);
    cfg.service(web::resource("/v1/regions").route(web::get().to(regions)))
        .service(web::resource("/v1/regions/{key}").route(web::get().to(region)))
        .service(web::resource("/v1/districts").route(web::get().to(districts)))
        .service(web::resource("/v1/districts/{key}").route(web::get().to(district)))
        .service(web::resource("/v1/changes").route(web::get().to(meta::changes)))
        .service(web::resource("/v1/openapi.json").route(web::get().to(meta::openapi_json)))
        .service(web::resource("/metrics").route(web::get().to(meta::metrics)))
        .service(web::resource("/v1/audit").route(web::get().to(meta::audit)))
        .service(web::resource("/v1/exports/dataset.json").route(web::get().to(exports::dataset)))
        .service(web::resource("/v1/exports/{file}").route(web::get().to(exports::csv)))
        .service(
            web::resource("/v1/api-keys").route(web::get().to(meta::list_keys)).route(web::post().to(meta::create_key)),
        )
        .service(web::resource("/v1/api-keys/{id}").route(web::delete().to(meta::revoke_key)));
    super::webhooks::configure(cfg);
}

/// `/v1/{type}` (list, create) and, with `item`, `/v1/{type}/{id}` (read, replace, patch, delete).
fn collection<R>(cfg: &mut web::ServiceConfig, item: bool)
where
    R: Table,
    R::Filter: FromQuery,
{
    let path = format!("/v1/{}", R::KIND);
    cfg.service(
        web::resource(path.clone()).route(web::get().to(crud::list::<R>)).route(web::post().to(crud::create::<R>)),
    );
    if item {
        cfg.service(
            web::resource(format!("{path}/{{id}}"))
                .route(web::get().to(crud::get::<R>))
                .route(web::put().to(crud::replace::<R>))
                .route(web::patch().to(crud::patch::<R>))
                .route(web::delete().to(crud::delete::<R>)),
        );
    }
}

/// A network with the related records `expand` asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedNetwork {
    #[serde(flatten)]
    pub network: Network,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contracts: Option<Vec<Contract>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bodies: Option<Vec<Body>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handlungsfelder: Option<Vec<Handlungsfeld>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
}

impl ExpandedNetwork {
    fn new(network: Network, related: Related, expand: Expansion) -> ExpandedNetwork {
        ExpandedNetwork {
            network,
            contracts: expand.contracts.then_some(related.contracts),
            bodies: expand.bodies.then_some(related.bodies),
            handlungsfelder: expand.handlungsfelder.then_some(related.handlungsfelder),
            contacts: expand.contacts.then_some(related.contacts),
        }
    }
}

/// Reads `expand`, for the single network and the network list alike.
fn read_expand(params: &mut QueryParams) -> Expansion {
    let Some(list) = params.parsed::<String>("expand", "") else { return Expansion::default() };
    Expansion::parse(&list).unwrap_or_else(|| {
        params.error("expand", format!("must be a comma-separated list of {}", Expansion::NAMES.join(", ")));
        Expansion::default()
    })
}

async fn get_network(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let expand = read_expand(&mut params);
    params.finish()?;
    let id = crud::resolve_id::<Network>(&state, &path).await?;
    let network = crud::fetch::<Network>(&state, id, &caller.0).await?;
    let updated_at = network.updated_at();
    if expand.is_empty() {
        return Ok(respond(&req, &caller.0, StatusCode::OK, &network, Some(updated_at)));
    }
    let db = state.db.clone();
    let reader = caller.0.clone();
    let of = network.clone();
    let related = web::block(move || db.network_related(&of, expand, &reader)).await??;
    Ok(respond(&req, &caller.0, StatusCode::OK, &ExpandedNetwork::new(network, related, expand), None))
}

/// `GET /v1/networks`: a page of networks; with `expand`, each with its related records, as the single
/// read embeds them and as the caller may see them.
async fn list_networks(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let expand = read_expand(&mut params);
    let (filter, paging) = crud::list_params::<Network>(params, &caller.0)?;
    if expand.is_empty() {
        return crud::list_with::<Network>(&req, &state, caller.0, filter, paging).await;
    }
    let db = state.db.clone();
    let window = paging.window();
    let reader = caller.0.clone();
    let (page, mut related) =
        web::block(move || db.list_networks_expanded(&filter, &window, expand, &reader)).await??;
    let (page, next) = crud::split_page(page, &paging);
    let data = page
        .into_iter()
        .map(|change| match change {
            Change::Live(network) => {
                let of_network = related.remove(&network.id).unwrap_or_default();
                serde_json::to_value(ExpandedNetwork::new(network, of_network, expand)).unwrap_or_default()
            }
            tombstone => crud::change_value(&tombstone),
        })
        .collect();
    Ok(page_response(&req, &caller.0, data, next.map(|cursor| paging.encode(&cursor))))
}

/// `/v1/networks/{id}/{type}`: the list of `R` with the network filter set.
async fn nested<R>(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError>
where
    R: Table,
    R::Filter: FromQuery,
{
    let (mut filter, paging) = crud::list_query::<R>(&req, &caller.0)?;
    let id = crud::resolve_id::<Network>(&state, &path).await?;
    crud::fetch::<Network>(&state, id, &caller.0).await?;
    filter.for_network(id).ok_or_else(|| ApiError::NotFound("No such list.".into()))?;
    crud::list_with::<R>(&req, &state, caller.0, filter, paging).await
}

/// Links a Handlungsfeld to a network (idempotent); needs the network's ETag in If-Match.
async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    change_link(req, state, path, caller, true).await
}

/// Unlinks a Handlungsfeld from a network; needs the network's ETag in If-Match.
async fn unlink(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    change_link(req, state, path, caller, false).await
}

async fn change_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    caller: Caller,
    linked: bool,
) -> Result<HttpResponse, ApiError> {
    require_key(&caller.0)?;
    let (network_key, handlungsfeld) = path.into_inner();
    let id = crud::resolve_id::<Network>(&state, &network_key).await?;
    let handlungsfeld = crud::parse_id(&handlungsfeld)?;
    crud::fetch::<Handlungsfeld>(&state, handlungsfeld, &caller.0).await?;
    let change = move |document: &mut serde_json::Value| {
        let mut ids: Vec<serde_json::Value> =
            document.get("handlungsfeldIds").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        let this = serde_json::Value::String(handlungsfeld.to_string());
        ids.retain(|other| *other != this);
        if linked {
            ids.push(this);
        }
        document["handlungsfeldIds"] = serde_json::Value::Array(ids);
    };
    let action = if linked { "link" } else { "unlink" };
    let network = crud::edit::<Network>(&req, &state, &caller.0, id, action, Edit::Derive(Box::new(change))).await?;
    let response = respond(&req, &caller.0, StatusCode::OK, &network, Some(network.updated_at()));
    if linked {
        Ok(response)
    } else {
        let mut no_content = HttpResponse::NoContent();
        if let Some(etag) = response.headers().get(actix_web::http::header::ETAG) {
            no_content.insert_header((actix_web::http::header::ETAG, etag.clone()));
        }
        Ok(no_content.finish())
    }
}

/// Reference lists are small: regions and districts come in one page by default.
const REFERENCE_LIMIT: i64 = 100;

async fn districts(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
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

async fn regions(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
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
    mut items: Vec<T>,
    paging: &Paging,
    key: impl Fn(&T) -> String,
) -> Result<HttpResponse, ApiError> {
    let limit = usize::try_from(paging.limit).unwrap_or(usize::MAX);
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        key(items.last().expect("limit is at least 1"))
    });
    let data = items.iter().map(|item| serde_json::to_value(item).unwrap_or_default()).collect();
    Ok(page_response(req, &caller.0, data, next))
}

async fn district(
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

async fn region(
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

/// The fallback for paths no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(problem::problem_for_status(StatusCode::NOT_FOUND, None))
}
