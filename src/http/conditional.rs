//! ETags, conditional reads (304) and conditional writes (If-Match), for every resource.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::encoding::identity_tag;
use super::problem::ApiError;
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

/// Whether an `If-None-Match` list matches `etag` (weak comparison, as RFC 9110 asks for GET), the tag
/// of any content coding of the same body included (see `encoding::identity_tag`).
pub(super) fn none_match_hits(header: &str, etag: &str) -> bool {
    let bare = identity_tag(etag.trim_start_matches("W/"));
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || identity_tag(candidate.trim_start_matches("W/")) == bare)
}

/// The conditions of a read, taken from the request before the handler sees it: they are decided
/// against the finished response (`encoding::serve`), whose ETag depends on the content coding.
#[derive(Debug, Default)]
pub struct Conditions {
    none_match: Option<String>,
    modified_since: Option<String>,
}

/// The `If-None-Match` that `encoding::serve` took off a request, left in its extensions for handlers
/// that can tell before reading anything whether the client has the answer (the streamed export).
#[derive(Debug, Clone)]
pub struct Revalidation(pub String);

/// The request's `If-None-Match`, as [`Conditions::take`] found it.
pub(super) fn if_none_match(req: &HttpRequest) -> Option<String> {
    use actix_web::HttpMessage;
    req.extensions().get::<Revalidation>().map(|taken| taken.0.clone())
}

impl Conditions {
    pub fn revalidation(&self) -> Option<Revalidation> {
        self.none_match.clone().map(Revalidation)
    }

    pub fn take(headers: &mut HeaderMap) -> Conditions {
        let tags: Vec<&str> = headers.get_all(header::IF_NONE_MATCH).filter_map(|v| v.to_str().ok()).collect();
        let none_match = (!tags.is_empty()).then(|| tags.join(", "));
        let modified_since = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).map(str::to_string);
        headers.remove(header::IF_NONE_MATCH);
        headers.remove(header::IF_MODIFIED_SINCE);
        Conditions { none_match, modified_since }
    }
}

/// Whether a `200` with these headers is `304 Not Modified` for the client: `If-None-Match` against its
/// `ETag`, else `If-Modified-Since` against its `Last-Modified` (RFC 9110 §13.2.2).
pub fn not_modified(conditions: &Conditions, response: &HeaderMap) -> bool {
    let header_text = |name| response.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(tags) = &conditions.none_match {
        return header_text(header::ETAG).is_some_and(|etag| none_match_hits(tags, etag));
    }
    match (
        conditions.modified_since.as_deref().and_then(http_date),
        header_text(header::LAST_MODIFIED).and_then(http_date),
    ) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

fn http_date(text: &str) -> Option<i64> {
    Some(chrono::DateTime::parse_from_rfc2822(text).ok()?.timestamp())
}

/// A JSON response with ETag and caching headers (`304 Not Modified` is decided in `encoding::serve`).
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
    let mut response = HttpResponse::build(status);
    response.insert_header((header::ETAG, etag));
    if let Some(modified) = last_modified {
        response.insert_header((header::LAST_MODIFIED, modified.to_http_date()));
    }
    if is_read {
        response.insert_header((header::CACHE_CONTROL, cache_control(req, access)));
        response.insert_header((header::VARY, HeaderValue::from_static("Authorization")));
    }
    response.content_type(content_type).body(body)
}

/// How long anyone may cache an anonymous read, in seconds (`HttpConfig::cache_max_age`): app data of its
/// own, as this module is below the application state that holds the configuration.
#[derive(Debug, Clone, Copy)]
pub struct CacheMaxAge(pub u64);

/// Anonymous reads may be cached by anyone for the configured time; authorised ones only privately.
pub(super) fn cache_control(req: &HttpRequest, access: &Access) -> String {
    match access {
        Access::Anonymous => {
            let max_age = req.app_data::<CacheMaxAge>().map_or(60, |max_age| max_age.0);
            format!("public, max-age={max_age}")
        }
        Access::Key(_) => "private, no-cache".into(),
    }
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
        // A client that read a compressed representation sends its tag (`"h-gzip"`): the same record.
        let tags: Vec<String> =
            text.split(',').map(|t| identity_tag(t.trim()).into_owned()).filter(|t| !t.is_empty()).collect();
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
        let gzip = crate::http::encoding::variant_tag(&tag, crate::http::encoding::Coding::Gzip);
        assert!(none_match_hits(&gzip, &tag) && none_match_hits(&tag, &gzip) && none_match_hits(&gzip, &gzip));
    }
}
