//! The HTTP API's test suite: the real router on port 0 over a fresh store (SQLite, and
//! PostgreSQL when reachable), driven over HTTP.

#[allow(dead_code)]
#[path = "../../queue/tests/queue/fixture.rs"]
mod fixture;

#[allow(dead_code)]
#[path = "api/common.rs"]
mod common;

#[path = "api/gate.rs"]
mod gate;

#[path = "api/abuse.rs"]
mod abuse;

#[path = "api/flows.rs"]
mod flows;

#[path = "api/hygiene.rs"]
mod hygiene;

#[path = "api/limits.rs"]
mod limits;

#[path = "api/redis_outage.rs"]
mod redis_outage;

#[path = "api/web.rs"]
mod web;
