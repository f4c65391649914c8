//! The service: HTTP API, store (SQLite + PostgreSQL), queue, workers, metrics, configuration.
