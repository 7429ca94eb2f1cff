"""The event store and its log: the eventsourcing application, decoding, export, the log's
watcher."""
