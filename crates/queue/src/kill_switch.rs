//! The kill switch: a worker runs untrusted code only when the operator said so in two
//! words (`WORKER_ENABLED=true` and `RUN_UNTRUSTED_CODE=true`, or their flags).

/// Proof that the kill switch was acknowledged. Only [`KillSwitch::acknowledge`] makes
/// one, and [`crate::worker::WorkerEngine::start`] requires it: no acknowledgement, no
/// engine.
#[derive(Debug)]
pub struct KillSwitch(());

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "workers refuse to start: they run untrusted code only when WORKER_ENABLED=true and \
     RUN_UNTRUSTED_CODE=true are both set ({missing})"
)]
pub struct KillSwitchError {
    /// What is missing, e.g. "RUN_UNTRUSTED_CODE is not true".
    pub missing: String,
}

impl KillSwitch {
    /// Both acknowledgements given, or an error that names each one missing.
    pub fn acknowledge(
        worker_enabled: bool,
        run_untrusted_code: bool,
    ) -> Result<KillSwitch, KillSwitchError> {
        let missing: Vec<&str> = [
            (!worker_enabled).then_some("WORKER_ENABLED is not true"),
            (!run_untrusted_code).then_some("RUN_UNTRUSTED_CODE is not true"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if missing.is_empty() {
            Ok(KillSwitch(()))
        } else {
            Err(KillSwitchError {
                missing: missing.join(", "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_words_or_a_refusal_naming_what_is_missing() {
        // (worker_enabled, run_untrusted_code, what the refusal names)
        let cases: &[(bool, bool, Option<&str>)] = &[
            (true, true, None),
            (
                false,
                false,
                Some("WORKER_ENABLED is not true, RUN_UNTRUSTED_CODE is not true"),
            ),
            (true, false, Some("RUN_UNTRUSTED_CODE is not true")),
            (false, true, Some("WORKER_ENABLED is not true")),
        ];
        for (enabled, untrusted, missing) in cases {
            let got = KillSwitch::acknowledge(*enabled, *untrusted);
            match missing {
                None => assert!(got.is_ok(), "{enabled} {untrusted}"),
                Some(m) => {
                    let e = got.unwrap_err();
                    assert_eq!(e.missing, *m);
                    assert!(e.to_string().contains("refuse to start"), "{e}");
                }
            }
        }
    }
}
