//! `solar-data-service`: systems, production series, energy aggregates and KPIs.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_domain::SystemId;
use moose_solardata::query::{self, Resolution};
use moose_solardata::repo::SystemMeta;
use moose_solardata::series::Energy;
use moose_solardata::{ExpectedModel, SolarRepo};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Caller;
use crate::params::{Bound, Day, Format, Period};
use crate::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};

fn repo(state: &AppState) -> SolarRepo {
    SolarRepo::new(state.store.clone())
}

pub(crate) async fn meta(state: &AppState, raw: &str) -> ApiResult<SystemMeta> {
    let id = SystemId::parse(raw).map_err(|_| ApiError::NotFound("no such system".into()))?;
    repo(state)
        .meta(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such system".into()))
}

/// The position rules use: given (Solar.web or an operator) or inferred, and which.
pub(crate) fn location(m: &SystemMeta) -> Option<Value> {
    match (m.latitude, m.longitude, &m.inferred_position) {
        (Some(lat), Some(lon), _) => {
            Some(json!({"latitude": lat, "longitude": lon, "source": "given"}))
        }
        (_, _, Some(p)) => {
            Some(json!({"latitude": p.latitude, "longitude": p.longitude, "source": p.method}))
        }
        _ => None,
    }
}

async fn summary(state: &AppState, m: &SystemMeta) -> ApiResult<Value> {
    let cursor = repo(state).cursor(&m.id).await?;
    Ok(json!({
        "id": m.id, "name": m.name, "peak_power_w": m.peak_power_w, "time_zone": m.time_zone,
        "city": m.city, "country": m.country, "active": m.active,
        "location": location(m),
        "installation_date": m.installation_date,
        "last_data_at": cursor.and_then(|c| c.last_data_at),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    cursor: Option<String>,
}

fn default_limit() -> u32 {
    100
}

/// Page cursors are opaque to callers: the hex of the last system id of the page, so that they
/// stay URL-safe whatever an id holds.
pub(crate) fn encode_cursor(last: &SystemId) -> String {
    last.as_str().bytes().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn decode_cursor(hex: &str) -> ApiResult<SystemId> {
    let bad =
        || ApiError::bad_request("invalid_query", "cursor: not a cursor returned by this API");
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let bytes = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    SystemId::parse(text).map_err(|_| bad())
}

/// The systems the caller may see, a page at a time.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    if !(1..=1000).contains(&q.limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit: must be between 1 and 1000",
        ));
    }
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let (metas, next) = match state.auth.visible_systems(&caller).await? {
        None => repo(&state).list_systems(q.limit, after.as_ref()).await?,
        Some(memberships) => {
            let mut ids: Vec<SystemId> = memberships.into_iter().map(|m| m.system).collect();
            ids.sort();
            let start = after
                .as_ref()
                .map_or(0, |c| ids.iter().position(|id| id > c).unwrap_or(ids.len()));
            let page: Vec<SystemId> = ids
                .iter()
                .skip(start)
                .take(q.limit as usize)
                .cloned()
                .collect();
            let mut metas = Vec::new();
            for id in &page {
                metas.extend(repo(&state).meta(id).await?);
            }
            let next = (start + page.len() < ids.len())
                .then(|| page.last().cloned())
                .flatten();
            (metas, next)
        }
    };
    let mut systems = Vec::new();
    for m in &metas {
        systems.push(summary(&state, m).await?);
    }
    Ok(Json(
        json!({"systems": systems, "next_cursor": next.as_ref().map(encode_cursor)}),
    ))
}

/// A system: metadata, devices, last data time and today's energy.
pub(crate) async fn detail(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let m = meta(&state, &system).await?;
    let mut body = summary(&state, &m).await?;
    let today = Timestamp::now().to_zoned_datetime(m.tz()).date();
    let energy = repo(&state)
        .daily(&m.id, today, today)
        .await?
        .first()
        .map(|(_, e)| *e)
        .unwrap_or_default();
    body["devices"] = serde_json::to_value(repo(&state).devices(&m.id).await?).unwrap_or_default();
    body["today"] = json!({"date": today, "energy": energy});
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SitePatch {
    latitude: f64,
    longitude: f64,
}

/// Sets a system's position. Solar.web does not give one, and Moose needs it for the sun:
/// sun-aware polling and the clear-sky expectation of the KPIs.
pub(crate) async fn update(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<SitePatch>,
) -> ApiResult<Json<Value>> {
    if !(-90.0..=90.0).contains(&body.latitude) {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("latitude: {} is not between -90 and 90", body.latitude),
        ));
    }
    if !(-180.0..=180.0).contains(&body.longitude) {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("longitude: {} is not between -180 and 180", body.longitude),
        ));
    }
    let mut m = meta(&state, &system).await?;
    m.latitude = Some(body.latitude);
    m.longitude = Some(body.longitude);
    repo(&state).put_meta(&m).await?;
    Ok(Json(summary(&state, &m).await?))
}

/// The instant a range bound stands for at the site.
fn at_site(bound: Bound, m: &SystemMeta) -> Timestamp {
    match bound {
        Bound::Date(date) => query::local_midnight(m, date),
        Bound::Instant(t) => t,
    }
}

fn wants_csv(headers: &HeaderMap, format: Option<Format>) -> bool {
    match format {
        Some(Format::Csv) => true,
        Some(Format::Json) => false,
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

fn csv(rows: impl Iterator<Item = (String, Energy)>) -> Response {
    let mut out = String::from(
        "start,produced_wh,fed_in_wh,purchased_wh,consumed_wh,battery_charged_wh,battery_discharged_wh,records\n",
    );
    for (label, e) in rows {
        out.push_str(&format!(
            "{label},{},{},{},{},{},{},{}\n",
            fmt(e.produced_wh),
            fmt(e.fed_in_wh),
            fmt(e.purchased_wh),
            fmt(e.consumed_wh),
            fmt(e.battery_charged_wh),
            fmt(e.battery_discharged_wh),
            e.records
        ));
    }
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    r
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductionQuery {
    from: Option<Bound>,
    to: Option<Bound>,
    resolution: Option<Resolution>,
    format: Option<Format>,
}

/// The production series of `from..to`: explicit units, the site's time zone, gaps as `null`.
pub(crate) async fn production(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ProductionQuery>,
) -> ApiResult<Response> {
    let m = meta(&state, &system).await?;
    let resolution = q.resolution.unwrap_or(Resolution::Hour);
    let csv_out = wants_csv(&headers, q.format);
    let today = Timestamp::now().to_zoned_datetime(m.tz()).date();
    let to = q.to.map_or_else(
        || query::local_midnight(&m, today.tomorrow().unwrap_or(today)),
        |b| at_site(b, &m),
    );
    let from = q
        .from
        .map_or_else(|| query::local_midnight(&m, today), |b| at_site(b, &m));
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from: must be before to",
        ));
    }
    if to.duration_since(from) > SignedDuration::from_hours(24 * resolution.max_days()) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "resolution: at {} a request may span at most {} days; use a coarser resolution or a shorter range",
                json!(resolution).as_str().unwrap_or("1h"),
                resolution.max_days()
            ),
        ));
    }
    let points = query::production(&repo(&state), &m, from, to, resolution).await?;
    if csv_out {
        return Ok(csv(points
            .into_iter()
            .map(|p| (p.start.to_string(), p.energy))));
    }
    let devices = SolarRepo::new(state.store.clone()).devices(&m.id).await?;
    let points = with_expected(points, ExpectedModel::of(&m, &devices).as_ref(), to);
    Ok(Json(json!({
        "system_id": m.id, "time_zone": m.time_zone, "resolution": resolution, "unit": "Wh",
        "from": from, "to": to, "points": points,
    }))
    .into_response())
}

/// Each point with the clear-sky energy of its interval (until the next point's start, the
/// last until `to`), for charts that draw what the plant could have made. Without a model
/// (no peak power known) the points are returned as they are.
fn with_expected(
    points: Vec<query::Point>,
    model: Option<&ExpectedModel>,
    to: Timestamp,
) -> Vec<Value> {
    let ends: Vec<Timestamp> = points.iter().skip(1).map(|p| p.start).chain([to]).collect();
    points
        .into_iter()
        .zip(ends)
        .map(|(point, end)| {
            let mut v = json!(point);
            if let Some(model) = model {
                v["expected_clear_sky_wh"] = json!(model.energy_wh(point.start, end).round());
            }
            v
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnergyQuery {
    #[serde(default)]
    period: Period,
    from: Option<Day>,
    to: Option<Day>,
    format: Option<Format>,
}

/// Energy per local day, month or year.
pub(crate) async fn energy(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EnergyQuery>,
) -> ApiResult<Response> {
    let m = meta(&state, &system).await?;
    let csv_out = wants_csv(&headers, q.format);
    let today = Timestamp::now().to_zoned_datetime(m.tz()).date();
    let period = q.period;
    let default_from = match period {
        Period::Day => today
            .checked_sub(jiff::Span::new().days(29))
            .unwrap_or(today),
        Period::Month | Period::Year => {
            Date::new(today.year() - 1, today.month(), 1).unwrap_or(today)
        }
    };
    let to = q.to.map_or(today, |d| d.0);
    let mut from = q.from.map_or(default_from, |d| d.0);
    if period == Period::Year && q.from.is_none() {
        from = m.installation_date.unwrap_or(default_from);
    }
    if from > to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from: must not be after to",
        ));
    }
    if period == Period::Day && (to - from).get_days() > 3660 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "period: at most 3660 days per request",
        ));
    }
    let rows = energy_rows(&state, &m, period, from, to).await?;
    if csv_out {
        return Ok(csv(rows.into_iter()));
    }
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(label, e)| json!({"period": label, "energy": e}))
        .collect();
    Ok(Json(json!({"system_id": m.id, "time_zone": m.time_zone, "period": period, "unit": "Wh", "from": from, "to": to, "energy": list})).into_response())
}

/// The energy API's rows: per site-local day, month or year between `from` and `to`.
pub(crate) async fn energy_rows(
    state: &AppState,
    m: &SystemMeta,
    period: Period,
    from: Date,
    to: Date,
) -> ApiResult<Vec<(String, Energy)>> {
    let resolution = match period {
        Period::Day => Resolution::Day,
        Period::Month | Period::Year => Resolution::Month,
    };
    let start = query::local_midnight(m, from);
    let end = query::local_midnight(m, to.tomorrow().unwrap_or(to));
    let points = query::production(&repo(state), m, start, end, resolution).await?;
    Ok(if period == Period::Year {
        let mut years: Vec<(String, Energy)> = Vec::new();
        for p in points {
            let label = p.start.to_zoned_datetime(m.tz()).year().to_string();
            match years.last_mut() {
                Some((y, e)) if *y == label => e.add(&p.energy),
                _ => years.push((label, p.energy)),
            }
        }
        years
    } else {
        points
            .into_iter()
            .map(|p| {
                let d = p.start.to_zoned_datetime(m.tz()).date();
                (
                    if period == Period::Day {
                        d.to_string()
                    } else {
                        format!("{:04}-{:02}", d.year(), d.month())
                    },
                    p.energy,
                )
            })
            .collect()
    })
}

/// Freshness and integrity of a system's stored data.
pub(crate) async fn integrity(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let m = meta(&state, &system).await?;
    let report = moose_solardata::integrity::integrity(&repo(&state), &m, Timestamp::now()).await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| ApiError::Internal(Box::new(e)))?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KpiQuery {
    from: Option<Day>,
    to: Option<Day>,
}

/// KPIs of a range of local days.
pub(crate) async fn kpis(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> ApiResult<Json<Value>> {
    let m = meta(&state, &system).await?;
    let today = Timestamp::now().to_zoned_datetime(m.tz()).date();
    let to = q.to.map_or(today, |d| d.0);
    let from = q.from.map_or_else(
        || to.checked_sub(jiff::Span::new().days(29)).unwrap_or(to),
        |d| d.0,
    );
    if from > to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from: must not be after to",
        ));
    }
    if (to - from).get_days() > 366 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "to: KPIs cover at most 366 days per request",
        ));
    }
    let k = query::kpis(&repo(&state), &m, from, to).await?;
    Ok(Json(
        json!({"system_id": m.id, "from": from, "to": to, "kpis": k}),
    ))
}
