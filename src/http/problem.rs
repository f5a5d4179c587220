//! RFC 9457 problem details: every error the service returns, mapped from its cause in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{FieldError, ValidationErrors};
use crate::storage::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "urn:rbn:problem:validation", "title": "Invalid input", "status": 400, "detail": "2 field(s) are invalid; see errors.", "errors": [{"field": "signedOn", "message": "must be a date of year, month or day precision: 2008, 2019-07 or 2013-11-19"}, {"field": "kind", "message": "must be one of: founding, resumption, renewal, amendment"}]}))]
pub struct Problem {
    /// A URI that identifies the kind of problem.
    #[serde(rename = "type")]
    #[schema(example = "urn:rbn:problem:not-found")]
    pub problem_type: String,
    #[schema(example = "Not found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    /// What happened in this case, and what to do about it.
    pub detail: String,
    /// Every invalid field, for 400 responses; for a 409 of a value that must be unique, its field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

// The details of the problems that carry no detail of their own.
const METHOD_NOT_ALLOWED: &str =
    "This resource does not support the method; see the Allow header and /v1/openapi.json.";
const PRECONDITION_REQUIRED: &str =
    "Send If-Match with the ETag of the version you read (GET the record first); this prevents lost updates.";
const PRECONDITION_FAILED: &str = "The record changed since you read it: GET it again, reapply your change to the new \
                                   version and send it with the new ETag in If-Match.";
const NOT_ACCEPTABLE: &str = "This resource is available as application/json only.";

/// What an API handler answers: a response, or the problem that is mapped to one.
pub type Reply = Result<actix_web::HttpResponse, ApiError>;

/// Everything a request can fail with. Handlers return it; [`ResponseError`] renders it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A 409 of one field: a value that must be unique is taken.
    #[error("conflict: {1}")]
    Taken(FieldError, String),
    #[error("precondition required")]
    PreconditionRequired,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("not acceptable")]
    NotAcceptable,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A 503 that is not the database's fault: the service does as much of this at once as it may.
    #[error("busy: {0}")]
    Busy(String),
    #[error("storage full: {0}")]
    StorageFull(String),
    #[error("request timed out")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Invalid(errors.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("no record has this id".into()),
            StoreError::Conflict(why) => ApiError::Conflict(why),
            StoreError::Taken { error, detail } => ApiError::Taken(error, detail),
            StoreError::InvalidReferences(errors) => ApiError::Invalid(errors),
            StoreError::Unavailable(why) => ApiError::Unavailable(why),
            StoreError::StorageFull(why) => ApiError::StorageFull(why),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        StoreError::from(error).into()
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl ApiError {
    fn parts(&self) -> (&'static str, &'static str, String) {
        match self {
            ApiError::Invalid(errors) => (
                "validation",
                "Invalid input",
                format!("{} field(s) are invalid; see errors.", errors.len()),
            ),
            ApiError::BadRequest(detail) => ("bad-request", "Bad request", detail.clone()),
            ApiError::NotFound(detail) => ("not-found", "Not found", detail.clone()),
            ApiError::MethodNotAllowed => ("method-not-allowed", "Method not allowed", METHOD_NOT_ALLOWED.into()),
            ApiError::Unauthorized(detail) => ("unauthorized", "Unauthorized", detail.clone()),
            ApiError::Forbidden(detail) => ("forbidden", "Forbidden", detail.clone()),
            ApiError::Conflict(detail) | ApiError::Taken(_, detail) => ("conflict", "Conflict", detail.clone()),
            ApiError::PreconditionRequired => {
                ("precondition-required", "Precondition required", PRECONDITION_REQUIRED.into())
            }
            ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed", PRECONDITION_FAILED.into()),
            ApiError::PayloadTooLarge(detail) => ("payload-too-large", "Payload too large", detail.clone()),
            ApiError::UnsupportedMediaType(detail) => ("unsupported-media-type", "Unsupported media type", detail.clone()),
            ApiError::NotAcceptable => ("not-acceptable", "Not acceptable", NOT_ACCEPTABLE.into()),
            ApiError::TooManyRequests { .. } => (
                "too-many-requests",
                "Too many requests",
                "Too many failed authentication attempts from this client; wait before trying again.".into(),
            ),
            ApiError::Unavailable(_) => (
                "unavailable",
                "Service unavailable",
                "The database is unavailable; retry shortly.".into(),
            ),
            ApiError::Busy(detail) => ("busy", "Service unavailable", detail.clone()),
            ApiError::StorageFull(_) => (
                "storage-full",
                "Service unavailable",
                "The database has no space left for this change, so nothing was written; reads still work. Retry later."
                    .into(),
            ),
            ApiError::Timeout => (
                "timeout",
                "Service unavailable",
                "The request took longer than the configured time-out and was cancelled; retry later.".into(),
            ),
            ApiError::Internal(_) => (
                "internal",
                "Internal server error",
                "An unexpected error occurred; it has been logged. Report the X-Request-Id if it persists.".into(),
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (kind, title, detail) = self.parts();
        Problem {
            problem_type: format!("urn:rbn:problem:{kind}"),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail,
            errors: match self {
                ApiError::Invalid(errors) => errors.clone(),
                ApiError::Taken(error, _) => vec![error.clone()],
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::Taken(..) => StatusCode::CONFLICT,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::StorageFull(_) | ApiError::Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            // The cause goes to the log, never to the client.
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            ApiError::StorageFull(cause) => tracing::error!(%cause, "the database's disk is full"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"rbn-registry\""),
                ));
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::Timeout => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::StorageFull(_) => {
                response.insert_header((header::RETRY_AFTER, "30"));
            }
            _ => {}
        }
        response.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

/// The problem for a status produced outside the handlers (routing, payload limits, extractors).
pub fn problem_for_status(status: StatusCode, detail: Option<String>) -> ApiError {
    match status.as_u16() {
        404 => ApiError::NotFound(
            detail.unwrap_or_else(|| "No resource at this path; see /v1 for the API's resources.".into()),
        ),
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge(detail.unwrap_or_else(|| "The request body is too large.".into())),
        415 => ApiError::UnsupportedMediaType(detail.unwrap_or_else(|| "Send the body as application/json.".into())),
        406 => ApiError::NotAcceptable,
        408 | 503 | 504 => ApiError::Timeout,
        400..=499 => ApiError::BadRequest(detail.unwrap_or_else(|| "The request is malformed.".into())),
        _ => ApiError::Internal(detail.unwrap_or_else(|| status.to_string())),
    }
}
