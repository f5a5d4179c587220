//! Discovery, operations (health, readiness, metrics), the change feed, the audit log and API keys.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

use super::auth::{Caller, actor, require_admin};
use super::conditional::respond;
use super::crud::{json_body, page_response};
use super::openapi_parts::{
    AdminProblems, IfNoneMatch, ListProblems, NotModified, Page, SequencePaging, ServiceProblems, comma_list, problems,
    query_param,
};
use super::query::{CursorKind, Paging, QueryParams};
use super::responses::API_VERSION;
use super::responses::{ChangeFeedEntry, CreatedKey, Discovery, Facts, cut_page};
use crate::domain::validation::{Fields, MAX_SHORT};
use crate::domain::{ApiKey, ApiKeyInput, ResourceKind, Role, Timestamp};
use crate::http::problem::Reply;
use crate::http::state::State;
use crate::storage::kinds::editable_names;
use crate::storage::{AuditFilter, Cursor, audited_types};

pub use crate::domain::dataset::licence;

#[utoipa::path(
    get, path = "/v1", operation_id = "discovery", tag = "operations", summary = "Discover the API",
    description = "Name, version, data licence, the time of the last change and links to everything.",
    params(IfNoneMatch),
    responses(
        (status = 200, description = "The discovery document.", body = Discovery, headers(("ETag" = String))),
        NotModified, ListProblems,
    ),
    security((), ("apiKey" = [])),
)]
pub async fn discovery(req: HttpRequest, state: State, caller: Caller) -> Reply {
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

// What health and readiness answer (a plain comment: a doc comment would become its description).
#[derive(ToSchema)]
#[allow(dead_code)] // Only its schema is used: the handlers write constant bodies.
struct Status {
    status: String,
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", operation_id = "healthz", tag = "operations", summary = "Liveness", description = "The process answers.",
    responses((status = 200, description = "Liveness", body = inline(Status), example = json!({"status": "ok"})), ServiceProblems),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ok"}"#)
}

/// Readiness: the database answers.
#[utoipa::path(
    get, path = "/readyz", operation_id = "readyz", tag = "operations", summary = "Readiness", description = "The database answers (503 when it does not).",
    responses((status = 200, description = "Readiness", body = inline(Status), example = json!({"status": "ready"})), ServiceProblems),
)]
pub async fn readyz(state: State) -> Reply {
    let db = state.db.clone();
    web::block(move || db.ping()).await??;
    Ok(HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ready"}"#))
}

/// Prometheus text exposition (see `metrics`).
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "operations", summary = "Metrics",
    description = "Prometheus text exposition (format 0.0.4, `text/plain; version=0.0.4`): requests by method, route \
        pattern and status (`rbn_http_requests_total`), a latency histogram per route \
        (`rbn_http_request_duration_seconds`), requests in flight, the database pool \
        (`rbn_db_pool_*`: size, open and idle connections, checkouts, waits, time-outs), the read cache \
        (`rbn_read_cache_entries`, `rbn_read_cache_bytes`, `rbn_read_cache_hits_total`) and the \
        process's resident memory (`process_resident_memory_bytes`).",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain", example = json!(
            "# HELP rbn_http_requests_total HTTP requests answered, by method, route pattern and status.\n\
             # TYPE rbn_http_requests_total counter\n\
             rbn_http_requests_total{method=\"GET\",route=\"/v1/networks/{id}\",status=\"200\"} 1\n"
        )),
        ServiceProblems,
    ),
)]
pub async fn metrics(state: State) -> HttpResponse {
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

/// The `type` filter of the change feed: the editable kinds.
struct FeedTypes;

impl IntoParams for FeedTypes {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let names = editable_names();
        let schema =
            ObjectBuilder::new().schema_type(Type::String).max_length(Some(200)).pattern(Some(comma_list(&names)));
        let description = format!("Comma-separated types to include: {} (default all).", names.join(", "));
        vec![query_param("type", &description, schema, json!("networks,contracts"))]
    }
}

type Changes = Page<ChangeFeedEntry>;

#[utoipa::path(
    get, path = "/v1/changes", operation_id = "list_changes", tag = "sync", summary = "The change feed",
    description = "Every record's latest change in write order, across all types, each \
        record once at its latest position; deleted records (and contacts the reader may not see) as `deleted: true` \
        without `data`. Follow `links.next` while there is one; keep `links.resume`, present on every page: \
        asking it later returns exactly what changed since, so resuming loses and repeats nothing.",
    params(FeedTypes, SequencePaging, IfNoneMatch),
    responses(
        (status = 200, description = "A page of the feed.", body = inline(Changes), headers(("Link" = String))),
        NotModified, ListProblems,
    ),
    security((), ("apiKey" = [])),
)]
pub async fn changes(req: HttpRequest, state: State, caller: Caller) -> Reply {
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

/// The `resourceType` filter of the audit log.
struct AuditedType;

impl IntoParams for AuditedType {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let schema = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(audited_types()));
        vec![query_param("resourceType", "Only entries of this type.", schema, json!("networks"))]
    }
}

type AuditLog = Page<crate::domain::AuditEntry>;

#[utoipa::path(
    get, path = "/v1/audit", operation_id = "list_audit", tag = "administration", summary = "The audit log",
    description = "Every write: who (key id and name), when, which record, which action, which fields changed (names \
        only, never values), and the request id. Admin keys only.",
    params(
        AuditedType,
        ("resourceId" = Option<uuid::Uuid>, Query, description = "Only entries of this record.",
            example = "0190b7e2-3c4d-7a1b-9f00-1234567890ab"),
        ("keyId" = Option<uuid::Uuid>, Query, description = "Only entries written with this API key.",
            example = "0190b7e2-3c4d-7a1b-9f00-1234567890ab"),
        ("action" = Option<String>, Query,
            description = "Only entries of this action: create, replace, patch, delete, link, unlink.", example = "patch"),
        SequencePaging,
    ),
    responses(
        (status = 200, description = "A page of the log, oldest first.", body = inline(AuditLog), headers(("Link" = String))),
        AdminProblems,
    ),
    security(("apiKey" = [])),
)]
pub async fn audit(req: HttpRequest, state: State, caller: Caller) -> Reply {
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

type Keys = Page<ApiKey>;

#[utoipa::path(
    get, path = "/v1/api-keys", operation_id = "list_api_keys", tag = "administration", summary = "List API keys",
    description = "All keys without their secrets. Admin keys only.",
    responses(
        (status = 200, description = "The keys.", body = inline(Keys), headers(("Link" = String))),
        AdminProblems,
    ),
    security(("apiKey" = [])),
)]
pub async fn list_keys(req: HttpRequest, state: State, caller: Caller) -> Reply {
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

/// What `POST /v1/api-keys` takes: one shape per role (what [`parse_key_input`] accepts).
struct KeyInput;

impl ToSchema for KeyInput {}

impl PartialSchema for KeyInput {
    fn schema() -> RefOr<Schema> {
        let uuid = || {
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        };
        let shape = |role: &str| {
            ObjectBuilder::new()
                .property(
                    "name",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(200))
                        .pattern(Some(crate::domain::validation::patterns::TEXT)),
                )
                .required("name")
                .property("role", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([role])))
                .required("role")
                .property(
                    "expiresAt",
                    OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::Null)).item(
                        // Its own example: an expiry must lie in the future, which JSON Schema cannot say.
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                utoipa::openapi::KnownFormat::DateTime,
                            )))
                            .description(Some("RFC 3339, in the future, at most 9999-12-31T23:59:59Z."))
                            .examples([json!("2099-12-31T23:59:59Z")]),
                    ),
                )
                .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .item(shape("admin").description(Some("Everything.")))
            .item(
                shape("district")
                    .description(Some("The networks of one Regierungsbezirk."))
                    .property(
                        "districtKey",
                        ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some([1, 3, 5, 7, 9])),
                    )
                    .required("districtKey"),
            )
            .item(
                shape("editor")
                    .description(Some("Named networks."))
                    .property("networkIds", ArrayBuilder::new().items(uuid()).min_items(Some(1)).max_items(Some(100)))
                    .required("networkIds"),
            )
            .into()
    }
}

/// What creating a key can fail with.
struct CreateKeyProblems;

impl IntoResponses for CreateKeyProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[400, 401, 403, 413, 415, 429, 500, 503])
    }
}

#[utoipa::path(
    post, path = "/v1/api-keys", operation_id = "create_api_key", tag = "administration",
    summary = "Create an API key",
    description = "Creates a key; the response shows its secret once. Admin keys only. `expiresAt`, if given, must lie \
        in the future (at most 9999-12-31T23:59:59Z); an editor key's `networkIds` must name networks that exist. 400 \
        otherwise, with the field.",
    request_body(content = inline(KeyInput), content_type = "application/json", example = json!(
        {"name": "Bildungsbüro Kreis Mettmann", "role": "editor", "networkIds": ["db672378-2759-4224-a54c-4415f60666d0"]}
    )),
    responses(
        (status = 201, description = "The key with its secret.", body = CreatedKey, headers(("ETag" = String))),
        CreateKeyProblems,
    ),
    security(("apiKey" = [])),
)]
pub async fn create_key(req: HttpRequest, state: State, caller: Caller, body: Bytes) -> Reply {
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

/// What revoking a key can fail with.
struct RevokeKeyProblems;

impl IntoResponses for RevokeKeyProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[400, 401, 403, 404, 429, 500, 503])
    }
}

#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", operation_id = "revoke_api_key", tag = "administration",
    summary = "Revoke an API key",
    description = "The key stops working at once. Admin keys only. Revoking a revoked key changes nothing: it keeps \
        the time of its first revocation.",
    params(("id" = uuid::Uuid, Path, description = "The key's id.", example = "0190b7e2-3c4d-7a1b-9f00-1234567890ab")),
    responses((status = 204, description = "Revoked."), RevokeKeyProblems),
    security(("apiKey" = [])),
)]
pub async fn revoke_key(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    require_admin(&caller.0)?;
    let id = super::crud::parse_id(&path)?;
    let db = state.db.clone();
    let who = actor(&req, &caller.0);
    web::block(move || db.revoke_key(id, &who)).await??;
    Ok(HttpResponse::NoContent().finish())
}
