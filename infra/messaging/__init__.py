"""The event bus: in process, or RabbitMQ (event fan-out and the live exchange)."""
