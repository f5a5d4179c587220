# syntax=docker/dockerfile:1
# The service's image: `docker build -t rbn-registry .`; with PostgreSQL and a load balancer, scaled:
# `docker compose up --build --scale rbn=3` (docker-compose.yml). tests/docker/validate.sh lints this file.
#
# Dependencies are compiled in a layer of their own, made from Cargo.toml and Cargo.lock alone: a change
# of the sources reuses it and compiles only the crate itself. .dockerignore keeps the build context to
# what the build reads.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# A stub crate with the real manifest compiles every dependency. Its own artefacts are removed: with the
# real sources' older modification times they could otherwise pass for an up-to-date build of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/rbn target/release/rbn.d target/release/librbn_registry.* \
        target/release/deps/rbn-* target/release/deps/rbn_registry-* target/release/deps/librbn_registry-* \
        target/release/.fingerprint/rbn-registry-* target/release/build/rbn-registry-*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked \
    && install -m 0755 target/release/rbn /usr/local/bin/rbn

FROM debian:bookworm-slim
# Security updates come with the base image: the packages are not pinned to versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
# The data directory exists, owned by the service's user, so that a volume mounted there is writable.
RUN useradd --system --uid 10001 --home /var/lib/rbn --create-home rbn \
    && install -d -o rbn -g rbn /var/lib/rbn/data
COPY --from=build /usr/local/bin/rbn /usr/local/bin/rbn
USER 10001
WORKDIR /var/lib/rbn
# Without DATABASE_URL the service keeps SQLite in /var/lib/rbn/data (mount a volume there).
ENV RBN_LISTEN=0.0.0.0:8080 RBN_LOG_FORMAT=json
EXPOSE 8080
# `rbn healthcheck` asks /readyz (the database too): the image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["rbn", "healthcheck", "--timeout", "3"]
# SIGTERM drains: open requests are answered, for at most RBN_DRAIN_TIMEOUT (30 s); give `docker stop`
# more than that (`--time 40`, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["rbn"]
CMD ["serve"]
