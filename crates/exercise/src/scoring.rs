//! Points and score from test results, in exact integers (`scoring` in exercise.yaml;
//! docs/results.md shows how the numbers appear in a result).
//! Only a `pass` counts: `skip`, `fail` and `error` all count as not passed.

use serde::{Deserialize, Serialize};

use crate::results::{TestResult, TestStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scoring {
    /// One point per passed test; score = ⌊100 × passed / total⌋.
    PerTest,
    /// Every test passes (100, all points) or nothing (0, no points).
    AllOrNothing,
}

/// The numbers of a result (docs/results.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Score {
    pub points: u32,
    pub max_points: u32,
    /// 0..=100; 100 only when every test passed.
    pub score: u32,
}

/// Scores `tests`.
///
/// - `per-test`: `points` = passed tests, `max_points` = all tests,
///   `score` = ⌊100 × points / max_points⌋ (so 100 only when all pass).
/// - `all-or-nothing`: `max_points` = all tests; `points` = all of them and `score` = 100
///   when every test passed, else 0 and 0.
/// - No tests at all: 0 of 0 points, score 0 (nothing was shown to work).
/// - Skipped tests count as not passed: an exercise whose tests skip cannot reach 100.
pub fn score(tests: &[TestResult], scoring: Scoring) -> Score {
    let total = u32::try_from(tests.len()).unwrap_or(u32::MAX);
    let passed = u32::try_from(
        tests
            .iter()
            .filter(|t| t.status == TestStatus::Pass)
            .count(),
    )
    .unwrap_or(u32::MAX);
    if total == 0 {
        return Score {
            points: 0,
            max_points: 0,
            score: 0,
        };
    }
    let all = passed == total;
    match scoring {
        Scoring::PerTest => Score {
            points: passed,
            max_points: total,
            score: (u64::from(passed) * 100 / u64::from(total)) as u32,
        },
        Scoring::AllOrNothing => Score {
            points: if all { total } else { 0 },
            max_points: total,
            score: if all { 100 } else { 0 },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tests(statuses: &str) -> Vec<TestResult> {
        statuses
            .chars()
            .enumerate()
            .map(|(i, c)| TestResult {
                name: format!("t{i}"),
                status: match c {
                    'p' => TestStatus::Pass,
                    'f' => TestStatus::Fail,
                    'e' => TestStatus::Error,
                    's' => TestStatus::Skip,
                    _ => unreachable!(),
                },
                message: None,
            })
            .collect()
    }

    #[test]
    fn table() {
        use Scoring::*;
        // (statuses, scoring, points, max_points, score)
        let table: &[(&str, Scoring, u32, u32, u32)] = &[
            ("", PerTest, 0, 0, 0),
            ("", AllOrNothing, 0, 0, 0),
            ("p", PerTest, 1, 1, 100),
            ("ppp", PerTest, 3, 3, 100),
            ("ppf", PerTest, 2, 3, 66),
            ("pf", PerTest, 1, 2, 50),
            ("fff", PerTest, 0, 3, 0),
            ("pps", PerTest, 2, 3, 66),
            ("ppe", PerTest, 2, 3, 66),
            ("ppp", AllOrNothing, 3, 3, 100),
            ("ppf", AllOrNothing, 0, 3, 0),
            ("pps", AllOrNothing, 0, 3, 0),
            ("s", AllOrNothing, 0, 1, 0),
        ];
        for &(statuses, scoring, points, max_points, score_) in table {
            let got = score(&tests(statuses), scoring);
            assert_eq!(
                got,
                Score {
                    points,
                    max_points,
                    score: score_
                },
                "{statuses:?} {scoring:?}"
            );
        }
    }

    #[test]
    fn hundred_only_when_all_pass() {
        // 199 of 200 must not round up to 100.
        let mut s = "p".repeat(199);
        s.push('f');
        assert_eq!(score(&tests(&s), Scoring::PerTest).score, 99);
    }
}
