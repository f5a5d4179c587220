//! The read cache's middleware: answers from the cache while the registry is unchanged, and fills it
//! otherwise (see `http::cache` for the cache itself).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix_web::body::{BodySize, BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use bytes::Bytes;

use super::HeadRequest;
use crate::http::cache::{Copied, Entry, RoutePattern, reusable_headers};
use crate::http::conditional::{Revalidation, etag_of};
use crate::http::state::AppState;

fn cacheable(req: &ServiceRequest) -> bool {
    req.method() == Method::GET
        && (req.path().starts_with("/v1") || crate::http::pages::is_page(req.path()) || is_docs_asset(req.path()))
        && !req.headers().contains_key(header::AUTHORIZATION)
}

/// The files of Swagger UI (`/docs/…`, 1.5 MB of JavaScript): they come without an ETag, so the cache
/// gives them one; kept, they are compressed once rather than on every page view of the docs.
fn is_docs_asset(path: &str) -> bool {
    path.starts_with("/docs/")
}

/// The middleware: answers from the cache while the registry is unchanged, and fills it otherwise.
/// (`If-None-Match` and `If-Modified-Since` were taken off the request by `encoding::serve`, which
/// answers them, so the handler renders the whole answer and it can be cached.)
pub async fn serve(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|s| s.read_cache.is_some() && cacheable(&req)) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let (cache, freshness) = state.read_cache.as_ref().expect("checked above");
    let version = freshness.current().await;
    let key = req.uri().path_and_query().map_or(req.path(), |pq| pq.as_str());
    if let Some(version) = version
        && let Some(entry) = cache.get(key, version)
    {
        state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        let response = entry.answer(true);
        if let Some(route) = &entry.route {
            req.extensions_mut().insert(route.clone());
        }
        return Ok(req.into_response(response));
    }
    let key = key.to_string();
    let response = next.call(req).await?.map_into_boxed_body();
    // A streamed answer (the dataset export) is sent as it is read, never buffered. If it ends within
    // what one entry may take, the copy made on its way is kept: the export of a registry of today's size
    // is then answered (and compressed) from the cache like any other; a larger one passes in flat memory.
    if matches!(response.response().body().size(), BodySize::Stream) {
        let whole_body = response.status() == StatusCode::OK
            && response.headers().contains_key(header::ETAG)
            && response.request().extensions().get::<Revalidation>().is_none()
            && response.request().extensions().get::<HeadRequest>().is_none();
        let Some(version) = version.filter(|_| whole_body) else { return Ok(response) };
        let route = response.request().match_pattern().map(RoutePattern);
        let headers = reusable_headers(response.headers());
        let state = state.clone();
        let cap = cache.entry_cap();
        let keep = move |body: Bytes| {
            let Some((cache, _)) = state.read_cache.as_ref() else { return };
            let entry = Entry::new(key, version, headers, body, route);
            cache.put(Arc::new(entry));
        };
        return Ok(response.map_body(|_, body| BoxBody::new(Copied::new(body, cap, keep))));
    }
    let tagged = response.headers().contains_key(header::ETAG);
    if response.status() != StatusCode::OK || !(tagged || is_docs_asset(response.request().path())) {
        return Ok(response);
    }
    let route = response.request().match_pattern().map(RoutePattern);
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let Ok(body) = to_bytes(body).await else {
        return Ok(ServiceResponse::new(request, head.set_body(BoxBody::new(Bytes::new()))));
    };
    let mut headers = reusable_headers(head.headers());
    if !tagged && let Ok(etag) = header::HeaderValue::from_str(&etag_of(&body)) {
        headers.insert(header::ETAG, etag);
    }
    // Without a version (the database did not answer) the answer is not kept.
    let entry = Arc::new(Entry::new(key, version.unwrap_or_default(), headers, body, route));
    let kept = version.is_some() && cache.put(entry.clone());
    Ok(ServiceResponse::new(request, entry.answer(kept)))
}
