//! The queue's test suite, written once and run on both back ends (SQLite and
//! PostgreSQL): the store's transitions, then the worker engine on top of it.

mod engine_suite;
mod fixture;
mod store_suite;
