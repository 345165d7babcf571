//! A simulated fleet of Fronius PV systems that serves the Solar.web Query API.
//!
//! It is how people try Moose without Solar.web credentials (`moose serve --demo`, `moose sim`),
//! how Moose's tests exercise the client and pollers against a real HTTP server, and how we
//! measure detection and scale. The fleet is generated from a seed ([`fleet`]); production comes
//! from a PV model with correlated weather ([`production`], `moose-pvmodel`); faults come from a
//! scenario ([`faults`]); the clock can run in real time, faster, or by hand ([`clock`]). The same
//! seed and clock always give the same data. See `docs/simulator.md`.

pub mod clock;
pub mod faults;
pub mod fleet;
pub mod production;
pub mod replay;
mod rng;
mod server;
mod state;

pub use clock::SimClock;
pub use faults::{Fault, FaultKind, Scenario, ScenarioError};
pub use fleet::{Fleet, SimSystem};
pub use replay::{Replay, ReplayedPlant};
pub use server::router;
pub use state::{ScenarioSource, SimConfig, SimError, Simulator};

/// The access key id the simulator accepts unless told otherwise (36 characters, `FKIA` prefix,
/// like real keys).
pub const DEFAULT_ACCESS_KEY_ID: &str = "FKIA00000000000000000000000000000001";
/// The access key value the simulator accepts unless told otherwise.
pub const DEFAULT_ACCESS_KEY_VALUE: &str = "00000000-0000-4000-8000-000000000001";
