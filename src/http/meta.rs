//! Discovery, operations (health, readiness, metrics), the change feed, the audit log and API keys.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Caller, actor, require_admin};
use super::conditional::respond;
use super::crud::{json_body, page_response};
use super::openapi;
use super::problem::ApiError;
use super::query::{CursorKind, Paging, QueryParams};
use super::state::AppState;
use crate::domain::validation::{Fields, MAX_SHORT};
use crate::domain::{ApiKey, ApiKeyInput, ResourceKind, Role, Timestamp};
use crate::storage::{AUDITED_TYPES, AuditFilter, Cursor};

pub const API_VERSION: &str = "1";

pub use crate::domain::dataset::licence;

/// The discovery document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    #[schema(example = "rbn-registry")]
    pub name: String,
    pub title: String,
    #[schema(example = "0.1.0")]
    pub version: String,
    #[schema(example = "1")]
    pub api_version: String,
    /// The licence of the data.
    #[schema(value_type = Object)]
    pub licence: Value,
    /// When anything in the registry last changed.
    pub last_change: Option<Timestamp>,
    /// How many networks the registry holds, and how many the source documents speak of.
    pub facts: Facts,
    /// Where to go from here: the OpenAPI document, the docs and every collection.
    #[schema(value_type = Object)]
    pub links: Value,
}

/// The networks the registry holds next to what the source documents state about their number.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The networks the registry holds now (counted when asked).
    #[schema(example = 47)]
    pub networks: i64,
    /// The same in words, with the numbers of `statements`.
    #[schema(
        example = "Das Register verzeichnet 47 Netzwerke. Die Quelldokumente sprechen von 43 (2010-05-06), 50 (2013-11-19), 52 (undatiert), 13 im Regierungsbezirk Düsseldorf (undatiert), 8 im Regierungsbezirk Münster (undatiert); sie nennen nicht jedes Netzwerk, das sie zählen, mit Namen. Die Aussagen mit ihren Quellen stehen in statements."
    )]
    pub summary: String,
    /// What the source documents state about the networks as a whole, quoted, with their sources (the
    /// `facts` section of the dataset).
    pub statements: Vec<crate::domain::Fact>,
}

impl Facts {
    /// `districts`: the names of the Regierungsbezirke by key.
    pub fn new(networks: i64, statements: Vec<crate::domain::Fact>, districts: &[(i32, String)]) -> Facts {
        let counts: Vec<String> = statements
            .iter()
            .filter_map(|fact| {
                let count = fact.count?;
                let scope = fact.district_key.map_or_else(String::new, |key| {
                    let name = districts.iter().find(|(k, _)| *k == key).map_or(key.to_string(), |(_, n)| n.clone());
                    format!(" im Regierungsbezirk {name}")
                });
                let date = fact.date.map_or_else(|| "undatiert".to_string(), |date| date.to_string());
                Some(format!("{count}{scope} ({date})"))
            })
            .collect();
        let mut summary = format!("Das Register verzeichnet {networks} Netzwerke.");
        if !counts.is_empty() {
            summary.push_str(&format!(
                " Die Quelldokumente sprechen von {}; sie nennen nicht jedes Netzwerk, das sie zählen, mit Namen.",
                counts.join(", ")
            ));
        }
        if !statements.is_empty() {
            summary.push_str(" Die Aussagen mit ihren Quellen stehen in statements.");
        }
        Facts { networks, summary, statements }
    }
}

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
        links: json!({
            "self": "/v1",
            "openapi": "/v1/openapi.json",
            "docs": "/docs",
            "districts": "/v1/districts",
            "regions": "/v1/regions",
            "networks": "/v1/networks",
            "contracts": "/v1/contracts",
            "bodies": "/v1/bodies",
            "handlungsfelder": "/v1/handlungsfelder",
            "contacts": "/v1/contacts",
            "meetings": "/v1/meetings",
            "calendar": "/v1/meetings.ics",
            "changes": "/v1/changes",
            "health": "/healthz",
            "readiness": "/readyz",
            "metrics": "/metrics"
        }),
    };
    Ok(respond(&req, &caller.0, StatusCode::OK, &document, None))
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
    HttpResponse::Ok().content_type(super::metrics::CONTENT_TYPE).body(super::metrics::render(&state))
}

/// The types the change feed holds.
pub const FEED_TYPES: &[&str] = &["networks", "contracts", "bodies", "handlungsfelder", "contacts", "meetings"];

/// One entry of the change feed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFeedEntry {
    /// Position in the feed; grows with every write.
    pub seq: i64,
    #[serde(rename = "type")]
    pub resource_type: ResourceKind,
    pub id: Uuid,
    /// `true` for deleted records (and records the reader may not see).
    pub deleted: bool,
    pub updated_at: Timestamp,
    /// The record as it is now; absent when deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

pub async fn changes(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let kinds: Vec<ResourceKind> = match params.parsed::<String>("type", "") {
        Some(list) => {
            let kinds: Option<Vec<ResourceKind>> =
                list.split(',').map(|name| FEED_TYPES.contains(&name).then(|| name.parse().ok()).flatten()).collect();
            kinds.unwrap_or_else(|| {
                params.error("type", format!("must be a comma-separated list of {}", FEED_TYPES.join(", ")));
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
    let mut entries = web::block(move || db.changes(after_seq, &kinds, since, limit, &reader)).await??;
    let next = if entries.len() as i64 > paging.limit {
        entries.truncate(paging.limit as usize);
        entries.last().map(|(entry, _)| entry.seq.to_string())
    } else {
        None
    };
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
            let known = AUDITED_TYPES.contains(&kind.as_str());
            if !known {
                params.error("resourceType", format!("must be one of: {}", AUDITED_TYPES.join(", ")));
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
    let mut entries = web::block(move || db.audit(&filter, after, limit)).await??;
    let next = if entries.len() as i64 > paging.limit {
        entries.truncate(paging.limit as usize);
        entries.last().map(|(seq, _)| seq.to_string())
    } else {
        None
    };
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

/// A key just created, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret to send as `Authorization: Bearer <secret>`. It is not stored and cannot be shown again.
    #[schema(example = "rbn_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg")]
    pub secret: String,
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
