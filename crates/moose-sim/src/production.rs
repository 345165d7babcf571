//! What each simulated system produces, consumes, stores and exchanges with the grid, one local
//! day at a time, in integer milliwatt-hours so that every sum the API shows is exact.
//!
//! A day is simulated as a whole because the battery carries state from slot to slot. Each day
//! starts with the battery at its minimum state of charge (it is assumed to have covered the
//! night's load), which makes every day independent of the ones before it: any system-day can be
//! generated on its own, in any order, and always comes out the same.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_pvmodel::{
    Weather, ac_power_w, cell_temperature_c, clear_sky, cloudy, dc_power_w,
    extraterrestrial_normal, plane_of_array, sun_position,
};

use crate::faults::{FaultKind, Scenario};
use crate::fleet::SimSystem;
use crate::rng;

/// Length of one record.
pub const SLOT_SECS: i64 = 300;

/// System energy channels per slot, in mWh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotEnergy {
    /// PV energy out of the inverters (AC).
    pub production: i64,
    /// Energy exported to the grid.
    pub feed_in: i64,
    /// Energy imported from the grid.
    pub purchased: i64,
    /// Energy consumed on site.
    pub consumption: i64,
    /// Energy into the battery (from PV).
    pub batt_charge: i64,
    /// Energy out of the battery (to the load).
    pub batt_discharge: i64,
}

impl SlotEnergy {
    /// PV energy used on site, battery charging included
    /// (`EnergyProductionTotal = EnergyFeedIn + EnergySelfConsumptionTotal`).
    pub fn self_consumption_total(&self) -> i64 {
        self.production - self.feed_in
    }

    /// Inverter AC output (`EnergyOutput`): PV minus what went into the battery plus what came out.
    pub fn output(&self) -> i64 {
        self.production - self.batt_charge + self.batt_discharge
    }

    fn add(&mut self, o: &Self) {
        self.production += o.production;
        self.feed_in += o.feed_in;
        self.purchased += o.purchased;
        self.consumption += o.consumption;
        self.batt_charge += o.batt_charge;
        self.batt_discharge += o.batt_discharge;
    }
}

/// One system's local day.
#[derive(Debug, Clone)]
pub struct DaySeries {
    /// The local date.
    pub date: Date,
    /// Start of the first slot (local midnight).
    pub start: Timestamp,
    /// System energies per slot.
    pub slots: Vec<SlotEnergy>,
    /// Per inverter, AC energy per slot (mWh): `inverter[i][slot]`.
    pub inverter: Vec<Vec<i64>>,
    /// Battery state of charge at the end of each slot, % (empty without battery).
    pub soc: Vec<f32>,
    /// Slots the logger sends no record for (replayed plants: holes in the source, and
    /// zero-production slots of loggers that send nothing then). Empty: every slot has one.
    pub absent: Vec<bool>,
}

impl DaySeries {
    /// Start time of slot `i`.
    pub fn slot_start(&self, i: usize) -> Timestamp {
        self.start + SignedDuration::from_secs(i as i64 * SLOT_SECS)
    }

    /// The slot containing `t`, if it is in this day.
    pub fn slot_index(&self, t: Timestamp) -> Option<usize> {
        let secs = t.duration_since(self.start).as_secs();
        let i = usize::try_from(secs / SLOT_SECS).ok()?;
        (secs >= 0 && i < self.slots.len()).then_some(i)
    }

    /// Whether the logger sends a record for slot `i`.
    pub fn recorded(&self, i: usize) -> bool {
        !self.absent.get(i).copied().unwrap_or(false)
    }

    /// Sum of slots `0..n` (the whole day when `n >= len`).
    pub fn total(&self, n: usize) -> SlotEnergy {
        let mut sum = SlotEnergy::default();
        for slot in self.slots.iter().take(n) {
            sum.add(slot);
        }
        sum
    }
}

/// Local midnight of `date` at the system's site.
pub fn local_midnight(system: &SimSystem, date: Date) -> Timestamp {
    date.to_zoned_datetime(system.tz.clone())
        .and_then(|z| z.start_of_day())
        .map_or_else(
            |_| {
                date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .expect("UTC dates always resolve")
                    .timestamp()
            },
            |z| z.timestamp(),
        )
}

/// The local date of `t` at the system's site.
pub fn local_date(system: &SimSystem, t: Timestamp) -> Date {
    t.to_zoned_datetime(system.tz.clone()).date()
}

fn to_mwh(power_w: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let e = (power_w * SLOT_SECS as f64 / 3.6).round() as i64;
    e.max(0)
}

/// Simulates one local day of one system.
pub fn simulate_day(
    system: &SimSystem,
    date: Date,
    weather: &Weather,
    scenario: &Scenario,
    seed: u64,
) -> DaySeries {
    let start = local_midnight(system, date);
    let end = date
        .tomorrow()
        .map_or(start + SignedDuration::from_hours(24), |d| {
            local_midnight(system, d)
        });
    let n = usize::try_from(end.duration_since(start).as_secs() / SLOT_SECS).unwrap_or(288);
    let faults: Vec<_> = scenario.for_system(system.index).collect();
    if let Some(replay) = &system.replay {
        return replay_day(replay, date, start, n, &faults);
    }
    let models: Vec<_> = system
        .inverters
        .iter()
        .map(crate::fleet::SimInverter::model_params)
        .collect();

    let mut slots = Vec::with_capacity(n);
    let mut inverter = vec![Vec::with_capacity(n); system.inverters.len()];
    let mut soc = Vec::with_capacity(if system.battery.is_some() { n } else { 0 });
    let mut stored_wh = system
        .battery
        .as_ref()
        .map_or(0.0, |b| b.capacity_wh * b.min_soc / 100.0);

    for i in 0..n {
        let slot_start = start + SignedDuration::from_secs(i as i64 * SLOT_SECS);
        let mid = slot_start + SignedDuration::from_secs(SLOT_SECS / 2);
        let sun = sun_position(&system.site, mid);
        let mut production = 0i64;
        if sun.elevation_deg > 0.0 {
            let irr = cloudy(
                &clear_sky(&system.site, &sun, mid),
                weather.clearness(&system.site, mid),
            );
            let poa = plane_of_array(&system.array, &sun, &irr, extraterrestrial_normal(mid));
            let tc = cell_temperature_c(
                poa,
                weather.ambient_c(&system.site, mid),
                weather.wind_m_s(&system.site, mid),
            );
            for (k, (inv, model)) in system.inverters.iter().zip(&models).enumerate() {
                let ac = inverter_ac(inv, model, k, poa, tc, mid, &faults);
                let e = to_mwh(ac);
                inverter[k].push(e);
                production += e;
            }
        } else {
            for series in &mut inverter {
                series.push(0);
            }
        }
        let load = to_mwh(load_w(system, slot_start, seed));
        let mut e = SlotEnergy {
            production,
            consumption: load,
            ..SlotEnergy::default()
        };
        let (surplus, deficit) = ((production - load).max(0), (load - production).max(0));
        if let Some(b) = &system.battery {
            let step_mwh = to_mwh(b.max_power_w);
            #[allow(clippy::cast_possible_truncation)]
            let room = ((b.capacity_wh - stored_wh) * 1000.0).max(0.0) as i64;
            #[allow(clippy::cast_possible_truncation)]
            let available =
                ((stored_wh - b.capacity_wh * b.min_soc / 100.0) * 1000.0).max(0.0) as i64;
            e.batt_charge = surplus.min(step_mwh).min(room);
            e.batt_discharge = deficit.min(step_mwh).min(available);
            #[allow(clippy::cast_precision_loss)]
            {
                stored_wh += (e.batt_charge - e.batt_discharge) as f64 / 1000.0;
            }
            #[allow(clippy::cast_possible_truncation)]
            soc.push((stored_wh / b.capacity_wh * 100.0) as f32);
        }
        e.feed_in = surplus - e.batt_charge;
        e.purchased = deficit - e.batt_discharge;
        slots.push(e);
    }
    DaySeries {
        date,
        start,
        slots,
        inverter,
        soc,
        absent: Vec::new(),
    }
}

/// A replayed plant's day: the measured energy per slot, with the scenario's production faults
/// applied (an offline inverter or a 4xx fault makes nothing; a stuck sensor repeats the value
/// of the slot it stuck at).
fn replay_day(
    replay: &crate::replay::Replay,
    date: Date,
    start: Timestamp,
    n: usize,
    faults: &[&crate::faults::Fault],
) -> DaySeries {
    let mut slots = Vec::with_capacity(n);
    let mut absent = Vec::with_capacity(n);
    for i in 0..n {
        let t = start + SignedDuration::from_secs(i as i64 * SLOT_SECS);
        let mut wh = replay.at(t);
        // An inverter in a fault state is powered and reports zeros; one that is off does not.
        let mut reports_zero = replay.zero_records;
        for f in faults.iter().filter(|f| f.active_at(t)) {
            match f.kind {
                FaultKind::InverterOffline => wh = wh.map(|_| 0.0),
                FaultKind::ErrorMessage if matches!(f.code, Some(400..=499)) => {
                    wh = wh.map(|_| 0.0);
                    reports_zero = true;
                }
                FaultKind::StaleSensor => {
                    let stuck = replay.at(f.from).or(wh).unwrap_or(0.0);
                    wh = Some(stuck.max(f.rate.unwrap_or(0.0)));
                }
                _ => {}
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let production = wh.map_or(0, |w| (w.max(0.0) * 1000.0).round() as i64);
        absent.push(wh.is_none() || (production == 0 && !reports_zero));
        slots.push(SlotEnergy {
            production,
            ..SlotEnergy::default()
        });
    }
    let inverter = vec![slots.iter().map(|s| s.production).collect()];
    DaySeries {
        date,
        start,
        slots,
        inverter,
        soc: Vec::new(),
        absent,
    }
}

/// AC power of one inverter at `t` (mid-slot), with the scenario's hardware faults applied.
fn inverter_ac(
    inv: &crate::fleet::SimInverter,
    model: &moose_pvmodel::PvSystemModel,
    k: usize,
    poa: f64,
    tc: f64,
    t: Timestamp,
    faults: &[&crate::faults::Fault],
) -> f64 {
    let mut dc_factor = 1.0;
    let mut ac_cap = 1.0;
    for f in faults.iter().filter(|f| f.inverter.is_none_or(|i| i == k)) {
        let active = f.active_at(t);
        match f.kind {
            FaultKind::InverterOffline if active => return 0.0,
            FaultKind::ErrorMessage if active => match f.code {
                Some(400..=499) => return 0.0,
                Some(567) => ac_cap = 0.7_f64.min(ac_cap),
                _ => {}
            },
            FaultKind::StringFailure if active => {
                if let Some(dead) = f.mppt.and_then(|m| inv.mppt_peak_w.get(m)) {
                    dc_factor *= 1.0 - dead / inv.dc_peak_w();
                }
            }
            FaultKind::Soiling if active => {
                let days = t.duration_since(f.from).as_secs_f64() / 86_400.0;
                dc_factor *= 1.0 - (f.rate.unwrap_or(0.0) * days).min(0.3);
            }
            FaultKind::UndersizedInverter if active => ac_cap = ac_cap.min(f.rate.unwrap_or(1.0)),
            FaultKind::Degradation if active => {
                let years = t.duration_since(f.from).as_secs_f64() / (365.25 * 86_400.0);
                dc_factor *= (1.0 - f.rate.unwrap_or(0.0)).powf(years);
            }
            _ => {}
        }
    }
    let dc = dc_power_w(model, poa, tc) * dc_factor;
    ac_power_w(model, dc).min(model.ac_nominal_w * ac_cap)
}

/// Site load at `t`: a base load shaped by the local hour (morning and evening peaks, a midday
/// dip), with deterministic noise per slot.
fn load_w(system: &SimSystem, t: Timestamp, seed: u64) -> f64 {
    let local = t.to_zoned_datetime(system.tz.clone());
    let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
    let bump =
        |center: f64, width: f64, height: f64| height * (-((hour - center) / width).powi(2)).exp();
    let shape = 0.6 + bump(7.5, 1.2, 0.9) + bump(12.5, 2.5, 0.3) + bump(19.5, 2.0, 1.2);
    #[allow(clippy::cast_sign_loss)]
    let noise = rng::range(
        seed,
        &[system.index as u64, t.as_second() as u64, 77],
        0.75,
        1.25,
    );
    system.load_base_w * shape * noise
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Fleet;

    #[test]
    fn a_summer_day_produces_by_day_and_balances_every_slot() {
        let fleet = Fleet::generate(3, 40, jiff::civil::date(2026, 6, 20), (10, 20));
        let weather = Weather::new(3);
        let scenario = Scenario::default();
        for system in fleet
            .systems
            .iter()
            .filter(|s| s.site.latitude_deg > 30.0)
            .take(5)
        {
            let day = simulate_day(
                system,
                jiff::civil::date(2026, 6, 21),
                &weather,
                &scenario,
                3,
            );
            assert_eq!(day.slots.len(), 288);
            let total = day.total(usize::MAX);
            #[allow(clippy::cast_precision_loss)]
            let specific_yield = total.production as f64 / 1e6 / (system.peak_power_w() / 1000.0);
            assert!(
                (0.3..8.0).contains(&specific_yield),
                "kWh/kWp on a June day: {specific_yield}"
            );
            let night = day
                .slot_index(day.start + SignedDuration::from_hours(1))
                .unwrap();
            assert_eq!(
                day.slots[night].production, 0,
                "no production at 01:00 local"
            );
            for s in &day.slots {
                assert_eq!(
                    s.production + s.purchased + s.batt_discharge,
                    s.consumption + s.feed_in + s.batt_charge,
                    "energy balance"
                );
                assert!(s.feed_in >= 0 && s.purchased >= 0 && s.batt_charge >= 0);
            }
            let per_inverter: i64 = day.inverter.iter().flatten().sum();
            assert_eq!(per_inverter, total.production);
        }
    }

    #[test]
    fn dst_days_have_23_or_25_hours() {
        let fleet = Fleet::generate(3, 60, jiff::civil::date(2026, 3, 1), (10, 20));
        let vienna = fleet
            .systems
            .iter()
            .find(|s| s.tz_name == "Europe/Vienna")
            .unwrap();
        let day = simulate_day(
            vienna,
            jiff::civil::date(2026, 3, 29),
            &Weather::new(1),
            &Scenario::default(),
            1,
        );
        assert_eq!(day.slots.len(), 276);
    }
}
