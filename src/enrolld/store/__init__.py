"""SQLite face sets, faces, search index and the event outbox."""
