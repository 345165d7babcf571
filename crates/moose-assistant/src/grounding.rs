//! Every figure in an answer must come from the turn's own tool results (or the question).
//!
//! A model that writes "your roof made 31 kWh" when the energy tool said 23.46 has invented a
//! number; [`ungrounded`] finds such figures so that the assistant can refuse the model's text
//! (and the eval can score it). A figure is grounded when a number of the sources equals it up
//! to the answer's own rounding, directly or after a unit change (Wh↔kWh↔MWh, fraction↔percent).
//! Small whole numbers (up to 12: counts, list items, months) are not checked.

/// The numbers written in `text`, in order: `1,234.5` is one number, a date `2026-06-10` is
/// three (2026, 6, 10), `447` is one. Each comes with the half-width of its last written digit
/// (`23.46` → 0.005), the rounding a writer may have applied.
pub fn numbers_in(text: &str) -> Vec<(f64, f64)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Digits of an identifier (`a-1`, `call_2`, `x86`) are not figures.
        let joined = |c: char| c.is_alphabetic() || c == '_';
        let in_word = i > 0
            && (joined(chars[i - 1]) || (chars[i - 1] == '-' && i > 1 && joined(chars[i - 2])));
        let mut s = String::new();
        let mut decimals: Option<usize> = None;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                s.push(c);
                if let Some(d) = decimals.as_mut() {
                    *d += 1;
                }
                i += 1;
            } else if c == ','
                && decimals.is_none()
                && chars
                    .get(i + 1..i + 4)
                    .is_some_and(|n| n.iter().all(char::is_ascii_digit))
                && chars.get(i + 4).is_none_or(|n| !n.is_ascii_digit())
            {
                i += 1; // a thousands separator
            } else if c == '.'
                && decimals.is_none()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
            {
                s.push('.');
                decimals = Some(0);
                i += 1;
            } else {
                break;
            }
        }
        if in_word {
            continue;
        }
        if let Ok(n) = s.parse::<f64>() {
            let half = 0.5 * 10f64.powi(-(decimals.unwrap_or(0) as i32));
            out.push((n, half));
        }
    }
    out
}

/// Unit changes a writer may apply to a source figure.
const SCALES: [f64; 5] = [1.0, 0.001, 1000.0, 100.0, 0.01];

/// Whether `n` (written with rounding `half`) is `m` under some unit change.
fn matches(n: f64, half: f64, m: f64) -> bool {
    SCALES.iter().any(|s| {
        let v = m * s;
        (n - v).abs() <= half + 1e-9 * v.abs().max(1.0)
    })
}

/// The figures of `answer` that none of `sources` supports, as written.
pub fn ungrounded(answer: &str, sources: &[&str]) -> Vec<f64> {
    let pool: Vec<f64> = sources
        .iter()
        .flat_map(|s| numbers_in(s))
        .map(|(n, _)| n)
        .collect();
    numbers_in(answer)
        .into_iter()
        .filter(|(n, _)| !(n.fract() == 0.0 && *n <= 12.0))
        .filter(|(n, half)| !pool.iter().any(|m| matches(*n, *half, *m)))
        .map(|(n, _)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_written() {
        let n: Vec<f64> = numbers_in("made 1,234.5 kWh on 2026-06-10 (code 447), 3,4 and a-1")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(n, vec![1234.5, 2026.0, 6.0, 10.0, 447.0, 3.0, 4.0]);
        assert_eq!(numbers_in("23.46")[0].1, 0.005);
    }

    #[test]
    fn rounded_and_converted_figures_are_grounded_and_invented_ones_are_not() {
        let tool = r#"{"produced_wh": 23456.0, "performance_index": 0.8123}"#;
        assert!(ungrounded("It produced 23.46 kWh, 23.5 kWh rounded, PI 81%.", &[tool]).is_empty());
        assert!(ungrounded("It produced 23,456 Wh.", &[tool]).is_empty());
        assert_eq!(ungrounded("It produced 31.2 kWh.", &[tool]), vec![31.2]);
        assert!(ungrounded("Check the 3 strings in 2 steps.", &[]).is_empty());
        assert_eq!(ungrounded("Expect 480 V.", &[tool]), vec![480.0]);
    }
}
