//! The handlers of networks that are not the generic ones of `crud`: a network by UUID or slug with
//! `expand`, the network list with `expand`, the lists of a network's records and the links of
//! Handlungsfelder.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::{Caller, require_key};
use super::conditional::respond;
use super::crud::{self, Edit, page_response};
use super::openapi_parts::{if_match, network_param, problems};
use super::problem::ApiError;
use super::query::QueryParams;
use super::responses::ExpandedNetwork;
use super::state::AppState;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required};
use utoipa::{IntoParams, IntoResponses};

use crate::domain::{Expansion, FromQuery, Handlungsfeld, Network, Resource};
use crate::http::problem::Reply;
use crate::http::state::State;
use crate::storage::{Change, Table};

/// Reads `expand`, for the single network and the network list alike.
fn read_expand(params: &mut QueryParams) -> Expansion {
    let Some(list) = params.parsed::<String>("expand", "") else { return Expansion::default() };
    Expansion::parse(&list).unwrap_or_else(|| {
        params.error("expand", format!("must be a comma-separated list of {}", Expansion::NAMES.join(", ")));
        Expansion::default()
    })
}

pub async fn get_network(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
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
pub async fn list_networks(req: HttpRequest, state: State, caller: Caller) -> Reply {
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
pub async fn nested<R: Table>(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let (mut filter, paging) = crud::list_query::<R>(&req, &caller.0)?;
    let id = crud::resolve_id::<Network>(&state, &path).await?;
    crud::fetch::<Network>(&state, id, &caller.0).await?;
    filter.for_network(id).ok_or_else(|| ApiError::NotFound("No such list.".into()))?;
    crud::list_with::<R>(&req, &state, caller.0, filter, paging).await
}

/// What a change of a link extracts: the request, the state, the network and Handlungsfeld, the caller.
type LinkRequest = (HttpRequest, web::Data<AppState>, web::Path<(String, String)>, Caller);

#[utoipa::path(
    put, path = "/v1/networks/{id}/handlungsfelder/{handlungsfeld}", operation_id = "link_network_handlungsfeld",
    tag = "networks", summary = "Link a Handlungsfeld to a network",
    description = "Adds the Handlungsfeld to the network's `handlungsfeldIds` (idempotent). Needs the network's current \
        ETag in If-Match.",
    params(LinkParams),
    responses(
        (status = 200, description = "The network with its new ETag.", body = Network, headers(("ETag" = String))),
        LinkProblems,
    ),
    security(("apiKey" = [])),
)]
pub async fn link_handlungsfeld(request: LinkRequest) -> Reply {
    change_link(request, true).await
}

#[utoipa::path(
    delete, path = "/v1/networks/{id}/handlungsfelder/{handlungsfeld}", operation_id = "unlink_network_handlungsfeld",
    tag = "networks", summary = "Unlink a Handlungsfeld from a network",
    description = "Removes the Handlungsfeld from the network's `handlungsfeldIds` (idempotent). Needs the network's \
        current ETag in If-Match.",
    params(LinkParams),
    responses(
        (status = 204, description = "Unlinked; `ETag` is the network's new one.", headers(
            ("ETag" = String, description = "The network's new ETag."),
        )),
        LinkProblems,
    ),
    security(("apiKey" = [])),
)]
pub async fn unlink_handlungsfeld(request: LinkRequest) -> Reply {
    change_link(request, false).await
}

/// The parameters of a link: the network, the Handlungsfeld and If-Match.
struct LinkParams;

impl IntoParams for LinkParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let uuid =
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        let handlungsfeld = ParameterBuilder::new()
            .name("handlungsfeld")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("The Handlungsfeld's UUID."))
            .schema(Some(uuid))
            .build();
        vec![network_param(), handlungsfeld, if_match()]
    }
}

/// What a change of a link can fail with.
struct LinkProblems;

impl IntoResponses for LinkProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[400, 401, 403, 404, 412, 428, 429, 500, 503])
    }
}

/// `PUT` (`linked`) links a Handlungsfeld to a network, `DELETE` unlinks it; both are idempotent and need
/// the network's ETag in If-Match.
async fn change_link((req, state, path, caller): LinkRequest, linked: bool) -> Reply {
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
