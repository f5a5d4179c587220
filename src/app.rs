//! Start-up: open the database, migrate, seed an empty one, serve.

use std::net::TcpListener;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::storage::{Db, ImportError, StoreError};

/// The seed dataset built from the source documents (`data/seed.json`), embedded in the binary.
pub const SEED: &str = include_str!("../data/seed.json");

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the seed dataset could not be loaded: {0}")]
    Seed(String),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
}

/// Opens and migrates the database, and loads the seed dataset into an empty one when asked to.
pub fn prepare_database(config: &Config) -> Result<Db, StartError> {
    // Statements give up a little before the request time-out (see `storage::Manager`).
    let wait = config.http.request_timeout.mul_f64(0.8).max(std::time::Duration::from_millis(100));
    let db = Db::open_with_wait(&config.database_url, config.pool_size, wait)?;
    db.migrate()?;
    if config.seed {
        let seed: serde_json::Value = serde_json::from_str(SEED).map_err(|e| StartError::Seed(e.to_string()))?;
        match db.seed_if_empty(&seed) {
            Ok(true) => tracing::info!("loaded the seed dataset into the empty database"),
            Ok(false) => {}
            Err(ImportError::Invalid(problems)) => {
                return Err(StartError::Seed(
                    problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "),
                ));
            }
            Err(ImportError::Store(e)) => return Err(e.into()),
        }
    }
    Ok(db)
}

/// Binds the configured address.
pub fn listen(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(&config.listen).map_err(|source| StartError::Listen { address: config.listen.clone(), source })
}

/// Runs the service until SIGTERM or SIGINT, then drains it (see `http::drain_on_signals`).
pub async fn serve(config: Config, db: Db, listener: TcpListener) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, backend = db.backend().name(), "rbn-registry listening");
    let state = AppState::new(db, config.http.clone());
    let shutdown = state.shutdown.clone();
    let server = http::serve(state, listener, config.workers)?;
    actix_web::rt::spawn(http::drain_on_signals(server.handle(), shutdown, config.drain_timeout));
    server.await
}
