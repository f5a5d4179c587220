//! Webhooks: subscriptions, the outbox and its delivery (Standard Webhooks 1.0).
//!
//! - [`api`]: `/v1/webhooks`, the subscriptions' API;
//! - [`worker`]: turns the outbox into deliveries and makes the attempts;
//! - [`sender`]: one signed `POST` per attempt.

pub mod api;
pub mod sender;
pub mod worker;

use actix_web::web;
use serde_json::{Value, json};
use utoipa::OpenApi;

/// The routes of `/v1/webhooks`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/webhooks").route(web::get().to(api::list)).route(web::post().to(api::create)))
        .service(
            web::resource("/v1/webhooks/{id}")
                .route(web::get().to(api::get))
                .route(web::patch().to(api::patch))
                .route(web::delete().to(api::delete)),
        )
        .service(web::resource("/v1/webhooks/{id}/rotate-secret").route(web::post().to(api::rotate_secret)))
        .service(web::resource("/v1/webhooks/{id}/deliveries").route(web::get().to(api::deliveries)))
        .service(web::resource("/v1/webhooks/{id}/test").route(web::post().to(api::test)));
}

#[derive(OpenApi)]
#[openapi(
    paths(api::create, api::list, api::get, api::patch, api::delete, api::rotate_secret, api::deliveries, api::test),
    components(schemas(
        crate::domain::subscription::Subscription,
        crate::domain::subscription::SubscriptionWithSecret,
        crate::domain::subscription::Delivery,
        crate::domain::subscription::DeliveryStatus,
    ))
)]
pub struct WebhooksApi;

/// The deletion's `204` of `/v1/webhooks` is the document's shared one (which states its headers), not the
/// derive's own; problems and `304` are named in the annotations (`openapi_parts`). Runs before the
/// document's shared parts are hoisted.
pub fn share_responses(document: &mut Value) {
    for (path, item) in document["paths"].as_object_mut().into_iter().flatten() {
        if !path.starts_with("/v1/webhooks") {
            continue;
        }
        for operation in item.as_object_mut().into_iter().flatten().map(|(_, operation)| operation) {
            for (status, response) in operation["responses"].as_object_mut().into_iter().flatten() {
                // Problems and 304 come from `openapi_parts`; the deletion's 204 is the shared one.
                if status == "204" {
                    *response = json!({"$ref": "#/components/responses/NoContent"});
                }
            }
        }
    }
}

/// Adds what the derive cannot say to the document: the request bodies' schemas (closed, with the
/// rules `SubscriptionInput::parse` applies) and the `webhooks` entry.
pub fn complete_document(document: &mut Value) {
    let event_types = crate::domain::ResourceKind::editable_names();
    use crate::domain::validation::patterns::MULTI_LINE_TEXT;
    use crate::domain::validation::{MAX_LIST, MAX_TEXT};
    // Host names only (a literal address may be private): the form `SubscriptionInput::parse` requires.
    let url = json!({"type": "string", "description": "An `https` URL of a public host.",
        "pattern": crate::domain::subscription::URL_PATTERN, "maxLength": crate::domain::validation::MAX_URL,
        "example": "https://bildungsbuero.example.org/hooks/rbn"});
    let read_only = json!({"readOnly": true, "description": "Read-only: ignored in input."});
    let properties = json!({
        "url": url,
        "description": {"type": ["string", "null"], "maxLength": MAX_TEXT, "pattern": MULTI_LINE_TEXT},
        "active": {"type": ["boolean", "null"], "description": "Default true."},
        "types": {"type": ["array", "null"], "maxItems": MAX_LIST, "items": {"type": "string", "enum": event_types},
            "description": "Only changes of these types; empty or absent: all."},
        "networkIds": {"type": ["array", "null"], "maxItems": MAX_LIST, "items": {"type": "string", "format": "uuid"},
            "description": "Only records of these networks; empty or absent: all (editor keys: their networks)."},
        "districtKey": {"enum": [1, 3, 5, 7, 9, null], "description": "Only records of this Regierungsbezirk (district keys: theirs)."},
        "id": read_only, "deactivatedReason": read_only, "previousSecretExpiresAt": read_only,
        "createdAt": read_only, "updatedAt": read_only,
    });
    let input = json!({"type": "object", "required": ["url"], "properties": properties, "additionalProperties": false,
        "example": {"url": "https://bildungsbuero.example.org/hooks/rbn", "description": "Our website", "types": ["networks", "bodies"], "districtKey": 1}});
    let patch = json!({"type": "object", "properties": properties, "additionalProperties": false,
        "description": "A JSON Merge Patch of a subscription: `url` may change but not be removed.",
        "example": {"active": true}});
    document["components"]["schemas"]["WebhookInput"] = input;
    document["components"]["schemas"]["WebhookPatch"] = patch;
    let body = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    document["paths"]["/v1/webhooks"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        body("WebhookInput");
    document["paths"]["/v1/webhooks/{id}"]["patch"]["requestBody"]["content"]["application/merge-patch+json"]["schema"] =
        body("WebhookPatch");
    // An empty If-Match is no precondition (428), as for every resource.
    for method in ["patch", "delete"] {
        if let Some(parameters) = document["paths"]["/v1/webhooks/{id}"][method]["parameters"].as_array_mut() {
            for parameter in parameters.iter_mut().filter(|p| p["name"] == "If-Match") {
                parameter["schema"] = json!({"type": "string", "minLength": 1, "pattern": "[^ ]"});
            }
        }
    }
    // The headers every response carries (see `openapi::with_common_headers`), on the success responses.
    for (path, item) in document["paths"].as_object_mut().into_iter().flatten() {
        if !path.starts_with("/v1/webhooks") {
            continue;
        }
        for operation in item.as_object_mut().into_iter().flatten().map(|(_, operation)| operation) {
            for response in operation["responses"].as_object_mut().into_iter().flatten().map(|(_, r)| r) {
                if response.get("$ref").is_some() {
                    continue;
                }
                let Some(response) = response.as_object_mut() else { continue };
                let headers = response.entry("headers").or_insert_with(|| json!({}));
                for name in COMMON_HEADERS {
                    headers[*name] = json!({"$ref": format!("#/components/headers/{name}")});
                }
            }
        }
    }
    document["webhooks"] = openapi_webhooks();
}

/// The headers of every response, as `components/headers` states them.
const COMMON_HEADERS: &[&str] = &[
    "X-Request-Id",
    "API-Version",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
    "Access-Control-Allow-Origin",
];

/// The OpenAPI 3.1 `webhooks` entry: what the registry `POST`s to a subscription's URL.
fn openapi_webhooks() -> Value {
    let headers = json!([
        {"name": "webhook-id", "in": "header", "required": true, "description": "The event's id (`msg_…`), the same on every retry: drop duplicates by it.", "schema": {"type": "string", "pattern": "^msg_[0-9a-f]{32}$"}},
        {"name": "webhook-timestamp", "in": "header", "required": true, "description": "Unix seconds of this attempt; refuse deliveries older than a few minutes.", "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}},
        {"name": "webhook-signature", "in": "header", "required": true, "description": "`v1,` and the base64 HMAC-SHA256, keyed with the base64-decoded part of the secret after `whsec_`, of `{webhook-id}.{webhook-timestamp}.{body}`; several separated by spaces while a rotated secret still signs. Any one that matches verifies the delivery (Standard Webhooks 1.0).", "schema": {"type": "string"}}
    ]);
    let event = json!({
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "description": "`<type>.created`, `<type>.updated`, `<type>.deleted` (also for records that are no longer public), or `ping`.", "examples": ["networks.updated"]},
            "timestamp": {"type": "string", "format": "date-time", "description": "When the event was made."},
            "data": {
                "type": "object",
                "description": "The change as `/v1/changes` has it, with its `action`; `data` is the record as anonymous readers see it (never internal contacts or withheld channels), absent for deletions. A ping's `data` has `subscriptionId` and `webhookId`.",
                "properties": {
                    "seq": {"type": "integer", "description": "The change's position in the change feed."},
                    "type": {"type": "string", "enum": crate::domain::ResourceKind::editable_names()},
                    "id": {"type": "string", "format": "uuid"},
                    "action": {"type": "string", "enum": ["created", "updated", "deleted"]},
                    "deleted": {"type": "boolean"},
                    "updatedAt": {"type": "string", "format": "date-time"},
                    "data": {"type": "object", "description": "The record, as `GET /v1/{type}/{id}` shows it to anonymous readers."}
                }
            }
        }
    });
    let example = json!({
        "type": "networks.updated",
        "timestamp": "2026-12-01T10:15:00.123456Z",
        "data": {"seq": 1234, "type": "networks", "id": "db672378-2759-4224-a54c-4415f60666d0", "action": "updated", "deleted": false,
                 "updatedAt": "2026-12-01T10:15:00.120000Z", "data": {"id": "db672378-2759-4224-a54c-4415f60666d0", "slug": "kreis-mettmann", "name": "Regionales Bildungsnetzwerk Kreis Mettmann"}}
    });
    json!({
        "change": {
            "post": {
                "operationId": "webhook_change",
                "tags": ["webhooks"],
                "summary": "A change of a record, or a ping",
                "description": "Sent to each active subscription whose filters match, right after the change commits; a 2xx within 10 s acknowledges it, anything else is retried with exponential back-off and jitter for about a day. Events of one record arrive in their order. Redirects are not followed.",
                "parameters": headers,
                "requestBody": {"required": true, "content": {"application/json": {"schema": event, "example": example}}},
                "responses": {"200": {"description": "Received (any 2xx)."}}
            }
        }
    })
}
