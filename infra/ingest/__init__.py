"""Ingest adapters: nginx-rtmp (self-hosted), Mux and Cloudflare Stream."""
