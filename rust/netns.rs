// SPDX-License-Identifier: GPL-2.0

//! The rvs state of one network namespace.
//!
//! IPVS keeps its services, timeouts, statistics and sysctls per namespace (`struct netns_ipvs`);
//! so does rvs. The state is the pernet data of each namespace ([`NetData`]): created when the
//! namespace is (or when rvs is loaded), with its sysctls, `/proc/net` files and timer attached,
//! and dropped when it goes.
//!
//! Writers of the service table are serialised by the generic netlink mutex: the IPVS family is
//! not `parallel_ops`, so no two commands run at once.

#![deny(unsafe_code)]

use crate::{
    conn::{ConnTable, TimeoutTable, SWEEPS_PER_ROUND},
    conn_tab_size,
    control::proc,
    defense::{self, EntryDropper, Modes},
    dest_trash::{self, DestTrash},
    ffi::{
        self, params,
        pernet::{Attach, Net, NetData},
        rcu::Guard,
        sysctl::{IntKind, IntSysctl},
        timer::{self, OnTimer, Timer},
        work::{OnWork, Work},
    },
    sched::locality::{self, Clock, DEFAULT_EXPIRATION_SECS},
    service::ServiceTable,
    stats::Stats,
    sync_config,
    sync_daemon::{Sockets, SyncDaemons},
    sync_pace::{self, Pacing},
    sync_wire::Version,
    timeouts::{self, Timeouts},
};
use core::sync::atomic::{AtomicI32, AtomicI8, AtomicU32, Ordering};
use kernel::{c_str, prelude::*};

/// Per-namespace state.
pub(crate) struct NetState {
    // Atomics rather than a lock: the packet path reads them in softirq context.
    timeout_tcp: AtomicU32,
    timeout_tcp_fin: AtomicU32,
    timeout_udp: AtomicU32,
    /// The services, read under RCU.
    pub(crate) services: ServiceTable,
    /// Totals of the namespace (`/proc/net/ip_vs_stats`).
    pub(crate) stats: Stats,
    /// `/proc/sys/net/ipv4/vs/*`.
    pub(crate) sysctl: Sysctls,
    /// The connections.
    pub(crate) conns: ConnTable,
    /// Counts the timer's ticks, to run the estimator every [`ESTIMATOR_TICKS`].
    ticks: AtomicU32,
    /// The defenses in effect, from the last check.
    defenses: Defenses,
    /// The connection synchronisation daemons.
    pub(crate) sync: SyncDaemons,
    /// Destinations removed while connections may still use them.
    pub(crate) dest_trash: DestTrash,
}

/// The state of the defenses against overload between their checks (IPVS's `drop_rate` and
/// `drop_counter`, and `todrop_entry`'s count-downs, which are per namespace here).
#[derive(Default)]
struct Defenses {
    drop_rate: AtomicI32,
    drop_counter: AtomicI32,
    entry_counters: [AtomicI8; defense::ENTRY_COUNTERS],
}

/// Ticks of the namespace's timer per second: each sweeps `1/SWEEPS_PER_ROUND` of the connection
/// table.
const TICKS_PER_SECOND: u32 = SWEEPS_PER_ROUND;
/// The estimator runs every 2 s, as IPVS's.
const ESTIMATOR_TICKS: u32 = 2 * TICKS_PER_SECOND;
/// The locality schedulers collect their stale entries every minute, as IPVS's.
const SCHED_EXPIRE_TICKS: u32 = locality::CHECK_EXPIRE_INTERVAL_SECS * TICKS_PER_SECOND;
/// The dest trash is looked through as often as IPVS's.
const TRASH_TICKS: u32 = dest_trash::CHECK_SECS * TICKS_PER_SECOND;

impl NetState {
    /// Creates the state of a new namespace with a connection table of `2^conn_bits` buckets
    /// whose hash is seeded with `conn_seed`, and service tables seeded with `service_seed`.
    fn with_conn_bits(conn_bits: u32, conn_seed: u32, service_seed: u32) -> Result<Self> {
        Ok(Self {
            timeout_tcp: AtomicU32::new(timeouts::DEFAULT.tcp),
            timeout_tcp_fin: AtomicU32::new(timeouts::DEFAULT.tcp_fin),
            timeout_udp: AtomicU32::new(timeouts::DEFAULT.udp),
            services: ServiceTable::new(service_seed)?,
            stats: Stats::new()?,
            sysctl: Sysctls::default(),
            conns: ConnTable::new(conn_bits, conn_seed)?,
            ticks: AtomicU32::new(0),
            defenses: Defenses::default(),
            sync: SyncDaemons::new()?,
            dest_trash: DestTrash::new()?,
        })
    }

    /// How a sync master paces its sending.
    pub(crate) fn sync_pacing(&self) -> Pacing {
        let s = &self.sysctl;
        let [threshold, period] = &s.sync_threshold;
        Pacing {
            threshold: threshold.load(Ordering::Relaxed),
            period: period.load(Ordering::Relaxed),
            refresh_period: s
                .sync_refresh_period
                .load(Ordering::Relaxed)
                .max(0)
                .unsigned_abs(),
            retries: s
                .sync_retries
                .load(Ordering::Relaxed)
                .clamp(0, 3)
                .unsigned_abs(),
            persist_mode: s.sync_persist_mode.load(Ordering::Relaxed) != 0,
            ..Pacing::default_at(timer::hz())
        }
    }

    /// A backup sync daemon runs and `backup_only` is set: the director balances nothing
    /// (`sysctl_backup_only`).
    pub(crate) fn backup_only(&self) -> bool {
        self.sysctl.backup_only.load(Ordering::Relaxed) != 0 && self.sync.backup_running()
    }

    /// The version of the messages a sync master sends.
    pub(crate) fn sync_version(&self) -> Version {
        if self.sysctl.sync_version.load(Ordering::Relaxed) == 0 {
            Version::V0
        } else {
            Version::V1
        }
    }

    /// The sockets of a sync daemon starting now.
    pub(crate) fn sync_sockets(&self) -> Sockets {
        let s = &self.sysctl;
        Sockets {
            count: usize::try_from(s.sync_ports.load(Ordering::Relaxed)).unwrap_or(1),
            buffer: Some(s.sync_sock_size.load(Ordering::Relaxed)).filter(|size| *size > 0),
        }
    }

    /// The period of a sync master's re-announcing passes in ticks (0: none) and their rate in
    /// entries a second.
    pub(crate) fn sync_reannounce(&self) -> (u64, u64) {
        let s = &self.sysctl;
        let period = s.sync_reannounce_period.load(Ordering::Relaxed).max(0);
        let rate = s.sync_reannounce_rate.load(Ordering::Relaxed).max(1);
        (
            u64::from(period.unsigned_abs()),
            u64::from(rate.unsigned_abs()),
        )
    }

    /// How many messages a sync master may have waiting.
    pub(crate) fn sync_qlen_max(&self) -> usize {
        usize::try_from(self.sysctl.sync_qlen_max.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The connection timeouts of the namespace.
    pub(crate) fn timeout_table(&self) -> TimeoutTable {
        let t = self.timeouts();
        TimeoutTable {
            tcp_established: t.tcp,
            tcp_fin_wait: t.tcp_fin,
            udp: t.udp,
        }
    }

    fn tick_interval() -> u64 {
        u64::from((timer::hz() / TICKS_PER_SECOND).max(1))
    }

    /// The check of the defenses, once a second (`defense_work_handler`): the automatic modes
    /// follow the free memory, the drop rate of new connections is set, and entries are dropped
    /// while `drop_entry` is in effect.
    fn check_defenses(&self) {
        let sysctl = &self.sysctl;
        let modes = Modes {
            drop_entry: sysctl.drop_entry.load(Ordering::Relaxed),
            drop_packet: sysctl.drop_packet.load(Ordering::Relaxed),
            secure_tcp: sysctl.secure_tcp.load(Ordering::Relaxed),
        };
        let d = defense::update(
            modes,
            crate::ffi::mem_available_pages(),
            sysctl.amemthresh.load(Ordering::Relaxed),
            sysctl.am_droprate.load(Ordering::Relaxed),
        );
        // An automatic mode moves between 1 and 2; a value written meanwhile stays.
        for (value, old, new) in [
            (&sysctl.drop_entry, modes.drop_entry, d.modes.drop_entry),
            (&sysctl.drop_packet, modes.drop_packet, d.modes.drop_packet),
            (&sysctl.secure_tcp, modes.secure_tcp, d.modes.secure_tcp),
        ] {
            if old != new {
                let _ = value.compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
        let defenses = &self.defenses;
        defenses.drop_rate.store(d.drop_rate, Ordering::Relaxed);
        if let Some(count) = d.restart_count {
            defenses.drop_counter.store(count, Ordering::Relaxed);
        }
        if d.drop_entry {
            let mut counters = [0i8; defense::ENTRY_COUNTERS];
            for (c, a) in counters.iter_mut().zip(&defenses.entry_counters) {
                *c = a.load(Ordering::Relaxed);
            }
            let mut dropper = EntryDropper::from_counters(counters);
            self.conns.random_drop(&self.timeout_table(), &mut dropper);
            for (c, a) in dropper.counters().iter().zip(&defenses.entry_counters) {
                a.store(*c, Ordering::Relaxed);
            }
        }
    }

    /// Whether the table has room for a new connection under `conn_max`: it is below the
    /// limit, or a half-open connection gave up its place.
    pub(crate) fn room_for_new_conn(&self) -> bool {
        let max = self.sysctl.conn_max.load(Ordering::Relaxed);
        max <= 0 || self.conns.count() < max as usize || self.conns.evict_half_open()
    }

    /// Whether the `drop_packet` defense refuses this new connection (`ip_vs_todrop`).
    pub(crate) fn refuse_new_conn(&self) -> bool {
        let rate = defense::drop_rate(
            self.sysctl.drop_packet.load(Ordering::Relaxed),
            self.defenses.drop_rate.load(Ordering::Relaxed),
            self.sysctl.am_droprate.load(Ordering::Relaxed),
        );
        if rate == 0 {
            return false;
        }
        let counter = &self.defenses.drop_counter;
        let mut refused = false;
        // The count-down is shared by the CPUs: one refusal per `rate` connections.
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
            let (next, drop) = defense::todrop(rate, c);
            refused = drop;
            Some(next)
        });
        refused
    }

    /// The time and the settings the locality schedulers see.
    pub(crate) fn clock(&self) -> Clock {
        Clock {
            now: timer::jiffies(),
            hz: u64::from(timer::hz()),
            lblc_expiration: self.sysctl.lblc_expiration.load(Ordering::Relaxed),
            lblcr_expiration: self.sysctl.lblcr_expiration.load(Ordering::Relaxed),
        }
    }

    /// Feeds the rate estimators of the namespace, its services and their destinations.
    fn estimate(&self) {
        let guard = Guard::new();
        for svc in self.services.iter(&guard) {
            svc.stats.estimate();
            for dest in svc.dests.iter() {
                dest.shared.stats.estimate();
            }
        }
        self.stats.estimate();
    }

    /// Returns the current timeouts.
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts {
            tcp: self.timeout_tcp.load(Ordering::Relaxed),
            tcp_fin: self.timeout_tcp_fin.load(Ordering::Relaxed),
            udp: self.timeout_udp.load(Ordering::Relaxed),
        }
    }

    /// Replaces the timeouts (validated by the caller with `timeouts::apply`).
    pub(crate) fn set_timeouts(&self, new: Timeouts) {
        self.timeout_tcp.store(new.tcp, Ordering::Relaxed);
        self.timeout_tcp_fin.store(new.tcp_fin, Ordering::Relaxed);
        self.timeout_udp.store(new.udp, Ordering::Relaxed);
    }
}

/// The rvs state of `net`; `-ENODEV` if rvs's pernet subsystem is not set up there.
pub(crate) fn state(net: &Net) -> Result<&NetState> {
    net.data::<NetState>().ok_or(ENODEV)
}

impl NetData for NetState {
    fn new(_net: &Net) -> Result<Self> {
        let bits = conn_tab_size::bits_for(params::conn_tab_bits(), ffi::totalram_pages());
        Self::with_conn_bits(bits, ffi::random_u32(), ffi::random_u32())
    }

    fn attach<'a>(&'a self, to: &mut Attach<'a, Self>) -> Result {
        to.sysctls(Sysctls::PATH, &self.sysctl.entries())?;
        to.proc_file::<proc::Services>(c_str!("ip_vs"))?;
        to.proc_file::<proc::Totals>(c_str!("ip_vs_stats"))?;
        to.proc_file::<proc::Conns>(c_str!("ip_vs_conn"))?;
        to.timer(Self::tick_interval())?;
        to.work()
    }

    fn pre_exit(&self, _net: &Net) {
        // The daemons' sockets hold routes of the namespace's devices.
        self.sync.stop_all();
    }

    fn exit(&self, _net: &Net) {
        self.conns.flush(false);
    }

    crate::pernet_subsystem!(NetState);
}

impl OnWork for NetState {
    fn on_work(&self, work: &Work<Self>) {
        self.sync.on_work(self, work);
    }
}

impl OnTimer for NetState {
    fn on_timer(&self, timer: &Timer<Self>) {
        self.conns.sweep();
        self.conns.grow();
        let ticks = self.ticks.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if ticks % TICKS_PER_SECOND == 0 {
            self.check_defenses();
        }
        if ticks % ESTIMATOR_TICKS == 0 && self.sysctl.run_estimation.load(Ordering::Relaxed) != 0 {
            self.estimate();
        }
        if ticks % SCHED_EXPIRE_TICKS == 0 {
            let clock = self.clock();
            let guard = Guard::new();
            for svc in self.services.iter(&guard) {
                svc.sched.lock().check_expire(&clock);
            }
        }
        if ticks % TRASH_TICKS == 0 {
            self.dest_trash.expire();
        }
        timer.fire_in(Self::tick_interval());
    }
}

/// The sysctls of `/proc/sys/net/ipv4/vs/` that rvs implements, with IPVS's names, defaults and
/// ranges (`ip_vs_control_net_init_sysctl`). The kernel's `proc_dointvec*` handlers read and write
/// them as `int`s.
pub(crate) struct Sysctls {
    pub(crate) amemthresh: AtomicI32,
    /// The rate of the `drop_packet` defense at 3: one new connection in `am_droprate`.
    pub(crate) am_droprate: AtomicI32,
    pub(crate) drop_entry: AtomicI32,
    pub(crate) drop_packet: AtomicI32,
    pub(crate) secure_tcp: AtomicI32,
    pub(crate) snat_reroute: AtomicI32,
    pub(crate) cache_bypass: AtomicI32,
    pub(crate) expire_nodest_conn: AtomicI32,
    pub(crate) expire_quiescent_template: AtomicI32,
    /// A packet without connection from a NAT real server's service port is answered with ICMP
    /// port unreachable and dropped.
    pub(crate) nat_icmp_send: AtomicI32,
    /// Path MTU discovery through tunnels: DF is copied to the tunnel header and a DF packet
    /// too big for the tunnel is refused with "fragmentation needed"; at 0 it is fragmented.
    pub(crate) pmtu_disc: AtomicI32,
    pub(crate) sloppy_tcp: AtomicI32,
    pub(crate) sloppy_sctp: AtomicI32,
    pub(crate) conn_reuse_mode: AtomicI32,
    pub(crate) schedule_icmp: AtomicI32,
    pub(crate) ignore_tunneled: AtomicI32,
    pub(crate) run_estimation: AtomicI32,
    /// rvs's own: the most connections (templates included) the namespace keeps; 0, the
    /// default, keeps IPVS's behaviour (no limit). At the limit a new connection takes the
    /// place of a half-open one (what a flood of forged SYNs leaves), or is refused.
    pub(crate) conn_max: AtomicI32,
    /// `lblc_expiration` in ticks (IPVS registers it with the `lblc` scheduler module; rvs has
    /// every scheduler built in).
    pub(crate) lblc_expiration: AtomicI32,
    /// `lblcr_expiration` in ticks.
    pub(crate) lblcr_expiration: AtomicI32,
    /// rvs only: packets of established connections are sent on from `PRE_ROUTING`, before the
    /// stack routes them to this host, rather than from `LOCAL_IN` (see `hooks::early_request`).
    pub(crate) fast_path: AtomicI32,
    /// rvs only: a sync master sends its whole table once every this many ticks (0: never).
    pub(crate) sync_reannounce_period: AtomicI32,
    /// rvs only: at most this many entries a second.
    pub(crate) sync_reannounce_rate: AtomicI32,
    /// The sync master's message version (0 or 1).
    pub(crate) sync_version: AtomicI32,
    /// A sync master sends templates but not the connections they control.
    pub(crate) sync_persist_mode: AtomicI32,
    /// Messages a sync master may have waiting to be sent.
    pub(crate) sync_qlen_max: AtomicI32,
    /// A sync master sends a connection again when its expiry moved by this many ticks (0:
    /// by packet counts only).
    pub(crate) sync_refresh_period: AtomicI32,
    /// How often a sync master repeats a send within the refresh period (0 to 3).
    pub(crate) sync_retries: AtomicI32,
    /// The request count at which a sync master sends a connection, and the period after
    /// which it sends it again (0: once).
    pub(crate) sync_threshold: [AtomicI32; 2],
    /// How many sockets, on consecutive ports, a sync daemon has (a power of 2).
    pub(crate) sync_ports: AtomicI32,
    /// The send buffer of a sync master's socket and the receive buffer of a backup's, as
    /// `SO_SNDBUF`/`SO_RCVBUF` take it, when the daemon starts (0: the system's default).
    pub(crate) sync_sock_size: AtomicI32,
    /// While a backup sync daemon runs, the director balances nothing (it only keeps the
    /// connections its master sends).
    pub(crate) backup_only: AtomicI32,
}

impl Default for Sysctls {
    fn default() -> Self {
        let default_expiration =
            DEFAULT_EXPIRATION_SECS.saturating_mul(i32::try_from(timer::hz()).unwrap_or(i32::MAX));
        Self {
            amemthresh: AtomicI32::new(1024),
            am_droprate: AtomicI32::new(10),
            drop_entry: AtomicI32::new(0),
            drop_packet: AtomicI32::new(0),
            secure_tcp: AtomicI32::new(0),
            snat_reroute: AtomicI32::new(1),
            cache_bypass: AtomicI32::new(0),
            expire_nodest_conn: AtomicI32::new(0),
            expire_quiescent_template: AtomicI32::new(0),
            nat_icmp_send: AtomicI32::new(0),
            pmtu_disc: AtomicI32::new(1),
            sloppy_tcp: AtomicI32::new(0),
            sloppy_sctp: AtomicI32::new(0),
            conn_reuse_mode: AtomicI32::new(1),
            schedule_icmp: AtomicI32::new(0),
            ignore_tunneled: AtomicI32::new(0),
            run_estimation: AtomicI32::new(1),
            conn_max: AtomicI32::new(0),
            lblc_expiration: AtomicI32::new(default_expiration),
            lblcr_expiration: AtomicI32::new(default_expiration),
            fast_path: AtomicI32::new(0),
            sync_reannounce_period: AtomicI32::new(0),
            sync_reannounce_rate: AtomicI32::new(10_000),
            sync_version: AtomicI32::new(1),
            sync_persist_mode: AtomicI32::new(0),
            // nr_free_buffer_pages() / 32: of the order of the memory, in pages, over 32.
            sync_qlen_max: AtomicI32::new(
                i32::try_from(crate::ffi::totalram_pages() / 32).unwrap_or(i32::MAX),
            ),
            sync_refresh_period: AtomicI32::new(0),
            sync_retries: AtomicI32::new(0),
            sync_threshold: [AtomicI32::new(3), AtomicI32::new(50)],
            sync_ports: AtomicI32::new(1),
            sync_sock_size: AtomicI32::new(0),
            backup_only: AtomicI32::new(0),
        }
    }
}

/// The defense modes (drop_entry, drop_packet, secure_tcp) accept 0 (off), 1 and 2 (automatic)
/// and 3 (on); IPVS refuses other values with `-EINVAL` (`proc_do_defense_mode`).
static DEFENSE_MODE_MIN: i32 = 0;
static DEFENSE_MODE_MAX: i32 = 3;
/// The range of the switches that are 0 or 1 only.
static SWITCH_MIN: i32 = 0;
static SWITCH_MAX: i32 = 1;
static SYNC_RETRIES_MAX: i32 = 3;
static SYNC_THRESHOLD_CHECK: fn(&[i32]) -> bool = sync_pace::threshold_valid;
static REANNOUNCE_RATE_MIN: i32 = 1;
static REANNOUNCE_RATE_MAX: i32 = i32::MAX;
static CONN_MAX_MAX: i32 = i32::MAX;
static SYNC_PORTS_CHECK: fn(&[i32]) -> bool = sync_config::ports_valid;

impl Sysctls {
    /// The directory of the sysctls.
    pub(crate) const PATH: &'static CStr = c_str!("net/ipv4/vs");

    /// The sysctl files, in IPVS's order, then rvs's own.
    pub(crate) fn entries(&self) -> [IntSysctl<'_>; 32] {
        let plain = |name, value| IntSysctl {
            name,
            values: core::slice::from_ref(value),
            kind: IntKind::Plain,
            read_only_unprivileged: false,
            on_write: None,
        };
        let defense = |name, value| IntSysctl {
            name,
            values: core::slice::from_ref(value),
            kind: IntKind::Range(&DEFENSE_MODE_MIN, &DEFENSE_MODE_MAX),
            read_only_unprivileged: false,
            on_write: None,
        };
        let jiffies = |name, value| IntSysctl {
            name,
            values: core::slice::from_ref(value),
            kind: IntKind::Jiffies,
            read_only_unprivileged: false,
            on_write: None,
        };
        [
            plain(c_str!("amemthresh"), &self.amemthresh),
            plain(c_str!("am_droprate"), &self.am_droprate),
            defense(c_str!("drop_entry"), &self.drop_entry),
            defense(c_str!("drop_packet"), &self.drop_packet),
            defense(c_str!("secure_tcp"), &self.secure_tcp),
            plain(c_str!("snat_reroute"), &self.snat_reroute),
            plain(c_str!("cache_bypass"), &self.cache_bypass),
            plain(c_str!("expire_nodest_conn"), &self.expire_nodest_conn),
            plain(c_str!("sloppy_tcp"), &self.sloppy_tcp),
            plain(c_str!("sloppy_sctp"), &self.sloppy_sctp),
            plain(
                c_str!("expire_quiescent_template"),
                &self.expire_quiescent_template,
            ),
            plain(c_str!("nat_icmp_send"), &self.nat_icmp_send),
            plain(c_str!("pmtu_disc"), &self.pmtu_disc),
            plain(c_str!("backup_only"), &self.backup_only),
            plain(c_str!("conn_reuse_mode"), &self.conn_reuse_mode),
            plain(c_str!("schedule_icmp"), &self.schedule_icmp),
            plain(c_str!("ignore_tunneled"), &self.ignore_tunneled),
            // The estimator costs CPU time of the whole host: the root of a user namespace
            // cannot switch it (IPVS makes it read-only there).
            IntSysctl {
                read_only_unprivileged: true,
                ..plain(c_str!("run_estimation"), &self.run_estimation)
            },
            jiffies(c_str!("lblc_expiration"), &self.lblc_expiration),
            IntSysctl {
                kind: IntKind::Range(&SWITCH_MIN, &SWITCH_MAX),
                ..plain(c_str!("sync_version"), &self.sync_version)
            },
            IntSysctl {
                kind: IntKind::Checked(&SYNC_PORTS_CHECK),
                ..plain(c_str!("sync_ports"), &self.sync_ports)
            },
            plain(c_str!("sync_persist_mode"), &self.sync_persist_mode),
            plain(c_str!("sync_qlen_max"), &self.sync_qlen_max),
            plain(c_str!("sync_sock_size"), &self.sync_sock_size),
            IntSysctl {
                name: c_str!("sync_threshold"),
                values: &self.sync_threshold,
                kind: IntKind::Checked(&SYNC_THRESHOLD_CHECK),
                read_only_unprivileged: false,
                on_write: None,
            },
            jiffies(c_str!("sync_refresh_period"), &self.sync_refresh_period),
            IntSysctl {
                kind: IntKind::Range(&SWITCH_MIN, &SYNC_RETRIES_MAX),
                ..plain(c_str!("sync_retries"), &self.sync_retries)
            },
            jiffies(c_str!("lblcr_expiration"), &self.lblcr_expiration),
            // Its hook is registered only while it is on.
            IntSysctl {
                name: c_str!("fast_path"),
                values: core::slice::from_ref(&self.fast_path),
                kind: IntKind::Range(&SWITCH_MIN, &SWITCH_MAX),
                read_only_unprivileged: false,
                on_write: Some(|net| {
                    // Without memory for the hook, packets keep the usual path.
                    let _ = net.refresh_hooks::<NetState>();
                }),
            },
            // A running master starts a pass at once.
            IntSysctl {
                on_write: Some(|net| {
                    if let Some(work) = net.work::<NetState>() {
                        work.run_now();
                    }
                }),
                ..jiffies(
                    c_str!("sync_reannounce_period"),
                    &self.sync_reannounce_period,
                )
            },
            IntSysctl {
                kind: IntKind::Range(&REANNOUNCE_RATE_MIN, &REANNOUNCE_RATE_MAX),
                ..plain(c_str!("sync_reannounce_rate"), &self.sync_reannounce_rate)
            },
            IntSysctl {
                kind: IntKind::Range(&SWITCH_MIN, &CONN_MAX_MAX),
                ..plain(c_str!("conn_max"), &self.conn_max)
            },
        ]
    }
}
