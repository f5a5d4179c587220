# Build: docker build -t rbn-registry .   Run: see docker-compose.yml
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/rbn /usr/local/bin/rbn

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/rbn /usr/local/bin/rbn
RUN useradd --system --home /var/lib/rbn --create-home rbn
USER rbn
WORKDIR /var/lib/rbn
ENV RBN_LISTEN=0.0.0.0:8080 RBN_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["rbn"]
CMD ["serve"]
