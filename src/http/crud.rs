//! The handlers every editable resource shares: list, read, create, replace, patch, delete.
//!
//! `routes.rs` registers them for every kind of the list of kinds (`storage::kinds`); each route calls one
//! of these with the kind's type, so pagination, ETags, If-Match, merge patch, tombstones and
//! authorisation are written once.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::auth::{Caller, actor, authorizer, require_key};
use super::conditional::{IfMatch, respond};
use super::problem::ApiError;
use super::query::{CursorKind, FromQuery, Paging, QueryParams};
use super::responses::{Links, Page, Tombstone, cut_page};
use super::state::AppState;
use crate::domain::validation::parse_uuid;
use crate::domain::{Access, Resource, merge_patch};
use crate::http::problem::Reply;
use crate::http::state::State;
use crate::storage::{Change, Cursor, Table};

/// A list response with `Link: <next>; rel="next"`.
pub fn page_response(req: &HttpRequest, access: &Access, data: Vec<Value>, next: Option<String>) -> HttpResponse {
    feed_page_response(req, access, data, next, None)
}

/// A page with an additional `resume` link (the change feed).
pub fn feed_page_response(
    req: &HttpRequest,
    access: &Access,
    data: Vec<Value>,
    next: Option<String>,
    resume: Option<String>,
) -> HttpResponse {
    let this = request_url(req, None);
    let next = next.map(|cursor| request_url(req, Some(&cursor)));
    let resume = resume.map(|cursor| request_url(req, Some(&cursor)));
    let page = Page { data, links: Links { this, next: next.clone(), resume } };
    let mut response = respond(req, access, StatusCode::OK, &page, None);
    if let Some(next) = next
        && let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// The request's path and query, with `cursor` replaced (or removed).
fn request_url(req: &HttpRequest, cursor: Option<&str>) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let mut kept: Vec<(String, String)> = pairs.into_iter().filter(|(name, _)| name != "cursor").collect();
    if let Some(cursor) = cursor {
        kept.push(("cursor".into(), cursor.into()));
    }
    let query = serde_urlencoded::to_string(&kept).unwrap_or_default();
    if query.is_empty() { req.path().to_string() } else { format!("{}?{query}", req.path()) }
}

/// The JSON of a list entry: the record, or its tombstone.
pub fn change_value<R: Resource>(change: &Change<R>) -> Value {
    match change {
        Change::Live(record) => serde_json::to_value(record).unwrap_or_default(),
        Change::Deleted { id, updated_at } => {
            serde_json::to_value(Tombstone::new(*id, *updated_at)).unwrap_or_default()
        }
    }
}

/// Splits one extra row off a page fetched with `limit + 1`: it tells whether there is a next page.
pub fn split_page<R: Table>(page: Vec<Change<R>>, paging: &Paging) -> (Vec<Change<R>>, Option<Cursor>) {
    cut_page(page, paging.limit, |last| {
        let (at, id) = last.key();
        match last {
            _ if paging.since.is_some() => Cursor::Changed { at, id },
            Change::Live(record) => record.position(),
            Change::Deleted { .. } => Cursor::Id(id),
        }
    })
}

/// Reads `limit`, `cursor`, `modifiedSince` and the filters of `R`.
pub fn list_query<R>(req: &HttpRequest, access: &Access) -> Result<(R::Filter, Paging), ApiError>
where
    R: Table,
{
    list_params::<R>(QueryParams::parse(req.query_string())?, access)
}

/// [`list_query`] of parameters a list with more of its own (`expand`) has begun to read.
pub fn list_params<R>(mut params: QueryParams, access: &Access) -> Result<(R::Filter, Paging), ApiError>
where
    R: Table,
{
    let mut filter = R::Filter::read(&mut params);
    let paging = Paging::read(&mut params, super::query::DEFAULT_LIMIT, CursorKind::from(R::ORDER));
    params.finish()?;
    filter.restrict(access);
    Ok((filter, paging))
}

/// Runs a list query and renders the page.
pub async fn list_with<R>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    access: Access,
    filter: R::Filter,
    paging: Paging,
) -> Reply
where
    R: Table,
{
    let db = state.db.clone();
    let window = paging.window();
    let reader = access.clone();
    let page = web::block(move || db.list::<R>(&filter, &window, &reader)).await??;
    let (page, next) = split_page(page, &paging);
    let data = page.iter().map(change_value).collect();
    Ok(page_response(req, &access, data, next.map(|cursor| paging.encode(&cursor))))
}

pub async fn list<R: Table>(req: HttpRequest, state: State, caller: Caller) -> Reply {
    let (filter, paging) = list_query::<R>(&req, &caller.0)?;
    list_with::<R>(&req, &state, caller.0, filter, paging).await
}

/// A path id: a UUID in its hyphenated form, else 404 (a malformed id names no record). Other spellings
/// (braces, `urn:uuid:`, 32 digits) would give one record several URLs, each cached on its own.
pub fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    parse_uuid(text).ok_or_else(|| ApiError::NotFound("No record has this id; ids are UUIDs.".into()))
}

/// The id a path segment names: a UUID, or for networks also a slug.
pub async fn resolve_id<R: Table>(state: &web::Data<AppState>, key: &str) -> Result<Uuid, ApiError> {
    if let Some(id) = parse_uuid(key) {
        return Ok(id);
    }
    if R::KIND != crate::domain::ResourceKind::Networks {
        return Err(ApiError::NotFound("No record has this id; ids are UUIDs.".into()));
    }
    let db = state.db.clone();
    let key = key.to_string();
    web::block(move || db.network_id(&key))
        .await??
        .ok_or_else(|| ApiError::NotFound("No network has this id or slug.".into()))
}

/// Loads one record as the caller may see it, or 404.
pub async fn fetch<R: Table>(state: &web::Data<AppState>, id: Uuid, access: &Access) -> Result<R, ApiError> {
    let db = state.db.clone();
    let reader = access.clone();
    web::block(move || db.get::<R>(id, &reader))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("No {} has this id.", R::KIND)))
}

pub async fn get<R: Table>(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let no_params = QueryParams::parse(req.query_string())?;
    no_params.finish()?;
    let record = fetch::<R>(&state, parse_id(&path)?, &caller.0).await?;
    Ok(respond(&req, &caller.0, StatusCode::OK, &record, Some(record.updated_at())))
}

pub async fn create<R: Table>(req: HttpRequest, state: State, caller: Caller, body: Bytes) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let value = json_body(&req, &body, false)?;
    let input = R::parse_input(&value)?;
    let db = state.db.clone();
    let who = actor(&req, &access);
    let authorize = authorizer(&access);
    let record: R = web::block(move || db.create::<R, ApiError>(input, &who, authorize)).await??;
    let mut response = respond(&req, &access, StatusCode::CREATED, &record, Some(record.updated_at()));
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/{}/{}", R::KIND, record.id())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// What a PUT or PATCH does with the current state.
pub enum Edit {
    Replace(Value),
    MergePatch(Value),
    /// A change computed from the current writable document, inside the write's transaction (linking a
    /// Handlungsfeld adds to the list as it is then, not as a read before the write saw it).
    Derive(Box<dyn Fn(&mut Value) + Send + Sync>),
}

/// Replaces or patches one record under `If-Match`; the check and the write are one transaction.
pub async fn edit<R: Table>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    access: &Access,
    id: Uuid,
    action: &'static str,
    edit: Edit,
) -> Result<R, ApiError> {
    let if_match = IfMatch::require(req)?;
    // Validate a full replacement before taking the write lock; a patch can only be validated merged.
    let replacement = match &edit {
        Edit::Replace(value) => Some(R::parse_input(value)?),
        Edit::MergePatch(_) | Edit::Derive(_) => None,
    };
    let db = state.db.clone();
    let who = actor(req, access);
    let authorize = authorizer(access);
    let updated = web::block(move || {
        db.modify::<R, ApiError>(id, &who, action, authorize, move |current| {
            if_match.check(current)?;
            if let Some(input) = &replacement {
                return Ok(Some(input.clone()));
            }
            let mut document = current.writable_value();
            match &edit {
                Edit::MergePatch(patch) | Edit::Replace(patch) => merge_patch(&mut document, patch),
                Edit::Derive(change) => change(&mut document),
            }
            Ok(Some(R::parse_input(&document)?))
        })
    })
    .await??;
    updated.ok_or_else(|| ApiError::Internal("update returned no record".into()))
}

/// `PUT` of one record (a replacement) and, with `MERGE`, its `PATCH` (a JSON Merge Patch), under If-Match.
pub async fn write<R: Table, const MERGE: bool>(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    caller: Caller,
    body: Bytes,
) -> Reply {
    require_key(&caller.0)?;
    let id = resolve_id::<R>(&state, &path).await?;
    let value = json_body(&req, &body, MERGE)?;
    let (action, change) = if MERGE {
        check_patch_fields::<R>(&value)?;
        ("patch", Edit::MergePatch(value))
    } else {
        ("replace", Edit::Replace(value))
    };
    let record = edit::<R>(&req, &state, &caller.0, id, action, change).await?;
    Ok(respond(&req, &caller.0, StatusCode::OK, &record, Some(record.updated_at())))
}

/// A merge patch is an object of fields `R` has. Checked before it is merged: a field that is not there
/// would vanish with `null`.
fn check_patch_fields<R: Table>(value: &Value) -> Result<(), ApiError> {
    let Some(fields) = value.as_object() else {
        return Err(ApiError::Invalid(vec![crate::domain::FieldError::new(
            "(body)",
            "a merge patch must be a JSON object of the fields to change",
        )]));
    };
    let unknown: Vec<_> = fields
        .keys()
        .filter(|key| !R::WRITABLE.contains(&key.as_str()) && !R::READ_ONLY.contains(&key.as_str()))
        .map(|key| crate::domain::FieldError::new(key.clone(), "unknown field"))
        .collect();
    if unknown.is_empty() { Ok(()) } else { Err(ApiError::Invalid(unknown)) }
}

pub async fn delete<R: Table>(req: HttpRequest, state: State, path: web::Path<String>, caller: Caller) -> Reply {
    let access = caller.0;
    require_key(&access)?;
    let id = resolve_id::<R>(&state, &path).await?;
    let if_match = IfMatch::require(&req)?;
    let db = state.db.clone();
    let who = actor(&req, &access);
    let authorize = authorizer(&access);
    web::block(move || {
        db.modify::<R, ApiError>(id, &who, "delete", authorize, move |current| {
            if_match.check(current)?;
            Ok(None)
        })
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Reads a JSON request body: the media type (415), UTF-8 and syntax (400), no duplicate keys (400).
pub fn json_body(req: &HttpRequest, body: &Bytes, merge_patch: bool) -> Result<Value, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let accepted = essence == "application/json" || (merge_patch && essence == "application/merge-patch+json");
    if !accepted {
        return Err(ApiError::UnsupportedMediaType(if merge_patch {
            "Send the patch as application/merge-patch+json (RFC 7396) or application/json.".into()
        } else {
            "Send the body as application/json.".into()
        }));
    }
    // JSON is UTF-8 (RFC 8259 §8.1); a body declared in another charset is not read as if it were.
    let charset = content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    });
    if charset.is_some_and(|charset| charset != "utf-8" && charset != "utf8") {
        return Err(ApiError::UnsupportedMediaType("Send JSON in UTF-8 (charset=utf-8, or no charset).".into()));
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest("The request body is empty; send a JSON object.".into()));
    }
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("The request body is not valid UTF-8.".into()))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = <StrictValue as serde::Deserialize>::deserialize(&mut deserializer)
        .and_then(|v| deserializer.end().map(|_| v.0))
        .map_err(|e| ApiError::BadRequest(format!("The request body is not valid JSON: {e}.")))?;
    Ok(value)
}

/// A JSON value that refuses objects with a repeated key (serde_json would silently keep the last).
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("the key \"{key}\" appears twice")));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}
