//! The middleware of content codings: negotiates the coding, answers conditional reads against the
//! coding's ETag and compresses (see `http::encoding` for the codings themselves).

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::http::cache::Cached;
use crate::http::conditional::{Conditions, not_modified};
use crate::http::encoding::{
    Effort, EncodedStream, Encoder, MIN_SIZE, compress, compressible, identity_tag, negotiate, variant_tag,
};
use crate::http::state::AppState;

/// Adds `Accept-Encoding` to the response's `Vary`, keeping what is there (`Authorization`, `Origin`).
fn vary_on_accept_encoding(headers: &mut HeaderMap) {
    const NAME: &str = "Accept-Encoding";
    let mut value = String::new();
    for line in headers.get_all(header::VARY).filter_map(|v| v.to_str().ok()) {
        if line.split(',').map(str::trim).any(|name| name == "*" || name.eq_ignore_ascii_case(NAME)) {
            return;
        }
        value.reserve(line.len() + NAME.len() + 4);
        value.push_str(line);
        value.push_str(", ");
    }
    if value.is_empty() {
        headers.insert(header::VARY, HeaderValue::from_static(NAME));
    } else if let Ok(value) = HeaderValue::from_str(&(value + NAME)) {
        headers.insert(header::VARY, value);
    }
}

/// Turns the 200 of a read whose conditions hold into its 304: the same headers, without the body and
/// the content headers (RFC 9110 §15.4.5). In place: a revalidation costs no copy of the headers.
fn into_not_modified(full: HttpResponse) -> HttpResponse {
    let (mut response, _body) = full.into_parts();
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_DISPOSITION] {
        headers.remove(name);
    }
    response.set_body(BoxBody::new(()))
}

/// The middleware: negotiates the coding, answers conditional reads, compresses.
pub async fn serve(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let coding = negotiate(req.headers());
    // HEAD arrives here as GET (see `middleware::envelope`). The handler always renders the whole answer;
    // whether the client has it already is decided below, against the ETag of its coding.
    let conditions = (req.method() == Method::GET).then(|| Conditions::take(req.headers_mut()));
    if let Some(revalidation) = conditions.as_ref().and_then(Conditions::revalidation) {
        actix_web::HttpMessage::extensions_mut(&req).insert(revalidation);
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?.map_into_boxed_body();
    let (request, mut response) = response.into_parts();
    let headers = response.headers();
    let textual = !headers.contains_key(header::CONTENT_ENCODING)
        && headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(compressible);
    let large = match response.body().size() {
        BodySize::Sized(size) => size >= MIN_SIZE,
        BodySize::Stream => true,
        BodySize::None => false,
    };
    let has_body = !(response.status().is_informational()
        || matches!(response.status(), StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED));
    let coding = coding.filter(|_| textual && large && has_body);
    if textual || response.status() == StatusCode::NOT_MODIFIED {
        vary_on_accept_encoding(response.headers_mut());
    }
    if let Some(coding) = coding
        && let Some(etag) = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok())
        && let Ok(tag) = HeaderValue::from_str(&variant_tag(etag, coding))
    {
        response.headers_mut().insert(header::ETAG, tag);
    }
    if let Some(conditions) = conditions
        && response.status() == StatusCode::OK
        && not_modified(&conditions, response.headers())
    {
        return Ok(ServiceResponse::new(request, into_not_modified(response)));
    }
    let Some(coding) = coding else { return Ok(ServiceResponse::new(request, response)) };
    let cached = response.extensions().get::<Cached>().cloned();
    let (response, body) = response.into_parts();
    let body = match (cached, state) {
        (Some(cached), Some(state)) => match cached.encoded(coding, &state.metrics, state.read_cache.as_ref()).await {
            Some(encoded) => Ok(BoxBody::new(encoded)),
            None => Err(body),
        },
        (_, state) => {
            let counted = |state: &Option<web::Data<AppState>>| {
                if let Some(state) = state {
                    state.metrics.count_compression(coding, Effort::OnTheFly);
                }
            };
            match body.try_into_bytes() {
                Ok(bytes) => match compress(coding, Effort::OnTheFly, &bytes) {
                    Ok(encoded) => {
                        counted(&state);
                        Ok(BoxBody::new(encoded))
                    }
                    Err(error) => {
                        tracing::warn!(%error, coding = coding.token(), "compression failed: sent as it is");
                        Err(BoxBody::new(bytes))
                    }
                },
                Err(stream) => match Encoder::new(coding, Effort::OnTheFly, 16 * 1024) {
                    Ok(encoder) => {
                        counted(&state);
                        Ok(BoxBody::new(EncodedStream::new(stream, encoder)))
                    }
                    Err(_) => Err(stream),
                },
            }
        }
    };
    let mut response = match body {
        Ok(encoded) => {
            let mut response = response.set_body(encoded);
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
            response
        }
        // Sent as it is after all: with the identity tag it had.
        Err(plain) => {
            let mut response = response.set_body(plain);
            if let Some(tag) = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(identity_tag)
                && let Ok(tag) = HeaderValue::from_str(&tag)
            {
                response.headers_mut().insert(header::ETAG, tag);
            }
            response
        }
    };
    response.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(request, response))
}
