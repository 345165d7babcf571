//! Which addresses a webhook may not reach unless private targets are allowed.
//!
//! Webhook URLs are typed in by tenants, so without this check Moose would fetch whatever its
//! own network can reach: the cloud metadata service, databases on the VPC, admin ports on
//! loopback. We refuse every address that is not globally routable unicast.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is not a public unicast address, as "a … address" for error messages; `None` if it
/// is fine to connect to.
pub(crate) fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_private() {
        Some("a private")
    } else if ip.is_link_local() {
        // 169.254.169.254 is the metadata service of AWS, GCP and Azure: the prize of SSRF.
        Some("a link-local (cloud metadata)")
    } else if a == 100 && (b & 0xc0) == 64 {
        Some("a shared carrier-grade NAT (100.64.0.0/10)")
    } else if ip.is_broadcast() {
        Some("a broadcast")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if a >= 240 {
        Some("a reserved (240.0.0.0/4)")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        Some("an unspecified")
    } else if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if (segments[0] & 0xfe00) == 0xfc00 {
        Some("a unique-local (fc00::/7)")
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        Some("a link-local")
    } else if (segments[0] & 0xffc0) == 0xfec0 {
        Some("a site-local")
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:127.0.0.1 reaches 127.0.0.1 on dual-stack sockets.
        v4_kind(v4)
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // The deprecated IPv4-compatible form ::a.b.c.d.
        v4_kind(Ipv4Addr::from_bits(ip.to_bits() as u32))
    } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96) translates to the embedded IPv4 address.
        v4_kind(Ipv4Addr::from_bits(ip.to_bits() as u32))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> Option<&'static str> {
        non_public_kind(raw.parse().unwrap())
    }

    #[test]
    fn refuses_internal_addresses() {
        for (raw, expected) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00::1", "unique-local"),
            ("fc00::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a00:1", "private"),
        ] {
            let got = kind(raw).unwrap_or_else(|| panic!("{raw} was allowed"));
            assert!(got.contains(expected), "{raw}: {got}");
        }
    }

    #[test]
    fn allows_public_addresses() {
        for raw in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(kind(raw), None, "{raw}");
        }
    }
}
