//! A [`SubmissionGate`] on the exercise crate alone, for tests and the API fixture
//! server, which have no grader: archives are extracted into a scratch folder with
//! `tests/` protected, then removed. The service wires the grader's gate
//! (`gauntlet_server::grading::GraderGate`), which knows each runtime's protected paths.

use std::fs;
use std::path::PathBuf;

use gauntlet_exercise::{ArchiveLimits, Exercise, RelPath};
use gauntlet_server::catalog::SubmissionGate;

pub struct ExerciseGate {
    pub scratch: PathBuf,
    pub limits: ArchiveLimits,
}

impl SubmissionGate for ExerciseGate {
    fn check_archive(&self, exercise: &Exercise, zip: &[u8]) -> Result<(), String> {
        let protected = [RelPath::parse("tests").map_err(|e| e.to_string())?];
        fs::create_dir_all(&self.scratch).map_err(|e| format!("scratch folder: {e}"))?;
        let dest = self
            .scratch
            .join(format!(".check-{:016x}", rand::random::<u64>()));
        let result =
            gauntlet_exercise::extract_archive(exercise, zip, &dest, &protected, &self.limits)
                .map(|_| ())
                .map_err(|e| e.to_string());
        let _ = fs::remove_dir_all(&dest);
        result
    }
}
