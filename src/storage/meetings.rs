use diesel::prelude::*;
use uuid::Uuid;

use super::reference::network_scope;
use super::rows::{from_json, ids_to_text, naive, opt_uuid, parse, timestamp, to_json, uuid};
use super::schema::{bodies, meetings, networks, regions};
use super::table::{Cursor, Table, Window, apply_window, of_networks};
use super::{DbConnection, MultiBackend, StoreError, StoreResult, prepared};
use crate::domain::access::Scope;
use crate::domain::calendar::EventTime;
use crate::domain::meeting::{from_key, start_key, to_key};
use crate::domain::{FieldError, Meeting, MeetingFilter, MeetingInput, MeetingLocation, Timestamp};

type Row = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i32,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

/// Start and end as one ISO 8601 interval, `start/end` (or `start` alone), exactly as given.
fn span(input: &MeetingInput) -> String {
    match &input.end {
        Some(end) => format!("{}/{end}", input.start),
        None => input.start.to_string(),
    }
}

fn times(span: &str) -> StoreResult<(EventTime, Option<EventTime>)> {
    let bad = |_| StoreError::Corrupt(format!("meeting span {span:?}"));
    let (start, end) = match span.split_once('/') {
        Some((start, end)) => (start, Some(end)),
        None => (span, None),
    };
    Ok((start.parse().map_err(bad)?, end.map(str::parse).transpose().map_err(bad)?))
}

fn location(column: Option<String>) -> StoreResult<Option<MeetingLocation>> {
    column.as_deref().map(from_json).transpose()
}

fn meeting(row: Row) -> StoreResult<Meeting> {
    let (
        id,
        network_id,
        body_id,
        name,
        span,
        _start_key,
        _end_key,
        status,
        location_json,
        description,
        url,
        documentation_url,
        sources,
        sequence,
        created_at,
        updated_at,
    ) = row;
    let (start, end) = times(&span)?;
    Ok(Meeting {
        id: uuid(&id)?,
        network_id: uuid(&network_id)?,
        body_id: opt_uuid(body_id.as_deref())?,
        name,
        start,
        end,
        status: parse(&status, "meeting status")?,
        location: location(location_json)?,
        description,
        url,
        documentation_url,
        sources: from_json(&sources)?,
        sequence: u32::try_from(sequence).unwrap_or_default(),
        created_at: timestamp(created_at),
        updated_at: timestamp(updated_at),
    })
}

/// The JSON column of an optional location.
fn location_column(location: &Option<MeetingLocation>) -> Option<String> {
    location.as_ref().map(to_json)
}

/// The columns a write sets from the input, for inserts and updates alike.
macro_rules! content {
    ($input:expr) => {{
        let input: &MeetingInput = $input;
        (
            meetings::network_id.eq(input.network_id.to_string()),
            meetings::body_id.eq(input.body_id.map(|id| id.to_string())),
            meetings::name.eq(input.name.clone()),
            meetings::span.eq(span(input)),
            meetings::start_key.eq(input.start_key()),
            meetings::end_key.eq(input.end_key()),
            meetings::status.eq(input.status.as_str()),
            meetings::location.eq(location_column(&input.location)),
            meetings::description.eq(input.description.clone()),
            meetings::url.eq(input.url.clone()),
            meetings::documentation_url.eq(input.documentation_url.clone()),
            meetings::sources.eq(to_json(&input.sources)),
        )
    }};
}

impl Table for Meeting {
    type Filter = MeetingFilter;

    fn load(conn: &mut DbConnection, id: Uuid) -> StoreResult<Option<Meeting>> {
        Ok(Self::load_many(conn, &[id])?.pop())
    }

    fn load_many(conn: &mut DbConnection, ids: &[Uuid]) -> StoreResult<Vec<Meeting>> {
        let rows: Vec<Row> = meetings::table
            .filter(meetings::id.eq_any(ids_to_text(ids)))
            .select(meetings::all_columns)
            .order(meetings::id)
            .load(conn)?;
        rows.into_iter().map(meeting).collect()
    }

    /// In start order (then id) by default; in change order with `modifiedSince`.
    fn list(conn: &mut DbConnection, filter: &MeetingFilter, window: &Window) -> StoreResult<Vec<Meeting>> {
        let mut query = meetings::table.select(meetings::all_columns).into_boxed::<MultiBackend>();
        if let Some(network) = &filter.network {
            let ids = super::reference::networks_named(conn, network)?;
            query = of_networks!(query, meetings::network_id, ids);
        }
        if let Some(networks) = &filter.networks {
            query = query.filter(meetings::network_id.eq_any(ids_to_text(networks)));
        }
        if let Some(body) = filter.body {
            query = query.filter(meetings::body_id.eq(body.to_string()));
        }
        if let Some(district) = filter.district {
            let in_district = networks::table
                .inner_join(regions::table)
                .filter(regions::district_key.eq(district))
                .select(networks::id);
            query = query.filter(meetings::network_id.eq_any(in_district));
        }
        if let Some(status) = filter.status {
            query = query.filter(meetings::status.eq(status.as_str()));
        }
        if let Some(from) = &filter.from {
            query = query.filter(meetings::end_key.ge(from_key(from)));
        }
        if let Some(to) = &filter.to {
            query = query.filter(meetings::start_key.le(to_key(to)));
        }
        let query = match (&window.since, &window.after) {
            (None, after) => {
                if let Some(Cursor::Start { key, id }) = after {
                    query = query.filter(
                        meetings::start_key
                            .gt(key.clone())
                            .or(meetings::start_key.eq(key.clone()).and(meetings::id.gt(id.to_string()))),
                    );
                }
                query.order((meetings::start_key.asc(), meetings::id.asc())).limit(window.limit)
            }
            (Some(_), _) => apply_window!(query, meetings, window),
        };
        let rows: Vec<Row> = query.load(conn)?;
        rows.into_iter().map(meeting).collect()
    }

    fn position(&self) -> Cursor {
        Cursor::Start { key: start_key(&self.start), id: self.id }
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &MeetingInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(meetings::table)
            .values((
                meetings::id.eq(id.to_string()),
                content!(input),
                meetings::sequence.eq(0),
                meetings::created_at.eq(naive(now)),
                meetings::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Every update counts in `sequence`, so calendar apps take each new version for a change.
    fn update(
        conn: &mut DbConnection,
        id: Uuid,
        input: &MeetingInput,
        now: Timestamp,
        version: Timestamp,
    ) -> StoreResult<Option<Self>> {
        let row: Option<Row> = prepared::update(
            meetings::table,
            (content!(input), meetings::sequence.eq(meetings::sequence + 1), meetings::updated_at.eq(naive(now))),
            meetings::id.eq(id.to_string()).and(meetings::updated_at.eq(naive(version))),
        )
        .returning(meetings::all_columns)
        .get_result(conn)
        .optional()?;
        row.map(meeting).transpose()
    }

    fn delete(conn: &mut DbConnection, id: Uuid) -> StoreResult<()> {
        diesel::delete(meetings::table.find(id.to_string())).execute(conn)?;
        Ok(())
    }

    fn scope_of_input(conn: &mut DbConnection, _id: Option<Uuid>, input: &MeetingInput) -> StoreResult<Scope> {
        network_scope(conn, input.network_id)
    }

    fn scope_of_record(conn: &mut DbConnection, record: &Meeting) -> StoreResult<Scope> {
        network_scope(conn, record.network_id)
    }

    /// The body that meets is one of the meeting's network.
    fn check_conflicts(
        conn: &mut DbConnection,
        _id: Option<Uuid>,
        input: &MeetingInput,
        _before: Option<&MeetingInput>,
    ) -> StoreResult<()> {
        let Some(body) = input.body_id else { return Ok(()) };
        let network: Option<String> =
            bodies::table.find(body.to_string()).select(bodies::network_id).first(conn).optional()?;
        if network.is_some_and(|network| network != input.network_id.to_string()) {
            return Err(StoreError::InvalidReferences(vec![FieldError::new(
                "bodyId",
                "must be a body of the meeting's network (networkId)",
            )]));
        }
        Ok(())
    }
}
