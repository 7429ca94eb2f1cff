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

# Install the project (not editable) and drop the sources; the code lives in site-packages.
COPY . /src
RUN pip install /src \
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
