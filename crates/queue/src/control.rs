//! What the rest of the service may do to the workers embedded in its process: pause,
//! resume, stop one running job, learn of reloaded exercises. The HTTP API's admin routes
//! depend on this trait, not on the engine; [`crate::worker::WorkerEngine`] implements it.

use crate::store::SubmissionId;

/// Run-time control of the workers embedded in this process.
#[async_trait::async_trait]
pub trait WorkerControl: Send + Sync + 'static {
    /// Stop claiming new jobs; running ones finish.
    fn pause(&self);
    fn resume(&self);
    fn is_paused(&self) -> bool;
    /// Stops a job this process is running (after the store answered `Requested`).
    fn cancel_running(&self, _id: &SubmissionId) -> bool {
        false
    }
    /// The catalogue was reloaded: these are the exercise versions now held.
    async fn exercises_reloaded(&self, _hashes: Vec<String>) -> Result<(), String> {
        Ok(())
    }
}
