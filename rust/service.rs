// SPDX-License-Identifier: GPL-2.0

//! Virtual services and their destinations (real servers), and the per-namespace hash tables of
//! services read under RCU.
//!
//! A [`Service`] in the table is immutable: a configuration change builds the service's next
//! version (sharing its unchanged destinations, and the statistics, counters and scheduler state
//! of the changed ones) and puts it in the place of the current one, so that a reader sees one
//! consistent service.

#![deny(unsafe_code)]

use crate::{
    abi::{conn_flag, svc_flag, AF_INET, AF_INET6},
    ffi::{
        rcu::Guard,
        rculist::{Entry, Iter, RcuHashTable, RcuLink},
        skb::RouteCache,
        sync::BhSpinLock,
    },
    jhash,
    packet::{self, Encap, InetAddr},
    pe_sip,
    sched::{Candidate, Flow, SchedState, Scheduler},
    stats::Stats,
};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kernel::{c_str, prelude::*, sync::Arc};

/// What identifies a service: its address tuple, or its firewall mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceKey {
    /// `(af, protocol, address, port)`; the address is normalised (`config_rules::normalize_addr`).
    Tuple {
        af: u16,
        protocol: u16,
        addr: [u8; 16],
        port: u16,
    },
    /// `(af, fwmark)`; IPVS stores such services with protocol TCP.
    Fwmark { af: u16, mark: u32 },
}

impl ServiceKey {
    /// The address family.
    pub(crate) fn af(&self) -> u16 {
        match *self {
            ServiceKey::Tuple { af, .. } | ServiceKey::Fwmark { af, .. } => af,
        }
    }
}

/// The settable part of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServiceParams {
    /// `IP_VS_SVC_F_*`, `HASHED` included.
    pub(crate) flags: u32,
    /// The bound scheduler, or none (`"none"`).
    pub(crate) scheduler: Option<Scheduler>,
    /// Persistence timeout in jiffies.
    pub(crate) timeout_ticks: u32,
    /// Persistence netmask: an IPv4 mask in network byte order, or an IPv6 prefix length, as
    /// userspace sent it.
    pub(crate) netmask: u32,
    /// The persistence engine (`--pe`), if any.
    pub(crate) pe: Option<PersistenceEngine>,
}

/// A persistence engine (`struct ip_vs_pe`): what else than the client network a persistent
/// service's templates are for. IPVS has one, `sip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PersistenceEngine {
    /// `sip`: a SIP call, by the Call-ID of its UDP datagrams ([`pe_sip`]).
    Sip,
}

impl PersistenceEngine {
    /// The engine named `name` (`ip_vs_pe_getbyname`, case-sensitive).
    pub(crate) fn by_name(name: &[u8]) -> Option<Self> {
        (name == pe_sip::NAME).then_some(Self::Sip)
    }

    /// The name `--pe` gives and a service dump shows (`IPVS_SVC_ATTR_PE_NAME`).
    pub(crate) fn name(self) -> &'static [u8] {
        match self {
            Self::Sip => pe_sip::NAME,
        }
    }
}

/// A version of a virtual service, immutable: a command that changes the service puts the next
/// version in its place in the [`ServiceTable`].
pub(crate) struct Service {
    link: RcuLink<Service>,
    pub(crate) key: ServiceKey,
    pub(crate) params: ServiceParams,
    /// Destinations, the most recently added first (IPVS adds at the head of its list); shared
    /// by the versions that differ in their parameters only.
    pub(crate) dests: Arc<KVec<Arc<Dest>>>,
    pub(crate) stats: Arc<Stats>,
    /// The scheduler's state (IPVS's `sched_data` under `sched_lock`), shared by the versions of
    /// the service that have the same scheduler.
    pub(crate) sched: Arc<BhSpinLock<SchedState>>,
}

/// What identifies a destination within its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestKey {
    pub(crate) af: u16,
    /// Normalised (`config_rules::normalize_addr`).
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
}

/// The settable part of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestParams {
    /// Forwarding method (`IP_VS_CONN_F_FWD_MASK` bits).
    pub(crate) fwd: u32,
    pub(crate) weight: i32,
    /// The last non-zero weight (kept through quiescing, for the mh scheduler).
    pub(crate) last_weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
    pub(crate) tun_type: u8,
    /// Host byte order.
    pub(crate) tun_port: u16,
    pub(crate) tun_flags: u16,
}

/// The part of a destination that the packet path updates and every version of the destination
/// shares: connection counts, statistics, availability and overload (IPVS keeps these in the one
/// mutable `struct ip_vs_dest`).
pub(crate) struct DestShared {
    /// Identity for the schedulers, unique for the life of the module.
    pub(crate) id: u64,
    weight: AtomicI32,
    /// The tunnel settings (type, port, flags) for tunnelling, packed by [`pack_tunnel`] so that
    /// the packet path reads the three of one configuration.
    tunnel: AtomicU64,
    active: AtomicI32,
    total: AtomicI32,
    persistent: AtomicI32,
    pub(crate) stats: Stats,
    /// Cleared when the destination is removed from its service (`IP_VS_DEST_CF_AVAILABLE`).
    available: AtomicBool,
    overloaded: AtomicBool,
    u_threshold: AtomicU32,
    /// The lower threshold in use: `l_threshold`, or 3/4 of `u_threshold` when that is 0.
    l_threshold: AtomicU32,
    /// The route to the real server, kept for its packets (IPVS's `dest_dst`).
    pub(crate) route: RouteCache,
}

static NEXT_DEST_ID: AtomicU64 = AtomicU64::new(1);

/// A destination's tunnel type, port (host order) and flags in one word.
fn pack_tunnel(params: &DestParams) -> u64 {
    u64::from(params.tun_type) << 32
        | u64::from(params.tun_port) << 16
        | u64::from(params.tun_flags)
}

/// `__ip_vs_dest_update_overload`: the overload flag after a change of the connection count to
/// `conns`; `mode` > 0 when a connection was bound at the upper threshold, < 0 when one was
/// unbound at the lower threshold, 0 when the thresholds changed.
pub(crate) fn overload_after(current: bool, conns: i32, upper: u32, lower: u32, mode: i32) -> bool {
    if upper == 0 {
        return false;
    }
    let conns = i64::from(conns);
    let set_at = if mode > 0 { lower } else { upper };
    if conns >= i64::from(set_at) {
        return true;
    }
    let keep_at = if mode < 0 { upper } else { lower };
    if conns >= i64::from(keep_at) {
        return current;
    }
    false
}

impl DestShared {
    /// The shared part of a new destination. Sleeps.
    pub(crate) fn new(params: &DestParams) -> Result<Self> {
        let shared = Self {
            id: NEXT_DEST_ID.fetch_add(1, Ordering::Relaxed),
            weight: AtomicI32::new(params.weight),
            tunnel: AtomicU64::new(pack_tunnel(params)),
            active: AtomicI32::new(0),
            total: AtomicI32::new(0),
            persistent: AtomicI32::new(0),
            stats: Stats::new()?,
            available: AtomicBool::new(true),
            overloaded: AtomicBool::new(false),
            u_threshold: AtomicU32::new(0),
            l_threshold: AtomicU32::new(0),
            route: RouteCache::new(),
        };
        shared.set_thresholds(params.u_threshold, params.l_threshold);
        Ok(shared)
    }

    /// The current weight (connections look at it, `expire_nodest_conn` on reuse).
    pub(crate) fn weight(&self) -> i32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// Takes the new settings of an edited destination (`__ip_vs_update_dest`).
    pub(crate) fn update(&self, params: &DestParams) {
        self.weight.store(params.weight, Ordering::Relaxed);
        self.tunnel.store(pack_tunnel(params), Ordering::Relaxed);
        self.set_thresholds(params.u_threshold, params.l_threshold);
    }

    /// How packets are wrapped for this real server when it is reached by tunnelling
    /// (`--tun-type`, `--tun-port`, `--tun-[no|rem]csum`).
    pub(crate) fn encap(&self) -> Encap {
        let t = self.tunnel.load(Ordering::Relaxed);
        Encap::new((t >> 32) as u8, (t >> 16) as u16, t as u16)
    }

    /// Sets the connection thresholds (`-x`, `-y`).
    fn set_thresholds(&self, upper: u32, lower: u32) {
        let lower = if lower != 0 {
            lower
        } else {
            upper - (upper >> 2)
        };
        self.u_threshold.store(upper, Ordering::Relaxed);
        self.l_threshold.store(lower, Ordering::Relaxed);
        self.update_overload(0);
    }

    fn update_overload(&self, mode: i32) {
        let new = overload_after(
            self.overloaded.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            self.u_threshold.load(Ordering::Relaxed),
            self.l_threshold.load(Ordering::Relaxed),
            mode,
        );
        self.overloaded.store(new, Ordering::Relaxed);
    }

    /// Whether the destination still belongs to its service.
    pub(crate) fn available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    /// The destination left its service: its connections stop forwarding.
    pub(crate) fn set_unavailable(&self) {
        self.available.store(false, Ordering::Relaxed);
    }

    /// The destination is back in its service, from the dest trash: its connections forward
    /// again.
    pub(crate) fn set_available(&self) {
        self.available.store(true, Ordering::Relaxed);
    }

    /// Whether the upper connection threshold is reached (`IP_VS_DEST_F_OVERLOAD`).
    pub(crate) fn overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }

    /// A new (inactive) connection is bound (`ip_vs_bind_dest`).
    pub(crate) fn bind_conn(&self) {
        let total = self.total.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if total as u32 == self.u_threshold.load(Ordering::Relaxed) {
            self.update_overload(1);
        }
    }

    /// A connection is unbound (`ip_vs_unbind_dest`); `active` if it counted as active.
    pub(crate) fn unbind_conn(&self, active: bool) {
        if active {
            self.active.fetch_sub(1, Ordering::Relaxed);
        }
        let before = self.total.fetch_sub(1, Ordering::Relaxed);
        if before as u32 == self.l_threshold.load(Ordering::Relaxed) {
            self.update_overload(-1);
        }
    }

    /// A persistence template is bound.
    pub(crate) fn bind_template(&self) {
        self.persistent.fetch_add(1, Ordering::Relaxed);
    }

    /// A persistence template is unbound.
    pub(crate) fn unbind_template(&self) {
        self.persistent.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection became active.
    pub(crate) fn activate(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection became inactive.
    pub(crate) fn deactivate(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Active connections (`activeconns`).
    pub(crate) fn active_conns(&self) -> u32 {
        self.active.load(Ordering::Relaxed).max(0) as u32
    }

    /// Inactive connections as IPVS reports them: `totalconns - activeconns`, at least 0
    /// (`ip_vs_dest_inactconns`).
    pub(crate) fn inactive_conns(&self) -> u32 {
        let total = self.total.load(Ordering::Relaxed);
        let active = self.active.load(Ordering::Relaxed);
        total.saturating_sub(active).max(0) as u32
    }

    /// Persistence templates (`persistconns`).
    pub(crate) fn persistent_conns(&self) -> u32 {
        self.persistent.load(Ordering::Relaxed).max(0) as u32
    }
}

/// A destination (real server).
pub(crate) struct Dest {
    pub(crate) key: DestKey,
    pub(crate) params: DestParams,
    pub(crate) shared: Arc<DestShared>,
}

/// Buckets of the table of address services: 20 000 services make chains of 5 (IPVS has 256
/// buckets shared by every namespace, so its chains grow with the number of services).
const TUPLE_BUCKETS: usize = 1 << 12;
/// Buckets of the table of firewall-mark services.
const MARK_BUCKETS: usize = 1 << 8;
/// Buckets of the index of real servers.
const REAL_SERVER_BUCKETS: usize = 1 << 12;

/// The services of a namespace (IPVS's `svc_table` and `svc_fwm_table`) and the index of their
/// NAT and tunnelling real servers by address (its `rs_table`).
///
/// Readers (the packet path, dumps, `/proc`) look services up under RCU; each [`Service`] they
/// find is an immutable version, which a command replaces in its chain by the next one. Writers
/// are serialised by the caller (the generic netlink mutex); each change costs what it changes,
/// whatever the number of services.
pub(crate) struct ServiceTable {
    by_tuple: RcuHashTable<Service>,
    by_mark: RcuHashTable<Service>,
    real_servers: RcuHashTable<RealServer>,
    seed: u32,
    /// Services in the table.
    count: AtomicUsize,
    /// IPv6 services among them (`num_services6`), which IPv6's hooks are registered for.
    count6: AtomicUsize,
    /// Services with a persistence engine (IPVS's `conn_out_counter`): only then can a real
    /// server's datagram without connection start one (`ip_vs_sip_conn_out`).
    with_pe: AtomicUsize,
}

/// How the real servers of an index entry are reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reached {
    /// By NAT, for one protocol (0: any, the real servers of firewall-mark services).
    Masq { protocol: u16 },
    /// By tunnelling, with these tunnel settings.
    Tunnel { tun_type: u8, tun_flags: u16 },
}

/// The real servers of a namespace with the same address, port and way of being reached, with
/// how many they are (IPVS has one `rs_table` entry per destination; one entry for all the
/// services that share a real server keeps the chains short when thousands of services do).
struct RealServer {
    link: RcuLink<RealServer>,
    af: u16,
    addr: [u8; 16],
    /// The destination's port for NAT; the GUE port, or 0 for other tunnels (`ip_vs_rs_hash`).
    port: u16,
    reached: Reached,
    /// Destinations with exactly these settings; written under the writers' serialisation.
    users: AtomicU32,
}

crate::impl_rcu_linked!(RealServer, link);
crate::impl_rcu_linked!(Service, link);

/// A destination as the real-server index knows it, if it knows it (NAT and tunnelling only).
fn real_server(svc: &ServiceKey, key: &DestKey, params: &DestParams) -> Option<(u16, Reached)> {
    match params.fwd & conn_flag::FWD_MASK {
        conn_flag::MASQ => {
            let protocol = match *svc {
                ServiceKey::Tuple { protocol, .. } => protocol,
                ServiceKey::Fwmark { .. } => 0,
            };
            Some((key.port, Reached::Masq { protocol }))
        }
        conn_flag::TUNNEL => {
            let tunnel = Reached::Tunnel {
                tun_type: params.tun_type,
                tun_flags: params.tun_flags,
            };
            Some((params.tun_port, tunnel))
        }
        _ => None,
    }
}

/// An IPv6 address folded into a word for hashing (IPv4 addresses are the first word).
fn fold_addr(af: u16, addr: &[u8; 16]) -> u32 {
    let word = |i: usize| u32::from_ne_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    if af == AF_INET {
        word(0)
    } else {
        word(0) ^ word(4) ^ word(8) ^ word(12)
    }
}

impl ServiceTable {
    /// An empty table whose hashes are seeded with `seed`. Sleeps.
    pub(crate) fn new(seed: u32) -> Result<Self> {
        Ok(Self {
            by_tuple: RcuHashTable::new(
                TUPLE_BUCKETS,
                c_str!("rvs_svc_table"),
                kernel::static_lock_class!(),
            )?,
            by_mark: RcuHashTable::new(
                MARK_BUCKETS,
                c_str!("rvs_svc_fwm_table"),
                kernel::static_lock_class!(),
            )?,
            real_servers: RcuHashTable::new(
                REAL_SERVER_BUCKETS,
                c_str!("rvs_rs_table"),
                kernel::static_lock_class!(),
            )?,
            seed,
            count: AtomicUsize::new(0),
            count6: AtomicUsize::new(0),
            with_pe: AtomicUsize::new(0),
        })
    }

    /// The table and bucket of the services with `key`.
    fn chain(&self, key: &ServiceKey) -> (&RcuHashTable<Service>, usize) {
        match *key {
            ServiceKey::Tuple {
                af,
                protocol,
                ref addr,
                port,
            } => {
                let hash = jhash::jhash_3words(
                    fold_addr(af, addr),
                    u32::from(protocol) << 16 | u32::from(port),
                    u32::from(af),
                    self.seed,
                );
                (&self.by_tuple, hash as usize % TUPLE_BUCKETS)
            }
            ServiceKey::Fwmark { af, mark } => {
                let hash = jhash::jhash_2words(mark, u32::from(af), self.seed);
                (&self.by_mark, hash as usize % MARK_BUCKETS)
            }
        }
    }

    /// The bucket of the real servers at `addr` with (tunnel) port `port` (`ip_vs_rs_hashkey`).
    fn real_server_bucket(&self, af: u16, addr: &[u8; 16], port: u16) -> usize {
        let hash = jhash::jhash_3words(
            fold_addr(af, addr),
            u32::from(port),
            u32::from(af),
            self.seed,
        );
        hash as usize % REAL_SERVER_BUCKETS
    }

    /// Number of services.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Number of services of family `af`.
    pub(crate) fn count_of(&self, af: u16) -> usize {
        let count6 = self.count6.load(Ordering::Relaxed);
        if af == AF_INET6 {
            count6
        } else {
            self.count().saturating_sub(count6)
        }
    }

    /// Finds a service by key.
    pub(crate) fn find<'g>(
        &'g self,
        key: &ServiceKey,
        guard: &'g Guard,
    ) -> Option<Entry<'g, Service>> {
        let (table, bucket) = self.chain(key);
        table.iter(bucket, guard).find(|s| s.key == *key)
    }

    /// The current version of the service with `key`, kept alive past the read-side critical
    /// section (for commands and replies, which sleep).
    pub(crate) fn get(&self, key: &ServiceKey) -> Option<Arc<Service>> {
        let guard = Guard::new();
        self.find(key, &guard).map(|s| s.to_arc())
    }

    /// The service a packet for `daddr:dport` (wire bytes) with firewall mark `mark` is for
    /// (`ip_vs_service_find`): a fwmark service of the address's family first, then the exact
    /// address and port, then a persistent port-0 service of the address.
    pub(crate) fn find_for_packet<'g>(
        &'g self,
        protocol: u8,
        daddr: &InetAddr,
        dport: [u8; 2],
        mark: u32,
        guard: &'g Guard,
    ) -> Option<Entry<'g, Service>> {
        let addr = daddr.to_16();
        let af = daddr.af();
        let tuple = |port| ServiceKey::Tuple {
            af,
            protocol: u16::from(protocol),
            addr,
            port,
        };
        if mark != 0 {
            if let Some(svc) = self.find(&ServiceKey::Fwmark { af, mark }, guard) {
                return Some(svc);
            }
        }
        self.find(&tuple(u16::from_be_bytes(dport)), guard)
            .or_else(|| self.find(&tuple(0), guard).filter(|s| s.persistent()))
    }

    /// How packets are wrapped for the real server at IPv4 `addr` reached by tunnelling with
    /// tunnel port `tun_port` (0 but for GUE) in any service (`ip_vs_find_tunnel`): what an ICMP
    /// error about a tunnelled packet is checked against.
    pub(crate) fn find_tunnel(&self, addr: [u8; 4], tun_port: u16, guard: &Guard) -> Option<Encap> {
        let full = packet::ipv4_in_16(addr);
        let bucket = self.real_server_bucket(AF_INET, &full, tun_port);
        self.real_servers
            .iter(bucket, guard)
            .filter(|r| r.af == AF_INET && r.addr == full && r.port == tun_port)
            .find_map(|r| match r.reached {
                Reached::Tunnel {
                    tun_type,
                    tun_flags,
                } => Some(Encap::new(tun_type, tun_port, tun_flags)),
                Reached::Masq { .. } => None,
            })
    }

    /// Whether `addr:port` (port in host order) is a NAT real server of a service of
    /// `protocol`, or of a firewall-mark service (`ip_vs_has_real_service`).
    pub(crate) fn has_real_service(&self, protocol: u8, addr: &InetAddr, port: u16) -> bool {
        let (af, full) = (addr.af(), addr.to_16());
        let guard = Guard::new();
        let bucket = self.real_server_bucket(af, &full, port);
        let protocol = u16::from(protocol);
        self.real_servers.iter(bucket, &guard).any(|r| {
            r.af == af
                && r.addr == full
                && r.port == port
                && matches!(r.reached, Reached::Masq { protocol: p } if p == protocol || p == 0)
        })
    }

    /// The UDP service with the SIP persistence engine that has NAT real server `addr:port`
    /// (port in host order) and is of its family, and that real server: a datagram it sends
    /// without connection starts one (`__ip_vs_rs_conn_out`, `ip_vs_sip_conn_out`). Walks the
    /// services only when some have an engine and the address is a NAT real server's; IPVS
    /// takes the first real server its index has at that address, of any service, where this
    /// takes one of a service with the engine.
    pub(crate) fn find_sip_real_server<'g>(
        &'g self,
        addr: &InetAddr,
        port: u16,
        guard: &'g Guard,
    ) -> Option<(Entry<'g, Service>, Arc<Dest>)> {
        if self.with_pe.load(Ordering::Relaxed) == 0
            || !self.has_real_service(packet::PROTO_UDP, addr, port)
        {
            return None;
        }
        let af = addr.af();
        let dest_key = DestKey {
            af,
            addr: addr.to_16(),
            port,
        };
        (0..TUPLE_BUCKETS)
            .flat_map(|b| self.by_tuple.iter(b, guard))
            .find_map(|svc| {
                let udp = matches!(svc.key, ServiceKey::Tuple { af: a, protocol, .. }
                    if a == af && protocol == u16::from(packet::PROTO_UDP));
                if !udp || svc.params.pe != Some(PersistenceEngine::Sip) {
                    return None;
                }
                let (_, dest) = svc.find_dest(&dest_key)?;
                let dest = dest.clone();
                (dest.params.fwd & conn_flag::FWD_MASK == conn_flag::MASQ).then_some((svc, dest))
            })
    }

    /// Buckets of the two service tables together: the address services' first, as IPVS lists
    /// them.
    pub(crate) fn buckets(&self) -> usize {
        TUPLE_BUCKETS + MARK_BUCKETS
    }

    /// The services of bucket `bucket` (see [`ServiceTable::buckets`]), most recently added first.
    pub(crate) fn bucket<'g>(&'g self, bucket: usize, guard: &'g Guard) -> Iter<'g, Service> {
        match bucket.checked_sub(TUPLE_BUCKETS) {
            None => self.by_tuple.iter(bucket, guard),
            Some(bucket) => self.by_mark.iter(bucket, guard),
        }
    }

    /// Every service, bucket by bucket.
    pub(crate) fn iter<'g>(&'g self, guard: &'g Guard) -> impl Iterator<Item = Entry<'g, Service>> {
        (0..self.buckets()).flat_map(move |b| self.bucket(b, guard))
    }

    /// Adds `service`, whose key no service has.
    pub(crate) fn insert(&self, service: Service) -> Result {
        let service = Arc::new(service, GFP_KERNEL)?;
        let (table, bucket) = self.chain(&service.key);
        let with_pe = service.params.pe.is_some();
        let ipv6 = service.key.af() == AF_INET6;
        table.insert(bucket, service).map_err(|_| EINVAL)?;
        self.count.fetch_add(1, Ordering::Relaxed);
        if ipv6 {
            self.count6.fetch_add(1, Ordering::Relaxed);
        }
        if with_pe {
            self.with_pe.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Puts `new` in the place of `old`, the current version of the same service.
    pub(crate) fn replace(&self, old: &Service, new: Arc<Service>) -> Result {
        let (table, bucket) = self.chain(&old.key);
        let (had_pe, has_pe) = (old.params.pe.is_some(), new.params.pe.is_some());
        table
            .replace(bucket, |s| core::ptr::eq(s, old), new)
            .map_err(|_| ESRCH)?;
        match (had_pe, has_pe) {
            (false, true) => self.with_pe.fetch_add(1, Ordering::Relaxed),
            (true, false) => self.with_pe.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
        Ok(())
    }

    /// Takes `old`, the current version of a service, out of the table. Its destinations are
    /// the caller's to retire (and to take out of the real-server index).
    pub(crate) fn remove(&self, old: &Service) -> bool {
        let (table, bucket) = self.chain(&old.key);
        let removed = table.remove_if(bucket, |s| core::ptr::eq(s, old)) != 0;
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
            if old.key.af() == AF_INET6 {
                self.count6.fetch_sub(1, Ordering::Relaxed);
            }
            if old.params.pe.is_some() {
                self.with_pe.fetch_sub(1, Ordering::Relaxed);
            }
        }
        removed
    }

    /// Takes every service out of the table, calling `gone` for each.
    pub(crate) fn remove_all(&self, mut gone: impl FnMut(&Service)) {
        for bucket in 0..TUPLE_BUCKETS {
            self.by_tuple.remove_if(bucket, |s| {
                gone(s);
                true
            });
        }
        for bucket in 0..MARK_BUCKETS {
            self.by_mark.remove_if(bucket, |s| {
                gone(s);
                true
            });
        }
        self.count.store(0, Ordering::Relaxed);
        self.count6.store(0, Ordering::Relaxed);
        self.with_pe.store(0, Ordering::Relaxed);
    }

    /// Indexes a destination of service `svc` if it is reached by NAT or tunnelling
    /// (`ip_vs_rs_hash`). Sleeps; called before the destination goes live, so that what is checked
    /// against the index knows it from its first packet.
    pub(crate) fn index_dest(
        &self,
        svc: &ServiceKey,
        key: &DestKey,
        params: &DestParams,
    ) -> Result {
        let Some((port, reached)) = real_server(svc, key, params) else {
            return Ok(());
        };
        let bucket = self.real_server_bucket(key.af, &key.addr, port);
        let same = |r: &RealServer| {
            r.af == key.af && r.addr == key.addr && r.port == port && r.reached == reached
        };
        let guard = Guard::new();
        if let Some(r) = self.real_servers.iter(bucket, &guard).find(|r| same(r)) {
            r.users.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        drop(guard);
        let entry = Arc::new(
            RealServer {
                link: RcuLink::new(),
                af: key.af,
                addr: key.addr,
                port,
                reached,
                users: AtomicU32::new(1),
            },
            GFP_KERNEL,
        )?;
        self.real_servers.insert(bucket, entry).map_err(|_| EINVAL)
    }

    /// Undoes [`ServiceTable::index_dest`] for a destination that left its service or changed
    /// (`ip_vs_rs_unhash`).
    pub(crate) fn unindex_dest(&self, svc: &ServiceKey, key: &DestKey, params: &DestParams) {
        let Some((port, reached)) = real_server(svc, key, params) else {
            return;
        };
        let bucket = self.real_server_bucket(key.af, &key.addr, port);
        self.real_servers.remove_if(bucket, |r| {
            r.af == key.af
                && r.addr == key.addr
                && r.port == port
                && r.reached == reached
                && r.users.fetch_sub(1, Ordering::Relaxed) == 1
        });
    }
}

/// A copy of `items` with entry `index` replaced by `new` (the `Arc`s are cloned, not their
/// content).
fn replaced<T>(items: &[Arc<T>], index: usize, new: T) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len(), GFP_KERNEL)?;
    let mut new = Some(Arc::new(new, GFP_KERNEL)?);
    for (i, item) in items.iter().enumerate() {
        let item = if i == index {
            new.take().ok_or(EINVAL)?
        } else {
            item.clone()
        };
        out.push(item, GFP_KERNEL)?;
    }
    Ok(out)
}

/// A copy of `items` without entry `index`.
fn removed<T>(items: &[Arc<T>], index: usize) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len(), GFP_KERNEL)?;
    for (i, item) in items.iter().enumerate() {
        if i != index {
            out.push(item.clone(), GFP_KERNEL)?;
        }
    }
    Ok(out)
}

impl Service {
    /// A new service without destinations.
    pub(crate) fn new(key: ServiceKey, params: ServiceParams) -> Result<Self> {
        Ok(Self {
            link: RcuLink::new(),
            key,
            params,
            dests: Arc::new(KVec::new(), GFP_KERNEL)?,
            stats: Arc::new(Stats::new()?, GFP_KERNEL)?,
            sched: new_sched_state(params.scheduler, &[])?,
        })
    }

    /// The same service (same statistics and destinations) with other parameters; a new
    /// scheduler starts from its initial state (`ip_vs_edit_service` binds it afresh).
    pub(crate) fn with_params(&self, params: ServiceParams) -> Result<Self> {
        let sched = if params.scheduler == self.params.scheduler {
            self.sched.clone()
        } else {
            new_sched_state(params.scheduler, &self.dests)?
        };
        Ok(Self {
            link: RcuLink::new(),
            key: self.key,
            params,
            dests: self.dests.clone(),
            stats: self.stats.clone(),
            sched,
        })
    }

    /// Finds a destination by key (`ip_vs_lookup_dest`).
    pub(crate) fn find_dest(&self, key: &DestKey) -> Option<(usize, &Arc<Dest>)> {
        self.dests.iter().enumerate().find(|(_, d)| d.key == *key)
    }

    /// The same service with `dest` added at the head of its destinations.
    pub(crate) fn with_dest_added(&self, dest: Dest) -> Result<Self> {
        let mut dests = KVec::with_capacity(self.dests.len() + 1, GFP_KERNEL)?;
        dests.push(Arc::new(dest, GFP_KERNEL)?, GFP_KERNEL)?;
        for d in self.dests.iter() {
            dests.push(d.clone(), GFP_KERNEL)?;
        }
        self.with_dests(dests)
    }

    /// The same service with destination `index` replaced by `dest`.
    pub(crate) fn with_dest_replaced(&self, index: usize, dest: Dest) -> Result<Self> {
        self.with_dests(replaced(&self.dests, index, dest)?)
    }

    /// The same service without destination `index`.
    pub(crate) fn with_dest_removed(&self, index: usize) -> Result<Self> {
        self.with_dests(removed(&self.dests, index)?)
    }

    /// The same service with other destinations. Its scheduler (shared with `self`) learns them
    /// with [`Service::reschedule`] when the new service goes live.
    fn with_dests(&self, dests: KVec<Arc<Dest>>) -> Result<Self> {
        Ok(Self {
            link: RcuLink::new(),
            key: self.key,
            params: self.params,
            dests: Arc::new(dests, GFP_KERNEL)?,
            stats: self.stats.clone(),
            sched: self.sched.clone(),
        })
    }

    /// Tells the scheduler the service's destinations (IPVS's `add_dest`, `del_dest` and
    /// `upd_dest` callbacks), once nothing can fail any more before they go live.
    pub(crate) fn reschedule(&self) {
        self.sched.lock().dests_changed(&self.dests);
    }

    /// Zeroes the statistics of the service and of its destinations (`ip_vs_zero_service`).
    pub(crate) fn zero_stats(&self) {
        self.stats.zero();
        for d in self.dests.iter() {
            d.shared.stats.zero();
        }
    }

    /// Picks a destination for a new connection (`ip_vs_schedule`); `None` without scheduler or
    /// when every destination is quiesced or overloaded.
    pub(crate) fn schedule(&self, flow: &mut Flow<'_>) -> Option<&Arc<Dest>> {
        self.params.scheduler?;
        let index = self.sched.lock().schedule(&self.dests, flow)?;
        self.dests.get(index)
    }

    /// The persistence timeout in seconds, as reported (`svc->timeout / HZ`).
    pub(crate) fn timeout_seconds(&self, hz: u32) -> u32 {
        self.params.timeout_ticks.checked_div(hz).unwrap_or(0)
    }

    /// Whether the service is persistent.
    pub(crate) fn persistent(&self) -> bool {
        self.params.flags & svc_flag::PERSISTENT != 0
    }
}

/// The scheduler state of a service with `scheduler` over `dests`.
fn new_sched_state(
    scheduler: Option<Scheduler>,
    dests: &[Arc<Dest>],
) -> Result<Arc<BhSpinLock<SchedState>>> {
    let state = scheduler.unwrap_or(Scheduler::RoundRobin).new_state(dests);
    Arc::pin_init(crate::new_bh_spinlock!(state, "rvs_sched"), GFP_KERNEL)
}

impl Candidate for Arc<Dest> {
    fn id(&self) -> u64 {
        self.shared.id
    }
    fn weight(&self) -> i32 {
        self.params.weight
    }
    fn active_conns(&self) -> u32 {
        self.shared.active_conns()
    }
    fn inactive_conns(&self) -> u32 {
        self.shared.inactive_conns()
    }
    fn overloaded(&self) -> bool {
        self.shared.overloaded()
    }
    fn last_weight(&self) -> i32 {
        self.params.last_weight
    }
    fn addr(&self) -> [u8; 16] {
        self.key.addr
    }
    fn port(&self) -> [u8; 2] {
        self.key.port.to_be_bytes()
    }
}

impl Dest {
    /// The inactive connection count IPVS reports (`ip_vs_dest_inactconns`).
    pub(crate) fn inactive_conns(&self) -> u32 {
        self.shared.inactive_conns()
    }

    /// The active connection count.
    pub(crate) fn active_conns(&self) -> u32 {
        self.shared.active_conns()
    }

    /// The persistence template count.
    pub(crate) fn persistent_conns(&self) -> u32 {
        self.shared.persistent_conns()
    }
}
