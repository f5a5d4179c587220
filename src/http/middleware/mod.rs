//! What wraps every request: request id, tracing span and log line, time-out, metrics, the headers every
//! response carries, and problem+json for errors produced outside the handlers (404, 405, 413, …).
//! The middleware of the read cache ([`cache`]) and of content codings ([`encoding`]) are submodules: the
//! cache and the codings themselves (`http::cache`, `http::encoding`) are below the application state,
//! which holds them; what takes the state from a request is here, above it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use tracing::Instrument;

use super::problem::{ApiError, PROBLEM_JSON, problem_for_status};
use super::responses::API_VERSION;
use super::state::AppState;
use crate::storage::CommitGate;

pub mod cache;
pub mod encoding;

/// The id of a request: the client's `X-Request-Id` when it is sensible, else a new UUID.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Marks a HEAD request, which is routed as GET: a handler that streams its body need not produce it.
#[derive(Debug, Clone, Copy)]
pub struct HeadRequest;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("api-version");

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

pub async fn envelope(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // HEAD is GET without the body (RFC 9110 §9.3.2): routed, cached and answered as GET; actix-http
    // sends no body to a HEAD request, but keeps the headers, Content-Length included.
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(HeadRequest);
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", method = %req.method(), path = %req.path(), request_id = %id);
    let is_docs = req.path().starts_with("/docs");
    let method = req.method().clone();
    let started = Instant::now();
    if let Some(state) = &state {
        state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    }
    let timeout = state.as_ref().map_or(std::time::Duration::from_secs(30), |s| s.config.request_timeout);
    // A request that may write carries a gate: it commits only if the time-out has not answered first.
    let gate = (!req.method().is_safe()).then(|| {
        let gate = CommitGate::default();
        req.extensions_mut().insert(gate.clone());
        gate
    });
    let outcome = within(timeout, gate.as_ref(), next.call(req).instrument(span.clone())).await;
    // Errors that escape the handlers are rendered by actix from `ApiError` (still problem+json); the
    // request itself is gone with the cancelled future, so these few responses lack the headers below.
    let mut response = match outcome {
        Ok(Ok(response)) => response.map_into_boxed_body(),
        // The request went with the future, and with it the route it matched.
        Ok(Err(error)) => {
            let status = error.as_response_error().status_code().as_u16();
            finish_metrics(state.as_ref(), &method, super::metrics::UNKNOWN_ROUTE, status, started);
            return Err(error);
        }
        Err(_) => {
            finish_metrics(state.as_ref(), &method, super::metrics::UNKNOWN_ROUTE, 503, started);
            span.in_scope(|| tracing::warn!(status = 503, "request timed out"));
            return Err(ApiError::Timeout.into());
        }
    };
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        allow_head(response.headers_mut());
    }
    if status.as_u16() >= 400 && !is_problem(&response) && !is_page(&response) {
        let detail = response.response().error().map(|e| e.to_string()).filter(|_| status.is_client_error());
        let problem = problem_for_status(status, detail).error_response();
        let headers: Vec<_> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                name.as_str().starts_with("access-control-") || *name == header::ALLOW || *name == header::VARY
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        response = response.into_response(problem);
        for (name, value) in headers {
            response.headers_mut().insert(name, value);
        }
    }
    if state.as_ref().is_some_and(|s| s.shutdown.draining()) {
        // Tell keep-alive clients to go elsewhere: the connection closes after this response.
        response.response_mut().head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID, value);
    }
    headers.insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Pages set their own policy (their stylesheet; embeds may be framed).
    if !is_docs && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    // The route pattern (not the path: few distinct values) for the metrics and the log line; after
    // routing this is a lookup of the resource the request matched, not a second match of the path.
    let cached_route = response.request().extensions().get::<super::cache::RoutePattern>().map(|r| r.0.clone());
    let route =
        cached_route.or_else(|| response.request().match_pattern()).unwrap_or_else(|| super::metrics::UNMATCHED.into());
    let elapsed = finish_metrics(state.as_ref(), &method, &route, status.as_u16(), started);
    let status = response.status().as_u16();
    if status >= 500 || tracing::enabled!(tracing::Level::INFO) {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        span.in_scope(|| {
            if status >= 500 {
                tracing::warn!(%route, status, latency_ms, "request");
            } else {
                tracing::info!(%route, status, latency_ms, "request");
            }
        });
    }
    Ok(response)
}

/// Runs `request` for at most `timeout`; `Err` when it was cut off. A write that has begun to commit
/// is never cut off (its gate refuses the cancellation): it is answered with what it did.
async fn within<F: std::future::Future>(
    timeout: std::time::Duration,
    gate: Option<&CommitGate>,
    request: F,
) -> Result<F::Output, ()> {
    use futures_util::future::{Either, select};
    let request = std::pin::pin!(request);
    let timer = std::pin::pin!(actix_web::rt::time::sleep(timeout));
    match select(request, timer).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(((), request)) => match gate {
            Some(gate) if !gate.cancel() => Ok(request.await),
            _ => Err(()),
        },
    }
}

/// Every route that answers GET answers HEAD too (see above), so its `Allow` says so.
fn allow_head(headers: &mut header::HeaderMap) {
    let Some(allow) = headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) else { return };
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    if methods.contains(&"GET") && !methods.contains(&"HEAD") {
        let with_head = format!("{allow}, HEAD");
        if let Ok(value) = HeaderValue::from_str(&with_head) {
            headers.insert(header::ALLOW, value);
        }
    }
}

fn finish_metrics(
    state: Option<&web::Data<AppState>>,
    method: &actix_web::http::Method,
    route: &str,
    status: u16,
    started: Instant,
) -> std::time::Duration {
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        state.metrics.record(method, route, status, elapsed);
    }
    elapsed
}

/// A page of `pages`: its errors are German HTML pages, not problem+json (the client asked for a page).
fn is_page(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn is_problem(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}
