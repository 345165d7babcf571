//! The verdicts: for each kind, whether one observation is abnormal (`Some(true)`), normal
//! (`Some(false)`) or says nothing (`None`: night, held, unknown). Pure functions; the job
//! feeds them and [`moose_incidents::model::Track`] turns verdicts into open/resolve decisions.

use jiff::SignedDuration;

use crate::observe::Observation;
use moose_incidents::model::Hysteresis;

/// Thresholds of the incident engine. Defaults are documented in `docs/incidents.md`.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The array is expected to produce when the sun is at least this high, degrees.
    pub min_sun_elevation_deg: f64,
    /// Data older than this (while the sun is up) counts as missing for the upstream rule.
    pub stale_after: SignedDuration,
    /// No-data hysteresis; `min_duration` is the default grace period (per-system override in
    /// the status item), counted from the last record, not from the first pass that missed it.
    pub no_data: Hysteresis,
    /// How long a logger Solar.web reports online may leave out records before it counts as
    /// a no-data incident (real loggers leave holes of up to an hour in their history).
    pub online_silence: SignedDuration,
    /// Zero-production hysteresis.
    pub zero_production: Hysteresis,
    /// "Good sun": clear-sky power at least this share of peak power.
    pub good_sun_share: f64,
    /// "Zero": at most this share of peak power. Real thunderstorms leave a few tenths of a
    /// percent; a stopped inverter leaves nothing.
    pub zero_share: f64,
    /// "Producing": more than this share of peak power.
    pub producing_share: f64,
    /// Normal observations (producing, no new fault) that resolve a device error.
    pub device_error_resolve_after: u32,
    /// Underperformance hysteresis, in judged days.
    pub underperformance: Hysteresis,
    /// A day is underperforming below this share of the system's usual ratio to its peers'
    /// median specific yield…
    pub peer_ratio: f64,
    /// …or, before it has a usual ratio, below this share of the peers' median.
    pub peer_ratio_cold: f64,
    /// Peers are systems within this distance, km.
    pub peer_radius_km: f64,
    /// Fewest peers for a peer comparison.
    pub min_peers: usize,
    /// Peers' median specific yield below this (kWh/kWp) means a dark day: no verdict.
    pub min_peer_yield: f64,
    /// Peer comparisons only on clear days: the peers' median performance index at least this.
    pub min_area_pi: f64,
    /// Without peers: underperforming below this share of the system's best recent performance
    /// index.
    pub own_history_ratio: f64,
    /// Upstream outage: at least this share of the fleet stale or unreachable…
    pub upstream_share: f64,
    /// …and at least this many systems.
    pub upstream_min_systems: usize,
    /// Upstream-outage hysteresis (passes).
    pub upstream: Hysteresis,
    /// A logger counts as "reporting a moment ago" when its newest data (from today's
    /// producing hours) is at most this old.
    pub upstream_recent: SignedDuration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            min_sun_elevation_deg: 10.0,
            stale_after: SignedDuration::from_mins(20),
            no_data: Hysteresis {
                open_after: 1,
                resolve_after: 1,
                min_duration: SignedDuration::from_mins(15),
            },
            online_silence: SignedDuration::from_mins(60),
            zero_production: Hysteresis {
                open_after: 3,
                resolve_after: 2,
                min_duration: SignedDuration::from_mins(30),
            },
            good_sun_share: 0.3,
            zero_share: 0.001,
            producing_share: 0.02,
            device_error_resolve_after: 3,
            underperformance: Hysteresis {
                open_after: 2,
                resolve_after: 2,
                min_duration: SignedDuration::ZERO,
            },
            peer_ratio: 0.75,
            peer_ratio_cold: 0.65,
            peer_radius_km: 150.0,
            min_peers: 2,
            min_peer_yield: 1.0,
            own_history_ratio: 0.6,
            min_area_pi: 0.6,
            upstream_share: 0.5,
            upstream_min_systems: 3,
            upstream: Hysteresis {
                open_after: 2,
                resolve_after: 2,
                min_duration: SignedDuration::ZERO,
            },
            upstream_recent: SignedDuration::from_mins(90),
        }
    }
}

impl Rules {
    /// Whether a system has been without data for longer than [`Rules::stale_after`] during
    /// its producing hours. `None` outside them, when Moose cannot tell when they are, and for
    /// a system that has never sent data (nothing can have stopped).
    pub fn stale(&self, obs: &Observation) -> Option<bool> {
        obs.last_data_at?;
        let missing = obs.missing_for()?;
        Some(missing > self.stale_after)
    }

    /// No data during the plant's producing hours for longer than the system's grace period
    /// (the default is `no_data.min_duration`) while Solar.web says the logger is offline or
    /// cannot say, or for longer than [`Rules::online_silence`] while it says the logger is
    /// online: a logger that is connected but leaves half an hour out of its history is a
    /// quirk of real data, not a communication loss. Without a profile or a position Moose
    /// cannot tell night from an outage; only a whole day without data is then surely a
    /// problem.
    pub fn no_data(&self, obs: &Observation) -> Option<bool> {
        self.no_data_with(obs, self.no_data.min_duration)
    }

    /// [`Rules::no_data`] with a system's own grace period.
    pub fn no_data_with(&self, obs: &Observation, grace: SignedDuration) -> Option<bool> {
        let last = obs.last_data_at?;
        if !obs.knows_daylight() {
            return Some(obs.now.duration_since(last) > SignedDuration::from_hours(26));
        }
        let missing = obs.missing_for()?;
        let online = obs.flow.is_some_and(|f| f.online == Some(true));
        let grace = if online {
            grace.max(self.online_silence)
        } else {
            grace
        };
        Some(missing > grace)
    }

    /// Online, at a good time of day, and the system produces (next to) nothing.
    pub fn zero_production(&self, obs: &Observation) -> Option<bool> {
        // A plant that has never reported has not stopped producing: it has not started.
        obs.last_data_at?;
        let peak = obs.peak_w()?;
        let flow = obs.flow?;
        let pv = flow.pv_w?;
        if flow.online != Some(true) || !obs.good_sun(self.good_sun_share)? {
            return None;
        }
        if pv <= self.zero_share * peak {
            Some(true)
        } else if pv > self.producing_share * peak {
            Some(false)
        } else {
            None
        }
    }

    /// Whether the system is demonstrably producing (resolves device errors): online with more
    /// than [`Rules::producing_share`] of its peak power. Little or no power says nothing at
    /// a poor time of day (`None`); at a good time it says "not producing".
    pub fn producing(&self, obs: &Observation) -> Option<bool> {
        let peak = obs.peak_w()?;
        let flow = obs.flow?;
        let clearly =
            flow.online == Some(true) && flow.pv_w.is_some_and(|w| w > self.producing_share * peak);
        if clearly {
            return Some(true);
        }
        obs.good_sun(self.good_sun_share)?.then_some(false)
    }

    /// One day's verdict from the system's specific yield, its peers' yields, its performance
    /// index and its own history.
    ///
    /// Peers differ in orientation and shading, so a system is compared with its *usual*
    /// standing among them: the median of its recent normal days' yield ratios to the peers'
    /// median. Until it has two such days, the absolute [`Rules::peer_ratio_cold`] applies.
    /// Without peers, the yardstick is its best recent performance index.
    pub fn underperformance(&self, day: &DayFigures<'_>) -> Option<bool> {
        if day.peer_yields.len() >= self.min_peers {
            let peers_median = median(day.peer_yields)?;
            // Only clear days in the area are judged: under broken cloud, systems a few
            // kilometres apart see different skies and their ratios mean nothing.
            let area_pi = median(day.peer_pis).unwrap_or(0.0);
            if peers_median < self.min_peer_yield || area_pi < self.min_area_pi {
                return None;
            }
            let ratio = day.specific_yield / peers_median;
            let threshold = match median_of_history(day.recent_peer_ratios) {
                Some(usual) => self.peer_ratio * usual,
                None => self.peer_ratio_cold,
            };
            return Some(ratio < threshold);
        }
        let pi = day.performance_index?;
        let best = day.recent_pi.iter().copied().fold(f64::NAN, f64::max);
        if best.is_nan() || best < 0.5 {
            return None;
        }
        Some(pi < self.own_history_ratio * best)
    }

    /// The fleet's verdict: abnormal when Solar.web calls fail for a large share of the
    /// fleet, or when a large share of the loggers that were reporting a moment ago fall
    /// silent together. Plants that were already quiet (never reported, dead for days, a
    /// logger that starts late) are not evidence of anything upstream and are not counted.
    pub fn upstream(&self, observations: &[Observation]) -> Option<bool> {
        let unreachable = observations.iter().filter(|o| o.is_unreachable()).count();
        let recent: Vec<bool> = observations
            .iter()
            .filter(|o| self.recently_reporting(o))
            .filter_map(|o| self.stale(o))
            .collect();
        let stale = recent.iter().filter(|s| **s).count();
        let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let down_by_errors = unreachable >= self.upstream_min_systems
            && share(unreachable, observations.len()) >= self.upstream_share;
        let down_by_silence =
            stale >= self.upstream_min_systems && share(stale, recent.len()) >= self.upstream_share;
        if down_by_errors || down_by_silence {
            Some(true)
        } else if observations.len() >= self.upstream_min_systems {
            Some(false)
        } else {
            None
        }
    }

    /// Whether a system's data was flowing within [`Rules::upstream_recent`] before its
    /// producing hours' data went missing: only such a system falling silent says something
    /// about Solar.web.
    pub fn recently_reporting(&self, obs: &Observation) -> bool {
        let (Some(last), Some(since)) = (obs.last_data_at, obs.daylight_since) else {
            return false;
        };
        last >= since && obs.now.duration_since(last) <= self.upstream_recent
    }
}

/// One judged day of a system.
#[derive(Debug, Clone, Copy)]
pub struct DayFigures<'a> {
    /// Produced kWh per kWp.
    pub specific_yield: f64,
    /// The peers' specific yields the same day.
    pub peer_yields: &'a [f64],
    /// The peers' performance indices the same day.
    pub peer_pis: &'a [f64],
    /// Produced / clear-sky expected.
    pub performance_index: Option<f64>,
    /// Recent normal days' ratios of the system's yield to its peers' median.
    pub recent_peer_ratios: &'a [f64],
    /// Recent normal days' performance indices.
    pub recent_pi: &'a [f64],
}

fn median_of_history(values: &[f64]) -> Option<f64> {
    if values.len() >= 2 {
        median(values)
    } else {
        None
    }
}

/// The median of non-empty `values`.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// Great-circle distance, km.
pub use moose_pvmodel::position::distance_km;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_decide_underperformance_and_dark_days_say_nothing() {
        let r = Rules::default();
        let day = |y: f64,
                   peers: &'static [f64],
                   pi: Option<f64>,
                   ratios: &'static [f64],
                   pis: &'static [f64]| {
            r.underperformance(&DayFigures {
                specific_yield: y,
                peer_yields: peers,
                peer_pis: &[0.8, 0.85, 0.9],
                performance_index: pi,
                recent_peer_ratios: ratios,
                recent_pi: pis,
            })
        };
        assert_eq!(day(3.0, &[5.0, 5.2, 4.8], None, &[], &[]), Some(true));
        assert_eq!(day(4.5, &[5.0, 5.2, 4.8], None, &[], &[]), Some(false));
        // An east-facing system usually at 70 % of its peers is fine at 68 %…
        assert_eq!(
            day(3.4, &[5.0, 5.2, 4.8], None, &[0.7, 0.72, 0.69], &[]),
            Some(false)
        );
        // …but not at 45 %.
        assert_eq!(
            day(2.25, &[5.0, 5.2, 4.8], None, &[0.7, 0.72, 0.69], &[]),
            Some(true)
        );
        assert_eq!(
            day(0.2, &[0.5, 0.6, 0.4], None, &[], &[]),
            None,
            "a dark day everywhere is not a fault"
        );
        let cloudy = r.underperformance(&DayFigures {
            specific_yield: 1.0,
            peer_yields: &[5.0, 3.0, 4.0],
            peer_pis: &[0.7, 0.3, 0.5],
            performance_index: None,
            recent_peer_ratios: &[],
            recent_pi: &[],
        });
        assert_eq!(cloudy, None, "broken cloud in the area: no verdict");
        // Without peers, the system's own best recent days are the yardstick.
        assert_eq!(day(3.0, &[], Some(0.3), &[], &[0.8, 0.7]), Some(true));
        assert_eq!(day(3.0, &[], Some(0.7), &[], &[0.8, 0.7]), Some(false));
        assert_eq!(day(3.0, &[], Some(0.3), &[], &[]), None);
    }

    use crate::observe::{Flow, Observation, Unreachable};

    fn obs(at: &str, age: Option<i64>, flow: Option<Flow>) -> Observation {
        crate::observe::test_observation(at, age, flow)
    }

    const ONLINE: Flow = Flow {
        online: Some(true),
        pv_w: Some(6000.0),
    };

    #[test]
    fn no_data_only_counts_while_the_sun_is_up() {
        let r = Rules::default();
        let noon = "2026-06-10T10:00:00Z";
        assert_eq!(r.no_data(&obs(noon, Some(5), Some(ONLINE))), Some(false));
        let offline = Flow {
            online: Some(false),
            pv_w: None,
        };
        assert_eq!(
            r.no_data(&obs(noon, Some(20), Some(offline))),
            Some(true),
            "offline past the grace period"
        );
        assert_eq!(
            r.no_data(&obs(noon, Some(50), Some(ONLINE))),
            Some(false),
            "a connected logger's three-quarter-hour hole is a quirk"
        );
        assert_eq!(
            r.no_data(&obs(noon, Some(65), Some(ONLINE))),
            Some(true),
            "connected but silent for too long"
        );
        assert_eq!(
            r.no_data(&obs(noon, Some(5), Some(offline))),
            Some(false),
            "Solar.web's offline flag alone is not missing data: records still arrive"
        );
        assert_eq!(
            r.no_data(&obs(noon, None, Some(ONLINE))),
            None,
            "a system that never sent data has not stopped sending"
        );
        // Midnight: hours without data, and no verdict at all.
        assert_eq!(
            r.no_data(&obs("2026-06-10T22:00:00Z", Some(300), None)),
            None
        );
        // Ten minutes after the sun cleared 10°, the gap counts from then, not from last
        // evening's last record; half an hour later it is a real gap.
        let risen = obs("2026-06-10T06:00:00Z", None, None)
            .daylight_since
            .unwrap();
        let at = |m: i64| (risen + SignedDuration::from_mins(m)).to_string();
        let morning = obs(&at(10), Some(9 * 60), Some(ONLINE));
        assert_eq!(
            r.no_data(&morning),
            Some(false),
            "{:?}",
            morning.missing_for()
        );
        assert_eq!(
            r.no_data(&obs(&at(65), Some(9 * 60), Some(ONLINE))),
            Some(true)
        );
    }

    #[test]
    fn zero_production_needs_good_sun_and_an_online_system() {
        let r = Rules::default();
        let noon = "2026-06-10T10:00:00Z";
        let zero = Flow {
            online: Some(true),
            pv_w: Some(0.0),
        };
        assert_eq!(
            r.zero_production(&obs(noon, Some(5), Some(zero))),
            Some(true)
        );
        assert_eq!(
            r.zero_production(&obs(noon, Some(5), Some(ONLINE))),
            Some(false)
        );
        // A dim evening: no verdict even at zero.
        assert_eq!(
            r.zero_production(&obs("2026-06-10T17:45:00Z", Some(5), Some(zero))),
            None
        );
        // Offline is the no-data rule's business.
        let offline = Flow {
            online: Some(false),
            pv_w: Some(0.0),
        };
        assert_eq!(r.zero_production(&obs(noon, Some(5), Some(offline))), None);
    }

    #[test]
    fn the_fleet_is_down_when_most_systems_are_unreachable_or_stale() {
        let r = Rules::default();
        let noon = "2026-06-10T10:00:00Z";
        let fine: Vec<Observation> = (0..4).map(|_| obs(noon, Some(5), Some(ONLINE))).collect();
        assert_eq!(r.upstream(&fine), Some(false));
        let mut down = fine.clone();
        for o in down.iter_mut().take(3) {
            o.flow = None;
            o.unreachable = Some(Unreachable("503".into()));
        }
        assert_eq!(r.upstream(&down), Some(true), "3 of 4 unreachable");
        let mut stale = fine.clone();
        for o in stale.iter_mut().take(2) {
            o.last_data_at = Some(o.now - SignedDuration::from_mins(40));
        }
        assert_eq!(
            r.upstream(&stale),
            Some(false),
            "2 of 4 is below the minimum of 3 systems"
        );
        for o in stale.iter_mut().take(3) {
            o.last_data_at = Some(o.now - SignedDuration::from_mins(40));
        }
        assert_eq!(r.upstream(&stale), Some(true), "3 of 4 fell silent at once");
        // Plants quiet for days, or that never reported, say nothing about Solar.web.
        let mut quiet = fine;
        quiet[0].last_data_at = None;
        quiet[1].last_data_at = Some(quiet[1].now - SignedDuration::from_hours(72));
        quiet[2].last_data_at = Some(quiet[2].now - SignedDuration::from_hours(30));
        assert_eq!(r.upstream(&quiet), Some(false), "3 of 4 quiet, none newly");
    }

    #[test]
    fn median_and_distance() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let vienna = (48.2082, 16.3738);
        let linz = (48.3069, 14.2858);
        let d = distance_km(vienna, linz);
        assert!((150.0..160.0).contains(&d), "{d}");
    }
}
