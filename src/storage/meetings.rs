use diesel::prelude::*;
use uuid::Uuid;

use super::rows::{from_json, opt_uuid, parse, row_values, timestamp, to_json, uuid};
use super::schema::{bodies, meetings, networks, regions};
use super::table::{Cursor, ListOrder, Proposed, Table, Window, apply_window, of_networks, row_table};
use super::{DbConnection, MultiBackend, StoreError, StoreResult};
use crate::domain::calendar::EventTime;
use crate::domain::meeting::{from_key, start_key, to_key};
use crate::domain::{
    FieldError, LongText, Meeting, MeetingFilter, MeetingInput, MeetingLocation, Name, Timestamp, WebUrl,
};

/// A meeting's columns as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = meetings)]
struct MeetingRow {
    id: String,
    network_id: String,
    body_id: Option<String>,
    name: String,
    span: String,
    status: String,
    location: Option<String>,
    description: Option<String>,
    url: Option<String>,
    documentation_url: Option<String>,
    sources: String,
    sequence: i32,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

row_values! {
    /// `sequence` is set by the statements themselves.
    meetings: MeetingValues<'a>(input: &'a MeetingInput) {
        network_id: String = input.network_id.to_string(),
        body_id: Option<String> = input.body_id.map(|id| id.to_string()),
        name: &'a str = &input.name,
        span: String = span(input),
        start_key: String = input.start_key(),
        end_key: String = input.end_key(),
        status: &'static str = input.status.as_str(),
        location: Option<String> = input.location.as_ref().map(to_json),
        description: Option<&'a str> = input.description.as_deref(),
        url: Option<&'a str> = input.url.as_deref(),
        documentation_url: Option<&'a str> = input.documentation_url.as_deref(),
        sources: String = to_json(&input.sources),
    }
}

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

impl TryFrom<MeetingRow> for Meeting {
    type Error = StoreError;

    fn try_from(row: MeetingRow) -> StoreResult<Meeting> {
        let (start, end) = times(&row.span)?;
        Ok(Meeting {
            id: uuid(&row.id)?,
            network_id: uuid(&row.network_id)?,
            body_id: opt_uuid(row.body_id.as_deref())?,
            name: Name::from_stored(row.name),
            start,
            end,
            status: parse(&row.status, "meeting status")?,
            location: location(row.location)?,
            description: row.description.map(LongText::from_stored),
            url: row.url.map(WebUrl::from_stored),
            documentation_url: row.documentation_url.map(WebUrl::from_stored),
            sources: from_json(&row.sources)?,
            sequence: u32::try_from(row.sequence).unwrap_or_default(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        })
    }
}

impl Table for Meeting {
    type Filter = MeetingFilter;
    const ORDER: ListOrder = ListOrder::Start;

    row_table!(@load_many meetings, MeetingRow);

    /// In start order (then id) by default; in change order with `modifiedSince`.
    fn list(conn: &mut DbConnection, filter: &MeetingFilter, window: &Window) -> StoreResult<Vec<Meeting>> {
        let mut query = meetings::table.select(MeetingRow::as_select()).into_boxed::<MultiBackend>();
        query = of_networks!(conn, query, meetings::network_id, filter);
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
        let rows: Vec<MeetingRow> = query.load(conn)?;
        rows.into_iter().map(Meeting::try_from).collect()
    }

    fn position(&self) -> Cursor {
        Cursor::Start { key: start_key(&self.start), id: self.id }
    }

    fn insert(conn: &mut DbConnection, id: Uuid, input: &MeetingInput, now: Timestamp) -> StoreResult<()> {
        diesel::insert_into(meetings::table)
            .values((MeetingValues::new(id, input, now), meetings::sequence.eq(0)))
            .execute(conn)?;
        Ok(())
    }

    // Every update counts in `sequence`, so calendar apps take each new version for a change.
    row_table!(@update meetings, MeetingRow, |id, input, now| {
        (MeetingValues::new(id, input, now), meetings::sequence.eq(meetings::sequence + 1))
    });

    row_table!(@delete meetings);

    row_table!(@network_scope);

    /// The body that meets is one of the meeting's network.
    fn check_conflicts(conn: &mut DbConnection, write: Proposed<'_, Self>) -> StoreResult<()> {
        let Proposed { input, .. } = write;
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
