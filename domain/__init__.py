"""The domain: aggregates and their events. Plain Python, no I/O."""
