//! The HTTP edge: actix-web routes and handlers, problem+json, the OpenAPI document, middleware.

pub mod auth;
pub mod cache;
pub mod calendars;
pub mod conditional;
pub mod crud;
pub mod encoding;
pub mod exports;
pub mod meta;
pub mod metrics;
pub mod middleware;
pub mod networks;
pub mod openapi;
pub mod openapi_parts;
pub mod pages;
pub mod pipe;
pub mod problem;
pub mod query;
pub mod reference;
pub mod responses;
pub mod routes;
pub mod state;
pub mod webhooks;

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa_swagger_ui::{Config, SwaggerUi};

pub use state::{AppState, HttpConfig, WebhookConfig};

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

/// Starts the HTTP server on `listener`. It handles no signals itself: [`drain_on_signals`] stops it
/// gracefully (the binary does; tests stop their servers through the handle).
pub fn serve(mut state: AppState, listener: TcpListener, workers: Option<usize>) -> std::io::Result<Server> {
    let body_limit = state.config.body_limit;
    let cache_max_age = conditional::CacheMaxAge(state.config.cache_max_age);
    let connections = state.shutdown.clone();
    // Deliveries go on while the server runs; when it stops they stop with its runtime (an attempt cut
    // off is made again once its lease expires).
    let sender = webhooks::worker::start(state.db.clone(), state.config.webhooks.clone(), state.webhooks.clone())
        .map_err(std::io::Error::other)?;
    state.webhook_sender = Some(sender);
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(cache_max_age)
            .configure(routes::configure)
            .configure(pages::configure)
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs/")).finish()
                }),
            )
            .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/v1/openapi.json"])))
            .default_service(web::to(routes::not_found))
            .wrap(from_fn(middleware::cache::serve))
            .wrap(cors())
            // Inside the envelope, so that its metrics and log line see a 304 decided here.
            .wrap(from_fn(middleware::encoding::serve))
            .wrap(from_fn(middleware::envelope))
    })
    .on_connect(move |_, extensions| {
        extensions.insert(connections.connection());
    })
    .disable_signals()
    .shutdown_timeout(30);
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}

/// Stops `server` gracefully on the first SIGTERM or SIGINT, within `drain` (a second signal stops it at
/// once):
/// 1. no new connections are accepted, and every response says `Connection: close`;
/// 2. each open connection closes after its next response (idle ones when their keep-alive ends), so a
///    request the server has read is answered; pipelined requests after it are not read, which the
///    `close` on the response before them tells the client (RFC 9112 §9.6);
/// 3. once every connection has closed the server stops; connections still open when `drain` has passed
///    are cut off.
pub async fn drain_on_signals(
    server: actix_web::dev::ServerHandle,
    shutdown: std::sync::Arc<state::Shutdown>,
    drain: std::time::Duration,
) {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    use futures_util::future::{Either, select};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot listen for SIGTERM and SIGINT: stop the service with SIGKILL");
        return;
    };
    let name = match select(Box::pin(term.recv()), Box::pin(int.recv())).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    };
    tracing::info!(signal = name, open_connections = shutdown.open_connections(), "draining, then stopping");
    shutdown.begin();
    server.pause().await;
    let started = std::time::Instant::now();
    let drained = async {
        while shutdown.open_connections() > 0 && started.elapsed() < drain {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        shutdown.open_connections() == 0
    };
    let second = select(Box::pin(term.recv()), Box::pin(int.recv()));
    let graceful = match select(Box::pin(drained), second).await {
        Either::Left((drained, _)) => {
            if !drained {
                tracing::warn!(open_connections = shutdown.open_connections(), "drain time-out: closing the rest");
            }
            drained
        }
        Either::Right(_) => {
            tracing::warn!("second signal: stopping at once");
            false
        }
    };
    server.stop(graceful).await;
}
