"""Long-running workers: the relay (event store -> bus) and the projectors (bus -> read models)."""
