"""The read-model databases: PostgreSQL (pooled) and SQLite, bulk transactions, the schema lock."""
