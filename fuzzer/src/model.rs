//! What the fuzzer believes the IPVS tables hold: each request the kernel accepted is applied
//! as IPVS applies it (`ip_vs_genl_set_cmd`, `ip_vs_genl_parse_service`, `ip_vs_genl_parse_dest`,
//! `ip_vs_set_timeout`), reading the request's bytes as the kernel read them. After each batch the
//! state the module lists must be this one; ip_vs itself, run with the same seed, checks the model.

use crate::attrs::{get_be16, get_str, get_u16, get_u32, get_u8, memcpy, parse};
use rvs_abi::{
    cmd, cmd_attr, conn_flag, daemon_attr, dest_attr, svc_attr, svc_flag, AF_INET, AF_INET6,
    IPPROTO_TCP,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SvcKey {
    Addr {
        af: u16,
        protocol: u16,
        addr: [u8; 16],
        port: u16,
    },
    Mark {
        af: u16,
        mark: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DestKey {
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    pub fwd: u32,
    pub weight: u32,
    pub u_thresh: u32,
    pub l_thresh: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub sched: String,
    pub pe: Option<String>,
    pub flags: u32,
    /// Seconds as given; IPVS keeps `timeout * HZ` in an unsigned int, so a value whose product
    /// wraps is not compared (`None`).
    pub timeout: Option<u32>,
    pub netmask: u32,
    pub dests: BTreeMap<DestKey, Dest>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub services: BTreeMap<SvcKey, Service>,
    /// TCP, TCP FIN and UDP timeouts in seconds.
    pub timeouts: [u32; 3],
    /// The sync daemons running, by state (master 1, backup 2).
    pub daemons: BTreeSet<u32>,
}

/// The largest timeout whose product with any HZ up to 1000 fits IPVS's unsigned int.
const TIMEOUT_EXACT_MAX: u32 = u32::MAX / 1000;

/// An address as IPVS keeps it for its family (`ip_vs_addr_copy`: 4 bytes for IPv4).
fn addr_of(af: u16, raw: [u8; 16]) -> [u8; 16] {
    if af == AF_INET6 {
        raw
    } else {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&raw[..4]);
        a
    }
}

/// The service a nest names (`ip_vs_genl_parse_service`), if it names one.
pub fn svc_key(nest: &[u8]) -> Option<SvcKey> {
    let t = parse(nest, svc_attr::MAX);
    let af = get_u16(t[svc_attr::AF as usize]?);
    if let Some(m) = t[svc_attr::FWMARK as usize] {
        let mark = get_u32(m);
        if mark != 0 {
            return Some(SvcKey::Mark { af, mark });
        }
        // A fwmark of 0 names the TCP service 0.0.0.0:0 (the identity is zeroed first).
        return Some(SvcKey::Addr {
            af,
            protocol: IPPROTO_TCP,
            addr: [0; 16],
            port: 0,
        });
    }
    Some(SvcKey::Addr {
        af,
        protocol: get_u16(t[svc_attr::PROTOCOL as usize]?),
        addr: addr_of(af, memcpy::<16>(t[svc_attr::ADDR as usize]?)),
        port: get_be16(t[svc_attr::PORT as usize]?),
    })
}

impl SvcKey {
    fn af(&self) -> u16 {
        match self {
            SvcKey::Addr { af, .. } | SvcKey::Mark { af, .. } => *af,
        }
    }
}

impl State {
    /// Applies a request the kernel acknowledged: `cmd` with top-level attributes `attrs`.
    pub fn apply(&mut self, command: u8, attrs: &[u8]) {
        let top = parse(attrs, cmd_attr::MAX);
        let nest = |n: u16| top[n as usize].unwrap_or(&[]);
        match command {
            cmd::FLUSH => self.services.clear(),
            cmd::SET_CONFIG => {
                for (i, a) in [
                    cmd_attr::TIMEOUT_TCP,
                    cmd_attr::TIMEOUT_TCP_FIN,
                    cmd_attr::TIMEOUT_UDP,
                ]
                .into_iter()
                .enumerate()
                {
                    if let Some(v) = top[a as usize].map(get_u32).filter(|&v| v != 0) {
                        self.timeouts[i] = v;
                    }
                }
            }
            cmd::NEW_DAEMON | cmd::DEL_DAEMON => {
                let d = parse(nest(cmd_attr::DAEMON), daemon_attr::MAX);
                if let Some(state) = d[daemon_attr::STATE as usize].map(get_u32) {
                    if command == cmd::NEW_DAEMON {
                        self.daemons.insert(state);
                    } else {
                        self.daemons.remove(&state);
                    }
                }
            }
            cmd::NEW_SERVICE | cmd::SET_SERVICE => {
                let raw = nest(cmd_attr::SERVICE);
                let Some(key) = svc_key(raw) else { return };
                let t = parse(raw, svc_attr::MAX);
                let (Some(sched), Some(flags), Some(timeout), Some(netmask)) = (
                    t[svc_attr::SCHED_NAME as usize],
                    t[svc_attr::FLAGS as usize],
                    t[svc_attr::TIMEOUT as usize],
                    t[svc_attr::NETMASK as usize],
                ) else {
                    return;
                };
                let fl = memcpy::<8>(flags);
                let (value, mask) = (get_u32(&fl[..4]), get_u32(&fl[4..]));
                let old = self.services.get(&key).map_or(0, |s| s.flags);
                let timeout = get_u32(timeout);
                let pe = t[svc_attr::PE_NAME as usize]
                    .map(get_str)
                    .filter(|p| !p.is_empty());
                let svc = self.services.entry(key).or_insert_with(|| Service {
                    sched: String::new(),
                    pe: None,
                    flags: 0,
                    timeout: None,
                    netmask: 0,
                    dests: BTreeMap::new(),
                });
                svc.flags = (old & !mask) | (value & mask) | svc_flag::HASHED;
                svc.sched = get_str(sched);
                svc.pe = pe;
                svc.timeout = (timeout <= TIMEOUT_EXACT_MAX).then_some(timeout);
                // `nla_get_be32` of an attribute sent in host order, kept as the bytes came.
                svc.netmask = get_u32(netmask);
            }
            cmd::DEL_SERVICE => {
                if let Some(key) = svc_key(nest(cmd_attr::SERVICE)) {
                    self.services.remove(&key);
                }
            }
            cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST => {
                let Some(key) = svc_key(nest(cmd_attr::SERVICE)) else {
                    return;
                };
                let svc_af = key.af();
                let Some(svc) = self.services.get_mut(&key) else {
                    return;
                };
                let t = parse(nest(cmd_attr::DEST), dest_attr::MAX);
                let (Some(addr), Some(port)) =
                    (t[dest_attr::ADDR as usize], t[dest_attr::PORT as usize])
                else {
                    return;
                };
                let af = t[dest_attr::ADDR_FAMILY as usize]
                    .map(get_u16)
                    .filter(|&af| af != 0)
                    .unwrap_or(svc_af);
                let dkey = DestKey {
                    af,
                    addr: addr_of(af, memcpy::<16>(addr)),
                    port: get_be16(port),
                };
                if command == cmd::DEL_DEST {
                    svc.dests.remove(&dkey);
                    return;
                }
                let get = |n: u16| t[n as usize];
                let (Some(fwd), Some(weight), Some(u), Some(l)) = (
                    get(dest_attr::FWD_METHOD),
                    get(dest_attr::WEIGHT),
                    get(dest_attr::U_THRESH),
                    get(dest_attr::L_THRESH),
                ) else {
                    return;
                };
                svc.dests.insert(
                    dkey,
                    Dest {
                        fwd: get_u32(fwd) & conn_flag::FWD_MASK,
                        weight: get_u32(weight),
                        u_thresh: get_u32(u),
                        l_thresh: get_u32(l),
                        tun_type: get(dest_attr::TUN_TYPE).map_or(0, get_u8),
                        tun_port: get(dest_attr::TUN_PORT).map_or(0, get_be16),
                        tun_flags: get(dest_attr::TUN_FLAGS).map_or(0, get_u16),
                    },
                );
            }
            _ => {}
        }
    }

    /// The differences between this state (the model) and `listed` (what the module lists), one
    /// line each; none if they agree.
    pub fn differences(&self, listed: &State) -> Vec<String> {
        let mut out = Vec::new();
        if self.timeouts != listed.timeouts {
            out.push(format!(
                "timeouts: model {:?}, listed {:?}",
                self.timeouts, listed.timeouts
            ));
        }
        if self.daemons != listed.daemons {
            out.push(format!(
                "sync daemons: model {:?}, listed {:?}",
                self.daemons, listed.daemons
            ));
        }
        for (k, s) in &self.services {
            match listed.services.get(k) {
                None => out.push(format!("service {k} is missing")),
                Some(l) => {
                    let mut fields = Vec::new();
                    if s.sched != l.sched {
                        fields.push(format!("scheduler {:?} listed as {:?}", s.sched, l.sched));
                    }
                    if s.pe != l.pe {
                        fields.push(format!("pe {:?} listed as {:?}", s.pe, l.pe));
                    }
                    if s.flags != l.flags {
                        fields.push(format!("flags {:#x} listed as {:#x}", s.flags, l.flags));
                    }
                    if s.timeout.is_some() && s.timeout != l.timeout {
                        fields.push(format!("timeout {:?} listed as {:?}", s.timeout, l.timeout));
                    }
                    if s.netmask != l.netmask {
                        fields.push(format!(
                            "netmask {:#x} listed as {:#x}",
                            s.netmask, l.netmask
                        ));
                    }
                    if !fields.is_empty() {
                        out.push(format!("service {k}: {}", fields.join(", ")));
                    }
                    for (dk, d) in &s.dests {
                        match l.dests.get(dk) {
                            None => out.push(format!("service {k}: real server {dk} is missing")),
                            Some(ld) if ld != d => out.push(format!(
                                "service {k}: real server {dk}: model {d:?}, listed {ld:?}"
                            )),
                            Some(_) => {}
                        }
                    }
                    for dk in l.dests.keys().filter(|dk| !s.dests.contains_key(dk)) {
                        out.push(format!(
                            "service {k}: real server {dk} is listed but was never added"
                        ));
                    }
                }
            }
        }
        for k in listed
            .services
            .keys()
            .filter(|k| !self.services.contains_key(k))
        {
            out.push(format!("service {k} is listed but was never added"));
        }
        out
    }
}

fn fmt_addr(af: u16, a: &[u8; 16]) -> String {
    if af == AF_INET {
        std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
    } else {
        format!("[{}]", std::net::Ipv6Addr::from(*a))
    }
}

impl fmt::Display for SvcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SvcKey::Addr {
                af,
                protocol,
                addr,
                port,
            } => {
                write!(f, "af {af} proto {protocol} {}:{port}", fmt_addr(*af, addr))
            }
            SvcKey::Mark { af, mark } => write!(f, "af {af} fwmark {mark}"),
        }
    }
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "af {} {}:{}",
            self.af,
            fmt_addr(self.af, &self.addr),
            self.port
        )
    }
}

/// A listed service (a `GET_SERVICE` reply's attributes) in the model's terms.
pub fn listed_service(attrs: &[u8]) -> Option<(SvcKey, Service)> {
    let top = parse(attrs, cmd_attr::MAX);
    let nest = top[cmd_attr::SERVICE as usize]?;
    let key = svc_key(nest)?;
    let t = parse(nest, svc_attr::MAX);
    let fl = memcpy::<8>(t[svc_attr::FLAGS as usize]?);
    Some((
        key,
        Service {
            sched: get_str(t[svc_attr::SCHED_NAME as usize]?),
            pe: t[svc_attr::PE_NAME as usize].map(get_str),
            flags: get_u32(&fl[..4]),
            timeout: Some(get_u32(t[svc_attr::TIMEOUT as usize]?)),
            netmask: get_u32(t[svc_attr::NETMASK as usize]?),
            dests: BTreeMap::new(),
        },
    ))
}

/// A listed real server (a `GET_DEST` reply's attributes) in the model's terms.
pub fn listed_dest(attrs: &[u8]) -> Option<(DestKey, Dest)> {
    let top = parse(attrs, cmd_attr::MAX);
    let t = parse(top[cmd_attr::DEST as usize]?, dest_attr::MAX);
    let af = get_u16(t[dest_attr::ADDR_FAMILY as usize]?);
    let get = |n: u16| t[n as usize];
    Some((
        DestKey {
            af,
            addr: addr_of(af, memcpy::<16>(get(dest_attr::ADDR)?)),
            port: get_be16(get(dest_attr::PORT)?),
        },
        Dest {
            fwd: get_u32(get(dest_attr::FWD_METHOD)?),
            weight: get_u32(get(dest_attr::WEIGHT)?),
            u_thresh: get_u32(get(dest_attr::U_THRESH)?),
            l_thresh: get_u32(get(dest_attr::L_THRESH)?),
            tun_type: get(dest_attr::TUN_TYPE).map_or(0, get_u8),
            tun_port: get(dest_attr::TUN_PORT).map_or(0, get_be16),
            tun_flags: get(dest_attr::TUN_FLAGS).map_or(0, get_u16),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::{encode, Attr};

    fn msg(attrs: Vec<Attr>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&attrs, &mut out);
        out
    }

    fn tcp_80(extra: Vec<Attr>) -> Attr {
        let mut a = vec![
            Attr::u16(svc_attr::AF, AF_INET),
            Attr::u16(svc_attr::PROTOCOL, 6),
            Attr::bytes(svc_attr::ADDR, &[10, 0, 0, 1, 9, 9, 9, 9]),
            Attr::be16(svc_attr::PORT, 80),
        ];
        a.extend(extra);
        Attr::nest(cmd_attr::SERVICE, a)
    }

    #[test]
    fn services_and_flags_as_ipvs_keeps_them() {
        let mut s = State::default();
        let full = |flags: [u8; 8]| {
            vec![
                Attr::string(svc_attr::SCHED_NAME, "wrr"),
                Attr::bytes(svc_attr::FLAGS, &flags),
                Attr::u32(svc_attr::TIMEOUT, 300),
                Attr::u32(svc_attr::NETMASK, u32::MAX),
            ]
        };
        s.apply(
            cmd::NEW_SERVICE,
            &msg(vec![tcp_80(full([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))]),
        );
        let key = SvcKey::Addr {
            af: AF_INET,
            protocol: 6,
            addr: addr_of(AF_INET, [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            port: 80,
        };
        assert_eq!(
            s.services[&key].flags,
            svc_flag::PERSISTENT | svc_flag::HASHED
        );
        // A 4-byte flags attribute leaves the mask 0: nothing changes.
        s.apply(
            cmd::SET_SERVICE,
            &msg(vec![tcp_80(vec![
                Attr::string(svc_attr::SCHED_NAME, "rr"),
                Attr::bytes(svc_attr::FLAGS, &[4, 0, 0, 0]),
                Attr::u32(svc_attr::TIMEOUT, 0),
                Attr::u32(svc_attr::NETMASK, u32::MAX),
            ])]),
        );
        assert_eq!(
            s.services[&key].flags,
            svc_flag::PERSISTENT | svc_flag::HASHED
        );
        assert_eq!(s.services[&key].sched, "rr");
        let dest = Attr::nest(
            cmd_attr::DEST,
            vec![
                Attr::bytes(dest_attr::ADDR, &[192, 168, 2, 2]),
                Attr::be16(dest_attr::PORT, 80),
                Attr::u32(dest_attr::FWD_METHOD, 0xf3),
                Attr::u32(dest_attr::WEIGHT, 2),
                Attr::u32(dest_attr::U_THRESH, 0),
                Attr::u32(dest_attr::L_THRESH, 0),
            ],
        );
        s.apply(cmd::NEW_DEST, &msg(vec![tcp_80(vec![]), dest.clone()]));
        let d = s.services[&key].dests.values().next().unwrap();
        assert_eq!((d.fwd, d.weight), (3, 2));
        s.apply(cmd::DEL_DEST, &msg(vec![tcp_80(vec![]), dest]));
        assert!(s.services[&key].dests.is_empty());
        s.apply(cmd::FLUSH, &[]);
        assert!(s.services.is_empty());
    }

    #[test]
    fn a_zero_fwmark_names_tcp_any() {
        let nest = msg(vec![
            Attr::u16(svc_attr::AF, AF_INET),
            Attr::u32(svc_attr::FWMARK, 0),
        ]);
        assert_eq!(
            svc_key(&nest),
            Some(SvcKey::Addr {
                af: AF_INET,
                protocol: IPPROTO_TCP,
                addr: [0; 16],
                port: 0
            })
        );
    }
}
