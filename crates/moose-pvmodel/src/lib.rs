//! PV physics without I/O for Moose.
//!
//! Used by the Solar.web simulator (5-minute production of many simulated
//! systems), by KPIs (clear-sky expected energy, performance index) and by
//! alerting (is the sun high enough for the array to produce?).
//!
//! The chain is: [`sun_position`] (NOAA / Meeus) → [`clear_sky`]
//! (Ineichen–Perez) → optionally [`cloudy`] with a [`Weather`] clearness index
//! → [`plane_of_array`] (Hay–Davies) → [`cell_temperature_c`] (Faiman) →
//! [`dc_power_w`] / [`ac_power_w`] (PVWatts style). Per-slot functions take and
//! return plain `Copy` values and never allocate; when many systems share a
//! timestamp, compute a [`SolarEphemeris`] once and call
//! [`SolarEphemeris::position`] per site.

mod array;
mod expected;
mod irradiance;
mod noise;
pub mod position;
mod sun;
mod sun_times;
mod weather;

pub use array::{
    ArrayGeometry, FAIMAN_U0, FAIMAN_U1, INVERTER_START_FRACTION, PvSystemModel, ac_power_w,
    angle_of_incidence_deg, cell_temperature_c, cos_angle_of_incidence, dc_power_w, plane_of_array,
};
pub use expected::{
    EXPECTED_AMBIENT_C, EXPECTED_WIND_M_S, clear_sky_ac_power_w, expected_energy_wh,
    weather_ac_power_w,
};
pub use irradiance::{
    DEFAULT_LINKE_TURBIDITY, Irradiance, SOLAR_CONSTANT_W_M2, beam_clear_sky_index, clear_sky,
    clear_sky_with, cloudy, extraterrestrial_normal, relative_air_mass,
};
pub use sun::{Site, SolarEphemeris, SunPosition, is_producing_sun, refraction_deg, sun_position};
pub use sun_times::sun_times;
pub use weather::{Weather, WeatherSample};
