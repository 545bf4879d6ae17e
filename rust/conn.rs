// SPDX-License-Identifier: GPL-2.0

//! Connections and the per-namespace connection table (IPVS's `ip_vs_conn.c`).
//!
//! A connection is hashed once, by the client side `(protocol, client address, client port)`
//! with a random seed (`ip_vs_conn_hashkey`): a request finds it by its source, a NAT reply by its
//! destination. The template of a SIP call (`--pe sip`) is hashed by its Call-ID instead. Readers (the packet path, `/proc/net/ip_vs_conn`) walk the chains under RCU;
//! writers take one of 32 bucket-group locks with bottom halves disabled. The table holds one
//! reference of each connection and drops it after a grace period once the connection is
//! unlinked, so that a reader that found a connection can always take its own reference.
//!
//! IPVS's table keeps the size it was loaded with (4 096 buckets by default), so that with a
//! million connections every packet walks chains of hundreds. This one starts at that size and
//! grows (`conn_tab_size::grown_bits`) in steps of the namespace's timer, without stopping
//! readers or writers (`GrowingHashTable`).
//!
//! Instead of one kernel timer per connection, re-armed by every packet (IPVS), a packet only
//! stores the connection's new expiry time, and the namespace's timer sweeps a quarter of the
//! buckets four times a second, unlinking what expired: the packet path touches no timer base.

#![deny(unsafe_code)]

use crate::{
    conn_tab_size,
    defense::{self, EntryDropper},
    ffi::{
        rcu::Guard,
        rculist::{Entry, GrowingHashTable, RcuHashed, RcuLink},
        timer,
    },
    jhash,
    packet::{self, InetAddr},
    pe_sip::{self, CallId},
    proto::{self, TcpState},
    service::DestShared,
    stats::Stats,
    sync_pace, sync_wire,
};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{alloc::KBox, prelude::*, sync::Arc};

/// `IP_VS_CONN_F_INACTIVE`: counted in the destination's inactive connections.
const F_INACTIVE: u32 = 1 << 8;
/// `IP_VS_CONN_F_NOOUTPUT`: no reply seen (yet); replies bypass the director for DR/TUN.
const F_NOOUTPUT: u32 = 1 << 9;
/// The connection was unlinked from the table; its counters were given back.
const F_DEAD: u32 = 1 << 10;
/// `IP_VS_CONN_F_TEMPLATE`: a persistence template, which binds a client network to a real server.
const F_TEMPLATE: u32 = 1 << 11;
/// A template that no longer binds (`ip_vs_check_template`, which rehashes it with ports
/// 0xffff): it stays in the table until it expires, shown with those ports.
const F_INVALID: u32 = 1 << 12;
/// A template of a one-packet service (`ip_vs_conn_ops_mode`), which counts the packets of the
/// connections it schedules.
const F_ONE_PACKET_TEMPLATE: u32 = 1 << 13;
/// `IP_VS_CTPL_S_ASSURED` in a template's state: a connection it controls was established.
const TEMPLATE_ASSURED: u32 = 1;
/// How long a template whose connections still live is kept past its expiry (`expire_later`).
const TEMPLATE_RETRY_SECS: u64 = 60;
const STATE_MASK: u32 = 0xff;
/// Where the state word keeps the state a sync master last sent (`old_state`).
const OLD_STATE_SHIFT: u32 = 16;
const OLD_STATE_MASK: u32 = 0xff << OLD_STATE_SHIFT;

/// The addresses and ports of a connection, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tuple {
    pub(crate) protocol: u8,
    /// The client's address, of the service's family (`cp->af`).
    pub(crate) caddr: InetAddr,
    pub(crate) cport: [u8; 2],
    pub(crate) vaddr: InetAddr,
    pub(crate) vport: [u8; 2],
    /// The real server's address, of another family only through a tunnel (`cp->daf`).
    pub(crate) daddr: InetAddr,
    pub(crate) dport: [u8; 2],
}

/// A connection between a client and a real server through a virtual service.
pub(crate) struct Conn {
    link: RcuLink<Conn>,
    pub(crate) tuple: Tuple,
    /// Forwarding method (`IP_VS_CONN_F_FWD_MASK` bits).
    pub(crate) fwd: u32,
    /// Protocol state in the low byte, `F_*` flags above; changed by compare-and-swap so that a
    /// state change and the unlinking agree on the destination's counters.
    state: AtomicU32,
    /// When the connection expires, in jiffies.
    expires: AtomicU64,
    /// The real server; none for a bypass connection (`cache_bypass`).
    pub(crate) dest: Option<Arc<DestShared>>,
    pub(crate) svc_stats: Arc<Stats>,
    /// The persistence template this connection was scheduled by (`cp->control`).
    control: Option<Arc<Conn>>,
    /// A template's own part; none for a connection.
    template: Option<KBox<TemplatePart>>,
    /// The firewall mark of the packet that made it (`cp->fwmark`), which a sync master sends.
    fwmark: u32,
    /// The expiry a sync master last sent it with, low 32 bits, the two lowest counting the
    /// retries (`sync_endtime`, see `sync_pace`).
    sync_endtime: AtomicU32,
    /// Packets from the client (`in_pkts`), which the `drop_entry` defense looks at.
    in_pkts: AtomicU32,
}

/// What only a persistence template has, apart so that a connection keeps to its slab.
struct TemplatePart {
    /// Connections this template controls (`n_control`).
    n_control: AtomicU32,
    /// The template's timeout in jiffies (the service's persistence timeout).
    ticks: u32,
    /// The SIP call it binds, for a `--pe sip` service (IPVS's `pe_data`); such a template is
    /// hashed by it.
    call_id: Option<KBox<CallId>>,
}

crate::impl_rcu_linked!(Conn, link);

impl RcuHashed for Conn {
    fn hash(&self, seed: u32) -> u32 {
        if let Some(call_id) = self.call_id() {
            return call_hash(call_id, seed);
        }
        client_hash(
            self.tuple.protocol,
            &self.tuple.caddr,
            self.tuple.cport,
            seed,
        )
    }
}

/// `ip_vs_conn_hashkey` without the table's mask: the hash of a client endpoint.
fn client_hash(protocol: u8, addr: &InetAddr, port: [u8; 2], seed: u32) -> u32 {
    let addr_word = match addr {
        InetAddr::V4(a) => u32::from_ne_bytes(*a),
        InetAddr::V6(a) => jhash::jhash(a, seed),
    };
    jhash::jhash_3words(
        addr_word,
        u32::from(u16::from_ne_bytes(port)),
        u32::from(protocol),
        seed,
    )
}

/// The hash of a template of a SIP call (`ip_vs_sip_hashkey_raw`): the calls of one client
/// (a SIP proxy) spread over the table.
fn call_hash(call_id: &CallId, seed: u32) -> u32 {
    jhash::jhash(call_id.as_bytes(), seed)
}

// A connection and its `Arc` count fit the 192-byte slab (IPVS's take 320 bytes).
const _: () = assert!(core::mem::size_of::<Conn>() <= 184);

/// The connection timeouts of a namespace, in seconds.
#[derive(Clone, Copy)]
pub(crate) struct TimeoutTable {
    pub(crate) tcp_established: u32,
    pub(crate) tcp_fin_wait: u32,
    pub(crate) udp: u32,
}

impl TimeoutTable {
    /// The timeout of a connection of `protocol` in state `state`, in jiffies.
    pub(crate) fn ticks(&self, protocol: u8, state: u8) -> u64 {
        u64::from(self.seconds(protocol, state)).saturating_mul(u64::from(timer::hz()))
    }

    fn seconds(&self, protocol: u8, state: u8) -> u32 {
        if protocol == packet::PROTO_UDP {
            return self.udp;
        }
        TcpState::from_u8(state)
            .unwrap_or(TcpState::Close)
            .timeout_secs(self.tcp_established, self.tcp_fin_wait)
    }
}

impl Conn {
    /// A new connection bound to `dest`, counted as inactive until its first state change
    /// (`ip_vs_conn_new`, `ip_vs_bind_dest`); without `dest`, a bypass connection.
    pub(crate) fn new(
        tuple: Tuple,
        fwd: u32,
        dest: Option<Arc<DestShared>>,
        svc_stats: Arc<Stats>,
        control: Option<Arc<Conn>>,
        fwmark: u32,
    ) -> Result<Arc<Self>> {
        let mut flags = F_INACTIVE;
        // A bypass connection has no destination whose forwarding would set the flag
        // (`__ip_vs_update_dest` sets it in the destination's connection flags).
        if dest.is_some() && fwd != crate::abi::conn_flag::MASQ {
            flags |= F_NOOUTPUT;
        }
        if let Some(d) = &dest {
            d.bind_conn();
        }
        if let Some(ct) = &control {
            ct.add_controlled(1);
        }
        let conn = Arc::new(
            Self {
                link: RcuLink::new(),
                tuple,
                fwd,
                state: AtomicU32::new(flags),
                // A new connection lives 3 s until its first state change (`ip_vs_conn_new`).
                expires: AtomicU64::new(timer::jiffies().wrapping_add(3 * u64::from(timer::hz()))),
                dest: dest.clone(),
                svc_stats,
                control: control.clone(),
                template: None,
                fwmark,
                sync_endtime: AtomicU32::new(0),
                in_pkts: AtomicU32::new(0),
            },
            GFP_ATOMIC,
        );
        if conn.is_err() {
            if let Some(d) = &dest {
                d.unbind_conn(false);
            }
            if let Some(ct) = &control {
                ct.add_controlled(-1);
            }
        }
        Ok(conn?)
    }

    /// A new persistence template for the client network in `tuple` (whose client port is 0),
    /// and with `call_id` for that SIP call only, bound to `dest` for `timeout_ticks`
    /// (`ip_vs_sched_persist`, `IP_VS_CONN_F_TEMPLATE`), of a one-packet service with
    /// `one_packet`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_template(
        tuple: Tuple,
        fwd: u32,
        dest: Arc<DestShared>,
        svc_stats: Arc<Stats>,
        timeout_ticks: u32,
        one_packet: bool,
        fwmark: u32,
        call_id: Option<&CallId>,
    ) -> Result<Arc<Self>> {
        let ticks = u64::from(timeout_ticks);
        let flags = if one_packet {
            F_TEMPLATE | F_ONE_PACKET_TEMPLATE
        } else {
            F_TEMPLATE
        };
        let call_id = match call_id {
            Some(id) => Some(KBox::new(*id, GFP_ATOMIC)?),
            None => None,
        };
        let part = TemplatePart {
            n_control: AtomicU32::new(0),
            ticks: timeout_ticks,
            call_id,
        };
        let conn = Arc::new(
            Self {
                link: RcuLink::new(),
                tuple,
                fwd,
                state: AtomicU32::new(flags),
                expires: AtomicU64::new(timer::jiffies().wrapping_add(ticks)),
                dest: Some(dest.clone()),
                svc_stats,
                control: None,
                template: Some(KBox::new(part, GFP_ATOMIC)?),
                fwmark,
                sync_endtime: AtomicU32::new(0),
                in_pkts: AtomicU32::new(0),
            },
            GFP_ATOMIC,
        )?;
        dest.bind_template();
        Ok(conn)
    }

    /// The real server, while it is available (IPVS counts statistics only then).
    pub(crate) fn live_dest(&self) -> Option<&DestShared> {
        self.dest.as_deref().filter(|d| d.available())
    }

    /// Whether the connection had a real server that is gone (`cp->dest` and not
    /// `IP_VS_DEST_F_AVAILABLE`); a bypass connection never had one.
    pub(crate) fn dest_gone(&self) -> bool {
        self.dest.as_ref().is_some_and(|d| !d.available())
    }

    /// Invalidates a template whose real server is gone or quiesced (`ip_vs_check_template`):
    /// lookups no longer find it, and it expires when its time comes (not restarted).
    pub(crate) fn invalidate_template(&self) {
        self.state.fetch_or(F_INVALID, Ordering::Relaxed);
    }

    /// The virtual and real ports as `/proc/net/ip_vs_conn` shows them: 0xffff for an
    /// invalidated template, as IPVS rewrites them.
    pub(crate) fn shown_ports(&self) -> ([u8; 2], [u8; 2]) {
        if self.state.load(Ordering::Relaxed) & F_INVALID != 0 {
            ([0xff; 2], [0xff; 2])
        } else {
            (self.tuple.vport, self.tuple.dport)
        }
    }

    /// Whether this is a persistence template.
    pub(crate) fn is_template(&self) -> bool {
        self.state.load(Ordering::Relaxed) & F_TEMPLATE != 0
    }

    /// A template was used for a new connection: it lives its full timeout again
    /// (`ip_vs_conn_put(ct)`).
    pub(crate) fn touch_template(&self) {
        self.expires.store(
            timer::jiffies().wrapping_add(u64::from(self.template_ticks())),
            Ordering::Relaxed,
        );
    }

    /// A template's timeout in jiffies; 0 for a connection.
    fn template_ticks(&self) -> u32 {
        self.template.as_ref().map_or(0, |t| t.ticks)
    }

    /// How many connections this template controls (0 for a connection).
    fn controlled(&self) -> u32 {
        self.template
            .as_ref()
            .map_or(0, |t| t.n_control.load(Ordering::Relaxed))
    }

    /// Counts `n` more (or fewer) connections controlled by this template.
    fn add_controlled(&self, n: i32) {
        if let Some(t) = &self.template {
            t.n_control.fetch_add(n as u32, Ordering::Relaxed);
        }
    }

    /// Marks the template assured (`ip_vs_control_assure_ct`).
    fn assure(&self) {
        self.state.fetch_or(TEMPLATE_ASSURED, Ordering::Relaxed);
    }

    /// The protocol state number (`cp->state`).
    pub(crate) fn state(&self) -> u8 {
        (self.state.load(Ordering::Relaxed) & STATE_MASK) as u8
    }

    /// Whether no reply has been seen on a connection whose replies may bypass the director.
    pub(crate) fn no_output(&self) -> bool {
        self.state.load(Ordering::Relaxed) & F_NOOUTPUT != 0
    }

    /// The state's name in `/proc/net/ip_vs_conn`.
    pub(crate) fn state_name(&self) -> &'static str {
        if self.is_template() {
            proto::template_state_name(u16::from(self.state()))
        } else if self.tuple.protocol == packet::PROTO_UDP {
            proto::UDP_STATE_NAME
        } else {
            proto::tcp_state_name(u16::from(self.state()))
        }
    }

    /// Seconds until the connection expires.
    pub(crate) fn expires_in_secs(&self, now: u64) -> u64 {
        let ticks = self.expires.load(Ordering::Relaxed).saturating_sub(now);
        ticks / u64::from(timer::hz().max(1))
    }

    fn expired(&self, now: u64) -> bool {
        // Signed difference: correct across a wrap of jiffies.
        (now.wrapping_sub(self.expires.load(Ordering::Relaxed)) as i64) >= 0
    }

    /// Applies a packet to the protocol state and restarts the expiry (`ip_vs_set_state`, then
    /// `ip_vs_conn_put`). `tcp_flags` is the flags byte of a TCP packet; `reply` says the packet
    /// came from the real server.
    pub(crate) fn on_packet(
        &self,
        tcp_flags: u8,
        reply: bool,
        secure_tcp: bool,
        timeouts: &TimeoutTable,
    ) {
        let mut old = self.state.load(Ordering::Relaxed);
        let new = loop {
            if old & F_DEAD != 0 {
                return;
            }
            let mut new;
            if self.tuple.protocol == packet::PROTO_TCP {
                let state = TcpState::from_u8((old & STATE_MASK) as u8).unwrap_or(TcpState::None);
                let dir = proto::tcp_direction(reply, old & F_NOOUTPUT != 0);
                let flags = proto::tcp_flags_from_byte(tcp_flags);
                let next = proto::tcp_transition(state, dir, flags, secure_tcp);
                let inactive = proto::tcp_inactive_after(old & F_INACTIVE != 0, state, next);
                new = (old & !(STATE_MASK | F_INACTIVE)) | u32::from(next.as_u8());
                if inactive {
                    new |= F_INACTIVE;
                }
            } else {
                new = (old & !STATE_MASK) | u32::from(proto::UDP_STATE_NORMAL as u8);
            }
            if reply {
                new &= !F_NOOUTPUT;
            }
            // Most packets of a connection change nothing: no write, no locked operation.
            if new == old {
                break new;
            }
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break new,
                Err(current) => old = current,
            }
        };
        if let Some(dest) = &self.dest {
            match (old & F_INACTIVE != 0, new & F_INACTIVE != 0) {
                (true, false) => dest.activate(),
                (false, true) => dest.deactivate(),
                _ => {}
            }
        }
        // A connection that got established (TCP) or answered (UDP) makes its template assured.
        if let Some(ct) = &self.control {
            let assures = if self.tuple.protocol == packet::PROTO_TCP {
                let before = TcpState::from_u8((old & STATE_MASK) as u8).unwrap_or(TcpState::None);
                let after = TcpState::from_u8((new & STATE_MASK) as u8).unwrap_or(TcpState::None);
                proto::tcp_assures_template(before, after)
            } else {
                reply
            };
            if assures {
                ct.assure();
            }
        }
        let ticks = timeouts.ticks(self.tuple.protocol, (new & STATE_MASK) as u8);
        self.expires
            .store(timer::jiffies().wrapping_add(ticks), Ordering::Relaxed);
    }

    /// The connection's `IP_VS_CONN_F_*` flags that a backup compares a sync entry's with
    /// (`sync_apply::Held`): the forwarding method, inactive, no output, template.
    pub(crate) fn uapi_flags(&self) -> u32 {
        let state = self.state.load(Ordering::Relaxed);
        let mut flags = self.fwd;
        for (internal, uapi) in [
            (F_INACTIVE, sync_wire::CONN_F_INACTIVE),
            (F_NOOUTPUT, sync_wire::CONN_F_NOOUTPUT),
            (F_TEMPLATE, sync_wire::CONN_F_TEMPLATE),
        ] {
            if state & internal != 0 {
                flags |= uapi;
            }
        }
        flags
    }

    /// Takes the protocol state and activity that a master's sync entry gives, and expires in
    /// `ticks` (`ip_vs_proc_conn`); the real server's active count follows the activity. A
    /// template takes the state only.
    pub(crate) fn apply_synced(&self, state: u8, inactive: bool, ticks: u64) {
        let mut old = self.state.load(Ordering::Relaxed);
        let new = loop {
            if old & F_DEAD != 0 {
                return;
            }
            // What the master sent is what a backup turned master has sent (`old_state`).
            let mut new = (old & !(STATE_MASK | OLD_STATE_MASK))
                | u32::from(state)
                | u32::from(state) << OLD_STATE_SHIFT;
            if old & F_TEMPLATE == 0 {
                new &= !F_INACTIVE;
                if inactive {
                    new |= F_INACTIVE;
                }
            }
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break new,
                Err(current) => old = current,
            }
        };
        if let Some(dest) = &self.dest {
            match (old & F_INACTIVE != 0, new & F_INACTIVE != 0) {
                (true, false) => dest.activate(),
                (false, true) => dest.deactivate(),
                _ => {}
            }
        }
        self.expires
            .store(timer::jiffies().wrapping_add(ticks), Ordering::Relaxed);
    }

    /// Counts a packet from the client; that of a one-packet connection counts for the template
    /// that scheduled it, if any (`in_pkts`). Returns the connection's count after it (0 for a
    /// one-packet connection), which paces a sync master.
    pub(crate) fn count_in_packet(&self, one_packet: bool) -> u32 {
        if one_packet {
            if let Some(ct) = &self.control {
                ct.in_pkts.fetch_add(1, Ordering::Relaxed);
            }
            return 0;
        }
        self.in_pkts.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Counts a request for a template whose connection a sync master looks at; returns the
    /// template's count after it (`atomic_inc_return(&cp->in_pkts)` in `ip_vs_sync_conn`).
    pub(crate) fn count_template_request(&self) -> u32 {
        self.in_pkts.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// The persistence template of the connection, if any (`cp->control`).
    pub(crate) fn control(&self) -> Option<&Conn> {
        self.control.as_deref()
    }

    /// What a sync master's pacing reads of the connection, whose timeout in its current state
    /// `timeouts` gives, at jiffy `now` (`ip_vs_sync_conn_needed`).
    pub(crate) fn pace_view(&self, timeouts: &TimeoutTable, now: u64) -> sync_pace::ConnView {
        let word = self.state.load(Ordering::Relaxed);
        // The stored expiry is the low 32 bits of one within 2^31 jiffies of now.
        let low = self.sync_endtime.load(Ordering::Relaxed);
        let distance = low.wrapping_sub(now as u32) as i32;
        sync_pace::ConnView {
            template: word & F_TEMPLATE != 0,
            in_persistence: self.control.is_some(),
            protocol: self.tuple.protocol,
            state: (word & STATE_MASK) as u8,
            old_state: ((word & OLD_STATE_MASK) >> OLD_STATE_SHIFT) as u8,
            timeout: self.timeout_ticks(timeouts),
            sync_endtime: now.wrapping_add(i64::from(distance) as u64),
        }
    }

    /// Records a send the pacing decided on with the connection's `sync_endtime` at `orig`:
    /// the state as sent (`old_state`), and `endtime` if `sync_endtime` is still `orig`.
    /// Whether to send: the swap succeeded, or `force`.
    pub(crate) fn mark_synced(&self, orig: u64, endtime: u64, force: bool) -> bool {
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some((w & !OLD_STATE_MASK) | ((w & STATE_MASK) << OLD_STATE_SHIFT))
            });
        let swapped = self
            .sync_endtime
            .compare_exchange(
                orig as u32,
                endtime as u32,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        swapped || force
    }

    /// The SIP call of a template of a `--pe sip` service.
    pub(crate) fn call_id(&self) -> Option<&CallId> {
        self.template.as_ref()?.call_id.as_deref()
    }

    /// The sync entry of the connection (`ip_vs_sync_conn`): its addresses, flags, state,
    /// firewall mark, timeout in seconds, and a template's SIP call. None for a connection whose
    /// real server is of another family, which the sync messages cannot carry (a sync daemon and
    /// such real servers exclude each other, `ip_vs_start_sync_thread`).
    pub(crate) fn sync_entry(&self, timeouts: &TimeoutTable) -> Option<sync_wire::SyncConn<'_>> {
        let t = &self.tuple;
        let addrs = match (t.caddr, t.vaddr, t.daddr) {
            (InetAddr::V4(caddr), InetAddr::V4(vaddr), InetAddr::V4(daddr)) => {
                sync_wire::Addrs::V4 {
                    caddr,
                    vaddr,
                    daddr,
                }
            }
            (InetAddr::V6(caddr), InetAddr::V6(vaddr), InetAddr::V6(daddr)) => {
                sync_wire::Addrs::V6 {
                    caddr,
                    vaddr,
                    daddr,
                }
            }
            _ => return None,
        };
        let word = self.state.load(Ordering::Relaxed);
        let secs = self.timeout_ticks(timeouts) / u64::from(timer::hz().max(1));
        Some(sync_wire::SyncConn {
            protocol: t.protocol,
            addrs,
            cport: t.cport,
            vport: t.vport,
            dport: t.dport,
            flags: self.uapi_flags(),
            state: (word & STATE_MASK) as u16,
            fwmark: self.fwmark,
            timeout: u32::try_from(secs).unwrap_or(u32::MAX),
            seq: None,
            pe: self.call_id().map(|id| sync_wire::PeParams {
                data: id.as_bytes(),
                name: pe_sip::NAME,
            }),
        })
    }

    /// How long the connection lives after a packet in its current state, in jiffies.
    fn timeout_ticks(&self, timeouts: &TimeoutTable) -> u64 {
        if self.is_template() {
            return u64::from(self.template_ticks());
        }
        timeouts.ticks(self.tuple.protocol, self.state())
    }

    /// A TCP connection whose handshake has not completed, which nothing else depends on.
    fn half_open(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        self.tuple.protocol == packet::PROTO_TCP
            && state & F_TEMPLATE == 0
            && self.controlled() == 0
            && matches!(
                TcpState::from_u8(self.state()),
                Some(TcpState::SynRecv | TcpState::SynAck)
            )
    }

    /// Whether the `drop_entry` defense drops this entry (`ip_vs_random_dropentry`): half-open
    /// TCP connections and templates not yet assured always; established TCP connections, other
    /// protocols' entries and one-packet services' templates when [`EntryDropper`] picks them.
    fn to_drop(&self, now: u64, timeouts: &TimeoutTable, dropper: &mut EntryDropper) -> bool {
        if self.controlled() > 0 {
            return false;
        }
        let state = self.state.load(Ordering::Relaxed);
        let mut try_drop = || {
            // Idle for a minute: its last packet's expiry lies a minute or more behind the
            // expiry a packet now would give it (`todrop_entry`).
            let hz = u64::from(timer::hz());
            let idle_for = now.wrapping_add(self.timeout_ticks(timeouts)).wrapping_sub(
                self.expires
                    .load(Ordering::Relaxed)
                    .wrapping_add(defense::IDLE_BEFORE_DROP_SECS.saturating_mul(hz)),
            );
            let idle = idle_for as i64 >= 0;
            dropper.todrop(idle, self.in_pkts.load(Ordering::Relaxed))
        };
        if state & F_TEMPLATE != 0 {
            return if state & F_ONE_PACKET_TEMPLATE != 0 {
                try_drop()
            } else {
                state & TEMPLATE_ASSURED == 0
            };
        }
        if self.tuple.protocol == packet::PROTO_TCP {
            return match TcpState::from_u8(self.state()) {
                Some(TcpState::SynRecv | TcpState::SynAck) => true,
                Some(TcpState::Established) => try_drop(),
                _ => false,
            };
        }
        try_drop()
    }

    /// Marks the connection dead and gives its counts back to the destination, once
    /// (`ip_vs_unbind_dest`). Called by the table when it unlinks the connection, and for a
    /// one-packet connection, which is never in the table, after its packet.
    pub(crate) fn release(&self) {
        let old = self.state.fetch_or(F_DEAD, Ordering::AcqRel);
        if old & F_DEAD != 0 {
            return;
        }
        if let Some(dest) = &self.dest {
            if old & F_TEMPLATE != 0 {
                dest.unbind_template();
            } else {
                dest.unbind_conn(old & F_INACTIVE == 0);
            }
        }
        if let Some(ct) = &self.control {
            ct.add_controlled(-1);
        }
    }
}

/// `remove` that also gives back the counts of each connection it selects (`Conn::release`).
fn releasing(mut remove: impl FnMut(&Conn) -> bool) -> impl FnMut(&Conn) -> bool {
    move |c| {
        let gone = remove(c);
        if gone {
            c.release();
        }
        gone
    }
}

/// Which side of a connection a packet's addresses describe.
#[derive(Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// A request: source = client, destination = virtual service (`ip_vs_conn_in_get`).
    Request {
        protocol: u8,
        caddr: InetAddr,
        cport: [u8; 2],
        vaddr: InetAddr,
        vport: [u8; 2],
    },
    /// A persistence template: client network (port 0), virtual address and port, and the SIP
    /// call of a `--pe sip` service (`ip_vs_ct_in_get`, `ip_vs_sip_ct_match`); a lookup without
    /// a call finds only templates without one.
    Template {
        protocol: u8,
        caddr: InetAddr,
        vaddr: InetAddr,
        vport: [u8; 2],
        call_id: Option<&'a CallId>,
    },
    /// A reply: source = the real server of a NAT connection, or the virtual service, from
    /// which the real servers of the other methods answer; destination = client
    /// (`ip_vs_conn_out_get`).
    Reply {
        protocol: u8,
        saddr: InetAddr,
        sport: [u8; 2],
        caddr: InetAddr,
        cport: [u8; 2],
    },
}

/// The connections of a namespace.
pub(crate) struct ConnTable {
    chains: GrowingHashTable<Conn>,
    count: AtomicU32,
    /// Next bucket the sweep looks at.
    sweep_next: AtomicU32,
    /// Where the next search for a half-open connection to evict starts (`conn_max`).
    evict_next: AtomicU32,
    /// When a search last went round the whole table without finding one (0: never).
    evict_none_at: AtomicU64,
}

/// Number of sweeps per round over the whole table (one round a second at four sweeps a second).
pub(crate) const SWEEPS_PER_ROUND: u32 = 4;

impl ConnTable {
    /// An empty table of `2^bits` buckets. Sleeps.
    pub(crate) fn new(bits: u32, seed: u32) -> Result<Self> {
        Ok(Self {
            chains: GrowingHashTable::new(
                bits,
                seed,
                kernel::c_str!("rvs_conn_table"),
                kernel::static_lock_class!(),
            )?,
            count: AtomicU32::new(0),
            sweep_next: AtomicU32::new(0),
            evict_next: AtomicU32::new(0),
            evict_none_at: AtomicU64::new(0),
        })
    }

    /// The hash of a client endpoint in this table.
    fn hash(&self, protocol: u8, addr: &InetAddr, port: [u8; 2]) -> u32 {
        client_hash(protocol, addr, port, self.chains.seed())
    }

    /// Number of connections (and templates) in the table.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed) as usize
    }

    /// One step of growing the table when it holds too many connections for its size (see
    /// `conn_tab_size`), for the namespace's timer: copies at most about `GROW_BUDGET`
    /// connections into the larger array, so that the timer's softirq stays short.
    pub(crate) fn grow(&self) {
        const GROW_BUDGET: usize = 1 << 16;
        let bits = conn_tab_size::grown_bits(self.buckets(), self.count());
        self.chains.grow(bits, GROW_BUDGET);
    }

    /// Finds the connection a packet belongs to and takes a reference to it.
    pub(crate) fn find(&self, key: &Lookup<'_>) -> Option<Arc<Conn>> {
        self.find_in(key, &Guard::new()).map(|entry| entry.to_arc())
    }

    /// Finds the connection a packet belongs to, for the read-side critical section `guard`
    /// (the packet path borrows it rather than take a reference).
    pub(crate) fn find_in<'g>(
        &'g self,
        key: &Lookup<'_>,
        guard: &'g Guard,
    ) -> Option<Entry<'g, Conn>> {
        let (protocol, caddr, cport) = match *key {
            Lookup::Request {
                protocol,
                caddr,
                cport,
                ..
            }
            | Lookup::Reply {
                protocol,
                caddr,
                cport,
                ..
            } => (protocol, caddr, cport),
            Lookup::Template {
                protocol, caddr, ..
            } => (protocol, caddr, [0, 0]),
        };
        let hash = match *key {
            Lookup::Template {
                call_id: Some(id), ..
            } => call_hash(id, self.chains.seed()),
            _ => self.hash(protocol, &caddr, cport),
        };
        self.chains.iter(hash, guard).find(|c| {
            let t = &c.tuple;
            t.protocol == protocol
                && t.caddr == caddr
                && t.cport == cport
                && match *key {
                    Lookup::Request { vaddr, vport, .. } => {
                        !c.is_template() && t.vaddr == vaddr && t.vport == vport
                    }
                    Lookup::Reply { saddr, sport, .. } => {
                        !c.is_template()
                            && if c.fwd == crate::abi::conn_flag::MASQ {
                                t.daddr == saddr && t.dport == sport
                            } else {
                                t.vaddr == saddr && t.vport == sport
                            }
                    }
                    Lookup::Template {
                        vaddr,
                        vport,
                        call_id,
                        ..
                    } => {
                        c.is_template()
                            && c.state.load(Ordering::Relaxed) & F_INVALID == 0
                            && t.vaddr == vaddr
                            && t.vport == vport
                            && c.call_id() == call_id
                    }
                }
        })
    }

    /// Adds a connection (`ip_vs_conn_hash`).
    pub(crate) fn insert(&self, conn: Arc<Conn>) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Err(conn) = self.chains.insert(conn) {
            conn.release();
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Unlinks the connections of bucket `bucket` that `remove` selects, giving back their counts.
    fn remove_in(&self, bucket: usize, guard: &Guard, remove: impl FnMut(&Conn) -> bool) -> usize {
        self.forget(self.chains.remove_if(bucket, guard, releasing(remove)))
    }

    /// Counts `removed` connections out; returns it.
    fn forget(&self, removed: usize) -> usize {
        self.count
            .fetch_sub(removed.min(u32::MAX as usize) as u32, Ordering::Relaxed);
        removed
    }

    /// Unlinks `conn` now (`ip_vs_conn_expire_now`); false if it was gone already.
    pub(crate) fn expire_now(&self, conn: &Conn) -> bool {
        let t = conn.tuple;
        let hash = self.hash(t.protocol, &t.caddr, t.cport);
        let removed =
            self.chains
                .remove_hashed(hash, &Guard::new(), releasing(|c| core::ptr::eq(c, conn)));
        self.forget(removed) > 0
    }

    /// One sweep: unlinks the expired connections of the next `1/SWEEPS_PER_ROUND` of the
    /// buckets.
    pub(crate) fn sweep(&self) -> usize {
        let now = timer::jiffies();
        let guard = Guard::new();
        let array = self.chains.array(&guard);
        let size = (array.buckets() as u32).max(1);
        let per_sweep = size.div_ceil(SWEEPS_PER_ROUND).max(1);
        let start = self
            .sweep_next
            .load(Ordering::Relaxed)
            .checked_rem(size)
            .unwrap_or(0);
        let end = start.saturating_add(per_sweep).min(size);
        self.sweep_next
            .store(if end >= size { 0 } else { end }, Ordering::Relaxed);
        let mut removed = 0;
        let retry = TEMPLATE_RETRY_SECS.saturating_mul(u64::from(timer::hz()));
        for bucket in start..end {
            // A bucket with nothing expired is passed over without taking its lock, which most
            // are while connections are being made faster than they expire. (If the table grew
            // meanwhile, what this read missed is met by the next round.)
            if !array.bucket(bucket as usize).any(|c| c.expired(now)) {
                continue;
            }
            removed += self.remove_in(bucket as usize, &guard, |c| {
                if c.expired(now) && c.controlled() > 0 {
                    // A template outlives the connections it controls (`expire_later`).
                    c.expires.store(now.wrapping_add(retry), Ordering::Relaxed);
                    return false;
                }
                c.expired(now)
            });
        }
        removed
    }

    /// The `drop_entry` defense's pass of a second (`ip_vs_random_dropentry`): 1/32 of the
    /// buckets, picked at random, lose the entries [`Conn::to_drop`] selects.
    pub(crate) fn random_drop(&self, timeouts: &TimeoutTable, dropper: &mut EntryDropper) -> usize {
        let now = timer::jiffies();
        let mut removed = 0;
        let guard = Guard::new();
        let buckets = self.chains.array(&guard).buckets();
        for _ in 0..(buckets >> 5) {
            let bucket = crate::ffi::random_u32() as usize & (buckets - 1);
            removed += self.remove_in(bucket, &guard, |c| c.to_drop(now, timeouts, dropper));
        }
        removed
    }

    /// Unlinks one half-open TCP connection (SYN_RECV or SYN_ACK, as a flood of forged SYNs
    /// leaves them): room for a new connection at the namespace's `conn_max`. The search goes
    /// on from where the last one stopped, so that a sweep of the table is shared by the
    /// connections that need room (under a flood one is found within a few buckets); after a
    /// whole round finds none, searches are skipped for a tenth of a second, which bounds the
    /// cost of refusing connections when the table holds only established ones. False if none
    /// was evicted.
    pub(crate) fn evict_half_open(&self) -> bool {
        let now = timer::jiffies();
        let none_at = self.evict_none_at.load(Ordering::Relaxed);
        if none_at != 0 && now.wrapping_sub(none_at) < u64::from(timer::hz() / 10) {
            return false;
        }
        let guard = Guard::new();
        let array = self.chains.array(&guard);
        let buckets = array.buckets();
        let start = self.evict_next.load(Ordering::Relaxed) as usize;
        for i in 0..buckets {
            let bucket = start.wrapping_add(i) & (buckets - 1);
            // Most buckets hold none: they are passed over without their lock.
            if !array.bucket(bucket).any(|c| c.half_open()) {
                continue;
            }
            let mut evicted = false;
            self.remove_in(bucket, &guard, |c| {
                let take = !evicted && c.half_open();
                evicted |= take;
                take
            });
            if evicted {
                self.evict_next.store(bucket as u32, Ordering::Relaxed);
                return true;
            }
        }
        self.evict_none_at.store(now.max(1), Ordering::Relaxed);
        false
    }

    /// Unlinks every connection, or those of destinations that are gone (`ip_vs_conn_flush`,
    /// `ip_vs_expire_nodest_conn_flush`).
    pub(crate) fn flush(&self, only_without_dest: bool) {
        // The size is read again after each bucket: a connection of bucket `b` is in a bucket
        // `b + k * old size` of a grown table, so none is left behind by a growth meanwhile.
        let guard = Guard::new();
        let mut bucket = 0;
        while bucket < self.chains.array(&guard).buckets() {
            self.remove_in(bucket, &guard, |c| !only_without_dest || c.dest_gone());
            bucket += 1;
        }
    }

    /// The number of hash buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.chains.buckets()
    }

    /// Calls `f` with every connection of the listing record at `position`
    /// (`conn_tab_size::listing_buckets`), for `/proc/net/ip_vs_conn`.
    pub(crate) fn for_each_at(
        &self,
        position: u64,
        mut f: impl FnMut(&Conn) -> core::fmt::Result,
    ) -> core::fmt::Result {
        let guard = Guard::new();
        let array = self.chains.array(&guard);
        let bits = array.buckets().trailing_zeros();
        for bucket in conn_tab_size::listing_buckets(position, bits) {
            for conn in array.bucket(bucket) {
                f(&conn)?;
            }
        }
        Ok(())
    }

    /// The position of the listing record after the one at `position`.
    pub(crate) fn next_position(&self, position: u64) -> u64 {
        conn_tab_size::next_listing_position(position, self.buckets().trailing_zeros())
    }
}
