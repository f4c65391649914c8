//! Durations (`250ms`, `20s`, `2m`) and sizes (`512KiB`, `64MiB`, `1GiB`, or plain bytes)
//! as CONTRACTS §2-3 write them. Whole numbers only; overflow is an error, not a wrap.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("{value:?} is not a duration: expected a whole number and ms, s or m, such as 20s")]
    Duration { value: String },
    #[error("{value:?} is not a size: expected a whole number of bytes or KiB, MiB, GiB, such as 512MiB")]
    Size { value: String },
    #[error("{value:?} is too large")]
    Overflow { value: String },
}

/// Splits `"512MiB"` into `(512, "MiB")`; `None` when there is no leading number.
fn split_number(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let n = s[..digits].parse().ok()?;
    Some((n, s[digits..].trim_start()))
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `ms`, `s` or `m` after a whole number: `1500ms`, `20s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || UnitError::Duration { value: shorten(s) };
    let (n, unit) = split_number(s.trim()).ok_or_else(bad)?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(ms_per_unit)
        .ok_or_else(|| UnitError::Overflow { value: shorten(s) })?;
    Ok(Duration::from_millis(ms))
}

/// A whole number of bytes, optionally followed by `B`, `KiB`, `MiB` or `GiB`.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Size { value: shorten(s) };
    let (n, unit) = split_number(s.trim()).ok_or_else(bad)?;
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(factor)
        .ok_or_else(|| UnitError::Overflow { value: shorten(s) })
}

/// `1536` → `1536 bytes`, `1048576` → `1MiB`: for messages.
pub(crate) fn format_size(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// `Duration` → `20s` / `1500ms` / `2m`: for messages.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 60_000 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table: &[(&str, Option<u64>)] = &[
            ("250ms", Some(250)),
            ("20s", Some(20_000)),
            ("2m", Some(120_000)),
            ("0s", Some(0)),
            (" 5s ", Some(5_000)),
            ("5 s", Some(5_000)),
            ("5", None),
            ("5h", None),
            ("s", None),
            ("-5s", None),
            ("1.5s", None),
            ("5S", None),
            ("", None),
            ("99999999999999999999s", None),
        ];
        for (input, want) in table {
            let got = parse_duration(input).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, *want, "parse_duration({input:?})");
        }
        assert!(matches!(
            parse_duration("999999999999999999m"),
            Err(UnitError::Overflow { .. })
        ));
    }

    #[test]
    fn sizes() {
        let table: &[(&str, Option<u64>)] = &[
            ("512", Some(512)),
            ("512B", Some(512)),
            ("64KiB", Some(65_536)),
            ("512MiB", Some(512 << 20)),
            ("1GiB", Some(1 << 30)),
            ("1 GiB", Some(1 << 30)),
            ("1GB", None),
            ("1kib", None),
            ("1.5MiB", None),
            ("MiB", None),
            ("", None),
        ];
        for (input, want) in table {
            assert_eq!(parse_size(input).ok(), *want, "parse_size({input:?})");
        }
        assert!(matches!(
            parse_size("99999999999GiB"),
            Err(UnitError::Overflow { .. })
        ));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(65_536), "64KiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(1000), "1000 bytes");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
