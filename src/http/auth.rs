//! Who is calling: the `Authorization: Bearer` key, resolved once per request, and the one place that
//! turns the domain's access rules into 401 and 403.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::middleware::RequestId;
use super::problem::ApiError;
use super::state::AppState;
use crate::domain::Access;
use crate::domain::access::Scope;
use crate::storage::{Actor, CommitGate};

/// The caller, as an extractor: anonymous without a header, 401 with a bad key, 429 after repeated failures.
pub struct Caller(pub Access);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().map(str::to_string));
        let client = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        Box::pin(async move {
            let Some(header) = header else {
                return Ok(Caller(Access::Anonymous));
            };
            let state = state.ok_or_else(|| ApiError::Internal("no application state".into()))?;
            let secret = header.ok().as_deref().and_then(bearer_token).filter(|s| s.len() <= 200).map(str::to_string);
            let key = match secret {
                Some(secret) => {
                    let db = state.db.clone();
                    web::block(move || db.authenticate(&secret)).await??
                }
                None => None,
            };
            match key {
                // A valid key is served even from a client that others' failures made suspicious.
                Some(key) => Ok(Caller(Access::Key(key))),
                None => {
                    // Never log the key itself.
                    tracing::warn!(%client, "authentication failed");
                    if let Some(retry_after_secs) = state.auth_failures.blocked_for(client) {
                        return Err(ApiError::TooManyRequests { retry_after_secs });
                    }
                    state.auth_failures.record_failure(client);
                    Err(ApiError::Unauthorized(
                        "The API key is missing, malformed, unknown, expired or revoked. Send Authorization: Bearer <key>."
                            .into(),
                    ))
                }
            }
        })
    }
}

/// The token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110 §11.1), one or more spaces
/// follow it.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// 401 for anonymous callers of a write.
pub fn require_key(access: &Access) -> Result<(), ApiError> {
    match access {
        Access::Anonymous => {
            Err(ApiError::Unauthorized("Writing needs an API key: send Authorization: Bearer <key>.".into()))
        }
        Access::Key(_) => Ok(()),
    }
}

/// The check the storage runs on the scope of every record a write touches (before and after); `None`
/// for admin keys, which may write anywhere, so that the storage need not look up any scope for them.
pub fn authorizer(access: &Access) -> Option<impl Fn(&Scope) -> Result<(), ApiError> + Send + 'static> {
    if access.is_admin() {
        return None;
    }
    let access = access.clone();
    Some(move |scope: &Scope| {
        require_key(&access)?;
        if access.may_write(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match (scope.network_id, scope.district_key) {
                (None, None) => "Only admin keys may change the shared vocabulary and reference data.".into(),
                _ => "This API key may not write records of this network or Regierungsbezirk.".into(),
            }))
        }
    })
}

/// 403 unless the caller is an admin.
pub fn require_admin(access: &Access) -> Result<(), ApiError> {
    require_key(access)?;
    if access.is_admin() { Ok(()) } else { Err(ApiError::Forbidden("Only admin keys may do this.".into())) }
}

/// The audit log's "who" of a request.
pub fn actor(req: &HttpRequest, access: &Access) -> Actor {
    Actor {
        key_id: access.key().map(|k| k.id),
        key_name: access.key().map(|k| k.name.clone()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        gate: req.extensions().get::<CommitGate>().cloned(),
    }
}
