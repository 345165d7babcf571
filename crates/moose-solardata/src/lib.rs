//! Moose's solar data: `solar-data-polling` and the queries behind `solar-data-service`.
//!
//! - [`discover`] keeps the fleet (systems and devices) in step with Solar.web.
//! - [`poll`] ingests 5-minute `histdata` since each system's cursor, exactly once in effect:
//!   records merge into one item per system and local day, and the day item, its daily and
//!   monthly aggregates and the system's cursor are written in one transaction, so a crash loses
//!   nothing and a re-poll writes nothing new.
//! - [`query`] answers production, energy and KPI questions from those items.
//!
//! Layout of the items: `docs/data-model.md`.

pub mod backfill;
pub mod discover;
pub mod expected;
pub mod integrity;
pub mod poll;
pub mod quality;
pub mod query;
pub mod repo;
pub mod series;

pub use backfill::{BackfillProgress, backfill};
pub use discover::{DiscoverySummary, discover};
pub use expected::ExpectedModel;
pub use poll::{
    PollSettings, PollSummary, SolarDataError, ingest_records, poll_once, run_schedule,
};
pub use repo::{InferredPosition, SolarRepo, SystemMeta};
