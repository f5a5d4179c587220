//! rbn-registry: the open data registry of the Regionale Bildungsnetzwerke of North Rhine-Westphalia.
//!
//! Three layers: [`domain`] (types and rules), [`storage`] (diesel on SQLite or PostgreSQL) and
//! [`http`] (actix-web handlers, problem+json, OpenAPI). [`config`] reads the environment, [`app`] starts
//! the service, [`cli`] runs the subcommands of the `rbn` binary.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod storage;
pub mod telemetry;
