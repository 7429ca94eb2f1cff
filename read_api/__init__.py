"""The Litestar app: queries on read models, command endpoints, WebSocket pushes."""
