//! Generates a fleet from a seed: real places and time zones, realistic sizes and hardware.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use moose_pvmodel::{ArrayGeometry, PvSystemModel, Site};

use crate::rng::{Rng, guid};

/// A place systems cluster around: (city, country code, latitude, longitude, IANA zone).
type City = (&'static str, &'static str, f64, f64, &'static str);

/// Cities in Fronius's markets. Systems are scattered within ~25 km of one, so every system has
/// neighbours under correlated weather (what peer comparison needs).
const CITIES: &[City] = &[
    ("Wels", "AT", 48.16, 14.03, "Europe/Vienna"),
    ("Linz", "AT", 48.31, 14.29, "Europe/Vienna"),
    ("Graz", "AT", 47.07, 15.44, "Europe/Vienna"),
    ("Salzburg", "AT", 47.81, 13.04, "Europe/Vienna"),
    ("Innsbruck", "AT", 47.27, 11.40, "Europe/Vienna"),
    ("Vienna", "AT", 48.21, 16.37, "Europe/Vienna"),
    ("Munich", "DE", 48.14, 11.58, "Europe/Berlin"),
    ("Stuttgart", "DE", 48.78, 9.18, "Europe/Berlin"),
    ("Freiburg", "DE", 47.99, 7.85, "Europe/Berlin"),
    ("Cologne", "DE", 50.94, 6.96, "Europe/Berlin"),
    ("Hamburg", "DE", 53.55, 9.99, "Europe/Berlin"),
    ("Berlin", "DE", 52.52, 13.40, "Europe/Berlin"),
    ("Zurich", "CH", 47.38, 8.54, "Europe/Zurich"),
    ("Brno", "CZ", 49.20, 16.61, "Europe/Prague"),
    ("Utrecht", "NL", 52.09, 5.12, "Europe/Amsterdam"),
    ("Bristol", "GB", 51.45, -2.59, "Europe/London"),
    ("Milan", "IT", 45.46, 9.19, "Europe/Rome"),
    ("Bologna", "IT", 44.49, 11.34, "Europe/Rome"),
    ("Rome", "IT", 41.90, 12.50, "Europe/Rome"),
    ("Palermo", "IT", 38.12, 13.36, "Europe/Rome"),
    ("Madrid", "ES", 40.42, -3.70, "Europe/Madrid"),
    ("Seville", "ES", 37.39, -5.98, "Europe/Madrid"),
    ("Valencia", "ES", 39.47, -0.38, "Europe/Madrid"),
    ("Sydney", "AU", -33.87, 151.21, "Australia/Sydney"),
    ("Brisbane", "AU", -27.47, 153.03, "Australia/Brisbane"),
    ("Adelaide", "AU", -34.93, 138.60, "Australia/Adelaide"),
    ("Perth", "AU", -31.95, 115.86, "Australia/Perth"),
    ("Melbourne", "AU", -37.81, 144.96, "Australia/Melbourne"),
    ("Sao Paulo", "BR", -23.55, -46.63, "America/Sao_Paulo"),
    ("Belo Horizonte", "BR", -19.92, -43.94, "America/Sao_Paulo"),
    ("Guadalajara", "MX", 20.67, -103.35, "America/Mexico_City"),
    ("Phoenix", "US", 33.45, -112.07, "America/Phoenix"),
    ("Sacramento", "US", 38.58, -121.49, "America/Los_Angeles"),
    ("Cape Town", "ZA", -33.92, 18.42, "Africa/Johannesburg"),
    ("Johannesburg", "ZA", -26.20, 28.05, "Africa/Johannesburg"),
    ("Pune", "IN", 18.52, 73.86, "Asia/Kolkata"),
];

/// One simulated inverter.
#[derive(Debug, Clone)]
pub struct SimInverter {
    /// Device GUID.
    pub id: String,
    /// Model name.
    pub model: &'static str,
    /// Serial number.
    pub serial: String,
    /// Fronius node type.
    pub node_type: i64,
    /// Nominal AC power, W (clipping level).
    pub nominal_ac_w: f64,
    /// DC peak power per MPP tracker, W.
    pub mppt_peak_w: Vec<f64>,
}

impl SimInverter {
    /// DC peak of all its trackers.
    pub fn dc_peak_w(&self) -> f64 {
        self.mppt_peak_w.iter().sum()
    }

    /// Its electrical model.
    pub fn model_params(&self) -> PvSystemModel {
        PvSystemModel {
            dc_peak_w: self.dc_peak_w(),
            ac_nominal_w: self.nominal_ac_w,
            gamma_per_c: -0.0037,
            inverter_efficiency: 0.97,
            system_losses: 0.10,
        }
    }
}

/// A simulated battery.
#[derive(Debug, Clone)]
pub struct SimBattery {
    /// Device GUID.
    pub id: String,
    /// Usable capacity, Wh.
    pub capacity_wh: f64,
    /// Largest charge/discharge power, W.
    pub max_power_w: f64,
    /// Lowest state of charge, %.
    pub min_soc: f64,
}

/// One simulated PV system.
#[derive(Debug, Clone)]
pub struct SimSystem {
    /// Position in the fleet.
    pub index: usize,
    /// `pvSystemId`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// City it is near.
    pub city: &'static str,
    /// Country code.
    pub country: &'static str,
    /// Location.
    pub site: Site,
    /// IANA zone name.
    pub tz_name: &'static str,
    /// The zone.
    pub tz: TimeZone,
    /// Array orientation.
    pub array: ArrayGeometry,
    /// Installation date (local).
    pub installation_date: Date,
    /// Inverters (1-3, each 1-3 MPP trackers).
    pub inverters: Vec<SimInverter>,
    /// Battery, on some systems.
    pub battery: Option<SimBattery>,
    /// Primary grid meter id, on most systems (without one, consumption is unknown).
    pub meter_id: Option<String>,
    /// Datalogger id.
    pub datalogger_id: String,
    /// Average household/business load, W.
    pub load_base_w: f64,
    /// Measured production that replaces the model (replayed real plants).
    pub replay: Option<std::sync::Arc<crate::replay::Replay>>,
}

impl SimSystem {
    /// DC peak power, W.
    pub fn peak_power_w(&self) -> f64 {
        self.inverters.iter().map(SimInverter::dc_peak_w).sum()
    }
}

/// The whole simulated fleet.
#[derive(Debug)]
pub struct Fleet {
    /// The seed it was generated from.
    pub seed: u64,
    /// The systems, in generation order.
    pub systems: Vec<SimSystem>,
    by_id: HashMap<String, usize>,
}

impl Fleet {
    /// Generates `count` systems from `seed`, installed `install_days` (min, max) days before
    /// `reference` (the simulation start).
    pub fn generate(seed: u64, count: usize, reference: Date, install_days: (i64, i64)) -> Self {
        let systems: Vec<SimSystem> = (0..count)
            .map(|i| generate_system(seed, i, reference, install_days))
            .collect();
        let by_id = systems.iter().map(|s| (s.id.clone(), s.index)).collect();
        Self {
            seed,
            systems,
            by_id,
        }
    }

    /// A fleet of given systems (replayed plants); their `index` must be their position.
    pub fn from_systems(seed: u64, systems: Vec<SimSystem>) -> Self {
        let by_id = systems.iter().map(|s| (s.id.clone(), s.index)).collect();
        Self {
            seed,
            systems,
            by_id,
        }
    }

    /// Looks a system up by id.
    pub fn get(&self, id: &str) -> Option<&SimSystem> {
        self.by_id.get(id).map(|&i| &self.systems[i])
    }
}

#[allow(clippy::cast_possible_truncation)]
fn generate_system(
    seed: u64,
    index: usize,
    reference: Date,
    install_days: (i64, i64),
) -> SimSystem {
    let mut rng = Rng::new(seed, index as u64);
    let (city, country, lat, lon, tz_name) = CITIES[rng.pick(CITIES.len())];
    let site = Site {
        latitude_deg: lat + rng.range(-0.22, 0.22),
        longitude_deg: lon + rng.range(-0.3, 0.3),
        altitude_m: rng.range(50.0, 600.0),
    };
    let class = rng.unit();
    let peak_kw = if class < 0.6 {
        rng.range(3.0, 15.0)
    } else if class < 0.9 {
        rng.range(15.0, 100.0)
    } else {
        rng.range(100.0, 250.0)
    };
    let peak_w = (peak_kw * 1000.0 / 100.0).round() * 100.0;
    let residential = peak_kw < 15.0;
    let facing = if lat >= 0.0 { 180.0 } else { 0.0 };
    let azimuth = (facing + rng.range(-60.0, 60.0)).rem_euclid(360.0);
    let tilt = if residential {
        rng.range(15.0, 40.0)
    } else {
        rng.range(5.0, 20.0)
    };
    let array = ArrayGeometry {
        tilt_deg: tilt,
        azimuth_deg: azimuth,
        albedo: 0.2,
    };

    let n_inverters = if peak_kw <= 20.0 {
        1
    } else if peak_kw <= 60.0 {
        2
    } else {
        3
    };
    // Inverter loading ratio: most systems slightly oversized on DC; one in ten strongly, so
    // clipping shows up in the fleet.
    let ilr = if rng.chance(0.1) {
        rng.range(1.35, 1.5)
    } else {
        rng.range(1.0, 1.25)
    };
    let inverters = (0..n_inverters)
        .map(|k| {
            let dc = peak_w / f64::from(n_inverters);
            let mppts = if dc < 5000.0 {
                1 + rng.pick(2)
            } else {
                1 + rng.pick(3)
            };
            // Uneven strings: the first tracker takes the larger share.
            let first_share = if mppts == 1 { 1.0 } else { rng.range(0.5, 0.7) };
            let mut mppt_peak_w = vec![dc * first_share];
            for _ in 1..mppts {
                mppt_peak_w.push(dc * (1.0 - first_share) / (mppts - 1) as f64);
            }
            let nominal = ((dc / ilr) / 100.0).round() * 100.0;
            let (model, node_type) = model_for(nominal);
            SimInverter {
                id: guid(seed, &[index as u64, 1, k as u64]),
                model,
                serial: format!("{:08}", rng.next_u64() % 100_000_000),
                node_type,
                nominal_ac_w: nominal,
                mppt_peak_w,
            }
        })
        .collect();
    let battery = (residential && rng.chance(0.35)).then(|| SimBattery {
        id: guid(seed, &[index as u64, 2]),
        capacity_wh: (rng.range(5.0, 15.0) * 10.0).round() * 100.0,
        max_power_w: rng.range(3000.0, 8000.0).round(),
        min_soc: 5.0,
    });
    let meter_id = rng.chance(0.75).then(|| guid(seed, &[index as u64, 3]));
    let load_base_w = if residential {
        rng.range(200.0, 600.0)
    } else {
        peak_w * rng.range(0.15, 0.4)
    };
    let days_ago = install_days.0
        + (rng.next_u64() % (install_days.1 - install_days.0 + 1).max(1) as u64) as i64;
    let installation_date = reference
        .checked_sub(jiff::Span::new().days(days_ago))
        .unwrap_or(reference);
    SimSystem {
        index,
        id: guid(seed, &[index as u64, 0]),
        name: format!("{city} PV {}", index + 1),
        city,
        country,
        site,
        tz_name,
        tz: TimeZone::get(tz_name).unwrap_or(TimeZone::UTC),
        array,
        installation_date,
        inverters,
        battery,
        meter_id,
        datalogger_id: format!("240.{:06}", seed.wrapping_add(index as u64) % 1_000_000),
        load_base_w,
        replay: None,
    }
}

/// A plausible Fronius model for a nominal AC power.
fn model_for(nominal_w: f64) -> (&'static str, i64) {
    match nominal_w {
        w if w <= 6_000.0 => ("Primo GEN24 5.0 Plus", 254),
        w if w <= 10_000.0 => ("Symo GEN24 10.0 Plus", 254),
        w if w <= 20_000.0 => ("Symo 20.0-3-M", 97),
        w if w <= 50_000.0 => ("Tauro 50-3-D", 121),
        _ => ("Tauro Eco 100-3-D", 121),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_plausible() {
        let day = jiff::civil::date(2026, 6, 1);
        let a = Fleet::generate(7, 200, day, (30, 700));
        let b = Fleet::generate(7, 200, day, (30, 700));
        assert_eq!(
            a.systems.iter().map(|s| &s.id).collect::<Vec<_>>(),
            b.systems.iter().map(|s| &s.id).collect::<Vec<_>>()
        );
        let ids: std::collections::HashSet<_> = a.systems.iter().map(|s| &s.id).collect();
        assert_eq!(ids.len(), 200, "ids are unique");
        for s in &a.systems {
            assert!(
                (3000.0..=250_000.0).contains(&s.peak_power_w()),
                "{}",
                s.peak_power_w()
            );
            assert!((1..=3).contains(&s.inverters.len()));
            assert!(
                s.inverters
                    .iter()
                    .all(|i| (1..=3).contains(&i.mppt_peak_w.len()) && i.nominal_ac_w > 0.0)
            );
            assert!(s.installation_date < day);
            assert!(s.tz != TimeZone::UTC || s.tz_name == "UTC");
        }
        assert!(a.systems.iter().any(|s| s.battery.is_some()));
        assert!(a.systems.iter().any(|s| s.meter_id.is_none()));
        assert!(
            a.systems.iter().any(|s| s.site.latitude_deg < 0.0),
            "both hemispheres"
        );
        assert_eq!(a.get(&a.systems[5].id).unwrap().index, 5);
    }
}
