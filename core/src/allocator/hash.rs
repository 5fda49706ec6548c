//! A small FxHash-style hasher (the rustc hasher) for the allocator's integer-keyed sets.
//! Keys are internal ids, never attacker-chosen strings, so `SipHash`'s DoS resistance buys
//! nothing there, while it costs a noticeable share of a round (one insert per offer).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash: `(h.rotate_left(5) ^ word) * SEED` per word.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes the top 7 bits as the tag and the low bits as the bucket: fold the
        // well-mixed high half down so that both are spread.
        self.hash ^ (self.hash >> 32)
    }
}

pub(super) type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fx_set_holds_ids() {
        let mut s: FxHashSet<u32> = FxHashSet::default();
        for i in 0..10_000u32 {
            assert!(s.insert(i * 7));
        }
        assert!(!s.insert(70));
        assert_eq!(s.len(), 10_000);
        assert!(s.contains(&(9_999 * 7)));
        assert!(!s.contains(&1));
    }
}
