//! Checks `abi.rs` against the kernel's uapi header `linux/ip_vs.h` (and, for the address
//! families and protocols it carries, `linux/in.h` and the C library's `bits/socket.h`), so that a
//! typo in an attribute, command, flag or protocol number cannot reach the wire.

use crate::abi::*;
use std::collections::HashMap;

/// Evaluates the enumerators of every `enum { ... }` block of a C header (implicit values count
/// up from the previous one), plus the simple numeric `#define`s and those that name an earlier
/// constant (`#define AF_INET PF_INET`).
fn c_constants(header: &str) -> HashMap<String, i64> {
    let mut values = HashMap::new();
    let mut in_enum = false;
    let mut next = 0i64;
    for raw in header.lines() {
        let line = raw.split("/*").next().unwrap_or("").trim();
        if line.starts_with("enum") && line.contains('{') {
            in_enum = true;
            next = 0;
            continue;
        }
        if in_enum && line.starts_with('}') {
            in_enum = false;
            continue;
        }
        if in_enum {
            let item = line.trim_end_matches(',');
            let ours = ["IPVS_", "IP_VS_", "IPPROTO_"];
            if item.starts_with('#') || !ours.iter().any(|prefix| item.contains(prefix)) {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((name, expr)) => {
                    let expr = expr.trim();
                    let value = expr
                        .parse::<i64>()
                        .ok()
                        .or_else(|| values.get(expr).copied())
                        .or_else(|| {
                            expr.strip_suffix(" - 1")
                                .and_then(|e| values.get(e.trim()).map(|v| v - 1))
                        })
                        .unwrap_or_else(|| panic!("cannot evaluate {expr}"));
                    (name.trim().to_string(), value)
                }
                None => (item.to_string(), next),
            };
            next = value + 1;
            values.insert(name, value);
        } else if let Some(rest) = line.strip_prefix("#define ") {
            if let Some((name, value)) = rest.split_once(char::is_whitespace) {
                let value = value
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .trim();
                let parsed = if let Some(shift) = value.strip_prefix("1 << ") {
                    shift.trim().parse::<u32>().ok().map(|n| 1i64 << n)
                } else if let Some(hex) = value.strip_prefix("0x") {
                    i64::from_str_radix(hex, 16).ok()
                } else if let Some(base) = value.strip_suffix(" - 1") {
                    values.get(base.trim()).map(|v| v - 1)
                } else {
                    value.parse().ok().or_else(|| values.get(value).copied())
                };
                if let Some(v) = parsed {
                    values.insert(name.to_string(), v);
                }
            }
        }
    }
    values
}

fn read(path: &str, package: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (Debian package {package})"))
}

/// The C library's `bits/socket.h`, which defines `AF_INET` and `AF_INET6` (the kernel's uapi
/// headers do not): in `/usr/include/bits` or in a multiarch directory such as
/// `/usr/include/x86_64-linux-gnu/bits`.
fn socket_header() -> String {
    let plain = std::path::PathBuf::from("/usr/include/bits/socket.h");
    let multiarch = std::fs::read_dir("/usr/include")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bits/socket.h"));
    let path = std::iter::once(plain)
        .chain(multiarch)
        .find(|p| p.is_file())
        .expect("no bits/socket.h under /usr/include (Debian package libc6-dev)");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The constants of `linux/ip_vs.h`, `linux/in.h` and `bits/socket.h`.
fn uapi() -> HashMap<String, i64> {
    let mut c = c_constants(&socket_header());
    for path in ["/usr/include/linux/ip_vs.h", "/usr/include/linux/in.h"] {
        c.extend(c_constants(&read(path, "linux-libc-dev")));
    }
    c
}

/// Compares `(C name, abi.rs value)` pairs with the headers.
fn check(c: &HashMap<String, i64>, expect: &[(&str, i64)]) {
    let mut wrong = Vec::new();
    for (name, ours) in expect {
        match c.get(*name) {
            Some(theirs) if theirs == ours => {}
            other => wrong.push(format!("{name}: uapi {other:?}, abi.rs {ours}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "abi.rs disagrees with the C headers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn commands_and_attributes_match_uapi() {
    let c = uapi();
    let expect: &[(&str, i64)] = &[
        ("IPVS_CMD_NEW_SERVICE", cmd::NEW_SERVICE.into()),
        ("IPVS_CMD_SET_SERVICE", cmd::SET_SERVICE.into()),
        ("IPVS_CMD_DEL_SERVICE", cmd::DEL_SERVICE.into()),
        ("IPVS_CMD_GET_SERVICE", cmd::GET_SERVICE.into()),
        ("IPVS_CMD_NEW_DEST", cmd::NEW_DEST.into()),
        ("IPVS_CMD_SET_DEST", cmd::SET_DEST.into()),
        ("IPVS_CMD_DEL_DEST", cmd::DEL_DEST.into()),
        ("IPVS_CMD_GET_DEST", cmd::GET_DEST.into()),
        ("IPVS_CMD_NEW_DAEMON", cmd::NEW_DAEMON.into()),
        ("IPVS_CMD_DEL_DAEMON", cmd::DEL_DAEMON.into()),
        ("IPVS_CMD_GET_DAEMON", cmd::GET_DAEMON.into()),
        ("IPVS_CMD_SET_CONFIG", cmd::SET_CONFIG.into()),
        ("IPVS_CMD_GET_CONFIG", cmd::GET_CONFIG.into()),
        ("IPVS_CMD_SET_INFO", cmd::SET_INFO.into()),
        ("IPVS_CMD_GET_INFO", cmd::GET_INFO.into()),
        ("IPVS_CMD_ZERO", cmd::ZERO.into()),
        ("IPVS_CMD_FLUSH", cmd::FLUSH.into()),
        ("IPVS_CMD_ATTR_SERVICE", cmd_attr::SERVICE.into()),
        ("IPVS_CMD_ATTR_DEST", cmd_attr::DEST.into()),
        ("IPVS_CMD_ATTR_DAEMON", cmd_attr::DAEMON.into()),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", cmd_attr::TIMEOUT_TCP.into()),
        (
            "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN",
            cmd_attr::TIMEOUT_TCP_FIN.into(),
        ),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", cmd_attr::TIMEOUT_UDP.into()),
        ("IPVS_CMD_ATTR_MAX", cmd_attr::MAX.into()),
        ("IPVS_INFO_ATTR_VERSION", info_attr::VERSION.into()),
        (
            "IPVS_INFO_ATTR_CONN_TAB_SIZE",
            info_attr::CONN_TAB_SIZE.into(),
        ),
        ("IPVS_SVC_ATTR_AF", svc_attr::AF.into()),
        ("IPVS_SVC_ATTR_PROTOCOL", svc_attr::PROTOCOL.into()),
        ("IPVS_SVC_ATTR_ADDR", svc_attr::ADDR.into()),
        ("IPVS_SVC_ATTR_PORT", svc_attr::PORT.into()),
        ("IPVS_SVC_ATTR_FWMARK", svc_attr::FWMARK.into()),
        ("IPVS_SVC_ATTR_SCHED_NAME", svc_attr::SCHED_NAME.into()),
        ("IPVS_SVC_ATTR_FLAGS", svc_attr::FLAGS.into()),
        ("IPVS_SVC_ATTR_TIMEOUT", svc_attr::TIMEOUT.into()),
        ("IPVS_SVC_ATTR_NETMASK", svc_attr::NETMASK.into()),
        ("IPVS_SVC_ATTR_STATS", svc_attr::STATS.into()),
        ("IPVS_SVC_ATTR_PE_NAME", svc_attr::PE_NAME.into()),
        ("IPVS_SVC_ATTR_STATS64", svc_attr::STATS64.into()),
        ("IPVS_DEST_ATTR_ADDR", dest_attr::ADDR.into()),
        ("IPVS_DEST_ATTR_PORT", dest_attr::PORT.into()),
        ("IPVS_DEST_ATTR_FWD_METHOD", dest_attr::FWD_METHOD.into()),
        ("IPVS_DEST_ATTR_WEIGHT", dest_attr::WEIGHT.into()),
        ("IPVS_DEST_ATTR_U_THRESH", dest_attr::U_THRESH.into()),
        ("IPVS_DEST_ATTR_L_THRESH", dest_attr::L_THRESH.into()),
        (
            "IPVS_DEST_ATTR_ACTIVE_CONNS",
            dest_attr::ACTIVE_CONNS.into(),
        ),
        ("IPVS_DEST_ATTR_INACT_CONNS", dest_attr::INACT_CONNS.into()),
        (
            "IPVS_DEST_ATTR_PERSIST_CONNS",
            dest_attr::PERSIST_CONNS.into(),
        ),
        ("IPVS_DEST_ATTR_STATS", dest_attr::STATS.into()),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", dest_attr::ADDR_FAMILY.into()),
        ("IPVS_DEST_ATTR_STATS64", dest_attr::STATS64.into()),
        ("IPVS_DEST_ATTR_TUN_TYPE", dest_attr::TUN_TYPE.into()),
        ("IPVS_DEST_ATTR_TUN_PORT", dest_attr::TUN_PORT.into()),
        ("IPVS_DEST_ATTR_TUN_FLAGS", dest_attr::TUN_FLAGS.into()),
        ("IPVS_SVC_ATTR_MAX", svc_attr::MAX.into()),
        ("IPVS_DEST_ATTR_MAX", dest_attr::MAX.into()),
        ("IPVS_DAEMON_ATTR_MAX", daemon_attr::MAX.into()),
        ("IPVS_DAEMON_ATTR_STATE", daemon_attr::STATE.into()),
        ("IPVS_DAEMON_ATTR_MCAST_IFN", daemon_attr::MCAST_IFN.into()),
        ("IPVS_DAEMON_ATTR_SYNC_ID", daemon_attr::SYNC_ID.into()),
        (
            "IPVS_DAEMON_ATTR_SYNC_MAXLEN",
            daemon_attr::SYNC_MAXLEN.into(),
        ),
        (
            "IPVS_DAEMON_ATTR_MCAST_GROUP",
            daemon_attr::MCAST_GROUP.into(),
        ),
        (
            "IPVS_DAEMON_ATTR_MCAST_GROUP6",
            daemon_attr::MCAST_GROUP6.into(),
        ),
        (
            "IPVS_DAEMON_ATTR_MCAST_PORT",
            daemon_attr::MCAST_PORT.into(),
        ),
        ("IPVS_DAEMON_ATTR_MCAST_TTL", daemon_attr::MCAST_TTL.into()),
        ("IPVS_STATS_ATTR_CONNS", stats_attr::CONNS.into()),
        ("IPVS_STATS_ATTR_INPKTS", stats_attr::INPKTS.into()),
        ("IPVS_STATS_ATTR_OUTPKTS", stats_attr::OUTPKTS.into()),
        ("IPVS_STATS_ATTR_INBYTES", stats_attr::INBYTES.into()),
        ("IPVS_STATS_ATTR_OUTBYTES", stats_attr::OUTBYTES.into()),
        ("IPVS_STATS_ATTR_CPS", stats_attr::CPS.into()),
        ("IPVS_STATS_ATTR_INPPS", stats_attr::INPPS.into()),
        ("IPVS_STATS_ATTR_OUTPPS", stats_attr::OUTPPS.into()),
        ("IPVS_STATS_ATTR_INBPS", stats_attr::INBPS.into()),
        ("IPVS_STATS_ATTR_OUTBPS", stats_attr::OUTBPS.into()),
        ("IPVS_STATS_ATTR_PAD", stats_attr::PAD.into()),
        ("IPVS_GENL_VERSION", GENL_VERSION.into()),
    ];
    check(&c, expect);
    assert_eq!(version_code(VERSION), 0x010201);
    assert_eq!(version_parts(0x010201), (1, 2, 1));
}

#[test]
fn flags_and_numbers_match_uapi() {
    let c = uapi();
    let expect: &[(&str, i64)] = &[
        ("IP_VS_VERSION_CODE", version_code(VERSION).into()),
        ("IP_VS_SVC_F_PERSISTENT", svc_flag::PERSISTENT.into()),
        ("IP_VS_SVC_F_HASHED", svc_flag::HASHED.into()),
        ("IP_VS_SVC_F_ONEPACKET", svc_flag::ONEPACKET.into()),
        ("IP_VS_SVC_F_SCHED1", svc_flag::SCHED1.into()),
        ("IP_VS_SVC_F_SCHED2", svc_flag::SCHED2.into()),
        ("IP_VS_SVC_F_SCHED3", svc_flag::SCHED3.into()),
        (
            "IP_VS_SVC_F_SCHED_SH_FALLBACK",
            svc_flag::SCHED_SH_FALLBACK.into(),
        ),
        ("IP_VS_SVC_F_SCHED_SH_PORT", svc_flag::SCHED_SH_PORT.into()),
        // ip_vs_mh.c defines IP_VS_SVC_F_SCHED_MH_FALLBACK / _PORT as SCHED1 / SCHED2.
        ("IP_VS_SVC_F_SCHED1", svc_flag::SCHED_MH_FALLBACK.into()),
        ("IP_VS_SVC_F_SCHED2", svc_flag::SCHED_MH_PORT.into()),
        ("IP_VS_STATE_NONE", daemon_state::NONE.into()),
        ("IP_VS_STATE_MASTER", daemon_state::MASTER.into()),
        ("IP_VS_STATE_BACKUP", daemon_state::BACKUP.into()),
        ("IP_VS_CONN_F_FWD_MASK", conn_flag::FWD_MASK.into()),
        ("IP_VS_CONN_F_MASQ", conn_flag::MASQ.into()),
        ("IP_VS_CONN_F_LOCALNODE", conn_flag::LOCALNODE.into()),
        ("IP_VS_CONN_F_TUNNEL", conn_flag::TUNNEL.into()),
        ("IP_VS_CONN_F_DROUTE", conn_flag::DROUTE.into()),
        ("IP_VS_CONN_F_BYPASS", conn_flag::BYPASS.into()),
        ("IP_VS_SCHEDNAME_MAXLEN", SCHEDNAME_MAXLEN as i64),
        ("IP_VS_PENAME_MAXLEN", PENAME_MAXLEN as i64),
        ("IP_VS_IFNAME_MAXLEN", IFNAME_MAXLEN as i64),
        ("IP_VS_CONN_F_TUNNEL_TYPE_IPIP", tunnel_type::IPIP.into()),
        ("IP_VS_CONN_F_TUNNEL_TYPE_GUE", tunnel_type::GUE.into()),
        ("IP_VS_CONN_F_TUNNEL_TYPE_GRE", tunnel_type::GRE.into()),
        ("IP_VS_CONN_F_TUNNEL_TYPE_MAX", tunnel_type::MAX.into()),
        ("IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM", tunnel_flag::NOCSUM.into()),
        ("IP_VS_TUNNEL_ENCAP_FLAG_CSUM", tunnel_flag::CSUM.into()),
        (
            "IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM",
            tunnel_flag::REMCSUM.into(),
        ),
        ("AF_INET", AF_INET.into()),
        ("AF_INET6", AF_INET6.into()),
        ("IPPROTO_TCP", IPPROTO_TCP.into()),
        ("IPPROTO_UDP", IPPROTO_UDP.into()),
        ("IPPROTO_SCTP", IPPROTO_SCTP.into()),
    ];
    check(&c, expect);
}

/// `IPVS_SVC_ATTR_FLAGS` carries `struct ip_vs_flags { __u32 flags; __u32 mask; }` in host byte
/// order, which `flags_bytes` and `flags_parts` encode and decode; the netmasks of services
/// without persistence granularity are all ones (IPv4) and the prefix length 128 (IPv6).
#[test]
fn flags_struct_and_netmasks() {
    let text = read("/usr/include/linux/ip_vs.h", "linux-libc-dev");
    let body = text
        .split_once("struct ip_vs_flags {")
        .and_then(|(_, rest)| rest.split_once("};"))
        .map(|(body, _)| body.split_whitespace().collect::<Vec<_>>())
        .expect("struct ip_vs_flags is missing from linux/ip_vs.h");
    assert_eq!(body, ["__u32", "flags;", "__u32", "mask;"]);
    let bytes = flags_bytes(svc_flag::PERSISTENT, !0);
    assert_eq!(bytes[..4], svc_flag::PERSISTENT.to_ne_bytes());
    assert_eq!(bytes[4..], [0xff; 4]);
    assert_eq!(flags_parts(bytes), (svc_flag::PERSISTENT, !0));
    assert_eq!(
        flags_parts(flags_bytes(0x1234_5678, 0x9abc_def0)),
        (0x1234_5678, 0x9abc_def0)
    );
    assert_eq!(NETMASK_INET_ALL.to_ne_bytes(), [255; 4]);
    assert_eq!(NETMASK_INET6_ALL, 128);
}
