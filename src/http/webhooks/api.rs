//! `/v1/webhooks`: subscriptions (create, list, read, patch, delete), secret rotation, deliveries and
//! test pings. Every operation needs an API key; admin keys see all subscriptions, district and editor
//! keys those within their scope (others are 404 to them, as if they did not exist).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::subscription::{Delivery, Subscription, SubscriptionInput, SubscriptionWithSecret, ping_event};
use crate::domain::{Access, FieldError, merge_patch};
use crate::http::AppState;
use crate::http::auth::{Caller, actor, require_key};
use crate::http::conditional::{IfMatch, etag_of_value, respond};
use crate::http::crud::{json_body, page_response, parse_id};
use crate::http::openapi_parts::{
    ActionProblems, CreateProblems, DeleteProblems, ListProblems, NotModified, PatchProblems, ReadProblems,
};
use crate::http::problem::ApiError;
use crate::http::problem::Reply;
use crate::http::query::QueryParams;
use crate::http::state::State;

/// 404 unless `access` may see the subscription.
fn visible(subscription: &Subscription, access: &Access) -> Result<(), ApiError> {
    if subscription.visible_to(access) {
        Ok(())
    } else {
        Err(ApiError::NotFound("no webhook subscription has this id".into()))
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("no webhook subscription has this id".into())
}

/// Reads a subscription the caller may see.
async fn fetch(state: &web::Data<AppState>, id: Uuid, access: &Access) -> Result<Subscription, ApiError> {
    let db = state.db.clone();
    let found = web::block(move || db.subscription(id)).await??.ok_or_else(not_found)?;
    visible(&found, access)?;
    Ok(found)
}

/// A subscription's representation, with its ETag.
fn show(req: &HttpRequest, access: &Access, status: StatusCode, subscription: &Subscription) -> HttpResponse {
    respond(req, access, status, subscription, Some(subscription.updated_at))
}

/// The subscription with its secret; the ETag is that of the subscription as `GET` shows it, for the
/// `If-Match` of the next change.
fn show_with_secret(
    req: &HttpRequest,
    access: &Access,
    status: StatusCode,
    shown: SubscriptionWithSecret,
) -> HttpResponse {
    let etag = etag_of_value(&shown.subscription);
    let mut response = respond(req, access, status, &shown, None);
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn out_of_scope(error: crate::domain::subscription::OutOfScope) -> ApiError {
    ApiError::Forbidden(error.0.into())
}

/// `limit` (1–500, default 50) and `cursor` of a list.
fn paging(req: &HttpRequest) -> Result<(i64, Option<String>), ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let limit = match params.parsed::<i64>("limit", "an integer from 1 to 500") {
        Some(limit) if (1..=500).contains(&limit) => limit,
        Some(_) => {
            params.error("limit", "must be an integer from 1 to 500");
            50
        }
        None => 50,
    };
    // Given, a cursor must be one: an empty one is as invalid as a wrong one.
    let cursor = params.parsed::<String>("cursor", "the cursor of links.next");
    if cursor.as_deref().is_some_and(str::is_empty) {
        params.error("cursor", "must be the cursor of links.next");
    }
    params.finish()?;
    Ok((limit, cursor))
}

/// Create a webhook subscription.
///
/// The URL must be `https` and name a public address (loopback, private, link-local and metadata
/// addresses are refused; the operator may allow private ones over `http`). A district key's
/// subscription is confined to its Regierungsbezirk (`districtKey` is set to it), an editor key's to its
/// networks (`networkIds` default to them). The response shows the signing secret: the only time it is
/// shown.
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    security(("apiKey" = [])),
    request_body(content = Object, content_type = "application/json", description = "`url` (required), `description`, `active` (default true), `types`, `networkIds`, `districtKey`.",
        example = json!({"url": "https://bildungsbuero.example.org/hooks/rbn", "description": "Our website", "types": ["networks", "bodies"], "districtKey": 1})),
    responses(
        (status = 201, description = "The subscription with its secret (shown once).", body = SubscriptionWithSecret,
            headers(("Location" = String, description = "The subscription's URL."), ("ETag" = String, description = "The subscription's version."))),
        CreateProblems,
    )
)]
pub async fn create(req: HttpRequest, state: State, caller: Caller, body: Bytes) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let value = json_body(&req, &body, false)?;
    let input = SubscriptionInput::parse(&value, state.config.webhooks.allow_private)?;
    let input = input.confine(&access).map_err(out_of_scope)?;
    refuse_by_dns(&input.url, state.config.webhooks.allow_private).await?;
    let role = access.key().map(|key| key.role.as_str()).unwrap_or("admin");
    let (db, who) = (state.db.clone(), actor(&req, &access));
    let (subscription, secret) = web::block(move || db.create_subscription(&input, role, &who)).await??;
    let location = format!("/v1/webhooks/{}", subscription.id);
    let shown = SubscriptionWithSecret { subscription, secret: secret.to_string() };
    let mut response = show_with_secret(&req, &access, StatusCode::CREATED, shown);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// List webhook subscriptions.
///
/// The subscriptions the key may see, in creation order, without their secrets.
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    security(("apiKey" = [])),
    params(
        ("limit" = Option<i64>, Query, description = "Items per page, 1 to 500 (default 50).", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, description = "From `links.next` of the previous page.", format = Uuid),
    ),
    responses(
        (status = 200, description = "A page of subscriptions: `{\"data\": [...], \"links\": {\"self\", \"next\"}}`.", body = Object),
        ListProblems,
    )
)]
pub async fn list(req: HttpRequest, state: State, caller: Caller) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let (limit, cursor) = paging(&req)?;
    let after = match cursor.as_deref() {
        Some(text) => Some(
            Uuid::parse_str(text)
                .map_err(|_| ApiError::Invalid(vec![FieldError::new("cursor", "must be the cursor of links.next")]))?,
        ),
        None => None,
    };
    let (db, reader) = (state.db.clone(), access.clone());
    let mut found = web::block(move || db.subscriptions(after, limit + 1, |s| s.visible_to(&reader))).await??;
    let next = if found.len() as i64 > limit {
        found.truncate(limit as usize);
        found.last().map(|s| s.id.to_string())
    } else {
        None
    };
    let data = found.iter().map(|s| serde_json::to_value(s).unwrap_or_default()).collect();
    Ok(page_response(&req, &access, data, next))
}

/// Read a webhook subscription.
///
/// The subscription with its ETag, never its secret.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    security(("apiKey" = [])),
    params(("id" = Uuid, Path, description = "The subscription's id.")),
    responses(
        (status = 200, description = "The subscription (never its secret).", body = Subscription,
            headers(("ETag" = String, description = "The subscription's version."))),
        NotModified,
        ReadProblems,
    )
)]
pub async fn get(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    require_key(&caller.0)?;
    QueryParams::parse(req.query_string())?.finish()?;
    let subscription = fetch(&state, parse_id(&path)?, &caller.0).await?;
    Ok(show(&req, &caller.0, StatusCode::OK, &subscription))
}

/// Change a webhook subscription.
///
/// JSON Merge Patch (RFC 7396) of `url`, `description`, `active`, `types`, `networkIds`, `districtKey`,
/// with the current `ETag` in `If-Match`. Setting `active` to true again clears `deactivatedReason`.
#[utoipa::path(
    patch, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "patch_webhook",
    security(("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "The subscription's id."),
        ("If-Match" = String, Header, description = "The subscription's current ETag."),
    ),
    request_body(content = Object, content_type = "application/merge-patch+json", example = json!({"active": true})),
    responses(
        (status = 200, description = "The changed subscription.", body = Subscription),
        PatchProblems,
    )
)]
pub async fn patch(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller, body: Bytes) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let id = parse_id(&path)?;
    // An unknown subscription is 404 whatever the headers say, as for every resource.
    let current = fetch(&state, id, &access).await?;
    let if_match = IfMatch::require(&req)?;
    let patch = json_body(&req, &body, true)?;
    let Some(fields) = patch.as_object() else {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "(body)",
            "a merge patch must be a JSON object of the fields to change",
        )]));
    };
    let unknown: Vec<_> = fields
        .keys()
        .filter(|key| {
            !Subscription::WRITABLE.contains(&key.as_str()) && !Subscription::READ_ONLY.contains(&key.as_str())
        })
        .map(|key| FieldError::new(key.clone(), "unknown field"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Invalid(unknown));
    }
    let allow_private = state.config.webhooks.allow_private;
    let mut document = current.writable_value();
    merge_patch(&mut document, &patch);
    if let Ok(input) = SubscriptionInput::parse(&document, allow_private)
        && input.url != current.url
    {
        refuse_by_dns(&input.url, allow_private).await?;
    }
    let (db, who, reader) = (state.db.clone(), actor(&req, &access), access.clone());
    let updated = web::block(move || {
        db.update_subscription::<ApiError>(id, &who, |current| {
            visible(current, &reader)?;
            if_match.check(current)?;
            let mut document: Value = current.writable_value();
            merge_patch(&mut document, &patch);
            let input = SubscriptionInput::parse(&document, allow_private)?;
            input.confine(&reader).map_err(out_of_scope)
        })
    })
    .await??;
    state.db.commits().notify_one();
    Ok(show(&req, &access, StatusCode::OK, &updated))
}

/// 400 when the URL's name resolves only to addresses that may not receive webhooks (delivery checks
/// again, as DNS can change); a name that does not resolve yet may still be subscribed.
async fn refuse_by_dns(url: &str, allow_private: bool) -> Result<(), ApiError> {
    let Ok(parsed) = url::Url::parse(url) else { return Ok(()) };
    match super::sender::refused_by_dns(&parsed, allow_private).await {
        Some(refused) => Err(ApiError::Invalid(vec![FieldError::new("url", refused.to_string())])),
        None => Ok(()),
    }
}

/// Delete a webhook subscription.
///
/// With its deliveries; nothing more is sent to it.
#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    security(("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "The subscription's id."),
        ("If-Match" = String, Header, description = "The subscription's current ETag."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        DeleteProblems,
    )
)]
pub async fn delete(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let id = parse_id(&path)?;
    fetch(&state, id, &access).await?;
    let if_match = IfMatch::require(&req)?;
    let (db, who) = (state.db.clone(), actor(&req, &access));
    web::block(move || {
        db.delete_subscription::<ApiError>(id, &who, |current| {
            visible(current, &access)?;
            if_match.check(current)
        })
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook subscription's secret.
///
/// Issues a new secret, shown once in the response. For 24 hours (`previousSecretExpiresAt`) the previous
/// secret signs as well: `webhook-signature` then carries both signatures, so receivers can switch over.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotate_webhook_secret",
    security(("apiKey" = [])),
    params(("id" = Uuid, Path, description = "The subscription's id.")),
    responses(
        (status = 200, description = "The subscription with its new secret (shown once).", body = SubscriptionWithSecret),
        ActionProblems,
    )
)]
pub async fn rotate_secret(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let id = parse_id(&path)?;
    let (db, who, reader) = (state.db.clone(), actor(&req, &access), access.clone());
    let (subscription, secret) =
        web::block(move || db.rotate_secret::<ApiError>(id, &who, |current| visible(current, &reader))).await??;
    let shown = SubscriptionWithSecret { subscription, secret: secret.to_string() };
    Ok(show_with_secret(&req, &access, StatusCode::OK, shown))
}

/// A webhook subscription's deliveries.
///
/// Newest first: each event with its attempts, the last status and latency, and the next attempt.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "list_webhook_deliveries",
    security(("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "The subscription's id."),
        ("limit" = Option<i64>, Query, description = "Items per page, 1 to 500 (default 50).", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, description = "From `links.next` of the previous page.", pattern = "^msg_[0-9a-f]{32}$"),
    ),
    responses(
        (status = 200, description = "A page of deliveries: `{\"data\": [Delivery...], \"links\": {\"self\", \"next\"}}`.", body = Object),
        ReadProblems,
    )
)]
pub async fn deliveries(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let id = parse_id(&path)?;
    let (limit, cursor) = paging(&req)?;
    if let Some(cursor) = &cursor
        && !(cursor.len() == 36 && cursor.starts_with("msg_"))
    {
        return Err(ApiError::Invalid(vec![FieldError::new("cursor", "must be the cursor of links.next")]));
    }
    fetch(&state, id, &access).await?;
    let db = state.db.clone();
    let mut found: Vec<Delivery> = web::block(move || db.deliveries(id, cursor.as_deref(), limit + 1)).await??;
    let next = if found.len() as i64 > limit {
        found.truncate(limit as usize);
        found.last().map(|d| d.id.clone())
    } else {
        None
    };
    let data = found.iter().map(|d| serde_json::to_value(d).unwrap_or_default()).collect();
    Ok(page_response(&req, &access, data, next))
}

/// Send a test event.
///
/// Queues a `ping` event for the subscription, delivered like any other (signed, retried); see it in the
/// deliveries.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/test", tag = "webhooks", operation_id = "test_webhook",
    security(("apiKey" = [])),
    params(("id" = Uuid, Path, description = "The subscription's id.")),
    responses(
        (status = 202, description = "The ping's delivery, queued.", body = Delivery),
        ActionProblems,
    )
)]
pub async fn test(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let id = parse_id(&path)?;
    fetch(&state, id, &access).await?;
    let db = state.db.clone();
    let queued = web::block(move || db.queue_ping(id, |message| ping_event(id, message))).await??;
    state.db.commits().notify_one();
    Ok(respond(&req, &access, StatusCode::ACCEPTED, &queued, None))
}
