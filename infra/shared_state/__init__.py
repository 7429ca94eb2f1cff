"""State the API nodes share: presence, chat rate limits, slow mode (Redis, or memory when
embedded)."""
