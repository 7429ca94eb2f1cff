# AeThex Live application image: one image for every role (api, relay, projectors, migrate).

# The web client's browser packages, pinned in web/package.json (no lock file: web/.npmrc).
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/.npmrc ./
RUN npm install --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AETHEX_DATA_DIR=/app/var \
    AETHEX_WEB_DIR=/app/web

# ffmpeg: the media worker joins a stream's recordings into its VOD and grabs thumbnails.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# The dependencies first, from pyproject.toml alone: a change to the sources reuses this
# layer, and only a change to the pinned dependencies installs them again.
COPY pyproject.toml /src/pyproject.toml
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (not editable, no dependency resolution again); the code lives in
# site-packages and the sources are dropped.
COPY . /src
RUN pip install --no-deps /src \
    && mkdir -p /app \
    && cp -r /src/web /app/web \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home aethex \
    && mkdir -p /app/var \
    && chown -R aethex:aethex /app

COPY --from=web /web/node_modules /app/web/node_modules

WORKDIR /app
USER aethex

EXPOSE 8000
CMD ["aethex", "serve", "--host", "0.0.0.0"]
