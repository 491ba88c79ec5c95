# mailguard in a container: a static binary on distroless, run as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t mailguard .
#   docker run -p 25:25 -v /etc/mailguard:/etc/mailguard:ro -v mailguard-data:/var/lib/mailguard mailguard
#
# Mount your own /etc/mailguard/mailguard.yaml (at least backend: and
# domains:); the one built in only makes the image start. Binding port 25 as
# non-root works because Docker (20.10 and later) lets containers bind low
# ports (net.ipv4.ip_unprivileged_port_start=0).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/usr/local/bin/mailguard ./cmd/mailguard
RUN mkdir -p /out/etc/mailguard /out/var/lib/mailguard && printf '%s\n' \
      '# Replace this file: mount your configuration at /etc/mailguard/mailguard.yaml.' \
      'listen: 0.0.0.0:25' \
      'backend: mta:25' \
      'data_dir: /var/lib/mailguard' \
      'relay_networks: []' \
      > /out/etc/mailguard/mailguard.yaml \
    && /out/usr/local/bin/mailguard check-config -config /out/etc/mailguard/mailguard.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/local/bin/mailguard /usr/local/bin/mailguard
COPY --from=build /out/etc/mailguard /etc/mailguard
COPY --from=build --chown=65532:65532 /out/var/lib/mailguard /var/lib/mailguard
USER 65532:65532
VOLUME /var/lib/mailguard
EXPOSE 25
ENTRYPOINT ["/usr/local/bin/mailguard"]
CMD ["serve", "-config", "/etc/mailguard/mailguard.yaml"]
