//! Calendar feeds of meetings (`text/calendar`, RFC 5545), for calendar apps to subscribe to (`webcal://`).
//!
//! A feed is a read like every other: its ETag derives from its bytes, and those change only with the
//! data (DTSTAMP is the meeting's last change), so a subscriber that polls gets 304 until a meeting changes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Caller;
use super::conditional::respond_bytes;
use super::crud;
use super::problem::ApiError;
use super::query::QueryParams;
use super::state::AppState;
use crate::domain::calendar::to_ical;
use crate::domain::{Meeting, MeetingFilter, Network};

const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// `GET /v1/meetings.ics`: the meetings of the filters `network`, `district` and `body` (AND).
pub async fn all(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(req.query_string())?;
    let filter = MeetingFilter {
        network: params.text("network"),
        body: params.parsed("body", "a UUID"),
        district: params.district("district"),
        ..Default::default()
    };
    params.finish()?;
    feed(&req, &state, &caller, filter, "Sitzungen der Regionalen Bildungsnetzwerke NRW".into()).await
}

/// `GET /v1/networks/{id}/meetings.ics`: one network's meetings.
pub async fn of_network(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(req.query_string())?.finish()?;
    let id = crud::resolve_id::<Network>(&state, &path).await?;
    let network = crud::fetch::<Network>(&state, id, &caller.0).await?;
    let filter = MeetingFilter { networks: Some(vec![id]), ..Default::default() };
    feed(&req, &state, &caller, filter, format!("Sitzungen: {}", network.name)).await
}

async fn feed(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    caller: &Caller,
    filter: MeetingFilter,
    name: String,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let reader = caller.0.clone();
    let meetings: Vec<Meeting> = web::block(move || db.all::<Meeting>(&filter, &reader)).await??;
    let text = to_ical(&name, meetings.iter().map(Meeting::calendar_event));
    Ok(respond_bytes(req, &caller.0, StatusCode::OK, text.into_bytes(), CONTENT_TYPE, None))
}
