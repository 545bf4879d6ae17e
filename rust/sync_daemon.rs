// SPDX-License-Identifier: GPL-2.0

//! The connection synchronisation daemons of a namespace (IPVS's `ip_vs_sync.c`): started and
//! stopped by `IPVS_CMD_NEW_DAEMON` / `DEL_DAEMON`, listed by `GET_DAEMON`.
//!
//! A master adds a connection to its current message when a request passes it and the pacing
//! says so ([`sync_pace::decide`]), then the connection's template; a full message, or one
//! that has waited `FLUSH_SECS`, is multicast by the namespace's work item (IPVS's master
//! thread), at most `sync_qlen_max` of them waiting.
//!
//! A backup receives the messages its master multicasts and applies each entry to the
//! connection table as `ip_vs_proc_conn` does ([`sync_apply::plan`]), so that when it takes the
//! virtual addresses over, established connections keep their real servers and persistent
//! clients their templates. The backup's socket hands it each datagram in the softirq that
//! delivers it (see `ffi::udp`); datagrams are applied one at a time, as IPVS's single backup
//! thread per port reads them.
//!
//! With `sync_ports` above 1, each role has that many sockets on consecutive ports, and a
//! master sends each connection or template through the same one, each with its own messages
//! (IPVS's threads per port).
//!
//! rvs only: with `sync_reannounce_period`, a master also goes through its whole table that
//! often, at most `sync_reannounce_rate` entries a second, and sends every connection and
//! template in ordinary messages. IPVS sends a connection only when its packets pass the master,
//! so a director that restarts and takes its addresses back (a failback) has not heard of the
//! connections idle meanwhile; with the pass it has, whether the other director runs rvs or
//! ip_vs.
//!
//! Not yet: IPv6 multicast groups (entries of IPv6 connections are sent and applied).

#![deny(unsafe_code)]

use crate::{
    abi::conn_flag,
    conn::{Conn, Lookup, Tuple},
    conn_tab_size,
    ffi::{
        errno,
        pernet::Net,
        rcu::Guard,
        sync::BhSpinLock,
        timer,
        udp::{self, DatagramHandler, MulticastReceiver, MulticastSender},
        work::Work,
    },
    netns::{self, NetState},
    packet::{self, InetAddr},
    pe_sip::CallId,
    service::{DestKey, PersistenceEngine},
    sync_apply::{self, Held, Plan},
    sync_config::{DaemonConfig, Role},
    sync_pace::{self, Decision},
    sync_wire::{
        self, Addrs, EncodeError, MessageBuilder, SyncConn, Version, CONN_F_INACTIVE,
        CONN_F_TEMPLATE,
    },
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{new_mutex, prelude::*, str::CStr, sync::Mutex};

/// The daemons of a namespace (`sync_state`, `mcfg`, `bcfg` and the threads of `netns_ipvs`).
pub(crate) struct SyncDaemons {
    running: Pin<KBox<Mutex<Running>>>,
    /// A master runs: the packet path reads it before anything else of the master's.
    master_on: AtomicBool,
    /// A backup runs (for `backup_only`, read on the packet path).
    backup_on: AtomicBool,
    /// The master's messages, filled on the packet path, sent by the namespace's work item.
    outbox: Pin<KBox<BhSpinLock<Outbox>>>,
}

/// The most sockets a role has (`IPVS_SYNC_PORTS_MAX`).
pub(crate) const MAX_PORTS: usize = 64;

/// The sockets of a daemon being started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sockets {
    /// `sync_ports`: how many, on consecutive ports from the configured one (1 to
    /// [`MAX_PORTS`]); the daemon started second takes the first one's number.
    pub(crate) count: usize,
    /// `sync_sock_size`: a master's send buffer or a backup's receive buffer, as `SO_SNDBUF`
    /// and `SO_RCVBUF` take it.
    pub(crate) buffer: Option<i32>,
}

#[derive(Default)]
struct Running {
    master: Option<Master>,
    backup: Option<Backup>,
    /// The number of sockets of each role while either runs (`threads_mask + 1`).
    ports: usize,
}

/// A running master: its settings, a socket per port, and its pass through the table.
struct Master {
    config: DaemonConfig,
    senders: KVec<MulticastSender>,
    reannounce: Reannounce,
}

/// Where a master's re-announcing pass is.
#[derive(Default)]
struct Reannounce {
    /// The listing position the pass goes on from, or none between passes.
    position: Option<u64>,
    /// When the next pass starts, in jiffies (0: at once).
    due: u64,
}

/// How often a pass goes on: a tenth of its rate each time.
const REANNOUNCE_RUNS_PER_SECOND: u64 = 10;

/// A running backup: its settings and a socket per port.
struct Backup {
    config: DaemonConfig,
    _receivers: KVec<MulticastReceiver<BackupReceiver>>,
}

/// The messages of a master (`ms->sync_buff` and `ms->sync_queue` of each port).
#[derive(Default)]
struct Outbox {
    /// The master's sync ID (its low byte, as the header has room for) and message length.
    syncid: u8,
    maxlen: usize,
    /// At most this many messages wait per port (`sync_qlen_max`).
    qlen_max: usize,
    /// One per port.
    ports: KVec<PortOutbox>,
}

/// The messages of one of a master's ports.
#[derive(Default)]
struct PortOutbox {
    /// The message being filled, if any.
    current: Option<Pending>,
    /// Full messages waiting to be sent, oldest first.
    ready: KVec<Message>,
}

/// A message to send: the first `len` bytes of `buf`.
struct Message {
    buf: KVec<u8>,
    len: usize,
}

impl Message {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A message being filled.
struct Pending {
    /// `maxlen` bytes, of which `len` are the message so far.
    buf: KVec<u8>,
    version: Version,
    len: usize,
    nr_conns: u8,
    /// When its first entry came (`firstuse`), in jiffies.
    started: u64,
}

/// How long a master keeps a message that is not full before sending it
/// (`IPVS_SYNC_FLUSH_TIME`).
const FLUSH_SECS: u64 = 2;

impl SyncDaemons {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            running: KBox::pin_init(new_mutex!(Running::default()), GFP_KERNEL)?,
            master_on: AtomicBool::new(false),
            backup_on: AtomicBool::new(false),
            outbox: KBox::pin_init(
                crate::new_bh_spinlock!(Outbox::default(), "rvs_sync_outbox"),
                GFP_KERNEL,
            )?,
        })
    }

    /// Starts the daemon of state `state` with `config` and `sockets` (`start_sync_thread`):
    /// `-ENODEV` if the interface does not exist, `-EEXIST` if that daemon runs, `-EINVAL` for
    /// a state that is no role, then `-EAFNOSUPPORT` for an IPv6 group. Sleeps.
    pub(crate) fn start(
        &self,
        net: &Net,
        state: u32,
        config: DaemonConfig,
        sockets: Sockets,
    ) -> Result {
        let name = CStr::from_bytes_with_nul(config.ifname_with_nul())?;
        let Some(interface) = udp::interface(net, name) else {
            return Err(ENODEV);
        };
        let mut running = self.running.lock();
        let role = Role::from_state(state).ok_or(EINVAL)?;
        let config = config.completed(role, interface.mtu);
        let ports = if running.master.is_none() && running.backup.is_none() {
            sockets.count.clamp(1, MAX_PORTS)
        } else {
            running.ports
        };
        // Port `id`'s number (`htons(ntohs(port) + id)`).
        let port = |id: usize| config.port.wrapping_add(id as u16);
        match role {
            Role::Master => {
                if running.master.is_some() {
                    return Err(EEXIST);
                }
                if config.ipv6_group {
                    return Err(errno::eafnosupport());
                }
                let mut senders = KVec::with_capacity(ports, GFP_KERNEL)?;
                let mut queues = KVec::with_capacity(ports, GFP_KERNEL)?;
                for id in 0..ports {
                    let sender = MulticastSender::new(
                        net,
                        config.group(),
                        port(id),
                        interface.ifindex,
                        config.ttl,
                        sockets.buffer,
                    )?;
                    senders.push(sender, GFP_KERNEL)?;
                    queues.push(PortOutbox::default(), GFP_KERNEL)?;
                }
                let old = {
                    let mut outbox = self.outbox.lock();
                    core::mem::replace(
                        &mut *outbox,
                        Outbox {
                            // The header's byte (`m->syncid = ipvs->mcfg.syncid`).
                            syncid: config.syncid as u8,
                            maxlen: usize::from(config.sync_maxlen),
                            qlen_max: 0,
                            ports: queues,
                        },
                    )
                };
                drop(old);
                running.master = Some(Master {
                    config,
                    senders,
                    reannounce: Reannounce::default(),
                });
                running.ports = ports;
                self.master_on.store(true, Ordering::Release);
                // A pass starts at once if one is asked for.
                if let Some(work) = net.work::<NetState>() {
                    work.run_now();
                }
                Ok(())
            }
            Role::Backup => {
                if running.backup.is_some() {
                    return Err(EEXIST);
                }
                if config.ipv6_group {
                    return Err(errno::eafnosupport());
                }
                let mut receivers = KVec::with_capacity(ports, GFP_KERNEL)?;
                for id in 0..ports {
                    let receiver = MulticastReceiver::new(
                        net,
                        config.group(),
                        port(id),
                        interface.ifindex,
                        sockets.buffer,
                        BackupReceiver::new(&config)?,
                    )?;
                    receivers.push(receiver, GFP_KERNEL)?;
                }
                running.backup = Some(Backup {
                    config,
                    _receivers: receivers,
                });
                running.ports = ports;
                self.backup_on.store(true, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Stops the daemon of state `state` (`stop_sync_thread`): `-ESRCH` if it does not run,
    /// `-EINVAL` for a state that is no role. Sleeps.
    pub(crate) fn stop(&self, state: u32) -> Result {
        match Role::from_state(state).ok_or(EINVAL)? {
            Role::Master => {
                let master = {
                    let mut running = self.running.lock();
                    let master = running.master.take().ok_or(ESRCH)?;
                    self.master_on.store(false, Ordering::Release);
                    master
                };
                // What was queued is dropped, as IPVS's master thread drops it when stopped.
                self.take_ready(true, |_, msg| drop(msg));
                drop(master);
                Ok(())
            }
            Role::Backup => {
                let backup = {
                    let mut running = self.running.lock();
                    let backup = running.backup.take().ok_or(ESRCH)?;
                    self.backup_on.store(false, Ordering::Relaxed);
                    backup
                };
                // Released outside the lock: the release waits for a grace period.
                drop(backup);
                Ok(())
            }
        }
    }

    /// Stops every daemon (the namespace goes), dropping what a master had queued. Sleeps.
    pub(crate) fn stop_all(&self) {
        let (master, backup) = {
            let mut running = self.running.lock();
            self.master_on.store(false, Ordering::Release);
            self.backup_on.store(false, Ordering::Relaxed);
            (running.master.take(), running.backup.take())
        };
        self.take_ready(true, |_, msg| drop(msg));
        drop((master, backup));
    }

    /// Whether a daemon runs, of either role (IPVS's `sync_state` not 0).
    pub(crate) fn any_running(&self) -> bool {
        let running = self.running.lock();
        running.master.is_some() || running.backup.is_some()
    }

    /// Whether a backup runs.
    pub(crate) fn backup_running(&self) -> bool {
        self.backup_on.load(Ordering::Relaxed)
    }

    /// The running daemons' states and settings, master first (`ip_vs_genl_dump_daemons`).
    pub(crate) fn running(&self) -> [Option<(u32, DaemonConfig)>; 2] {
        let running = self.running.lock();
        [
            running
                .master
                .as_ref()
                .map(|m| (Role::Master.state(), m.config)),
            running
                .backup
                .as_ref()
                .map(|b| (Role::Backup.state(), b.config)),
        ]
    }

    /// A request of `conn` passed the director, which counted it as the connection's `pkts`-th
    /// (0 for a one-packet connection): a master sends the connection, then its template, if
    /// their pacing says so (`ip_vs_sync_conn`). Softirq context.
    pub(crate) fn on_request(&self, net: &Net, state: &NetState, conn: &Conn, pkts: u32) {
        if !self.master_on.load(Ordering::Acquire) {
            return;
        }
        let pacing = state.sync_pacing();
        let version = state.sync_version();
        let qlen_max = state.sync_qlen_max();
        let timeouts = state.timeout_table();
        let now = timer::jiffies();
        let mut cp = conn;
        // A one-packet connection is not sent, its template is.
        let mut pkts = if pkts == 0 { None } else { Some(pkts) };
        let mut queued = false;
        loop {
            if let Some(pkts) = pkts {
                let view = cp.pace_view(&timeouts, now);
                let pkts = i32::try_from(pkts).unwrap_or(i32::MAX);
                if let Decision::Send { endtime, force } =
                    sync_pace::decide(&pacing, &view, pkts, now)
                {
                    if cp.mark_synced(view.sync_endtime, endtime, force) {
                        if let Some(entry) = cp.sync_entry(&timeouts) {
                            queued |= self.queue(&entry, port_hash(cp), version, qlen_max, now);
                        }
                    }
                }
            }
            let Some(ct) = cp.control() else {
                break;
            };
            pkts = Some(if ct.is_template() {
                ct.count_template_request()
            } else {
                pacing.threshold.unsigned_abs()
            });
            cp = ct;
        }
        if let (true, Some(work)) = (queued, net.work::<NetState>()) {
            if self.outbox.lock().ports.iter().all(|q| q.ready.is_empty()) {
                // A message being filled goes out within FLUSH_SECS at the latest.
                work.run_in(FLUSH_SECS * u64::from(timer::hz()));
            } else {
                work.run_now();
            }
        }
    }

    /// Adds `entry` to the current message of the port `hash` picks, which goes to that
    /// port's sending queue when full; in `version`, at jiffy `now`, with at most `qlen_max`
    /// messages waiting. Whether it was added.
    fn queue(
        &self,
        entry: &SyncConn<'_>,
        hash: usize,
        version: Version,
        qlen_max: usize,
        now: u64,
    ) -> bool {
        let mut outbox = self.outbox.lock();
        let Outbox {
            syncid,
            maxlen,
            qlen_max: queue_max,
            ports,
        } = &mut *outbox;
        *queue_max = qlen_max;
        let count = ports.len();
        let Some(queue) = ports.get_mut(hash & count.wrapping_sub(1)) else {
            return false;
        };
        for _ in 0..2 {
            if queue.current.as_ref().is_some_and(|p| p.version != version) {
                queue.finish_current(qlen_max);
            }
            if queue.current.is_none() {
                let Ok(pending) = Pending::new(version, *maxlen, *syncid, now) else {
                    return false;
                };
                queue.current = Some(pending);
            }
            let Some(p) = queue.current.as_mut() else {
                return false;
            };
            let Ok(mut builder) =
                MessageBuilder::resume(p.version, &mut p.buf, *maxlen, p.len, p.nr_conns)
            else {
                return false;
            };
            match builder.push(entry) {
                Ok(()) => {
                    (p.len, p.nr_conns) = (builder.len(), builder.nr_conns());
                    return true;
                }
                Err(EncodeError::Full) => queue.finish_current(qlen_max),
                Err(_) => return false,
            }
        }
        false
    }

    /// Takes the messages to send, port by port and oldest first (with `all`, also the ones
    /// being filled), handing each to `send` with its port's index.
    fn take_ready(&self, all: bool, mut send: impl FnMut(usize, Message)) {
        for id in 0.. {
            let batch = {
                let mut outbox = self.outbox.lock();
                let qlen_max = outbox.qlen_max;
                let Some(queue) = outbox.ports.get_mut(id) else {
                    return;
                };
                if all {
                    queue.finish_current(qlen_max);
                }
                core::mem::take(&mut queue.ready)
            };
            batch.into_iter().for_each(|msg| send(id, msg));
        }
    }

    /// The namespace's work item: goes on with the re-announcing pass, sends the full
    /// messages, and those being filled once they are FLUSH_SECS old; comes back for the
    /// youngest if some are younger (`sync_thread_master`), and when the pass goes on.
    pub(crate) fn on_work(&self, state: &NetState, work: &Work<NetState>) {
        let now = timer::jiffies();
        let flush_after = FLUSH_SECS * u64::from(timer::hz());
        let (pass_wait, pass_done) = self.reannounce(state, now);
        let flush_wait = {
            let mut outbox = self.outbox.lock();
            let qlen_max = outbox.qlen_max;
            let mut wait = None;
            for queue in outbox.ports.iter_mut() {
                match queue.current.as_ref().map(|p| now.wrapping_sub(p.started)) {
                    Some(age) if age >= flush_after => queue.finish_current(qlen_max),
                    Some(age) => {
                        let left = flush_after - age;
                        wait = Some(wait.map_or(left, |w: u64| w.min(left)));
                    }
                    None => {}
                }
            }
            wait
        };
        let running = self.running.lock();
        // The end of a pass goes out at once, with what was being filled.
        self.take_ready(pass_done, |id, msg| {
            if let Some(sender) = running.master.as_ref().and_then(|m| m.senders.get(id)) {
                let _ = sender.send(msg.bytes());
            }
        });
        drop(running);
        let wait = match (flush_wait, pass_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(ticks) = wait {
            work.run_in(ticks);
        }
    }

    /// Goes on with the master's re-announcing pass at jiffy `now`, if one is asked for: adds
    /// the next entries of the table, as many as a tenth of a second's rate, to the messages.
    /// In how many ticks it goes on, and whether it ended now.
    fn reannounce(&self, state: &NetState, now: u64) -> (Option<u64>, bool) {
        let (period, rate) = state.sync_reannounce();
        if period == 0 {
            return (None, false);
        }
        let mut running = self.running.lock();
        let Some(master) = running.master.as_mut() else {
            return (None, false);
        };
        let pass = &mut master.reannounce;
        let mut position = match pass.position {
            Some(position) => position,
            None if pass.due != 0 && (now.wrapping_sub(pass.due) as i64) < 0 => {
                return (Some(pass.due.wrapping_sub(now)), false);
            }
            None => 0,
        };
        let version = state.sync_version();
        let qlen_max = state.sync_qlen_max();
        let persist_mode = state.sync_pacing().persist_mode;
        let timeouts = state.timeout_table();
        let mut budget = (rate / REANNOUNCE_RUNS_PER_SECOND).max(1);
        while budget > 0 && position < conn_tab_size::LISTING_POSITIONS {
            let _ = state.conns.for_each_at(position, |c| {
                // What IPVS would send of it: not a TCP connection before it is established,
                // not a connection under a template with `sync_persist_mode`.
                let unsynced_tcp = c.tuple.protocol == packet::PROTO_TCP
                    && !sync_pace::tcp_state_synced(c.state());
                let controlled = persist_mode && c.control().is_some();
                if c.is_template() || !(unsynced_tcp || controlled) {
                    if let Some(entry) = c.sync_entry(&timeouts) {
                        self.queue(&entry, port_hash(c), version, qlen_max, now);
                        budget = budget.saturating_sub(1);
                    }
                }
                Ok(())
            });
            position = state.conns.next_position(position);
        }
        let hz = u64::from(timer::hz());
        if position < conn_tab_size::LISTING_POSITIONS {
            pass.position = Some(position);
            (Some((hz / REANNOUNCE_RUNS_PER_SECOND).max(1)), false)
        } else {
            pass.position = None;
            pass.due = now.wrapping_add(period).max(1);
            (Some(period), true)
        }
    }
}

/// The port a master sends a connection or template through, given their number: by its
/// address, as IPVS's `select_master_thread_id`, so that its updates keep their order.
fn port_hash(conn: &Conn) -> usize {
    let addr = core::ptr::from_ref(conn) as usize;
    addr >> (1 + core::mem::size_of::<Conn>().ilog2())
}

impl PortOutbox {
    /// Moves the message being filled, if it has entries, to the sending queue, unless
    /// `qlen_max` messages wait there already (then it is dropped, as IPVS drops it).
    fn finish_current(&mut self, qlen_max: usize) {
        let Some(p) = self.current.take() else {
            return;
        };
        if p.nr_conns == 0 {
            return;
        }
        if self.ready.len() >= qlen_max {
            return;
        }
        let _ = self.ready.push(
            Message {
                buf: p.buf,
                len: p.len,
            },
            GFP_ATOMIC,
        );
    }
}

impl Pending {
    fn new(version: Version, maxlen: usize, syncid: u8, now: u64) -> Result<Self> {
        let mut buf = KVec::from_elem(0, maxlen, GFP_ATOMIC)?;
        let len = MessageBuilder::new(version, &mut buf, maxlen, syncid)
            .map_err(|_| EINVAL)?
            .len();
        Ok(Self {
            buf,
            version,
            len,
            nr_conns: 0,
            started: now,
        })
    }
}

/// What a backup's socket does with each datagram.
struct BackupReceiver {
    /// The sync ID messages must carry (any if 0; none matches one above 255).
    syncid: u32,
    /// Datagrams longer than this are cut by IPVS's receive buffer, and so dropped.
    maxlen: usize,
    /// One datagram at a time.
    serial: Pin<KBox<BhSpinLock<()>>>,
}

impl BackupReceiver {
    fn new(config: &DaemonConfig) -> Result<Self> {
        Ok(Self {
            syncid: config.syncid,
            maxlen: usize::from(config.sync_maxlen),
            serial: KBox::pin_init(crate::new_bh_spinlock!((), "rvs_sync_backup"), GFP_KERNEL)?,
        })
    }
}

impl DatagramHandler for BackupReceiver {
    fn receive(&self, net: &Net, payload: &[u8]) {
        let Ok(state) = netns::state(net) else {
            return;
        };
        // A larger sync ID than a byte holds matches no message (IPVS compares an int with
        // the header's byte).
        let Ok(syncid) = u8::try_from(self.syncid) else {
            return;
        };
        if payload.len() > self.maxlen {
            return;
        }
        let _serial = self.serial.lock();
        let Ok(entries) = sync_wire::decode(payload, syncid) else {
            return;
        };
        for entry in entries {
            match entry {
                Ok(conn) => apply(state, &conn),
                Err(e) if e.drops_rest() => break,
                Err(_) => {}
            }
        }
    }
}

/// Applies one entry to the namespace's connection table (`ip_vs_proc_conn`). Entries without a
/// real server of a service here are skipped: IPVS keeps them unbound until one appears. As in IPVS, an entry of a
/// persistence engine the director lacks is dropped alone (`ip_vs_conn_fill_param_sync`).
fn apply(state: &NetState, entry: &SyncConn<'_>) {
    // The engine's name is a C string on the backup; its data is not empty (the decoder's).
    let call_id = match entry.pe {
        None => None,
        Some(pe) => match pe.name.split(|&b| b == 0).next() {
            Some(name) if PersistenceEngine::by_name(name) == Some(PersistenceEngine::Sip) => {
                CallId::new(pe.data)
            }
            _ => return,
        },
    };
    apply_entry(state, entry, call_id.as_ref());
}

/// [`apply`] for an entry whose template is for SIP call `call_id`, if any (a connection's
/// call is not kept).
fn apply_entry(state: &NetState, entry: &SyncConn<'_>, call_id: Option<&CallId>) {
    let (caddr, vaddr, daddr) = match entry.addrs {
        Addrs::V4 {
            caddr,
            vaddr,
            daddr,
        } => (
            InetAddr::V4(caddr),
            InetAddr::V4(vaddr),
            InetAddr::V4(daddr),
        ),
        Addrs::V6 {
            caddr,
            vaddr,
            daddr,
        } => (
            InetAddr::V6(caddr),
            InetAddr::V6(vaddr),
            InetAddr::V6(daddr),
        ),
    };
    let protocol = entry.protocol;
    let template = entry.flags & CONN_F_TEMPLATE != 0;
    let key = if template {
        // Templates are found by client network and service; rvs's have client port 0.
        if entry.cport != [0, 0] {
            return;
        }
        Lookup::Template {
            protocol,
            caddr,
            vaddr,
            vport: entry.vport,
            call_id,
        }
    } else {
        Lookup::Request {
            protocol,
            caddr,
            cport: entry.cport,
            vaddr,
            vport: entry.vport,
        }
    };
    let held = state.conns.find(&key);
    let held_view = held.as_ref().map(|c| Held {
        daddr: c.tuple.daddr.to_16(),
        dport: c.tuple.dport,
        flags: c.uapi_flags(),
        bound: c.dest.is_some(),
    });
    let daddr16 = daddr.to_16();
    let state_number = u8::try_from(entry.state).unwrap_or(u8::MAX);
    let state_timeout = (!template).then(|| state.timeout_table().ticks(protocol, state_number));
    let ticks = sync_apply::timeout_ticks(entry.timeout, template, state_timeout, timer::hz());
    match sync_apply::plan(entry.flags, &daddr16, entry.dport, held_view.as_ref()) {
        Plan::Ignore => {}
        Plan::Update { flags, .. } => {
            if let Some(c) = held {
                c.apply_synced(state_number, flags & CONN_F_INACTIVE != 0, ticks);
            }
        }
        Plan::Replace { flags } => {
            if let Some(c) = held {
                state.conns.expire_now(&c);
            }
            create(
                state,
                entry,
                caddr,
                vaddr,
                daddr,
                flags,
                state_number,
                ticks,
                call_id,
            );
        }
        Plan::Create { flags } => {
            create(
                state,
                entry,
                caddr,
                vaddr,
                daddr,
                flags,
                state_number,
                ticks,
                call_id,
            );
        }
    }
}

/// Creates the connection or template of an entry, bound to its real server
/// (`ip_vs_find_dest`, `ip_vs_conn_new`), if a service here has that real server.
#[allow(clippy::too_many_arguments)]
fn create(
    state: &NetState,
    entry: &SyncConn<'_>,
    caddr: InetAddr,
    vaddr: InetAddr,
    daddr: InetAddr,
    flags: u32,
    state_number: u8,
    ticks: u64,
    call_id: Option<&CallId>,
) {
    let guard = Guard::new();
    let Some(svc) =
        state
            .services
            .find_for_packet(entry.protocol, &vaddr, entry.vport, entry.fwmark, &guard)
    else {
        return;
    };
    // A firewall-mark service's real servers of other methods than NAT have port 0.
    let dport = u16::from_be_bytes(entry.dport);
    let port = if entry.fwmark != 0 && flags & conn_flag::FWD_MASK != conn_flag::MASQ {
        0
    } else {
        dport
    };
    let dest_key = |port| DestKey {
        af: daddr.af(),
        addr: daddr.to_16(),
        port,
    };
    let Some((_, dest)) = svc
        .find_dest(&dest_key(port))
        .or_else(|| svc.find_dest(&dest_key(port ^ dport)))
    else {
        return;
    };
    let tuple = Tuple {
        protocol: entry.protocol,
        caddr,
        cport: entry.cport,
        vaddr,
        vport: entry.vport,
        daddr,
        dport: entry.dport,
    };
    // Synced connections take the forwarding method of the real server here
    // (`ip_vs_bind_dest`).
    let fwd = dest.params.fwd;
    let conn = if flags & CONN_F_TEMPLATE != 0 {
        Conn::new_template(
            tuple,
            fwd,
            dest.shared.clone(),
            svc.stats.clone(),
            u32::try_from(ticks).unwrap_or(u32::MAX),
            false,
            entry.fwmark,
            call_id,
        )
    } else {
        Conn::new(
            tuple,
            fwd,
            Some(dest.shared.clone()),
            svc.stats.clone(),
            None,
            entry.fwmark,
        )
    };
    drop(guard);
    let Ok(conn) = conn else {
        return;
    };
    conn.apply_synced(state_number, flags & CONN_F_INACTIVE != 0, ticks);
    state.conns.insert(conn);
}
