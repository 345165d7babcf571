//! The endpoints Moose uses, typed, with paging and histdata windowing.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::SolarWebError;
use crate::client::SolarWebClient;
use crate::stats::EndpointKind;
use crate::types::{
    Count, Device, DevicesPage, FlowData, Links, MessagesPage, PvSystem, PvSystemsPage, Record,
    SeriesPage, SystemMessage,
};

/// The longest `histdata` window the API serves in one request.
pub const HISTDATA_MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Which aggregates `aggrdata` should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggrPeriod {
    /// Lifetime total (`period=total`).
    Total,
    /// One record per year (`period=years`).
    Years,
    /// Every month of a year (`period=yyyy`).
    MonthsOf(i16),
    /// Every day of a month (`period=yyyy-MM`).
    DaysOf(i16, i8),
    /// Days from..=to (`from=yyyy-MM-dd&to=yyyy-MM-dd`, the plant's local calendar).
    Days(jiff::civil::Date, jiff::civil::Date),
}

impl AggrPeriod {
    fn query(self) -> Vec<(&'static str, String)> {
        match self {
            Self::Total => vec![("period", "total".into())],
            Self::Years => vec![("period", "years".into())],
            Self::MonthsOf(y) => vec![("period", format!("{y:04}"))],
            Self::DaysOf(y, m) => vec![("period", format!("{y:04}-{m:02}"))],
            Self::Days(from, to) => vec![("from", from.to_string()), ("to", to.to_string())],
        }
    }
}

fn format_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The offset of the page a `links.next` URL points to. We read only the offset and query our
/// own base URL: a `next` link may name another host (the API has two), and following foreign
/// URLs would send our access keys wherever a response points.
fn next_offset(links: &Links) -> Option<u64> {
    let next = links.next.as_deref()?;
    let url = reqwest::Url::parse(next)
        .or_else(|_| reqwest::Url::parse("http://x/").and_then(|b| b.join(next)))
        .ok()?;
    url.query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case("offset"))
        .and_then(|(_, v)| v.parse().ok())
}

fn billable_values(records: &[Record]) -> u64 {
    records
        .iter()
        .map(|r| r.channels.iter().filter(|c| c.value.is_some()).count() as u64)
        .sum()
}

impl SolarWebClient {
    async fn get<T: DeserializeOwned>(
        &self,
        kind: EndpointKind,
        path: &str,
        query: &[(&str, String)],
    ) -> crate::Result<T> {
        let body = self.request(kind, Method::GET, path, query).await?;
        let body = if body.is_empty() {
            b"{}".to_vec()
        } else {
            body
        };
        serde_json::from_slice(&body).map_err(|e| {
            self.inner.stats.error("decode");
            SolarWebError::Decode {
                endpoint: endpoint_name(kind),
                message: e.to_string(),
            }
        })
    }

    /// Follows every page of a list endpoint, collecting `items` of each page.
    async fn all_pages<P, T>(
        &self,
        kind: EndpointKind,
        path: &str,
        base_query: &[(&str, String)],
        split: impl Fn(P) -> (Vec<T>, Links),
    ) -> crate::Result<Vec<T>>
    where
        P: DeserializeOwned,
    {
        let limit = self.inner.config.page_size;
        let mut offset = 0u64;
        let mut out = Vec::new();
        loop {
            let mut query = base_query.to_vec();
            query.push(("offset", offset.to_string()));
            query.push(("limit", limit.to_string()));
            let (items, links) = split(self.get::<P>(kind, path, &query).await?);
            let got = items.len() as u64;
            out.extend(items);
            match next_offset(&links) {
                // A next link that does not move forward would loop forever; stop instead.
                Some(next) if next > offset && got > 0 => offset = next,
                _ => return Ok(out),
            }
        }
    }

    /// Every PV system the credentials can see.
    pub async fn pv_systems(&self) -> crate::Result<Vec<PvSystem>> {
        self.all_pages(
            EndpointKind::SystemList,
            "pvsystems",
            &[],
            |p: PvSystemsPage| (p.pv_systems, p.links),
        )
        .await
    }

    /// How many PV systems the credentials can see.
    pub async fn pv_systems_count(&self) -> crate::Result<u64> {
        Ok(self
            .get::<Count>(EndpointKind::Count, "pvsystems-count", &[])
            .await?
            .count)
    }

    /// One PV system.
    pub async fn pv_system(&self, system: &str) -> crate::Result<PvSystem> {
        let s: PvSystem = self
            .get(
                EndpointKind::SystemDetail,
                &format!("pvsystems/{system}"),
                &[],
            )
            .await?;
        self.inner.stats.data_points(EndpointKind::SystemDetail, 1);
        Ok(s)
    }

    /// Every device of a system, active and inactive.
    pub async fn devices(&self, system: &str) -> crate::Result<Vec<Device>> {
        let path = format!("pvsystems/{system}/devices");
        self.all_pages(EndpointKind::DeviceList, &path, &[], |p: DevicesPage| {
            (p.devices, p.links)
        })
        .await
    }

    /// One device.
    pub async fn device(&self, system: &str, device: &str) -> crate::Result<Device> {
        let d: Device = self
            .get(
                EndpointKind::DeviceDetail,
                &format!("pvsystems/{system}/devices/{device}"),
                &[],
            )
            .await?;
        self.inner.stats.data_points(EndpointKind::DeviceDetail, 1);
        Ok(d)
    }

    /// Current power flow of a system, or of one of its devices.
    pub async fn flowdata(&self, system: &str, device: Option<&str>) -> crate::Result<FlowData> {
        let path = match device {
            Some(d) => format!("pvsystems/{system}/devices/{d}/flowdata"),
            None => format!("pvsystems/{system}/flowdata"),
        };
        let f: FlowData = self.get(EndpointKind::FlowData, &path, &[]).await?;
        self.inner.stats.data_points(EndpointKind::FlowData, 1);
        Ok(f)
    }

    /// 5-minute records of a system (or device) in `from..=to`, split into windows of at most
    /// 24 h, every page followed, each record once, in time order.
    pub async fn histdata(
        &self,
        system: &str,
        device: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        channels: &[&str],
    ) -> crate::Result<Vec<Record>> {
        if to < from {
            return Err(SolarWebError::BadRequest {
                code: None,
                message: format!("histdata range ends before it starts: {from} > {to}"),
            });
        }
        let path = match device {
            Some(d) => format!("pvsystems/{system}/devices/{d}/histdata"),
            None => format!("pvsystems/{system}/histdata"),
        };
        let window = jiff::SignedDuration::try_from(HISTDATA_MAX_WINDOW).expect("24 h fits");
        let mut records = Vec::new();
        let mut seen = BTreeSet::new();
        let mut start = from;
        loop {
            let end = (start + window).min(to);
            let mut query = vec![("from", format_time(start)), ("to", format_time(end))];
            if !channels.is_empty() {
                query.push(("channel", channels.join(",")));
            }
            let page = self
                .all_pages(EndpointKind::HistData, &path, &query, |p: SeriesPage| {
                    (p.data, p.links)
                })
                .await?;
            self.inner
                .stats
                .data_points(EndpointKind::HistData, billable_values(&page));
            // `to` is inclusive, so a record on a window boundary comes back twice.
            for record in page {
                if seen.insert(record.log_date_time.clone()) {
                    records.push(record);
                }
            }
            if end >= to {
                break;
            }
            start = end;
        }
        records.sort_by_key(Record::timestamp);
        Ok(records)
    }

    /// Energy aggregates of a system (or device) for `period`.
    pub async fn aggrdata(
        &self,
        system: &str,
        device: Option<&str>,
        period: AggrPeriod,
        channels: &[&str],
    ) -> crate::Result<Vec<Record>> {
        let path = match device {
            Some(d) => format!("pvsystems/{system}/devices/{d}/aggrdata"),
            None => format!("pvsystems/{system}/aggrdata"),
        };
        let mut query = period.query();
        if !channels.is_empty() {
            query.push(("channel", channels.join(",")));
        }
        let records = self
            .all_pages(EndpointKind::AggrData, &path, &query, |p: SeriesPage| {
                (p.data, p.links)
            })
            .await?;
        self.inner
            .stats
            .data_points(EndpointKind::AggrData, billable_values(&records));
        Ok(records)
    }

    /// Messages (errors and events) of a system in `from..=to`, in language `lang` (e.g. `en`).
    pub async fn messages(
        &self,
        system: &str,
        lang: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> crate::Result<Vec<SystemMessage>> {
        let path = format!("pvsystems/{system}/messages/{lang}");
        let query = [("from", format_time(from)), ("to", format_time(to))];
        let messages = self
            .all_pages(EndpointKind::Messages, &path, &query, |p: MessagesPage| {
                (p.messages, p.links)
            })
            .await?;
        self.inner
            .stats
            .data_points(EndpointKind::Messages, messages.len() as u64);
        Ok(messages)
    }
}

fn endpoint_name(kind: EndpointKind) -> &'static str {
    match kind {
        EndpointKind::SystemList => "pvsystems",
        EndpointKind::SystemDetail => "pvsystems/{id}",
        EndpointKind::DeviceList => "devices",
        EndpointKind::DeviceDetail => "devices/{id}",
        EndpointKind::Count => "count",
        EndpointKind::FlowData => "flowdata",
        EndpointKind::HistData => "histdata",
        EndpointKind::AggrData => "aggrdata",
        EndpointKind::Messages => "messages",
        EndpointKind::Auth => "iam/jwt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_offset_reads_only_the_offset() {
        let links = Links {
            next: Some("https://swqapi.solarweb.com/pvsystems?offset=50&limit=50".into()),
            ..Links::default()
        };
        assert_eq!(next_offset(&links), Some(50));
        let links = Links {
            next: Some("/pvsystems?Offset=100&Limit=50".into()),
            ..Links::default()
        };
        assert_eq!(
            next_offset(&links),
            Some(100),
            "relative links and any case"
        );
        assert_eq!(next_offset(&Links::default()), None);
    }

    #[test]
    fn aggr_queries() {
        assert_eq!(
            AggrPeriod::DaysOf(2025, 5).query(),
            vec![("period", "2025-05".to_owned())]
        );
        let d =
            AggrPeriod::Days(jiff::civil::date(2025, 5, 1), jiff::civil::date(2025, 5, 2)).query();
        assert_eq!(
            d,
            vec![
                ("from", "2025-05-01".to_owned()),
                ("to", "2025-05-02".to_owned())
            ]
        );
    }
}
