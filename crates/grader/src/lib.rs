//! The grading pipeline: runtimes, prepared layers, per-job workspaces, sandboxed test runs, results and scores.
