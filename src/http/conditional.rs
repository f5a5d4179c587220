//! ETags, conditional reads (304) and conditional writes (If-Match), for every resource.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::problem::ApiError;
use super::state::AppState;
use crate::domain::{Access, Timestamp};

/// A strong ETag: the first 128 bits of the SHA-256 of the representation's bytes.
pub fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    tag
}

/// The ETag of a record as `GET /v1/{type}/{id}` returns it.
pub fn etag_of_value<T: Serialize>(value: &T) -> String {
    etag_of(&serde_json::to_vec(value).unwrap_or_default())
}

/// The `If-None-Match` of a request, all its header lines in one list; also when the read cache took it
/// off the request (see `cache::Revalidation`).
pub(super) fn if_none_match(req: &HttpRequest) -> Option<String> {
    use actix_web::HttpMessage;
    let taken = req.extensions().get::<super::cache::Revalidation>().map(|taken| taken.0.clone());
    taken.or_else(|| super::cache::if_none_match(req.headers()))
}

/// Whether an `If-None-Match` list matches `etag` (weak comparison, as RFC 9110 asks for GET).
pub(super) fn none_match_hits(header: &str, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    header.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

/// A JSON response with ETag, caching headers and `304 Not Modified` when the client has it already.
pub fn respond<T: Serialize>(
    req: &HttpRequest,
    access: &Access,
    status: StatusCode,
    value: &T,
    last_modified: Option<Timestamp>,
) -> HttpResponse {
    let body = serde_json::to_vec(value).unwrap_or_default();
    respond_bytes(req, access, status, body, "application/json", last_modified)
}

pub fn respond_bytes(
    req: &HttpRequest,
    access: &Access,
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    last_modified: Option<Timestamp>,
) -> HttpResponse {
    let etag = etag_of(&body);
    let is_read = req.method() == actix_web::http::Method::GET || req.method() == actix_web::http::Method::HEAD;
    let not_modified = is_read && status == StatusCode::OK && {
        match req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
            Some(tags) => none_match_hits(tags, &etag),
            None => match (last_modified, if_modified_since(req)) {
                (Some(modified), Some(since)) => modified.0.timestamp() <= since,
                _ => false,
            },
        }
    };
    let mut response = HttpResponse::build(if not_modified { StatusCode::NOT_MODIFIED } else { status });
    response.insert_header((header::ETAG, etag));
    if let Some(modified) = last_modified {
        response.insert_header((header::LAST_MODIFIED, modified.to_http_date()));
    }
    if is_read {
        response.insert_header((header::CACHE_CONTROL, cache_control(req, access)));
        response.insert_header((header::VARY, HeaderValue::from_static("Authorization")));
    }
    if not_modified {
        return response.finish();
    }
    response.content_type(content_type).body(body)
}

/// Anonymous reads may be cached by anyone for the configured time; authorised ones only privately.
pub(super) fn cache_control(req: &HttpRequest, access: &Access) -> String {
    match access {
        Access::Anonymous => {
            let max_age = req.app_data::<actix_web::web::Data<AppState>>().map_or(60, |s| s.config.cache_max_age);
            format!("public, max-age={max_age}")
        }
        Access::Key(_) => "private, no-cache".into(),
    }
}

fn if_modified_since(req: &HttpRequest) -> Option<i64> {
    let text = req.headers().get(header::IF_MODIFIED_SINCE)?.to_str().ok()?;
    let parsed = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    Some(parsed.timestamp())
}

/// The `If-Match` precondition of a write: required, so that no update is ever lost.
#[derive(Debug, Clone)]
pub enum IfMatch {
    Any,
    Tags(Vec<String>),
}

impl IfMatch {
    /// 428 without the header.
    pub fn require(req: &HttpRequest) -> Result<IfMatch, ApiError> {
        let header = req.headers().get(header::IF_MATCH).ok_or(ApiError::PreconditionRequired)?;
        let text = header.to_str().map_err(|_| ApiError::BadRequest("If-Match is not a valid header value.".into()))?;
        if text.trim() == "*" {
            return Ok(IfMatch::Any);
        }
        let tags: Vec<String> = text.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        if tags.is_empty() {
            return Err(ApiError::PreconditionRequired);
        }
        Ok(IfMatch::Tags(tags))
    }

    /// 412 unless the current representation has one of the tags (strong comparison, RFC 9110).
    pub fn check<T: Serialize>(&self, current: &T) -> Result<(), ApiError> {
        match self {
            IfMatch::Any => Ok(()),
            IfMatch::Tags(tags) => {
                let etag = etag_of_value(current);
                if tags.iter().any(|tag| !tag.starts_with("W/") && *tag == etag) {
                    Ok(())
                } else {
                    Err(ApiError::PreconditionFailed)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let tag = etag_of(b"x");
        assert!(none_match_hits(&tag, &tag));
        assert!(none_match_hits(&format!("\"a\", W/{tag}"), &tag));
        assert!(none_match_hits("*", &tag));
        assert!(!none_match_hits("\"a\"", &tag));
    }
}
