//! Comms loss or outage: how a no-data gap ended.

use jiff::Timestamp;
use moose_solardata::SystemMeta;
use moose_solarweb::AggrPeriod;
use moose_store::StoreError;
use serde_json::json;

use crate::observe::Observation;
use crate::parts::StatusJob;
use moose_incidents::model::{Evidence, Resolution};

/// Produced energy in `[from, to)` according to the stored 5-minute records, Wh.
async fn stored_between(
    job: &StatusJob,
    meta: &SystemMeta,
    from: Timestamp,
    to: Timestamp,
) -> Result<f64, StoreError> {
    let tz = meta.tz();
    let (d0, d1) = (
        from.to_zoned_datetime(tz.clone()).date(),
        to.to_zoned_datetime(tz).date(),
    );
    let mut wh = 0.0;
    for chunk in job.solar.days(&meta.id, d0, d1).await? {
        let Some(col) = chunk
            .channels
            .iter()
            .position(|c| c == "EnergyProductionTotal")
        else {
            continue;
        };
        for (i, values) in &chunk.slots {
            let t = chunk.slot_start(*i);
            if t >= from && t < to {
                wh += values.get(col).copied().flatten().unwrap_or(0.0);
            }
        }
    }
    Ok(wh)
}

/// Decides how a no-data gap `[since, now)` ended: did the inverter produce meanwhile?
///
/// Two independent signals say it did: late records that filled the gap with production, or
/// Solar.web's daily totals (which the inverter's lifetime counter feeds even when 5-minute
/// records are lost) exceeding what Moose has stored for those days. If neither shows the
/// energy, the gap was a real outage and its loss is the clear-sky expectation scaled by how
/// the system did outside the gap today.
pub(crate) async fn classify_gap(
    job: &StatusJob,
    obs: &Observation,
    since: Timestamp,
) -> Result<(Resolution, Option<f64>, Evidence), StoreError> {
    let meta = &obs.meta;
    let now = obs.now;
    let expected_gap = obs.model.as_ref().map_or(0.0, |m| m.energy_wh(since, now));
    let threshold = (0.1 * expected_gap).max(20.0);
    let filled = stored_between(job, meta, since, now).await?;
    let tz = meta.tz();
    let (d0, d1) = (
        since.to_zoned_datetime(tz.clone()).date(),
        now.to_zoned_datetime(tz).date(),
    );
    let stored_days: f64 = job
        .solar
        .daily(&meta.id, d0, d1)
        .await?
        .iter()
        .filter_map(|(_, e)| e.produced_wh)
        .sum();
    // Energy made after the newest stored record is in Solar.web's total but not yet in ours.
    let tail = match (obs.last_data_at, obs.flow.and_then(|f| f.pv_w)) {
        (Some(last), Some(w)) if last < now => w * now.duration_since(last).as_secs_f64() / 3600.0,
        _ => 0.0,
    };
    let reported = match job
        .client
        .aggrdata(
            meta.id.as_str(),
            None,
            AggrPeriod::Days(d0, d1),
            &["EnergyProductionTotal"],
        )
        .await
    {
        Ok(records) => Some(
            records
                .iter()
                .filter_map(|r| {
                    moose_solarweb::types::channel_value(&r.channels, "EnergyProductionTotal")
                })
                .sum::<f64>(),
        ),
        Err(e) => {
            tracing::info!(system = %meta.id, error = %e, "no daily totals to classify the gap; using stored data only");
            None
        }
    };
    let unseen = reported.map(|r| (r - stored_days - tail).max(0.0));
    let produced_meanwhile = filled.max(unseen.unwrap_or(0.0));
    let data = json!({
        "gap_from": since, "gap_to": now, "expected_clear_sky_wh": expected_gap.round(),
        "late_records_wh": filled.round(), "solarweb_total_wh": reported.map(f64::round),
        "stored_total_wh": stored_days.round(), "unseen_wh": unseen.map(f64::round),
    });
    if produced_meanwhile >= threshold {
        let note = format!(
            "data resumed; {:.1} kWh were produced during the gap",
            produced_meanwhile / 1000.0
        );
        return Ok((
            Resolution::CommunicationLoss,
            None,
            Evidence {
                at: now,
                note,
                data,
            },
        ));
    }
    // Scale the clear-sky loss by today's performance outside the gap.
    let today_start = moose_solardata::query::local_midnight(meta, d1);
    let ratio = match &obs.model {
        Some(m) => {
            let before = m.energy_wh(today_start, since.max(today_start));
            let got = stored_between(job, meta, today_start, since.max(today_start)).await?;
            if before > 100.0 {
                (got / before).clamp(0.05, 1.0)
            } else {
                0.6
            }
        }
        None => 0.6,
    };
    let lost = expected_gap * ratio;
    let note = format!(
        "data resumed; the inverter did not produce during the gap (about {:.1} kWh lost)",
        lost / 1000.0
    );
    Ok((
        Resolution::ConfirmedOutage,
        Some(lost.round()),
        Evidence {
            at: now,
            note,
            data,
        },
    ))
}
