//! The one grammar for sizes and durations, wherever Gauntlet reads them: command-line
//! flags and their environment variables (`sandbox run`, `serve`, `worker`), the
//! settings, and `exercise.yaml`. docs/cli.md ("Sizes and durations") is its reference.
//!
//! A value is a number, optionally followed by spaces, then a unit:
//!
//! - sizes: `B` (or none), `KiB`, `MiB`, `GiB`, with `K`/`KB`, `M`/`MB`, `G`/`GB` as
//!   other spellings of the same powers of 1024 (as Docker's `--memory` reads them);
//! - durations: `ms`, `s`, `m` (minutes), `h`, `d`; a duration always has a unit.
//!
//! The number may have a decimal part (`1.5GiB`, `0.25s`) when the value it names is
//! exact: a whole number of bytes, a whole number of nanoseconds. Units are
//! case-sensitive (`m` is a minute, never a megabyte). A value too large for its type is
//! an error, never a wrap. [`Size`] and [`Span`] print values in the same grammar, so
//! what they print parses back to the same value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("{value:?} is not a duration: expected a number and a unit (ms, s, m, h or d), such as 20s or 1.5s")]
    Duration { value: String },
    #[error("{value:?} is not a size: expected a number of bytes, or a number and a unit (KiB, MiB, GiB; K, M, G and KB, MB, GB are the same powers of 1024), such as 512MiB")]
    Size { value: String },
    #[error("{value:?} is not a whole number of {base}")]
    Inexact { value: String, base: &'static str },
    #[error("{value:?} is too large")]
    Overflow { value: String },
}

/// Size units and their factors in bytes.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("B", 1),
    ("K", 1 << 10),
    ("KB", 1 << 10),
    ("KiB", 1 << 10),
    ("M", 1 << 20),
    ("MB", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("GB", 1 << 30),
    ("GiB", 1 << 30),
];

const NANOS_PER_MS: u64 = 1_000_000;

/// Duration units and their factors in nanoseconds.
const DURATION_UNITS: &[(&str, u64)] = &[
    ("ms", NANOS_PER_MS),
    ("s", 1_000 * NANOS_PER_MS),
    ("m", 60_000 * NANOS_PER_MS),
    ("h", 3_600_000 * NANOS_PER_MS),
    ("d", 86_400_000 * NANOS_PER_MS),
];

/// The most fraction digits read; more (after trailing zeros are dropped) cannot be
/// exact for any unit here.
const MAX_FRACTION_DIGITS: usize = 18;

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `"1.5 GiB"` → `(1, "5", "GiB")`: a whole part, a fraction (digits, possibly empty),
/// and the unit after optional spaces. `None` when the number is malformed.
fn split(s: &str) -> Option<(&str, &str, &str)> {
    let s = s.trim();
    let whole_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = s.split_at(whole_len);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None; // "1." or "1.s"
            }
            r.split_at(n)
        }
        None => ("", rest),
    };
    if whole.is_empty() {
        return None; // ".5s", "s", "-1s"
    }
    Some((whole, fraction, rest.trim_start()))
}

/// `whole.fraction × factor`, exactly, or why not.
fn scale(whole: &str, fraction: &str, factor: u64) -> Result<u64, Scale> {
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > MAX_FRACTION_DIGITS {
        return Err(Scale::Inexact);
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 20 {
        return Err(Scale::Overflow);
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| Scale::Overflow)?
    };
    let mut total = whole.checked_mul(factor.into()).ok_or(Scale::Overflow)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().map_err(|_| Scale::Inexact)?;
        let denominator = 10u128.pow(fraction.len() as u32);
        let scaled = digits * u128::from(factor); // < 10^18 × 10^14: no overflow
        if !scaled.is_multiple_of(denominator) {
            return Err(Scale::Inexact);
        }
        total += scaled / denominator;
    }
    u64::try_from(total).map_err(|_| Scale::Overflow)
}

enum Scale {
    Inexact,
    Overflow,
}

/// Reads a size in bytes: `4096`, `512B`, `64KiB`, `1G`, `1.5 MiB`.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Size { value: shorten(s) };
    let (whole, fraction, unit) = split(s).ok_or_else(bad)?;
    let factor = SIZE_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, f)| f)
        .ok_or_else(bad)?;
    scale(whole, fraction, factor).map_err(|e| match e {
        Scale::Inexact => UnitError::Inexact {
            value: shorten(s),
            base: "bytes",
        },
        Scale::Overflow => UnitError::Overflow { value: shorten(s) },
    })
}

/// Reads a duration: `250ms`, `20s`, `1.5s`, `2m`, `12h`, `30d`.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || UnitError::Duration { value: shorten(s) };
    let (whole, fraction, unit) = split(s).ok_or_else(bad)?;
    let factor = DURATION_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, f)| f)
        .ok_or_else(bad)?;
    scale(whole, fraction, factor)
        .map(Duration::from_nanos)
        .map_err(|e| match e {
            Scale::Inexact => UnitError::Inexact {
                value: shorten(s),
                base: "nanoseconds",
            },
            Scale::Overflow => UnitError::Overflow { value: shorten(s) },
        })
}

/// A size in bytes that prints in this grammar: the largest of `GiB`, `MiB`, `KiB` that
/// divides it, else bytes (`64KiB`, `1GiB`, `1536B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            if n >= 1 << shift && n.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}B")
    }
}

impl FromStr for Size {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_size(s).map(Size)
    }
}

/// A duration that prints in this grammar: the largest of `d`, `h`, `m`, `s`, `ms` that
/// divides it (`30d`, `90s`, `1500ms`), else milliseconds with a decimal part
/// (`0.25ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(pub Duration);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        for &(unit, factor) in DURATION_UNITS.iter().rev() {
            let factor = u128::from(factor);
            if nanos.is_multiple_of(factor) {
                return write!(f, "{}{unit}", nanos / factor);
            }
        }
        let ms = u128::from(NANOS_PER_MS);
        let fraction = format!("{:06}", nanos % ms);
        write!(f, "{}.{}ms", nanos / ms, fraction.trim_end_matches('0'))
    }
}

impl FromStr for Span {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_duration(s).map(Span)
    }
}

/// `65536` → `64KiB`, `100` → `100 bytes`: for messages to people, which spell out
/// bytes; [`Size`] prints `100B`.
pub(crate) fn format_size(n: u64) -> String {
    if n < 1 << 10 || !n.is_multiple_of(1 << 10) {
        return format!("{n} bytes");
    }
    Size(n).to_string()
}

/// `Duration` → `20s`, `1500ms`, `2m`: for messages.
pub(crate) fn format_duration(d: Duration) -> String {
    Span(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1;
    const SEC: u64 = 1000;

    #[test]
    fn durations() {
        // Every spelling accepted before the three grammars were merged still reads the
        // same, plus hours, days and exact decimals.
        let table: &[(&str, Option<u64>)] = &[
            ("250ms", Some(250 * MS)),
            ("20s", Some(20 * SEC)),
            ("2m", Some(120 * SEC)),
            ("2h", Some(7_200 * SEC)),
            ("30d", Some(30 * 86_400 * SEC)),
            ("0s", Some(0)),
            (" 5s ", Some(5 * SEC)),
            ("5 s", Some(5 * SEC)),
            ("1.5s", Some(1_500 * MS)),
            ("0.25s", Some(250 * MS)),
            ("1.500s", Some(1_500 * MS)),
            ("007s", Some(7 * SEC)),
            ("0.5m", Some(30 * SEC)),
            ("5", None),
            ("5sec", None),
            ("5S", None),
            ("5 ", None),
            ("s", None),
            ("-5s", None),
            ("+5s", None),
            (".5s", None),
            ("5.s", None),
            ("1.2.3s", None),
            ("1,5s", None),
            ("5 5s", None),
            ("1e3ms", None),
            ("", None),
            ("５s", None),
            ("99999999999999999999s", None),
        ];
        for (input, want) in table {
            let got = parse_duration(input).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, *want, "parse_duration({input:?})");
        }
        assert_eq!(
            parse_duration("0.000001ms").unwrap(),
            Duration::from_nanos(1)
        );
        assert!(matches!(
            parse_duration("0.0000001ms"),
            Err(UnitError::Inexact { .. })
        ));
        assert!(matches!(
            parse_duration("999999999999999999m"),
            Err(UnitError::Overflow { .. })
        ));
    }

    #[test]
    fn sizes() {
        let table: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("512", Some(512)),
            ("512B", Some(512)),
            ("64KiB", Some(64 << 10)),
            ("64K", Some(64 << 10)),
            ("64KB", Some(64 << 10)),
            ("512MiB", Some(512 << 20)),
            ("512M", Some(512 << 20)),
            ("512MB", Some(512 << 20)),
            ("1GiB", Some(1 << 30)),
            ("1G", Some(1 << 30)),
            ("1GB", Some(1 << 30)),
            ("1 GiB", Some(1 << 30)),
            ("1.5KiB", Some(1536)),
            ("0.5GiB", Some(512 << 20)),
            ("1.0B", Some(1)),
            ("1kib", None),
            ("1g", None),
            ("1TiB", None),
            ("1Mi", None),
            ("1 B B", None),
            ("MiB", None),
            ("-1", None),
            ("", None),
            ("1.5", None),
            ("0.1KiB", None),
        ];
        for (input, want) in table {
            assert_eq!(parse_size(input).ok(), *want, "parse_size({input:?})");
        }
        assert!(matches!(
            parse_size("99999999999GiB"),
            Err(UnitError::Overflow { .. })
        ));
        assert!(matches!(
            parse_size("18446744073709551616"),
            Err(UnitError::Overflow { .. })
        ));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(matches!(
            parse_size("0.1KiB"),
            Err(UnitError::Inexact { base: "bytes", .. })
        ));
    }

    #[test]
    fn display() {
        let sizes: &[(u64, &str)] = &[
            (0, "0B"),
            (1000, "1000B"),
            (1536, "1536B"),
            (65_536, "64KiB"),
            (1 << 30, "1GiB"),
            (3 << 30, "3GiB"),
            (1025 << 20, "1025MiB"),
        ];
        for (n, want) in sizes {
            assert_eq!(Size(*n).to_string(), *want);
        }
        let durations: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(86_400 * 30), "30d"),
            (Duration::from_micros(250), "0.25ms"),
            (Duration::from_nanos(1_000_001), "1.000001ms"),
        ];
        for (d, want) in durations {
            assert_eq!(Span(*d).to_string(), *want);
        }
    }

    #[test]
    fn errors_say_what_is_expected() {
        let e = parse_size("12 parsecs").unwrap_err().to_string();
        assert!(
            e.contains("\"12 parsecs\" is not a size") && e.contains("MiB"),
            "{e}"
        );
        let e = parse_duration("10").unwrap_err().to_string();
        assert!(
            e.contains("not a duration") && e.contains("ms, s, m, h or d"),
            "{e}"
        );
        let e = parse_size("0.3KiB").unwrap_err().to_string();
        assert_eq!(e, "\"0.3KiB\" is not a whole number of bytes");
    }
}
