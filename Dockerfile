# The secure-mcp SERVER, for running it remotely over streamable HTTP. Not the sandbox: that image
# is built by `secure-mcp sandbox build` from secure_mcp/sandbox/image/. Read "The server in a
# container" in docs/remote.md before running this: the server starts the sandbox containers
# through a Docker engine that is NOT in this image, and handing it that engine's socket is
# equivalent to root on the engine's host.
#
#   docker build -t secure-mcp-server .
#   docker run -d --name secure-mcp -p 127.0.0.1:8765:8765 \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /srv/secure-mcp/workspace:/srv/secure-mcp/workspace \
#     -v /srv/secure-mcp/audit:/var/lib/secure-mcp/audit \
#     -v /srv/secure-mcp/config.toml:/etc/secure-mcp/config.toml:ro \
#     --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges secure-mcp-server
#
# The workspace is mounted at the SAME path as on the host: the engine resolves the sandbox's bind
# mount on its own host, so the path the server names must exist there.
ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS wheel
WORKDIR /src
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY secure_mcp ./secure_mcp
COPY tools ./tools
RUN python -m pip wheel --no-cache-dir --no-deps -w /dist .

FROM ${PYTHON}
# Installed from the lock (constraints.txt), like `make install`: the same versions the tests ran.
COPY --from=wheel /dist/ /tmp/dist/
COPY constraints.txt /tmp/constraints.txt
RUN python -m pip install --no-cache-dir -c /tmp/constraints.txt /tmp/dist/*.whl \
 && rm -rf /tmp/dist /tmp/constraints.txt \
 && groupadd --system --gid 10002 secure-mcp \
 && useradd --system --uid 10002 --gid 10002 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin secure-mcp \
 && mkdir -p /etc/secure-mcp /srv/secure-mcp/workspace /var/lib/secure-mcp/audit \
 && chown secure-mcp:secure-mcp /srv/secure-mcp/workspace /var/lib/secure-mcp/audit

# Defaults for a container; mount your own config over it. Binding 0.0.0.0 inside the container is
# refused unless [[auth.tokens]] or [auth.oidc] are configured (the server checks at start).
RUN printf '%s\n' \
  '[workspace]' 'root = "/srv/secure-mcp/workspace"' \
  '[audit]' 'path = "/var/lib/secure-mcp/audit/audit.jsonl"' \
  > /etc/secure-mcp/config.toml

# Never root: the engine socket is reached through --group-add with the socket's group.
USER 10002:10002
WORKDIR /srv/secure-mcp
EXPOSE 8765
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8765/healthz', timeout=4)"]
ENTRYPOINT ["secure-mcp"]
CMD ["serve", "--config", "/etc/secure-mcp/config.toml", "--transport", "streamable-http", "--host", "0.0.0.0", "--port", "8765"]
