//! Discovery, operations (health, readiness, metrics), the change feed, the audit log and API keys.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::auth::{Caller, actor, require_admin};
use super::conditional::respond;
use super::crud::{json_body, page_response};
use super::openapi;
use super::problem::ApiError;
use super::query::{CursorKind, Paging, QueryParams};
use super::responses::API_VERSION;
use super::responses::{ChangeFeedEntry, CreatedKey, Discovery, Facts, cut_page};
use super::state::AppState;
use crate::domain::validation::{Fields, MAX_SHORT};
use crate::domain::{ApiKey, ApiKeyInput, ResourceKind, Role, Timestamp};
use crate::storage::kinds::editable_names;
use crate::storage::{AuditFilter, Cursor, audited_types};

pub use crate::domain::dataset::licence;

pub async fn discovery(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    let db = state.db.clone();
    let (last_change, (networks, statements, districts)) =
        web::block(move || db.last_change().and_then(|last| Ok((last, db.facts()?)))).await??;
    let document = Discovery {
        name: "rbn-registry".into(),
        title: "Register der Regionalen Bildungsnetzwerke in Nordrhein-Westfalen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: API_VERSION.into(),
        licence: licence(),
        last_change,
        facts: Facts::new(networks, statements, &districts),
        links: discovery_links(),
    };
    Ok(respond(&req, &caller.0, StatusCode::OK, &document, None))
}

/// The links of the discovery document: the reference lists, every editable kind's collection, the feed
/// and operations.
fn discovery_links() -> Value {
    let mut links = serde_json::Map::new();
    let mut link = |name: &str, path: String| links.insert(name.to_string(), Value::String(path));
    link("self", "/v1".into());
    link("openapi", "/v1/openapi.json".into());
    link("docs", "/docs".into());
    link("districts", "/v1/districts".into());
    link("regions", "/v1/regions".into());
    for name in editable_names() {
        link(name, format!("/v1/{name}"));
    }
    link("calendar", "/v1/meetings.ics".into());
    link("changes", "/v1/changes".into());
    link("health", "/healthz".into());
    link("readiness", "/readyz".into());
    link("metrics", "/metrics".into());
    Value::Object(links)
}

pub async fn openapi_json(req: HttpRequest, caller: Caller) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    let document = openapi::document_json();
    Ok(super::conditional::respond_bytes(
        &req,
        &caller.0,
        StatusCode::OK,
        document.into_bytes(),
        "application/json",
        None,
    ))
}

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ok"}"#)
}

/// Readiness: the database answers.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    web::block(move || db.ping()).await??;
    Ok(HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ready"}"#))
}

/// Prometheus text exposition (see `metrics`).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let cache = state.read_cache.as_ref().map(|(cache, _)| cache.usage());
    let text = super::metrics::render(
        &state.metrics,
        cache,
        state.db.pool_stats(),
        state.webhooks.read(),
        state.webhook_sender.as_ref(),
    );
    HttpResponse::Ok().content_type(super::metrics::CONTENT_TYPE).body(text)
}

pub async fn changes(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let kinds: Vec<ResourceKind> = match params.parsed::<String>("type", "") {
        Some(list) => {
            // The change feed holds the editable kinds.
            let feed_types = editable_names();
            let kinds: Option<Vec<ResourceKind>> =
                list.split(',').map(|name| feed_types.contains(&name).then(|| name.parse().ok()).flatten()).collect();
            kinds.unwrap_or_else(|| {
                params.error("type", format!("must be a comma-separated list of {}", feed_types.join(", ")));
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    let paging = Paging::read(&mut params, super::query::DEFAULT_LIMIT, CursorKind::Sequence);
    let after_seq = sequence(&paging);
    params.finish()?;
    let db = state.db.clone();
    let reader = caller.0.clone();
    let limit = paging.limit + 1;
    let since = paging.since;
    let entries = web::block(move || db.changes(after_seq, &kinds, since, limit, &reader)).await??;
    let (entries, next) = cut_page(entries, paging.limit, |(entry, _)| entry.seq.to_string());
    // Where to continue later: after this page's last entry, or where this page started when it is empty.
    let resume = entries.last().map_or(after_seq, |(entry, _)| entry.seq).to_string();
    let data = entries
        .into_iter()
        .map(|(entry, record)| {
            serde_json::to_value(ChangeFeedEntry {
                seq: entry.seq,
                resource_type: entry.kind,
                id: entry.id,
                deleted: record.is_none(),
                updated_at: entry.updated_at,
                data: record,
            })
            .unwrap_or_default()
        })
        .collect();
    Ok(super::crud::feed_page_response(&req, &caller.0, data, next, Some(resume)))
}

/// The sequence number a sequence cursor continues after (0: from the start).
fn sequence(paging: &Paging) -> i64 {
    match &paging.after {
        Some(Cursor::Key(seq)) => seq.parse().unwrap_or(0),
        _ => 0,
    }
}

pub async fn audit(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.0)?;
    let mut params = QueryParams::parse(req.query_string())?;
    let filter = AuditFilter {
        resource_id: params.parsed("resourceId", "a UUID"),
        resource_type: params.text("resourceType").filter(|kind| {
            let audited = audited_types();
            let known = audited.contains(&kind.as_str());
            if !known {
                params.error("resourceType", format!("must be one of: {}", audited.join(", ")));
            }
            known
        }),
        key_id: params.parsed("keyId", "a UUID"),
        action: params.text("action"),
        since: None,
    };
    let paging = Paging::read(&mut params, super::query::DEFAULT_LIMIT, CursorKind::Sequence);
    let filter = AuditFilter { since: paging.since, ..filter };
    let after = sequence(&paging);
    params.finish()?;
    let db = state.db.clone();
    let limit = paging.limit + 1;
    let entries = web::block(move || db.audit(&filter, after, limit)).await??;
    let (entries, next) = cut_page(entries, paging.limit, |(seq, _)| seq.to_string());
    let data = entries.into_iter().map(|(_, e)| serde_json::to_value(e).unwrap_or_default()).collect();
    Ok(page_response(&req, &caller.0, data, next))
}

pub async fn list_keys(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.0)?;
    QueryParams::parse(req.query_string())?.finish()?;
    let db = state.db.clone();
    let keys: Vec<ApiKey> = web::block(move || db.keys()).await??;
    let data = keys.iter().map(|k| serde_json::to_value(k).unwrap_or_default()).collect();
    Ok(page_response(&req, &caller.0, data, None))
}

/// Reads a key's input, reporting every problem.
pub fn parse_key_input(value: &Value) -> Result<ApiKeyInput, crate::domain::ValidationErrors> {
    let mut f = Fields::new(value, &["name", "role", "districtKey", "networkIds", "expiresAt"], &[]);
    let name = f.string("name", MAX_SHORT);
    let role: Option<Role> = f.enumeration("role", Role::ALL);
    let district_key = f.opt_integer("districtKey");
    let network_ids = f.uuid_list("networkIds");
    let expires_at = match value.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(given) => {
            let parsed = given.as_str().and_then(Timestamp::parse);
            match parsed {
                None => f.error("expiresAt", "must be an RFC 3339 date-time up to 9999-12-31T23:59:59Z"),
                // A key that expires at once would be dead on arrival.
                Some(at) if at <= Timestamp::now() => f.error("expiresAt", "must be in the future"),
                Some(_) => {}
            }
            parsed
        }
    };
    let district_key = match (role, district_key) {
        (Some(Role::District), Some(key)) if [1, 3, 5, 7, 9].contains(&key) => Some(key as i32),
        (Some(Role::District), _) => {
            f.error("districtKey", "a district key needs the Regierungsbezirk: 1, 3, 5, 7 or 9");
            None
        }
        (_, Some(_)) => {
            f.error("districtKey", "only district keys have a districtKey");
            None
        }
        (_, None) => None,
    };
    if role == Some(Role::Editor) && network_ids.is_empty() {
        f.error("networkIds", "an editor key needs at least one network");
    }
    if role.is_some() && role != Some(Role::Editor) && !network_ids.is_empty() {
        f.error("networkIds", "only editor keys have networkIds");
    }
    let input = (|| Some(ApiKeyInput { name: name?, role: role?, district_key, network_ids, expires_at }))();
    f.finish(input)
}

pub async fn create_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.0)?;
    let value = json_body(&req, &body, false)?;
    let input = parse_key_input(&value)?;
    let db = state.db.clone();
    let who = actor(&req, &caller.0);
    let created = web::block(move || db.create_key(&input, &who)).await??;
    let location = format!("/v1/api-keys/{}", created.key.id);
    let body = CreatedKey { key: created.key, secret: created.secret };
    let mut response = respond(&req, &caller.0, StatusCode::CREATED, &body, None);
    response
        .headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    if let Ok(location) = actix_web::http::header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(actix_web::http::header::LOCATION, location);
    }
    Ok(response)
}

pub async fn revoke_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.0)?;
    let id = super::crud::parse_id(&path)?;
    let db = state.db.clone();
    let who = actor(&req, &caller.0);
    web::block(move || db.revoke_key(id, &who)).await??;
    Ok(HttpResponse::NoContent().finish())
}
