//! The reverse proxies whose `X-Forwarded-For` Moose believes, and the client address that
//! follows from it. Without them, every client behind a proxy has the proxy's address: sign-in
//! throttling would count them all as one (20 wrong passwords from anyone lock everyone out) and
//! the activity log would record the proxy.

use std::net::IpAddr;

/// Why a proxy list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProxyListError(String);

/// One address, or a network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Result<Self, ProxyListError> {
        let fail = || {
            ProxyListError(format!(
                "{text:?} is not an IP address or a network like 10.0.0.0/8 or fd00::/8"
            ))
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| fail())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(fail)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The trusted reverse proxies (`MOOSE_TRUSTED_PROXIES`): addresses and networks, none by
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// No proxy is trusted: the client is the TCP peer, whatever headers say.
    pub const fn none() -> Self {
        Self(Vec::new())
    }

    /// A comma-separated list, e.g. `127.0.0.1, 10.0.0.0/8, fd00::/8` (empty: none).
    pub fn parse(list: &str) -> Result<Self, ProxyListError> {
        list.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Network::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy; then, reading the
    /// `X-Forwarded-For` values from the right (each proxy appends the address it saw), the first
    /// address that is not a trusted proxy. Everything left of it was written by the client
    /// and proves nothing. An unreadable entry stops the walk at the hop that wrote it.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                return nearest;
            };
            let ip = ip.to_canonical();
            if !self.trusts(ip) {
                return ip;
            }
            nearest = ip;
        }
        nearest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_networks() {
        let t = TrustedProxies::parse(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8,").unwrap();
        assert!(t.trusts(ip("127.0.0.1")) && !t.trusts(ip("127.0.0.2")));
        assert!(t.trusts(ip("10.200.3.4")) && !t.trusts(ip("11.0.0.1")));
        assert!(t.trusts(ip("fd12::1")) && !t.trusts(ip("fe80::1")));
        // An IPv4 peer seen on an IPv6 socket is the same peer.
        assert!(t.trusts(ip("::ffff:10.1.2.3")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .trusts(ip("8.8.8.8"))
        );
        for bad in [
            "10.0.0.0/33",
            "proxy.local",
            "10.0.0.1/x",
            "::1/129",
            "1.2.3",
        ] {
            let e = TrustedProxies::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // No trusted proxy in front: headers are the client's own words.
        assert_eq!(
            t.client(ip("203.0.113.9"), ["198.51.100.1"]),
            ip("203.0.113.9")
        );
        // Through the proxy: what it appended.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["198.51.100.1"]),
            ip("198.51.100.1")
        );
        // A forged entry left of the real one is ignored; trusted hops are skipped.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["6.6.6.6, 198.51.100.1", "10.1.1.1"]),
            ip("198.51.100.1")
        );
        // Only proxies: the farthest one. No header: the proxy.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["10.2.2.2, 10.1.1.1"]),
            ip("10.2.2.2")
        );
        assert_eq!(t.client(ip("127.0.0.1"), []), ip("127.0.0.1"));
        // Garbage stops the walk at the hop that wrote it.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["unknown, 10.1.1.1"]),
            ip("10.1.1.1")
        );
        assert_eq!(
            t.client(ip("::ffff:127.0.0.1"), ["2001:db8::7"]),
            ip("2001:db8::7")
        );
    }
}
