//! Calendar feeds of meetings (`text/calendar`, RFC 5545), for calendar apps to subscribe to (`webcal://`).
//!
//! A feed is a read like every other: its ETag derives from its bytes, and those change only with the
//! data (DTSTAMP is the meeting's last change), so a subscriber that polls gets 304 until a meeting changes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, IntoResponses};

use super::auth::Caller;
use super::conditional::respond_bytes;
use super::crud;
use super::openapi_parts::{IfNoneMatch, NetworkId, NotModified, ReadProblems};
use super::query::QueryParams;
use super::state::AppState;
use crate::domain::calendar::to_ical;
use crate::domain::{Meeting, MeetingFilter, Network};
use crate::http::problem::Reply;
use crate::http::state::State;

const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// What the documentation of both feeds says about their events.
const EVENTS: &str = "One VEVENT per meeting known at least to the day (planning dates of a month or \
                     a year are left out): UID from the meeting's id (it never changes), DTSTAMP and LAST-MODIFIED \
                     its last change, SEQUENCE the number of its changes, whole days as `VALUE=DATE`, times in UTC, \
                     `STATUS:CANCELLED` for cancelled meetings (`TENTATIVE` for postponed ones), LOCATION and URL. \
                     Subscribe with `webcal://`; `If-None-Match` answers 304 until a meeting changes.";

/// What a feed answers.
#[derive(IntoResponses)]
#[response(
    status = 200, description = "The calendar (RFC 5545).", content_type = "text/calendar; charset=utf-8",
    example = json!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n…\r\nEND:VCALENDAR\r\n"),
    headers(
        ("ETag" = String, description = "Validator of the calendar: it changes only when a meeting in it changes."),
    ),
)]
#[allow(dead_code)] // Only its documentation is used: `feed` writes the calendar's bytes.
struct Calendar(String);

/// The filters of `/v1/meetings.ics`: those of `/v1/meetings` that select meetings by who holds them.
struct FeedFilter;

impl IntoParams for FeedFilter {
    fn into_params(in_query: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = MeetingFilter::into_params(in_query);
        params.retain(|p| ["network", "district", "body"].contains(&p.name.as_str()));
        params
    }
}

/// `GET /v1/meetings.ics`: the meetings of the filters `network`, `district` and `body` (AND).
#[utoipa::path(
    get, path = "/v1/meetings.ics", operation_id = "calendar_meetings", tag = "meetings",
    summary = "Calendar of meetings", description = format!("The meetings of the filters (AND). {EVENTS}"),
    params(FeedFilter, IfNoneMatch),
    responses(Calendar, NotModified, ReadProblems),
    security((), ("apiKey" = [])),
)]
pub async fn all(req: HttpRequest, state: State, caller: Caller) -> Reply {
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
#[utoipa::path(
    get, path = "/v1/networks/{id}/meetings.ics", operation_id = "calendar_network_meetings", tag = "meetings",
    summary = "Calendar of a network's meetings", description = format!("The network's meetings. {EVENTS}"),
    params(NetworkId, IfNoneMatch),
    responses(Calendar, NotModified, ReadProblems),
    security((), ("apiKey" = [])),
)]
pub async fn of_network(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
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
) -> Reply {
    let db = state.db.clone();
    let reader = caller.0.clone();
    let meetings: Vec<Meeting> = web::block(move || db.all::<Meeting>(&filter, &reader)).await??;
    let text = to_ical(&name, meetings.iter().map(Meeting::calendar_event));
    Ok(respond_bytes(req, &caller.0, StatusCode::OK, text.into_bytes(), CONTENT_TYPE, None))
}
