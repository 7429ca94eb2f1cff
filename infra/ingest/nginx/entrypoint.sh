#!/bin/sh
# Renders nginx.conf.template from the environment and runs nginx in the foreground.
set -eu
: "${MODULE_PATH:=/usr/lib/nginx/modules/ngx_rtmp_module.so}"
: "${NGINX_USER:=www-data}"
: "${NGINX_PREFIX:=/var/lib/aethex-ingest}"
: "${RTMP_LISTEN:=0.0.0.0:1935}"
: "${HTTP_LISTEN:=0.0.0.0:8080}"
: "${HOOK_BASE:=http://api:8000/webhooks/nginx-rtmp}"
: "${HOOK_QUERY:=}"
: "${HLS_DIR:=/var/lib/aethex-ingest/hls}"
: "${RECORD_DIR:=/var/lib/aethex-ingest/recordings}"
: "${HLS_FRAGMENT:=1s}"
: "${HLS_PLAYLIST_LENGTH:=10s}"
export MODULE_PATH NGINX_USER NGINX_PREFIX RTMP_LISTEN HTTP_LISTEN HOOK_BASE HOOK_QUERY \
    HLS_DIR RECORD_DIR HLS_FRAGMENT HLS_PLAYLIST_LENGTH
mkdir -p "$NGINX_PREFIX" "$HLS_DIR" "$RECORD_DIR"
chown -R "$NGINX_USER" "$HLS_DIR" "$RECORD_DIR"
envsubst '${MODULE_PATH} ${NGINX_USER} ${NGINX_PREFIX} ${RTMP_LISTEN} ${HTTP_LISTEN} ${HOOK_BASE} ${HOOK_QUERY} ${HLS_DIR} ${RECORD_DIR} ${HLS_FRAGMENT} ${HLS_PLAYLIST_LENGTH}' \
    < /etc/aethex/nginx.conf.template > "$NGINX_PREFIX/nginx.conf"
exec nginx -c "$NGINX_PREFIX/nginx.conf" -p "$NGINX_PREFIX"
