//! Duration and byte-size text as Mesos writes and reads it (stout `Duration` and `Bytes`).
//!
//! Mesos puts this text on the command line (`--agent_ping_timeout=15secs`), in `/flags`
//! and GET_FLAGS answers, and in executor environment variables
//! (`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs`, reference/mesos-contract.md §4.1), where
//! stock Mesos executors parse it with stout. So parsing accepts exactly stout's forms and
//! formatting prints exactly what stout's `operator<<` prints.
//!
//! Durations: a non-negative decimal number followed by one of `ns`, `us`, `ms`, `secs`,
//! `mins`, `hrs`, `days`, `weeks` (`5secs`, `1.5hrs`, `.5secs`). Units are case-sensitive and
//! there is no short form: `5s`, `5sec` and `5 secs` are rejected, as stout rejects them, so
//! a configuration written for remesos also works for Apache Mesos. Two deliberate
//! differences from stout, both only on inputs stout gets wrong:
//! - the decimal is converted exactly (stout multiplies a `double` and truncates, which can
//!   land one nanosecond low); the result is still truncated to whole nanoseconds;
//! - a value above `i64::MAX` nanoseconds (about 292 years), stout's limit, is an error
//!   rather than undefined behaviour.
//!
//! Formatting picks the largest unit not greater than the duration. If the duration is not
//! a whole number of that unit but is a whole number of the next smaller unit, the smaller
//! unit is used (`1500ms`, `90secs`, `10days`); otherwise the value is printed in the larger
//! unit with up to 15 significant digits (`1.500001ms`, `1.025mins`), as C++ streams print a
//! `double` at precision 15. Such fractional text parses back to within one part in 10^14.
//!
//! Bytes: a non-negative integer followed by `B`, `KB`, `MB`, `GB` or `TB` in any case
//! (`2GB`, `512mb`), powers of 1024; fractions are rejected. Formatting raises the unit only
//! while no information is lost (`1536B`, `2KB`, `2GB`).

use std::time::Duration;

/// Why a duration or byte-size text was rejected. Messages follow stout's wording, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No unit after the number (`5`), or nothing at all.
    #[error("invalid duration '{0}'")]
    InvalidDuration(String),
    #[error(
        "unknown duration unit '{0}'; supported units are 'ns', 'us', 'ms', 'secs', 'mins', \
         'hrs', 'days', and 'weeks'"
    )]
    UnknownDurationUnit(String),
    /// The text before the unit is not a number (`secs`, `1.2.3secs`).
    #[error("failed to convert '{0}' to number")]
    InvalidNumber(String),
    /// More than `i64::MAX` nanoseconds, or more than `u64::MAX` bytes.
    #[error("'{0}' is out of range")]
    OutOfRange(String),
    /// A double of seconds whose nanoseconds do not fit an `int64_t` (stout's
    /// `Duration::create`, whose text this is).
    #[error("Argument out of the range that a Duration can represent due to int64_t's size limit")]
    SecondsOutOfRange,
    #[error("invalid bytes '{0}'")]
    InvalidBytes(String),
    #[error("fractional bytes '{0}'")]
    FractionalBytes(String),
    #[error("unknown bytes unit '{0}'")]
    UnknownBytesUnit(String),
}

pub type Result<T> = std::result::Result<T, Error>;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1000 * NANOSECOND;
const MILLISECOND: u64 = 1000 * MICROSECOND;
const SECOND: u64 = 1000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;

/// Units from smallest to largest, as stout names them.
const UNITS: [(u64, &str); 8] = [
    (NANOSECOND, "ns"),
    (MICROSECOND, "us"),
    (MILLISECOND, "ms"),
    (SECOND, "secs"),
    (MINUTE, "mins"),
    (HOUR, "hrs"),
    (DAY, "days"),
    (WEEK, "weeks"),
];

/// The largest duration Mesos can represent: stout keeps nanoseconds in an `int64_t`, and
/// protobuf `DurationInfo.nanoseconds` is an `int64`.
pub const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// Mesos's `Duration::create(double seconds)` (stout duration.hpp), the check every
/// duration a framework sends as a double of seconds goes through (`failover_timeout`,
/// `Filters.refuse_seconds`): the signed nanoseconds, or an error when they do not fit an
/// `int64_t`. NaN is an error too (stout's comparisons let it through to an undefined
/// conversion). Negative values are valid durations; what they mean is the caller's rule.
pub fn seconds_to_nanos(seconds: f64) -> Result<i64> {
    let nanos = seconds * 1e9;
    // `i64::MAX as f64` rounds up to 2^63, itself out of range, hence `>=`.
    if nanos.is_nan() || nanos >= i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(Error::SecondsOutOfRange);
    }
    // In range, so the conversion truncates toward zero exactly as C++'s does.
    Ok(nanos as i64)
}

/// Parses stout duration text such as `5secs`, `15mins`, `1.5hrs` or `100us`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    // Like stout: the number is the leading run of digits and dots, the unit is the rest.
    let Some(split) = s.find(|c: char| !(c.is_ascii_digit() || c == '.')) else {
        return Err(Error::InvalidDuration(s.to_string()));
    };
    let (number, unit) = s.split_at(split);
    // The number is checked before the unit, as stout does (`secs` is a bad number).
    let decimal = Decimal::parse(number).ok_or_else(|| Error::InvalidNumber(number.to_string()))?;
    let Some(&(unit_nanos, _)) = UNITS.iter().find(|(_, name)| *name == unit) else {
        return Err(Error::UnknownDurationUnit(unit.to_string()));
    };
    let nanos = decimal
        .times(unit_nanos)
        .filter(|n| *n <= i64::MAX as u128)
        .ok_or_else(|| Error::OutOfRange(s.to_string()))?;
    // The filter above bounds `nanos` by i64::MAX, so it fits in u64.
    Ok(Duration::from_nanos(nanos as u64))
}

/// Formats a duration as stout's `operator<<` does: `5secs`, `15mins`, `1500ms`, `2weeks`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    // The bucket: the largest unit that is not greater than the duration (`ns` for zero).
    let bucket = UNITS
        .iter()
        .rposition(|(unit, _)| nanos >= u128::from(*unit))
        .unwrap_or(0);
    if bucket == 0 {
        return format!("{nanos}ns");
    }
    let (unit, name) = UNITS[bucket];
    let (smaller, smaller_name) = UNITS[bucket - 1];
    // A whole number of the smaller unit reads better than a fraction of the larger one
    // (`10days`, not `1.42857142857143weeks`).
    let (unit, name) =
        if !nanos.is_multiple_of(u128::from(unit)) && nanos.is_multiple_of(u128::from(smaller)) {
            (smaller, smaller_name)
        } else {
            (unit, name)
        };
    // stout divides as doubles; doing the same keeps fractional output digit-for-digit.
    let value = nanos as f64 / unit as f64;
    format!("{}{name}", format_g(value, 15))
}

/// Parses stout byte-size text such as `2GB`, `512MB`, `4KB` or `100B` (unit in any case).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let Some(split) = s.find(|c: char| !c.is_ascii_digit()) else {
        return Err(Error::InvalidBytes(s.to_string()));
    };
    let (number, unit) = s.split_at(split);
    if unit.starts_with('.') {
        return Err(Error::FractionalBytes(s.to_string()));
    }
    if number.is_empty() {
        return Err(Error::InvalidNumber(number.to_string()));
    }
    // Only digits remain, so the only failure is overflow.
    let value: u64 = number
        .parse()
        .map_err(|_| Error::OutOfRange(s.to_string()))?;
    let unit = unit.to_ascii_uppercase();
    let multiplier: u64 = match unit.as_str() {
        "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return Err(Error::UnknownBytesUnit(unit)),
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| Error::OutOfRange(s.to_string()))
}

/// Formats a byte count as stout does, raising the unit only while nothing is lost.
pub fn format_bytes(bytes: u64) -> String {
    const NAMES: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes;
    for name in NAMES {
        if value == 0 || !value.is_multiple_of(1024) {
            return format!("{value}{name}");
        }
        value /= 1024;
    }
    format!("{value}TB")
}

/// Formats a double as C++ streams do in their default float field at `precision`
/// significant digits (printf `%.{precision}g`): trailing zeros dropped, exponent form
/// (`1e-07`) when the exponent is below -4 or at least `precision`.
pub(crate) fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let precision = precision.max(1);
    // Rounding to `precision` significant digits fixes the decimal exponent.
    let scientific = format!("{:.*e}", precision - 1, value);
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i64 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i64 {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        // -4 <= exponent < precision, so this is in 0..=precision+3.
        let decimals = (precision as i64 - 1 - exponent) as usize;
        strip_fraction_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A non-negative decimal `whole + fraction / 10^scale`, kept exact so that `1.1secs` is
/// exactly 1_100_000_000 nanoseconds.
struct Decimal {
    /// `None` when the whole part does not fit a u128 (certainly out of range).
    whole: Option<u128>,
    fraction: u128,
    scale: u32,
}

impl Decimal {
    /// Fraction digits kept: with the largest unit (a week, < 2^50 ns), 10^23 * unit still
    /// fits in a u128, and later digits are worth far less than a nanosecond.
    const MAX_SCALE: u32 = 23;

    /// Accepts `12`, `12.`, `.5` and `12.5` (ASCII digits only); rejects empty text, a lone
    /// `.` and a second dot.
    fn parse(text: &str) -> Option<Decimal> {
        let (whole_text, fraction_text) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole_text)
            || !all_digits(fraction_text)
            || (whole_text.is_empty() && fraction_text.is_empty())
        {
            return None;
        }
        let whole = whole_text.bytes().try_fold(0u128, |acc, b| {
            acc.checked_mul(10)?.checked_add(u128::from(b - b'0'))
        });
        let mut fraction: u128 = 0;
        let mut scale = 0;
        for b in fraction_text.bytes().take(Self::MAX_SCALE as usize) {
            fraction = fraction * 10 + u128::from(b - b'0');
            scale += 1;
        }
        Some(Decimal {
            whole,
            fraction,
            scale,
        })
    }

    /// `self * unit` truncated to a whole number; `None` if it overflows a u128.
    fn times(&self, unit: u64) -> Option<u128> {
        let unit = u128::from(unit);
        // fraction < 10^23 and unit < 2^50, so this product fits.
        let fraction = self.fraction * unit / 10u128.pow(self.scale);
        self.whole?.checked_mul(unit)?.checked_add(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ns(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    // reference/mesos-contract.md §4.1 and §7: the defaults Mesos prints.
    #[test]
    fn parses_stout_forms() {
        let cases: &[(&str, Duration)] = &[
            ("5secs", Duration::from_secs(5)),
            ("1mins", Duration::from_secs(60)),
            ("15mins", Duration::from_secs(15 * 60)),
            ("2hrs", Duration::from_secs(2 * 3600)),
            ("1days", Duration::from_secs(86400)),
            ("2weeks", Duration::from_secs(14 * 86400)),
            ("500ms", Duration::from_millis(500)),
            ("100us", Duration::from_micros(100)),
            ("10ns", ns(10)),
            ("1.5secs", Duration::from_millis(1500)),
            ("1.1secs", Duration::from_millis(1100)),
            (".5secs", Duration::from_millis(500)),
            ("5.secs", Duration::from_secs(5)),
            ("0secs", Duration::ZERO),
            ("0.0000000001secs", Duration::ZERO),
            ("007ms", Duration::from_millis(7)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_stout_rejects() {
        use Error::*;
        let cases: &[(&str, Error)] = &[
            ("", InvalidDuration("".into())),
            ("5", InvalidDuration("5".into())),
            ("1.5", InvalidDuration("1.5".into())),
            ("5s", UnknownDurationUnit("s".into())),
            ("5sec", UnknownDurationUnit("sec".into())),
            ("5m", UnknownDurationUnit("m".into())),
            ("5h", UnknownDurationUnit("h".into())),
            ("5SECS", UnknownDurationUnit("SECS".into())),
            ("5 secs", UnknownDurationUnit(" secs".into())),
            ("5secs ", UnknownDurationUnit("secs ".into())),
            ("1e3secs", UnknownDurationUnit("e3secs".into())),
            ("secs", InvalidNumber("".into())),
            ("-5secs", InvalidNumber("".into())),
            (".secs", InvalidNumber(".".into())),
            ("1.2.3secs", InvalidNumber("1.2.3".into())),
            ("300000weeks", OutOfRange("300000weeks".into())),
            (
                "99999999999999999999999999999999999999999999ns",
                OutOfRange("99999999999999999999999999999999999999999999ns".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).as_ref(), Err(want), "{text}");
        }
        assert_eq!(
            parse_duration("5s").unwrap_err().to_string(),
            "unknown duration unit 's'; supported units are 'ns', 'us', 'ms', 'secs', 'mins', \
             'hrs', 'days', and 'weeks'"
        );
    }

    #[test]
    fn max_duration_is_the_int64_limit() {
        assert_eq!(parse_duration(&format!("{}ns", i64::MAX)), Ok(MAX_DURATION));
        assert!(parse_duration(&format!("{}ns", i64::MAX as u64 + 1)).is_err());
    }

    // Expected text follows stout's Duration operator<< (3rdparty/stout duration.hpp).
    #[test]
    fn formats_like_stout() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0ns"),
            (ns(1), "1ns"),
            (ns(999), "999ns"),
            (ns(1001), "1001ns"),
            (Duration::from_micros(100), "100us"),
            (Duration::from_micros(1500), "1500us"),
            (ns(1_500_001), "1.500001ms"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(1), "1secs"),
            (Duration::from_secs(5), "5secs"),
            (Duration::from_secs(20), "20secs"),
            (Duration::from_secs(60), "1mins"),
            (Duration::from_secs(90), "90secs"),
            (Duration::from_millis(61_500), "1.025mins"),
            (Duration::from_secs(15 * 60), "15mins"),
            (Duration::from_secs(90 * 60), "90mins"),
            (Duration::from_secs(6 * 3600), "6hrs"),
            (Duration::from_secs(86400), "1days"),
            (Duration::from_secs(10 * 86400), "10days"),
            (Duration::from_secs(7 * 86400), "1weeks"),
            (Duration::from_secs(14 * 86400), "2weeks"),
            (Duration::from_secs(21 * 86400 / 2), "1.5weeks"),
            (Duration::from_secs(169 * 3600), "1.00595238095238weeks"),
            (MAX_DURATION, "15250.2844524715weeks"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn bytes_round_trip_and_reject() {
        assert_eq!(parse_bytes("2GB"), Ok(2 << 30));
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("4KB"), Ok(4096));
        assert_eq!(parse_bytes("100B"), Ok(100));
        assert_eq!(parse_bytes("2gb"), Ok(2 << 30));
        assert_eq!(parse_bytes("1TB"), Ok(1 << 40));
        assert_eq!(parse_bytes("0B"), Ok(0));
        assert_eq!(
            parse_bytes("1.5GB"),
            Err(Error::FractionalBytes("1.5GB".into()))
        );
        assert_eq!(parse_bytes("100"), Err(Error::InvalidBytes("100".into())));
        assert_eq!(parse_bytes(""), Err(Error::InvalidBytes("".into())));
        assert_eq!(parse_bytes("GB"), Err(Error::InvalidNumber("".into())));
        assert_eq!(
            parse_bytes("2PB"),
            Err(Error::UnknownBytesUnit("PB".into()))
        );
        assert_eq!(
            parse_bytes("2 GB"),
            Err(Error::UnknownBytesUnit(" GB".into()))
        );
        assert_eq!(
            parse_bytes("16777216TB"),
            Err(Error::OutOfRange("16777216TB".into()))
        );
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(1536), "1536B");
        assert_eq!(format_bytes(2048), "2KB");
        assert_eq!(format_bytes(4096), "4KB");
        assert_eq!(format_bytes(2 << 30), "2GB");
        assert_eq!(format_bytes(1 << 50), "1024TB");
        assert_eq!(format_bytes(u64::MAX), format!("{}B", u64::MAX));
    }

    /// stout's `Duration::create`: seconds whose nanoseconds overflow an int64 are an
    /// error (issue 11: `failover_timeout: 1.5e19` used to crash the master).
    #[test]
    fn seconds_whose_nanoseconds_overflow_an_int64_are_an_error() {
        assert_eq!(seconds_to_nanos(1.5), Ok(1_500_000_000));
        assert_eq!(seconds_to_nanos(-2.0), Ok(-2_000_000_000));
        assert_eq!(seconds_to_nanos(0.0), Ok(0));
        assert_eq!(seconds_to_nanos(9.2e9), Ok(9_200_000_000_000_000_000));
        for bad in [
            1.5e19,
            9.3e9,
            -9.3e9,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(
                seconds_to_nanos(bad),
                Err(Error::SecondsOutOfRange),
                "{bad}"
            );
        }
        assert_eq!(
            Error::SecondsOutOfRange.to_string(),
            "Argument out of the range that a Duration can represent due to int64_t's size limit"
        );
    }

    #[test]
    fn format_g_matches_printf() {
        assert_eq!(format_g(0.1, 6), "0.1");
        assert_eq!(format_g(1.0, 6), "1");
        assert_eq!(format_g(1e-7, 6), "1e-07");
        assert_eq!(format_g(123456789.0, 6), "1.23457e+08");
        assert_eq!(format_g(0.0001, 6), "0.0001");
        assert_eq!(format_g(9.9999999, 6), "10");
        assert_eq!(format_g(-2.5, 6), "-2.5");
        assert_eq!(format_g(1.0 / 3.0, 15), "0.333333333333333");
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0..=i64::MAX as u64).prop_map(Duration::from_nanos),
            // Whole numbers of each unit, the shape real configuration takes.
            (0usize..UNITS.len(), 0u64..10_000)
                .prop_map(|(u, n)| Duration::from_nanos(n * UNITS[u].0)),
        ]
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity_for_whole_text(d in any_duration()) {
            let text = format_duration(d);
            let back = parse_duration(&text).expect("formatted text parses");
            if !text.contains('.') {
                prop_assert_eq!(back, d, "{}", text);
            } else {
                // 15 significant digits: within 1e-14 relative, plus truncation.
                let (a, b) = (back.as_nanos() as f64, d.as_nanos() as f64);
                prop_assert!((a - b).abs() <= b * 1e-14 + 1.0, "{} -> {:?}", text, back);
            }
        }

        #[test]
        fn fraction_only_when_neither_bucket_unit_nor_the_one_below_divides(d in any_duration()) {
            let n = d.as_nanos();
            let bucket = UNITS.iter().rposition(|(u, _)| n >= u128::from(*u)).unwrap_or(0);
            let divides = |i: usize| n % u128::from(UNITS[i].0) == 0;
            let whole = bucket == 0 || divides(bucket) || divides(bucket - 1);
            let text = format_duration(d);
            prop_assert_eq!(!text.contains('.'), whole, "{}", text);
        }

        #[test]
        fn bytes_format_then_parse_is_identity(b in any::<u64>()) {
            prop_assert_eq!(parse_bytes(&format_bytes(b)), Ok(b));
        }

        #[test]
        fn parsing_never_panics(s in ".{0,40}") {
            let _ = parse_duration(&s);
            let _ = parse_bytes(&s);
        }

        #[test]
        fn parsing_number_like_text_never_panics(s in "[0-9.]{0,40}(ns|us|ms|secs|mins|hrs|days|weeks|B|KB|TB)?") {
            let _ = parse_duration(&s);
            let _ = parse_bytes(&s);
        }
    }
}
