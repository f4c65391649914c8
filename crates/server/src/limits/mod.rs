//! Abuse controls of the API (docs/api.md, "Abuse controls"): who a request comes from
//! ([`client`]), submissions per minute and per day ([`rate`]), open event streams
//! ([`streams`]), one admission at a time per session and address ([`admission`]), and
//! the Redis that several instances share all of these through ([`shared`]).
//!
//! The caps on queued-or-running submissions are counted in the store (the truth about
//! what is active); the admission locks make their check and the insert one step.

pub mod admission;
pub mod client;
pub mod rate;
pub mod shared;
pub mod streams;

pub use admission::{AdmissionError, AdmissionGuard, AdmissionLocks};
pub use client::{client_ip, ClientKey, DEFAULT_IPV6_PREFIX};
pub use rate::{Caps, RateConfig, RateLimiter, Rejected, Scope, Window};
pub use shared::{RedisDown, SharedRedis, Unavailable};
pub use streams::{StreamCaps, StreamLimits, StreamRefusal, StreamSlot};
