"""Read models: each projection turns events into rows, with its SQL beside it."""
