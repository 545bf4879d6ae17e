//! The IPVS generic netlink client: what libipvs does for ipvsadm, over [`crate::netlink`].

use crate::cli::{DaemonSpec, DestSpec, ServiceSpec};
use crate::netlink::{AttrBuf, Attrs, Error, GenlSocket, NLM_F_DUMP};
use rvs_abi::{
    cmd, cmd_attr, daemon_attr, dest_attr, flags_bytes, info_attr, stats_attr, svc_attr, AF_INET6,
    GENL_NAME, GENL_VERSION,
};
use std::net::IpAddr;

/// A running sync daemon, as `GET_DAEMON` lists it (0: not given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daemon {
    pub state: u32,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    pub group: Option<std::net::IpAddr>,
    pub port: u16,
    pub ttl: u8,
}

/// What `IPVS_CMD_GET_INFO` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    pub version: u32,
    pub conn_tab_size: u32,
}

/// The ten counters of a statistics nest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A virtual service as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub af: u16,
    pub protocol: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: String,
    pub pe_name: String,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
    pub stats: Stats,
}

/// A real server of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub conn_flags: u32,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
    pub stats: Stats,
}

/// The timeouts of `GET_CONFIG`, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Converts the 16-byte `union nf_inet_addr` of family `af` into an address.
pub fn ip_of(af: u16, addr: &[u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::from(*addr)
    } else {
        IpAddr::from([addr[0], addr[1], addr[2], addr[3]])
    }
}

fn addr16(payload: &[u8]) -> [u8; 16] {
    let mut addr = [0u8; 16];
    let n = payload.len().min(16);
    addr[..n].copy_from_slice(&payload[..n]);
    addr
}

/// Parses a statistics nest: `STATS64` (all u64) or `STATS` (u32 counters, u64 bytes).
pub fn parse_stats(nest: &Attrs<'_>, wide: bool) -> Result<Stats, Error> {
    let get = |kind, what| -> Result<u64, Error> {
        let attr = nest.require(kind, what)?;
        if wide || kind == stats_attr::INBYTES || kind == stats_attr::OUTBYTES {
            attr.u64()
        } else {
            attr.u32().map(u64::from)
        }
    };
    Ok(Stats {
        conns: get(stats_attr::CONNS, "stats: CONNS missing")?,
        inpkts: get(stats_attr::INPKTS, "stats: INPKTS missing")?,
        outpkts: get(stats_attr::OUTPKTS, "stats: OUTPKTS missing")?,
        inbytes: get(stats_attr::INBYTES, "stats: INBYTES missing")?,
        outbytes: get(stats_attr::OUTBYTES, "stats: OUTBYTES missing")?,
        cps: get(stats_attr::CPS, "stats: CPS missing")?,
        inpps: get(stats_attr::INPPS, "stats: INPPS missing")?,
        outpps: get(stats_attr::OUTPPS, "stats: OUTPPS missing")?,
        inbps: get(stats_attr::INBPS, "stats: INBPS missing")?,
        outbps: get(stats_attr::OUTBPS, "stats: OUTBPS missing")?,
    })
}

fn parse_entity_stats(nest: &Attrs<'_>, stats64: u16, stats32: u16) -> Result<Stats, Error> {
    if let Some(attr) = nest.get(stats64) {
        parse_stats(&attr.nested()?, true)
    } else if let Some(attr) = nest.get(stats32) {
        parse_stats(&attr.nested()?, false)
    } else {
        Ok(Stats::default())
    }
}

/// Parses the service nest of a `NEW_SERVICE` message, requiring what libipvs requires.
pub fn parse_service(msg: &[u8]) -> Result<Service, Error> {
    let top = Attrs::parse(msg)?;
    let nest = top
        .require(cmd_attr::SERVICE, "service nest missing")?
        .nested()?;
    let af = nest.require(svc_attr::AF, "service: AF missing")?.u16()?;
    let fwmark = nest
        .get(svc_attr::FWMARK)
        .map(|a| a.u32())
        .transpose()?
        .unwrap_or(0);
    let (protocol, addr, port) = if fwmark != 0 {
        (0, [0; 16], 0)
    } else {
        (
            nest.require(svc_attr::PROTOCOL, "service: PROTOCOL missing")?
                .u16()?,
            addr16(
                nest.require(svc_attr::ADDR, "service: ADDR missing")?
                    .payload,
            ),
            nest.require(svc_attr::PORT, "service: PORT missing")?
                .be16()?,
        )
    };
    let flags_attr = nest.require(svc_attr::FLAGS, "service: FLAGS missing")?;
    Ok(Service {
        af,
        protocol,
        addr,
        port,
        fwmark,
        sched_name: nest
            .require(svc_attr::SCHED_NAME, "service: SCHED_NAME missing")?
            .string()?,
        pe_name: nest
            .get(svc_attr::PE_NAME)
            .map(|a| a.string())
            .transpose()?
            .unwrap_or_default(),
        flags: flags_attr.u32()?,
        timeout: nest
            .require(svc_attr::TIMEOUT, "service: TIMEOUT missing")?
            .u32()?,
        netmask: nest
            .require(svc_attr::NETMASK, "service: NETMASK missing")?
            .u32()?,
        stats: parse_entity_stats(&nest, svc_attr::STATS64, svc_attr::STATS)?,
    })
}

/// Parses the dest nest of a `NEW_DEST` message of a service of family `svc_af`.
pub fn parse_dest(msg: &[u8], svc_af: u16) -> Result<Dest, Error> {
    let top = Attrs::parse(msg)?;
    let nest = top.require(cmd_attr::DEST, "dest nest missing")?.nested()?;
    let u32_of = |kind, what| nest.require(kind, what).and_then(|a| a.u32());
    let af = match nest
        .get(dest_attr::ADDR_FAMILY)
        .map(|a| a.u16())
        .transpose()?
    {
        Some(af) if af != 0 => af,
        _ => svc_af,
    };
    Ok(Dest {
        af,
        addr: addr16(nest.require(dest_attr::ADDR, "dest: ADDR missing")?.payload),
        port: nest
            .require(dest_attr::PORT, "dest: PORT missing")?
            .be16()?,
        conn_flags: u32_of(dest_attr::FWD_METHOD, "dest: FWD_METHOD missing")?,
        weight: u32_of(dest_attr::WEIGHT, "dest: WEIGHT missing")?,
        u_threshold: u32_of(dest_attr::U_THRESH, "dest: U_THRESH missing")?,
        l_threshold: u32_of(dest_attr::L_THRESH, "dest: L_THRESH missing")?,
        active_conns: u32_of(dest_attr::ACTIVE_CONNS, "dest: ACTIVE_CONNS missing")?,
        inact_conns: u32_of(dest_attr::INACT_CONNS, "dest: INACT_CONNS missing")?,
        persist_conns: u32_of(dest_attr::PERSIST_CONNS, "dest: PERSIST_CONNS missing")?,
        tun_type: nest
            .get(dest_attr::TUN_TYPE)
            .and_then(|a| a.payload.first().copied())
            .unwrap_or(0),
        tun_port: nest
            .get(dest_attr::TUN_PORT)
            .map(|a| a.be16())
            .transpose()?
            .unwrap_or(0),
        tun_flags: nest
            .get(dest_attr::TUN_FLAGS)
            .map(|a| a.u16())
            .transpose()?
            .unwrap_or(0),
        stats: parse_entity_stats(&nest, dest_attr::STATS64, dest_attr::STATS)?,
    })
}

/// The attributes that select a service: AF, then FWMARK or PROTOCOL + ADDR + PORT.
fn identity_nest(af: u16, fwmark: u32, protocol: u16, addr: &[u8; 16], port: u16) -> AttrBuf {
    let mut nest = AttrBuf::new();
    nest.put_u16(svc_attr::AF, af);
    if fwmark != 0 {
        nest.put_u32(svc_attr::FWMARK, fwmark);
    } else {
        nest.put_u16(svc_attr::PROTOCOL, protocol);
        nest.put(svc_attr::ADDR, addr);
        nest.put_be16(svc_attr::PORT, port);
    }
    nest
}

/// The identity part of a service nest, as libipvs sends it to select a service.
pub fn service_identity(svc: &Service) -> AttrBuf {
    identity_nest(svc.af, svc.fwmark, svc.protocol, &svc.addr, svc.port)
}

/// The full service nest libipvs sends (`ipvs_nl_fill_service_attr`).
pub fn service_nest(svc: &ServiceSpec) -> AttrBuf {
    let mut nest = identity_nest(svc.af, svc.fwmark, svc.protocol, &svc.addr, svc.port);
    nest.put_str(svc_attr::SCHED_NAME, &svc.sched_name);
    if !svc.pe_name.is_empty() {
        nest.put_str(svc_attr::PE_NAME, &svc.pe_name);
    }
    // struct ip_vs_flags { flags, mask = ~0 }: the flags replace the service's.
    nest.put(svc_attr::FLAGS, &flags_bytes(svc.flags, !0));
    nest.put_u32(svc_attr::TIMEOUT, svc.timeout);
    nest.put_u32(svc_attr::NETMASK, svc.netmask);
    nest
}

/// The dest nest libipvs sends (`ipvs_nl_fill_dest_attr`).
pub fn dest_nest(dest: &DestSpec) -> AttrBuf {
    let mut nest = AttrBuf::new();
    nest.put_u16(dest_attr::ADDR_FAMILY, dest.af);
    nest.put(dest_attr::ADDR, &dest.addr);
    nest.put_be16(dest_attr::PORT, dest.port);
    nest.put_u32(dest_attr::FWD_METHOD, dest.conn_flags);
    nest.put_u32(dest_attr::WEIGHT, dest.weight);
    nest.put(dest_attr::TUN_TYPE, &[dest.tun_type]);
    nest.put_be16(dest_attr::TUN_PORT, dest.tun_port);
    nest.put_u16(dest_attr::TUN_FLAGS, dest.tun_flags);
    nest.put_u32(dest_attr::U_THRESH, dest.u_threshold);
    nest.put_u32(dest_attr::L_THRESH, dest.l_threshold);
    nest
}

/// A connection to the kernel's IPVS family (rvs.ko or ip_vs).
pub struct Ipvs {
    sock: GenlSocket,
    family: u16,
}

impl Ipvs {
    /// Opens a socket and resolves the `"IPVS"` family.
    pub fn connect() -> Result<Self, Error> {
        let mut sock = GenlSocket::open()?;
        let family = sock.resolve_family(GENL_NAME)?;
        Ok(Self { sock, family })
    }

    fn doit(&mut self, command: u8, attrs: &AttrBuf) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        self.sock
            .request(self.family, 0, command, GENL_VERSION, attrs)
    }

    fn dump(&mut self, command: u8, attrs: &AttrBuf) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        self.sock
            .request(self.family, NLM_F_DUMP, command, GENL_VERSION, attrs)
    }

    pub fn info(&mut self) -> Result<Info, Error> {
        let replies = self.doit(cmd::GET_INFO, &AttrBuf::new())?;
        let (_, bytes) = replies
            .first()
            .ok_or(Error::Protocol("GET_INFO: no reply"))?;
        let attrs = Attrs::parse(bytes)?;
        Ok(Info {
            version: attrs
                .require(info_attr::VERSION, "GET_INFO: VERSION missing")?
                .u32()?,
            conn_tab_size: attrs
                .require(info_attr::CONN_TAB_SIZE, "GET_INFO: CONN_TAB_SIZE missing")?
                .u32()?,
        })
    }

    pub fn services(&mut self) -> Result<Vec<Service>, Error> {
        self.dump(cmd::GET_SERVICE, &AttrBuf::new())?
            .iter()
            .map(|(_, m)| parse_service(m))
            .collect()
    }

    /// One service (`GET_SERVICE` doit).
    pub fn service(&mut self, svc: &ServiceSpec) -> Result<Service, Error> {
        let mut attrs = AttrBuf::new();
        attrs.put_nested(cmd_attr::SERVICE, &service_nest(svc));
        let replies = self.doit(cmd::GET_SERVICE, &attrs)?;
        let (_, bytes) = replies
            .first()
            .ok_or(Error::Protocol("GET_SERVICE: no reply"))?;
        parse_service(bytes)
    }

    pub fn dests(&mut self, svc: &Service) -> Result<Vec<Dest>, Error> {
        let mut attrs = AttrBuf::new();
        attrs.put_nested(cmd_attr::SERVICE, &service_identity(svc));
        self.dump(cmd::GET_DEST, &attrs)?
            .iter()
            .map(|(_, m)| parse_dest(m, svc.af))
            .collect()
    }

    /// A command carrying a service nest and, optionally, a dest nest.
    pub fn service_cmd(
        &mut self,
        command: u8,
        svc: &ServiceSpec,
        dest: Option<&DestSpec>,
    ) -> Result<(), Error> {
        let mut attrs = AttrBuf::new();
        attrs.put_nested(cmd_attr::SERVICE, &service_nest(svc));
        if let Some(d) = dest {
            attrs.put_nested(cmd_attr::DEST, &dest_nest(d));
        }
        self.doit(command, &attrs).map(drop)
    }

    /// `FLUSH`, or `ZERO` of everything: no attributes.
    pub fn bare_cmd(&mut self, command: u8) -> Result<(), Error> {
        self.doit(command, &AttrBuf::new()).map(drop)
    }

    pub fn daemon_cmd(&mut self, command: u8, d: &DaemonSpec) -> Result<(), Error> {
        let mut nest = AttrBuf::new();
        nest.put_u32(daemon_attr::STATE, d.state);
        nest.put_str(daemon_attr::MCAST_IFN, &d.mcast_ifn);
        nest.put_u32(daemon_attr::SYNC_ID, d.syncid);
        let mut attrs = AttrBuf::new();
        attrs.put_nested(cmd_attr::DAEMON, &nest);
        self.doit(command, &attrs).map(drop)
    }

    /// The running sync daemons, master first.
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, Error> {
        let mut out = Vec::new();
        for (_, msg) in self.dump(cmd::GET_DAEMON, &AttrBuf::new())? {
            let top = Attrs::parse(&msg)?;
            let nest = top
                .require(cmd_attr::DAEMON, "daemon nest missing")?
                .nested()?;
            let group = if let Some(g) = nest.get(daemon_attr::MCAST_GROUP) {
                let b: [u8; 4] = g
                    .payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Error::Protocol("daemon: short MCAST_GROUP"))?;
                Some(std::net::IpAddr::from(b))
            } else if let Some(g) = nest.get(daemon_attr::MCAST_GROUP6) {
                let b: [u8; 16] = g
                    .payload
                    .get(..16)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Error::Protocol("daemon: short MCAST_GROUP6"))?;
                Some(std::net::IpAddr::from(b))
            } else {
                None
            };
            let opt_u16 = |kind| nest.get(kind).map(|a| a.u16()).transpose();
            out.push(Daemon {
                state: nest
                    .require(daemon_attr::STATE, "daemon: STATE missing")?
                    .u32()?,
                mcast_ifn: nest
                    .require(daemon_attr::MCAST_IFN, "daemon: MCAST_IFN missing")?
                    .string()?,
                syncid: nest
                    .require(daemon_attr::SYNC_ID, "daemon: SYNC_ID missing")?
                    .u32()?,
                sync_maxlen: opt_u16(daemon_attr::SYNC_MAXLEN)?.unwrap_or(0),
                group,
                port: opt_u16(daemon_attr::MCAST_PORT)?.unwrap_or(0),
                ttl: nest
                    .get(daemon_attr::MCAST_TTL)
                    .and_then(|a| a.payload.first().copied())
                    .unwrap_or(0),
            });
        }
        Ok(out)
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, Error> {
        let replies = self.doit(cmd::GET_CONFIG, &AttrBuf::new())?;
        let (_, bytes) = replies
            .first()
            .ok_or(Error::Protocol("GET_CONFIG: no reply"))?;
        let attrs = Attrs::parse(bytes)?;
        let get = |kind| {
            attrs
                .get(kind)
                .map(|a| a.u32())
                .transpose()
                .map(Option::unwrap_or_default)
        };
        Ok(Timeouts {
            tcp: get(cmd_attr::TIMEOUT_TCP)?,
            tcp_fin: get(cmd_attr::TIMEOUT_TCP_FIN)?,
            udp: get(cmd_attr::TIMEOUT_UDP)?,
        })
    }

    pub fn set_timeouts(&mut self, t: Timeouts) -> Result<(), Error> {
        let mut attrs = AttrBuf::new();
        attrs
            .put_u32(cmd_attr::TIMEOUT_TCP, t.tcp)
            .put_u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin)
            .put_u32(cmd_attr::TIMEOUT_UDP, t.udp);
        self.doit(cmd::SET_CONFIG, &attrs).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_abi::{svc_flag, AF_INET, IPPROTO_TCP, NETMASK_INET_ALL};

    fn stats_nest(wide: bool) -> AttrBuf {
        let mut s = AttrBuf::new();
        for kind in stats_attr::CONNS..=stats_attr::OUTBPS {
            if wide || kind == stats_attr::INBYTES || kind == stats_attr::OUTBYTES {
                s.put(kind, &(u64::from(kind) * 1000).to_ne_bytes());
            } else {
                s.put_u32(kind, u32::from(kind) * 1000);
            }
        }
        s
    }

    fn service_msg(with_stats64: bool) -> AttrBuf {
        let mut nest = AttrBuf::new();
        nest.put_u16(svc_attr::AF, AF_INET)
            .put_u16(svc_attr::PROTOCOL, IPPROTO_TCP)
            .put(
                svc_attr::ADDR,
                &[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            )
            .put_be16(svc_attr::PORT, 80)
            .put_str(svc_attr::SCHED_NAME, "wrr")
            .put(svc_attr::FLAGS, &flags_bytes(svc_flag::PERSISTENT, !0))
            .put_u32(svc_attr::TIMEOUT, 300)
            .put_u32(svc_attr::NETMASK, NETMASK_INET_ALL)
            .put_nested(svc_attr::STATS, &stats_nest(false));
        if with_stats64 {
            nest.put_nested(svc_attr::STATS64, &stats_nest(true));
        }
        let mut msg = AttrBuf::new();
        msg.put_nested(cmd_attr::SERVICE, &nest);
        msg
    }

    #[test]
    fn service_message_parses() {
        let svc = parse_service(service_msg(true).bytes()).unwrap();
        assert_eq!(ip_of(svc.af, &svc.addr).to_string(), "10.0.0.1");
        assert_eq!((svc.protocol, svc.port, svc.fwmark), (IPPROTO_TCP, 80, 0));
        assert_eq!(
            (svc.sched_name.as_str(), svc.flags, svc.timeout),
            ("wrr", 1, 300)
        );
        assert_eq!(svc.stats.conns, 1000);
        assert_eq!(svc.stats.outbps, 10000);
        assert_eq!(
            parse_service(service_msg(false).bytes())
                .unwrap()
                .stats
                .inbytes,
            4000
        );
    }

    #[test]
    fn service_without_scheduler_is_rejected() {
        let mut nest = AttrBuf::new();
        nest.put_u16(svc_attr::AF, AF_INET)
            .put_u32(svc_attr::FWMARK, 5);
        let mut msg = AttrBuf::new();
        msg.put_nested(cmd_attr::SERVICE, &nest);
        assert!(matches!(
            parse_service(msg.bytes()),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn identity_of_fwmark_and_addr_services() {
        let mut svc = parse_service(service_msg(false).bytes()).unwrap();
        let attrs = service_identity(&svc);
        let parsed = Attrs::parse(attrs.bytes()).unwrap();
        assert_eq!(parsed.get(svc_attr::PORT).unwrap().payload, &[0, 80]);
        assert!(parsed.get(svc_attr::FWMARK).is_none());
        svc.fwmark = 7;
        let attrs = service_identity(&svc);
        let parsed = Attrs::parse(attrs.bytes()).unwrap();
        assert_eq!(parsed.get(svc_attr::FWMARK).unwrap().u32().unwrap(), 7);
        assert!(parsed.get(svc_attr::ADDR).is_none());
    }
}
