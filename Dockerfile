# syntax=docker/dockerfile:1
#
# One image, two commands: `regie api` (the backend, default) and `regie web` (the frontend).
# Migrations are not applied at start: run `regie db upgrade` first (compose.yaml does it in
# its one-shot `migrate` service), so that several replicas never race on the schema.
#
#   docker build -t regie .
#   docker run --rm -e REGIE_DATABASE_URL=… regie regie db upgrade
#   docker run -p 8000:8000 -e REGIE_DATABASE_URL=… -e REGIE_BROADCAST_URL=redis://… regie
#   docker run -p 8080:8080 -e REGIE_API_URL=http://backend:8000 regie regie web --host 0.0.0.0

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=20

# --- htmx and its ws extension, from the npm registry, pinned by package-lock.json ---------------
FROM node:${NODE_VERSION}-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
 && mkdir /vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-ws/dist/ws.js /vendor/

# --- the Python distribution, installed into a virtual environment -----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/regie
WORKDIR /src
# Dependencies first: pinned in pyproject.toml, so this layer is reused until they change.
COPY pyproject.toml README.md ./
RUN mkdir app fanout frontend migrations \
 && touch app/__init__.py fanout/__init__.py frontend/__init__.py migrations/__init__.py \
 && /opt/regie/bin/pip install . \
 && /opt/regie/bin/pip uninstall -y regie
COPY app ./app
COPY fanout ./fanout
COPY frontend ./frontend
COPY migrations ./migrations
RUN /opt/regie/bin/pip install --no-deps . \
 && /opt/regie/bin/python -m compileall -q /opt/regie/lib
# The vendored scripts are git-ignored, so the wheel leaves them out: put them where the
# installed frontend serves its static files from.
COPY --from=assets /vendor/ /tmp/vendor/
RUN static="$(/opt/regie/bin/python -c 'import frontend.main as m; print(m.STATIC)')" \
 && mkdir -p "$static/vendor" \
 && cp /tmp/vendor/* "$static/vendor/"

# --- runtime: the virtual environment and nothing else -----------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/regie/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 regie \
 && useradd --system --uid 10001 --gid regie --home-dir /srv/regie --shell /usr/sbin/nologin regie \
 && mkdir -p /srv/regie/var \
 && chown -R regie:regie /srv/regie
COPY --from=build /opt/regie /opt/regie
# The seed programmes, for `regie import /srv/regie/programmes/*.yaml`.
COPY --chown=regie:regie app/programmes /srv/regie/programmes
WORKDIR /srv/regie
USER regie:regie
EXPOSE 8000 8080
# Ready when the database answers (GET /healthz); compose overrides it for the frontend.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["regie", "api", "--host", "0.0.0.0", "--port", "8000"]
