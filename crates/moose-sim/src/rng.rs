//! Deterministic pseudo-randomness: everything the simulator invents is a pure function of the
//! seed and a few integers, so any system, day or slot can be generated on its own, in any order,
//! and always comes out the same.

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hashes a seed and a list of integers.
pub(crate) fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix(seed), |acc, p| {
        mix(acc ^ p.wrapping_mul(0x2545_F491_4F6C_DD1D))
    })
}

/// A number in `[0, 1)` derived from the seed and parts.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn unit(seed: u64, parts: &[u64]) -> f64 {
    (hash(seed, parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A number in `[low, high)`.
pub(crate) fn range(seed: u64, parts: &[u64], low: f64, high: f64) -> f64 {
    low + (high - low) * unit(seed, parts)
}

/// A GUID-shaped id (8-4-4-4-12 hex), as Solar.web uses for systems and devices.
pub(crate) fn guid(seed: u64, parts: &[u64]) -> String {
    let a = hash(seed, parts);
    let b = mix(a ^ 0xA5A5_A5A5);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// A simple sequential generator for places where order is fixed (fleet generation).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self(hash(seed, &[stream]))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        assert_eq!(hash(7, &[1, 2]), hash(7, &[1, 2]));
        assert_ne!(hash(7, &[1, 2]), hash(7, &[2, 1]));
        assert_ne!(hash(7, &[1]), hash(8, &[1]));
        let mean: f64 = (0..10_000).map(|i| unit(1, &[i])).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let g = guid(1, &[2]);
        assert_eq!(g.len(), 36);
        assert_eq!(g, guid(1, &[2]));
    }
}
