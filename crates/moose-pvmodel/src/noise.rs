//! Deterministic 4-D value noise from an integer hash: the randomness behind
//! the synthetic weather, reproducible bit-for-bit from a seed on any platform
//! (lattice values are pure integer arithmetic; interpolation is plain IEEE
//! addition and multiplication).

/// Standard deviation of a corner value uniform on [−1, 1].
const CORNER_STD: f64 = 0.577_350_269_189_625_8;

/// splitmix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix
/// with full avalanche, identical on every platform.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One hashing step of a lattice coordinate into a running hash.
fn hash_step(h: u64, coord: i64) -> u64 {
    mix64(h.wrapping_add(0x9E37_79B9_7F4A_7C15) ^ coord as u64)
}

/// Hash → uniform value in [−1, 1): the 53 high bits are exactly representable in f64.
fn to_unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0) * 2.0 - 1.0
}

/// Quintic fade 6t⁵ − 15t⁴ + 10t³ (Perlin 2002): C² continuous, so kc has no
/// kinks at lattice boundaries.
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// 4-D value noise normalised to unit standard deviation at every position.
///
/// Plain interpolation has less variance between lattice points than on them
/// (a 50/50 blend of two independent values); dividing by the exact standard
/// deviation of the weighted sum keeps e.g. the daily regime as strong at
/// noon as at midnight.
///
/// Corner hashes are built as a prefix tree (x, then y, z, t), 30 mixes
/// instead of 64, and blended by nested interpolation along t, z, y, x.
pub(crate) fn value_noise(key: u64, p: [f64; 4]) -> f64 {
    let base = p.map(f64::floor);
    let idx = base.map(|b| b as i64);
    let mut w = [0.0; 4];
    let mut var_factor = 1.0;
    for d in 0..4 {
        w[d] = fade(p[d] - base[d]);
        var_factor *= (1.0 - w[d]).powi(2) + w[d] * w[d];
    }
    let mut acc_x = [0.0; 2];
    for (i, slot_x) in acc_x.iter_mut().enumerate() {
        let hx = hash_step(key, idx[0] + i as i64);
        let mut acc_y = [0.0; 2];
        for (j, slot_y) in acc_y.iter_mut().enumerate() {
            let hy = hash_step(hx, idx[1] + j as i64);
            let mut acc_z = [0.0; 2];
            for (k, slot_z) in acc_z.iter_mut().enumerate() {
                let hz = hash_step(hy, idx[2] + k as i64);
                let v0 = to_unit(hash_step(hz, idx[3]));
                let v1 = to_unit(hash_step(hz, idx[3] + 1));
                *slot_z = v0 + w[3] * (v1 - v0);
            }
            *slot_y = acc_z[0] + w[2] * (acc_z[1] - acc_z[0]);
        }
        *slot_x = acc_y[0] + w[1] * (acc_y[1] - acc_y[0]);
    }
    let value = acc_x[0] + w[0] * (acc_x[1] - acc_x[0]);
    value / (var_factor.sqrt() * CORNER_STD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_pinned() {
        // Reference values of the splitmix64 finaliser; pins the generator.
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(1), 0x5692_161D_100B_05E5);
        let v = to_unit(hash_step(hash_step(mix64(42), 3), -7));
        assert!((-1.0..1.0).contains(&v));
    }

    #[test]
    fn interpolates_lattice_values_and_is_continuous() {
        let key = mix64(9);
        // On a lattice point the value is the (normalised) corner value.
        let corner = to_unit(hash_step(hash_step(hash_step(hash_step(key, 2), -3), 5), 7));
        assert_eq!(value_noise(key, [2.0, -3.0, 5.0, 7.0]), corner / CORNER_STD);
        // Crossing a cell boundary is continuous.
        let below = value_noise(key, [2.999_999_9, 0.5, 0.5, 0.5]);
        let above = value_noise(key, [3.000_000_1, 0.5, 0.5, 0.5]);
        assert!((below - above).abs() < 1e-6);
    }

    #[test]
    fn unit_variance_everywhere() {
        // Sample at cell centres (lowest raw variance) and at lattice points.
        for offset in [0.0, 0.5] {
            let n = 4_000;
            let key = mix64(77);
            let (mut sum, mut sq) = (0.0, 0.0);
            for i in 0..n {
                let x = f64::from(i) + offset;
                let v = value_noise(key, [x, x * 0.5, -x, x * 0.25 + 0.5 * offset]);
                sum += v;
                sq += v * v;
            }
            let mean = sum / f64::from(n);
            let var = sq / f64::from(n) - mean * mean;
            assert!(
                mean.abs() < 0.1 && (var - 1.0).abs() < 0.15,
                "offset {offset}: {mean} {var}"
            );
        }
    }
}
