//! The HTTP edge: actix-web routes and handlers, problem+json, the OpenAPI document, middleware.

pub mod auth;
pub mod cache;
pub mod conditional;
pub mod crud;
pub mod exports;
pub mod meta;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod routes;
pub mod state;

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa_swagger_ui::{Config, SwaggerUi};

pub use state::{AppState, HttpConfig};

/// CORS: any origin may read and (with an API key, never cookies) write.
fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::CONTENT_TYPE,
            header::ACCEPT,
            middleware::X_REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LINK,
            header::LOCATION,
            header::LAST_MODIFIED,
            header::RETRY_AFTER,
            middleware::X_REQUEST_ID,
            middleware::API_VERSION_HEADER,
        ])
        .max_age(86_400)
}

/// Starts the HTTP server on `listener`; it stops gracefully on SIGTERM and SIGINT, finishing requests
/// in flight.
pub fn serve(state: AppState, listener: TcpListener, workers: Option<usize>) -> std::io::Result<Server> {
    let body_limit = state.config.body_limit;
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(body_limit))
            .configure(routes::configure)
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs/")).finish()
                }),
            )
            .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/v1/openapi.json"])))
            .default_service(web::to(routes::not_found))
            .wrap(from_fn(cache::serve))
            .wrap(cors())
            .wrap(from_fn(middleware::envelope))
    })
    .shutdown_timeout(30);
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}
