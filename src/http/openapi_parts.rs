//! The pieces of the OpenAPI document that the handlers' `#[utoipa::path]` annotations and the
//! generated operations of `openapi` share: the common headers, the 304 and problem responses, the
//! paging and conditional parameters. Handlers name these; `openapi` assembles the document, so it
//! depends on the handlers and they do not depend on it.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Header, PathItem, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

use super::query::CursorKind;
use super::responses::page_schema;

pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

pub fn string_header(description: &str) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(description.into());
    header
}

/// Headers every response carries.
pub fn with_common_headers(response: ResponseBuilder) -> ResponseBuilder {
    response
        .header(
            "X-Request-Id",
            string_header("The request's id: the client's X-Request-Id, or a new one. Quote it in bug reports."),
        )
        .header("API-Version", string_header("The major version of this API (`1`)."))
        .header("X-Content-Type-Options", string_header("`nosniff`."))
        .header("Referrer-Policy", string_header("`no-referrer`."))
        .header(
            "Content-Security-Policy",
            string_header("`default-src 'none'; frame-ancestors 'none'; base-uri 'none'` (not on `/docs`)."),
        )
        .header(
            "Access-Control-Allow-Origin",
            string_header(
                "CORS: the request's `Origin`, for any origin. Exposed to scripts: ETag, Link, Location, Last-Modified, \
                 Retry-After, X-Request-Id, API-Version. Preflights allow Authorization, If-Match, If-None-Match, \
                 If-Modified-Since, Content-Type, Accept and X-Request-Id.",
            ),
        )
}

/// `Content-Encoding` of a read: what `encoding` negotiates.
pub fn content_encoding_header() -> Header {
    string_header(
        "`br`, `zstd` or `gzip`, the client's choice by `Accept-Encoding`, for textual bodies of 1 KiB and more; \
         absent otherwise. Each coding has its own ETag.",
    )
}

/// `Vary` of a read.
pub fn vary_header() -> Header {
    string_header(
        "Names `Authorization`, `Origin` and `Accept-Encoding`: the representation depends on the API key, CORS \
         and the content coding.",
    )
}

pub fn not_modified() -> (String, RefOr<utoipa::openapi::Response>) {
    let response = with_common_headers(ResponseBuilder::new().description(
        "Not modified: the representation still has the ETag given in If-None-Match (or did not change since If-Modified-Since).",
    ))
    .header("ETag", string_header("The current ETag, of the content coding the request accepts."))
    .header("Vary", vary_header());
    ("304".into(), response.build().into())
}

pub fn header_param(name: &str, description: &str, required: bool) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .example(Some(json!("\"6b1f0c2a9d4e4f7a8b3c2d1e0f9a8b7c\"")))
        .build()
}

pub fn if_none_match() -> utoipa::openapi::path::Parameter {
    header_param("If-None-Match", "ETags you have; when one matches, the answer is 304 without a body.", false)
}

pub fn query_param(
    name: &str,
    description: &str,
    schema: ObjectBuilder,
    example: Value,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .example(Some(example))
        .build()
}

/// `limit`, `cursor`, `modifiedSince`.
pub fn paging_params(default_limit: i64, cursor: CursorKind) -> Vec<utoipa::openapi::path::Parameter> {
    let (cursor_description, cursor_example) = match cursor {
        CursorKind::Records => (
            "Position from `links.next` of the previous page; it continues that list (its order and `modifiedSince`).",
            json!("i0190b7e23c4d7a1b9f001234567890ab"),
        ),
        CursorKind::Sequence => {
            ("Position from `links.next` or `links.resume`: the last sequence number seen.", json!("42"))
        }
        CursorKind::Key(5) => ("Position from `links.next`: the last Kreisschlüssel seen.", json!("05158")),
        CursorKind::Key(_) => ("Position from `links.next`: the last key seen.", json!("3")),
        CursorKind::Starts => (
            "Position from `links.next` of the previous page; it continues that list (its order and `modifiedSince`).",
            json!("s2027031508000000000030190b7e23c4d7a1b9f001234567890ab"),
        ),
    };
    vec![
        query_param(
            "limit",
            &format!("Page size, 1 to 500 (default {default_limit})."),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(500))
                .default(Some(json!(default_limit))),
            json!(50),
        ),
        query_param(
            "cursor",
            cursor_description,
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(cursor.pattern())),
            cursor_example,
        ),
        query_param(
            "modifiedSince",
            "Only records changed at or after this time, in change order, with tombstones for deleted ones.",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            json!("2026-11-21T12:00:00Z"),
        ),
    ]
}

pub fn problem_name(status: u16) -> String {
    format!("Problem{status}")
}

/// A parameter in the path.
pub fn path_param(name: &str, description: &str, example: Value) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .example(Some(example))
        .build()
}

pub fn if_match() -> utoipa::openapi::path::Parameter {
    header_param(
        "If-Match",
        "The ETag of the version you read. Required: 428 without it, 412 when the record has changed since.",
        true,
    )
}

/// The `{id}` of a network: its UUID or slug.
pub fn network_param() -> utoipa::openapi::path::Parameter {
    path_param("id", "The network's UUID or slug.", json!("kreis-mettmann"))
}

/// A pattern for a comma-separated list of `names`.
pub fn comma_list(names: &[&str]) -> String {
    let one = format!("({})", names.join("|"));
    format!("^{one}(,{one})*$")
}

/// A page of `T`s (`{"data": […], "links": {…}}`), for `body = inline(Page<T>)`.
pub struct Page<T>(PhantomData<T>);

impl<T: ToSchema> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        page_schema(schema_ref(&T::name())).into()
    }
}

impl<T: ToSchema> ToSchema for Page<T> {}

/// `If-None-Match` of a read.
pub struct IfNoneMatch;

impl IntoParams for IfNoneMatch {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<utoipa::openapi::path::Parameter> {
        vec![if_none_match()]
    }
}

/// The `{id}` of a network, for `params(...)`.
pub struct NetworkId;

impl IntoParams for NetworkId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<utoipa::openapi::path::Parameter> {
        vec![network_param()]
    }
}

/// `limit`, `cursor` and `modifiedSince` of a list whose cursor is a sequence number (default 50).
pub struct SequencePaging;

impl IntoParams for SequencePaging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<utoipa::openapi::path::Parameter> {
        paging_params(50, CursorKind::Sequence)
    }
}

/// `limit`, `cursor` and `modifiedSince` of a reference list keyed by `DIGITS`-digit keys: one page
/// of 100 by default.
pub struct KeyPaging<const DIGITS: usize>;

impl<const DIGITS: usize> IntoParams for KeyPaging<DIGITS> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<utoipa::openapi::path::Parameter> {
        paging_params(100, CursorKind::Key(DIGITS))
    }
}

/// 304 Not Modified of a conditional read.
pub struct NotModified;

impl IntoResponses for NotModified {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        BTreeMap::from([not_modified()])
    }
}

/// The problem responses of `STATUSES`, as references to `components/responses`.
pub fn problems(statuses: &[u16]) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    statuses
        .iter()
        .map(|status| {
            (status.to_string(), RefOr::Ref(Ref::new(format!("#/components/responses/{}", problem_name(*status)))))
        })
        .collect()
}

/// Declares a set of problem responses for `responses(...)`.
macro_rules! problem_set {
    ($($(#[$doc:meta])* $name:ident = $statuses:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                problems(&$statuses)
            }
        }
    )*};
}

problem_set! {
    /// What a read of one record can fail with.
    ReadProblems = [400, 401, 404, 429, 500, 503];
    /// What a list (or another read that names no record) can fail with.
    ListProblems = [400, 401, 429, 500, 503];
    /// What a read of an admin key can fail with.
    AdminProblems = [400, 401, 403, 429, 500, 503];
    /// What the operations' own endpoints (health, readiness, metrics) can fail with.
    ServiceProblems = [500, 503];
    /// What a creation can fail with (a webhook subscription).
    CreateProblems = [400, 401, 403, 413, 415, 429, 500, 503];
    /// What a merge patch of a record can fail with (a webhook subscription).
    PatchProblems = [400, 401, 403, 404, 412, 413, 415, 428, 429, 500, 503];
    /// What a deletion can fail with (a webhook subscription).
    DeleteProblems = [400, 401, 404, 412, 428, 429, 500, 503];
    /// What an action on one record with an optional body can fail with (rotate a secret, send a ping).
    ActionProblems = [400, 401, 404, 413, 429, 500, 503];
}

/// The description of a header that an annotation names without one (`("ETag" = String)`): what every
/// response of its kind says about it.
pub fn shared_header(name: &str) -> Header {
    match name {
        "ETag" => string_header(
            "Strong validator of this representation (each content coding has its own, `\"…-gzip\"`, `\"…-br\"`, \
             `\"…-zstd\"`); send it in If-None-Match (reads) or If-Match (writes), any coding's tag will do.",
        ),
        "Link" => string_header("`<next page>; rel=\"next\"` (RFC 8288) when there is a next page."),
        "Cache-Control" => {
            string_header("`public, max-age=60` for anonymous reads, `private, no-cache` with an API key.")
        }
        "Content-Encoding" => content_encoding_header(),
        "Vary" => vary_header(),
        other => panic!("the header {other} has no shared description: state one in the annotation"),
    }
}

/// The headers of a cacheable read, besides its `ETag`.
const READ_HEADERS: [&str; 3] = ["Cache-Control", "Content-Encoding", "Vary"];

/// Adds the [`READ_HEADERS`].
pub fn with_read_headers(response: ResponseBuilder) -> ResponseBuilder {
    READ_HEADERS.into_iter().fold(response, |response, name| response.header(name, shared_header(name)))
}

/// Completes the operations of annotated handlers: every response they state carries the common
/// headers, the headers they name without a description get the shared one, a page (which names its
/// `Link`) gets the `ETag` of a page, and the 200 of a read
/// that names an `ETag` is cacheable, so it also carries `Cache-Control`, `Content-Encoding` and `Vary`
/// (what `conditional` sends with every such answer).
pub fn complete(item: &mut PathItem) {
    let common = with_common_headers(ResponseBuilder::new()).build().headers;
    if let Some(read) = &mut item.get {
        complete_operation(read, &common, true);
    }
    for write in [&mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten() {
        complete_operation(write, &common, false);
    }
}

fn complete_operation(operation: &mut Operation, common: &BTreeMap<String, Header>, read: bool) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        // A page names its `Link`; its ETag validates the page.
        if response.headers.contains_key("Link") && !response.headers.contains_key("ETag") {
            response.headers.insert("ETag".into(), string_header("Validator of this page."));
        }
        if read && status == "200" && response.headers.contains_key("ETag") {
            for name in READ_HEADERS {
                response.headers.entry(name.into()).or_insert_with(|| shared_header(name));
            }
        }
        for (name, header) in response.headers.iter_mut() {
            if header.description.is_none() {
                *header = shared_header(name);
            }
        }
        for (name, header) in common {
            response.headers.entry(name.clone()).or_insert_with(|| header.clone());
        }
    }
}
