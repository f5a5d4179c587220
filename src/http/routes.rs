//! The URL space: which handler serves which path and method.

use actix_web::http::StatusCode;
use actix_web::web;

use super::networks::{get_network, link_handlungsfeld, list_networks, nested, unlink_handlungsfeld};
use super::reference::{district, districts, region, regions};
use super::{calendars, crud, exports, meta, openapi, problem};
use crate::domain::{Network, ResourceKind};
use crate::http::problem::Reply;
use crate::storage::Table;
use crate::storage::kinds::{KindVisitor, for_each_kind};

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Routes are matched in order, and patterns with a parameter cost a regular-expression match each:
    // the hot read paths of websites come first.
    cfg.service(
        web::resource("/v1/networks/{id}")
            .route(web::get().to(get_network))
            .route(web::put().to(crud::write::<Network, false>))
            .route(web::patch().to(crud::write::<Network, true>))
            .route(web::delete().to(crud::delete::<Network>)),
    );
    cfg.service(
        web::resource("/v1/networks")
            .route(web::get().to(list_networks))
            .route(web::post().to(crud::create::<Network>)),
    );
    cfg.service(web::resource("/healthz").route(web::get().to(meta::healthz)))
        .service(web::resource("/readyz").route(web::get().to(meta::readyz)))
        .service(web::resource("/v1").route(web::get().to(meta::discovery)))
        .service(web::resource("/v1/networks/{id}/meetings.ics").route(web::get().to(calendars::of_network)))
        .service(web::resource("/v1/meetings.ics").route(web::get().to(calendars::all)))
        .service(
            web::resource("/v1/networks/{id}/handlungsfelder/{handlungsfeld}")
                .route(web::put().to(link_handlungsfeld))
                .route(web::delete().to(unlink_handlungsfeld)),
        );
    for_each_kind(&mut Collections(cfg));
    cfg.service(web::resource("/v1/regions").route(web::get().to(regions)))
        .service(web::resource("/v1/regions/{key}").route(web::get().to(region)))
        .service(web::resource("/v1/districts").route(web::get().to(districts)))
        .service(web::resource("/v1/districts/{key}").route(web::get().to(district)))
        .service(web::resource("/v1/changes").route(web::get().to(meta::changes)))
        .service(web::resource("/v1/openapi.json").route(web::get().to(openapi::openapi_json)))
        .service(web::resource("/metrics").route(web::get().to(meta::metrics)))
        .service(web::resource("/v1/audit").route(web::get().to(meta::audit)))
        .service(web::resource("/v1/exports/dataset.json").route(web::get().to(exports::dataset)))
        .service(web::resource("/v1/exports/{file}").route(web::get().to(exports::csv)))
        .service(
            web::resource("/v1/api-keys").route(web::get().to(meta::list_keys)).route(web::post().to(meta::create_key)),
        )
        .service(web::resource("/v1/api-keys/{id}").route(web::delete().to(meta::revoke_key)));
    super::webhooks::configure(cfg);
}

/// Registers the routes of every editable kind but networks (whose routes come first, above):
/// `/v1/{kind}` (list, create), `/v1/{kind}/{id}` (read, replace, patch, delete) and the network's list
/// `/v1/networks/{id}/{kind}`.
struct Collections<'a>(&'a mut web::ServiceConfig);

impl KindVisitor for Collections<'_> {
    fn visit<R: Table>(&mut self) {
        if R::KIND == ResourceKind::Networks {
            return;
        }
        let path = format!("/v1/{}", R::KIND);
        self.0
            .service(web::resource(format!("/v1/networks/{{id}}/{}", R::KIND)).route(web::get().to(nested::<R>)))
            .service(
                web::resource(path.clone())
                    .route(web::get().to(crud::list::<R>))
                    .route(web::post().to(crud::create::<R>)),
            )
            .service(
                web::resource(format!("{path}/{{id}}"))
                    .route(web::get().to(crud::get::<R>))
                    .route(web::put().to(crud::write::<R, false>))
                    .route(web::patch().to(crud::write::<R, true>))
                    .route(web::delete().to(crud::delete::<R>)),
            );
    }
}

/// The fallback for paths no route matches.
pub async fn not_found() -> Reply {
    Err(problem::problem_for_status(StatusCode::NOT_FOUND, None))
}
