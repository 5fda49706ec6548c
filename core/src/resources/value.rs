//! Scalar, range and set arithmetic with Mesos's semantics (`src/common/values.cpp`).
//!
//! Scalars are fixed-point with three decimals: every operation converts both sides to
//! integer thousandths (`llround(v * 1000)`), computes exactly, and converts back, so
//! `0.1 + 0.2 == 0.3` and repeated add/subtract never drifts.
//! Ranges are kept sorted and coalesced (adjacent ranges merge: `[1-2]+[3-4] = [1-4]`).

use remesos_proto::mesos::v1::value::{Range, Ranges, Set};

/// Converts a floating-point scalar to integer thousandths, as Mesos's `convertToFixed`.
pub fn to_fixed(value: f64) -> i64 {
    (value * 1000.0).round() as i64
}

/// Converts thousandths back to a double the way Mesos does (integer part plus
/// `remainder / 1000`), so that `from_fixed(to_fixed(x))` is the canonical value of `x`.
pub fn from_fixed(fixed: i64) -> f64 {
    (fixed / 1000) as f64 + (fixed % 1000) as f64 / 1000.0
}

/// Rounds a double to Mesos's three-decimal precision.
pub fn round(value: f64) -> f64 {
    from_fixed(to_fixed(value))
}

/// Sorts and coalesces ranges in place: overlapping or adjacent ranges merge.
/// Inverted ranges (`begin > end`) are dropped (validation rejects them earlier).
pub fn coalesce(ranges: &mut Vec<Range>) {
    ranges.retain(|r| r.begin <= r.end);
    if ranges.len() < 2 {
        return;
    }
    if !is_coalesced(ranges) {
        ranges.sort_unstable_by_key(|r| (r.begin, r.end));
        let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
        for r in ranges.drain(..) {
            match out.last_mut() {
                Some(last) if r.begin <= last.end.saturating_add(1) => {
                    last.end = last.end.max(r.end);
                }
                _ => out.push(r),
            }
        }
        *ranges = out;
    }
}

/// Whether `ranges` (any order) is already sorted and coalesced.
pub fn is_coalesced(ranges: &[Range]) -> bool {
    ranges.iter().all(|r| r.begin <= r.end)
        && ranges
            .windows(2)
            .all(|w| w[0].end.saturating_add(1) < w[1].begin)
}

/// `left += right` for coalesced ranges.
pub fn ranges_add(left: &mut Ranges, right: &Ranges) {
    if right.range.is_empty() {
        return;
    }
    if !is_coalesced(&left.range) || !is_coalesced(&right.range) {
        left.range.extend_from_slice(&right.range);
        coalesce(&mut left.range);
        return;
    }
    // Both sorted and coalesced: one linear merge instead of a sort.
    let mut out: Vec<Range> = Vec::with_capacity(left.range.len() + right.range.len());
    let (mut i, mut j) = (0, 0);
    let (l, r) = (&left.range, &right.range);
    while i < l.len() || j < r.len() {
        let next = if j == r.len() || (i < l.len() && l[i].begin <= r[j].begin) {
            i += 1;
            l[i - 1]
        } else {
            j += 1;
            r[j - 1]
        };
        match out.last_mut() {
            Some(last) if next.begin <= last.end.saturating_add(1) => {
                last.end = last.end.max(next.end);
            }
            _ => out.push(next),
        }
    }
    left.range = out;
}

/// `left -= right` for coalesced ranges (set difference).
pub fn ranges_subtract(left: &mut Ranges, right: &Ranges) {
    if right.range.is_empty() || left.range.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(left.range.len() + 1);
    let rs = &right.range;
    let mut j = 0;
    for l in &left.range {
        let mut begin = l.begin;
        let end = l.end;
        // Skip right ranges entirely before this left range.
        while j < rs.len() && rs[j].end < begin {
            j += 1;
        }
        let mut k = j;
        let mut alive = true;
        while k < rs.len() && rs[k].begin <= end {
            let r = rs[k];
            if r.begin > begin {
                out.push(Range {
                    begin,
                    end: r.begin - 1,
                });
            }
            if r.end >= end {
                alive = false;
                break;
            }
            begin = r.end + 1;
            k += 1;
        }
        if alive {
            out.push(Range { begin, end });
        }
    }
    left.range = out;
}

/// Whether coalesced `left` contains every number of coalesced `right`.
pub fn ranges_contain(left: &Ranges, right: &Ranges) -> bool {
    let mut i = 0;
    for r in &right.range {
        while i < left.range.len() && left.range[i].end < r.begin {
            i += 1;
        }
        match left.range.get(i) {
            Some(l) if l.begin <= r.begin && r.end <= l.end => {}
            _ => return false,
        }
    }
    true
}

/// Number of values covered by the ranges.
pub fn ranges_len(ranges: &Ranges) -> u64 {
    ranges.range.iter().map(|r| r.end - r.begin + 1).sum()
}

/// Set equality ignores order, as Mesos's `operator==(Value::Set, Value::Set)`.
pub fn sets_equal(left: &Set, right: &Set) -> bool {
    left.item.len() == right.item.len() && right.item.iter().all(|i| left.item.contains(i))
}

/// `left += right`: appends the items of `right` not already present (Mesos keeps order).
pub fn set_add(left: &mut Set, right: &Set) {
    for item in &right.item {
        if !left.item.contains(item) {
            left.item.push(item.clone());
        }
    }
}

/// `left -= right`.
pub fn set_subtract(left: &mut Set, right: &Set) {
    left.item.retain(|i| !right.item.contains(i));
}

/// Whether `left` has every item of `right`.
pub fn set_contains(left: &Set, right: &Set) -> bool {
    right.item.iter().all(|i| left.item.contains(i))
}

/// Mesos's printing of a scalar: the three-decimal value with up to 15 significant digits.
pub fn format_scalar(value: f64) -> String {
    // Printing from the fixed-point integer is exact and equals C++'s `%.15g` of the rounded
    // double for every value below 10^12.
    let fixed = to_fixed(value);
    let sign = if fixed < 0 { "-" } else { "" };
    let (int, frac) = (fixed.unsigned_abs() / 1000, fixed.unsigned_abs() % 1000);
    if frac == 0 {
        format!("{sign}{int}")
    } else {
        let frac = format!("{frac:03}");
        format!("{sign}{int}.{}", frac.trim_end_matches('0'))
    }
}

/// `[1-2, 5-9]`.
pub fn format_ranges(ranges: &Ranges) -> String {
    let parts: Vec<String> = ranges
        .range
        .iter()
        .map(|r| format!("{}-{}", r.begin, r.end))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// `{a, b}`.
pub fn format_set(set: &Set) -> String {
    format!("{{{}}}", set.item.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn rs(v: &[(u64, u64)]) -> Ranges {
        let mut range: Vec<Range> = v.iter().map(|&(begin, end)| Range { begin, end }).collect();
        coalesce(&mut range);
        Ranges { range }
    }

    fn model(r: &Ranges) -> BTreeSet<u64> {
        r.range.iter().flat_map(|r| r.begin..=r.end).collect()
    }

    #[test]
    fn scalars_do_not_drift() {
        assert_eq!(round(0.1 + 0.2), 0.3);
        assert_eq!(from_fixed(to_fixed(0.1) + to_fixed(0.2)), 0.3);
        assert_eq!(format_scalar(1024.0), "1024");
        assert_eq!(format_scalar(0.0001), "0");
        assert_eq!(format_scalar(1.2345), "1.235");
    }

    #[test]
    fn coalesce_merges_adjacent_and_overlapping() {
        assert_eq!(
            rs(&[(3, 4), (1, 2)]).range,
            vec![Range { begin: 1, end: 4 }]
        );
        assert_eq!(rs(&[(1, 5), (2, 3), (7, 8)]), rs(&[(7, 8), (1, 5)]));
        assert_eq!(format_ranges(&rs(&[(7, 8), (1, 5)])), "[1-5, 7-8]");
    }

    fn arb_ranges() -> impl Strategy<Value = Ranges> {
        prop::collection::vec((0u64..60, 0u64..8), 0..6)
            .prop_map(|v| rs(&v.into_iter().map(|(b, l)| (b, b + l)).collect::<Vec<_>>()))
    }

    proptest! {
        #[test]
        fn range_arithmetic_matches_a_set_model(a in arb_ranges(), b in arb_ranges()) {
            let (ma, mb) = (model(&a), model(&b));
            let mut sum = a.clone();
            ranges_add(&mut sum, &b);
            prop_assert!(is_coalesced(&sum.range));
            prop_assert_eq!(model(&sum), ma.union(&mb).copied().collect::<BTreeSet<_>>());
            let mut diff = a.clone();
            ranges_subtract(&mut diff, &b);
            prop_assert!(is_coalesced(&diff.range));
            prop_assert_eq!(model(&diff), ma.difference(&mb).copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(ranges_contain(&a, &b), mb.is_subset(&ma));
            prop_assert_eq!(ranges_len(&a) as usize, ma.len());
        }
    }
}
