"""Web transport helpers: direct WebSocket writes, the JSON nesting guard."""
