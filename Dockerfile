# syntax=docker/dockerfile:1
#
# sregraph's container image, for people who build with Docker. It has the
# same layout as the image deploy/cmd/sregraph-image builds with no daemon
# (see docs/deploy.md), which deploy/image/dockerfile_test.go checks: a
# static binary, the non-root user 65532, Debian's CA certificates and a
# /data volume, on no base image at all.
#
#   docker build -t sregraph \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run -p 8080:8080 -v sregraph-data:/data sregraph --insecure-listen

FROM golang:1.26-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.stamped=${VERSION}" -o /rootfs/usr/local/bin/sregraph ./cmd/sregraph
RUN install -D -m 0644 deploy/image/rootfs/etc/passwd /rootfs/etc/passwd \
 && install -D -m 0644 deploy/image/rootfs/etc/group /rootfs/etc/group \
 && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
 && install -d -o 65532 -g 65532 -m 0755 /rootfs/data \
 && install -d -o 65532 -g 65532 -m 0700 /rootfs/home/nonroot \
 && install -d -m 1777 /rootfs/tmp

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=build /rootfs/ /
USER 65532:65532
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HOME=/home/nonroot \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    SREGRAPH_HTTP=:8080
WORKDIR /home/nonroot
EXPOSE 8080/tcp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
LABEL org.opencontainers.image.title="sregraph" \
      org.opencontainers.image.description="SRE knowledge-graph correlation engine: what changed near this breached service?" \
      org.opencontainers.image.source="https://github.com/sregraph/sregraph" \
      org.opencontainers.image.url="https://github.com/sregraph/sregraph" \
      org.opencontainers.image.documentation="https://github.com/sregraph/sregraph/blob/main/docs/deploy.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/usr/local/bin/sregraph", "serve", "--data-dir", "/data"]
