# remarket in a small image; ClickHouse runs in its own container
# (see docker-compose.yml).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/remarket ./cmd/remarket

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/remarket remarket && mkdir -p /var/lib/remarket && chown remarket /var/lib/remarket
COPY --from=build /out/remarket /usr/local/bin/remarket
USER remarket
WORKDIR /var/lib/remarket
ENV REMARKET_CONFIG=/etc/remarket/remarket.yaml \
    REMARKET_LISTEN=0.0.0.0:8080 \
    REMARKET_SPOOL_DIR=/var/lib/remarket/spool
EXPOSE 8080
ENTRYPOINT ["remarket"]
CMD ["serve"]
