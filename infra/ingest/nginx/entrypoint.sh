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
: "${STAT_LISTEN:=0.0.0.0:8090}"
: "${UPDATE_INTERVAL:=5s}"
# The renditions (AETHEX_INGEST_QUALITIES, as the API has it): `source`, or a ladder that
# nginx transcodes into with ffmpeg (HLS_SOURCE, HLS_SOURCE_SUBDIR, HLS_LADDER, LADDER_EXEC,
# HLS_MASTER).
: "${QUALITIES:=source}"
: "${RTMP_LOOPBACK:=127.0.0.1:1935}"
eval "$(python3 /etc/aethex/ladder.py "$QUALITIES" "$RTMP_LOOPBACK")"
export MODULE_PATH NGINX_USER NGINX_PREFIX RTMP_LISTEN HTTP_LISTEN HOOK_BASE HOOK_QUERY \
    HLS_DIR RECORD_DIR HLS_FRAGMENT HLS_PLAYLIST_LENGTH STAT_LISTEN UPDATE_INTERVAL
mkdir -p "$NGINX_PREFIX" "$HLS_DIR" "$RECORD_DIR"
chown -R "$NGINX_USER" "$HLS_DIR" "$RECORD_DIR"
# The media service (another user, sharing the volume) adds each stream's joined VOD here.
chmod 1777 "$RECORD_DIR"
envsubst '${MODULE_PATH} ${NGINX_USER} ${NGINX_PREFIX} ${RTMP_LISTEN} ${HTTP_LISTEN} ${HOOK_BASE} ${HOOK_QUERY} ${HLS_DIR} ${RECORD_DIR} ${HLS_FRAGMENT} ${HLS_PLAYLIST_LENGTH} ${STAT_LISTEN} ${UPDATE_INTERVAL} ${HLS_SOURCE} ${HLS_SOURCE_SUBDIR} ${HLS_LADDER} ${LADDER_EXEC} ${HLS_MASTER}' \
    < /etc/aethex/nginx.conf.template > "$NGINX_PREFIX/nginx.conf"
exec nginx -c "$NGINX_PREFIX/nginx.conf" -p "$NGINX_PREFIX"
