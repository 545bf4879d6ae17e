// SPDX-License-Identifier: GPL-2.0

//! The connection synchronisation daemons of a namespace (IPVS's `ip_vs_sync.c`): started and
//! stopped by `IPVS_CMD_NEW_DAEMON` / `DEL_DAEMON`, listed by `GET_DAEMON`.
//!
//! A backup receives the messages its master multicasts and applies each entry to the
//! connection table as `ip_vs_proc_conn` does ([`sync_apply::plan`]), so that when it takes the
//! virtual addresses over, established connections keep their real servers and persistent
//! clients their templates. The backup's socket hands it each datagram in the softirq that
//! delivers it (see `ffi::udp`); datagrams are applied one at a time, as IPVS's single backup
//! thread per port reads them.

#![deny(unsafe_code)]

use crate::{
    abi::conn_flag,
    conn::{Conn, Lookup, Tuple},
    ffi::{
        pernet::Net,
        rcu::Guard,
        sync::BhSpinLock,
        timer,
        udp::{self, DatagramHandler, MulticastReceiver},
    },
    netns::{self, NetState},
    packet,
    service::DestKey,
    sync_apply::{self, Held, Plan},
    sync_config::{DaemonConfig, Role},
    sync_wire::{self, Addrs, SyncConn, CONN_F_INACTIVE, CONN_F_TEMPLATE},
};
use kernel::{new_mutex, prelude::*, str::CStr, sync::Mutex};

/// The daemons of a namespace (`sync_state`, `mcfg`, `bcfg` and the threads of `netns_ipvs`).
pub(crate) struct SyncDaemons {
    running: Pin<KBox<Mutex<Running>>>,
}

#[derive(Default)]
struct Running {
    backup: Option<Backup>,
}

/// A running backup: its settings and its socket.
struct Backup {
    config: DaemonConfig,
    _receiver: MulticastReceiver<BackupReceiver>,
}

impl SyncDaemons {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            running: KBox::pin_init(new_mutex!(Running::default()), GFP_KERNEL)?,
        })
    }

    /// Starts the daemon of state `state` with `config` (`start_sync_thread`): `-ENODEV` if
    /// the interface does not exist, `-EEXIST` if that daemon runs, `-EINVAL` for a state that
    /// is no role. rvs has no master daemon yet: `-EOPNOTSUPP` for one. Sleeps.
    pub(crate) fn start(&self, net: &Net, state: u32, config: DaemonConfig) -> Result {
        let name = CStr::from_bytes_with_nul(config.ifname_with_nul())?;
        let Some(interface) = udp::interface(net, name) else {
            return Err(ENODEV);
        };
        let mut running = self.running.lock();
        let role = Role::from_state(state).ok_or(EINVAL)?;
        let config = config.completed(role, interface.mtu);
        match role {
            Role::Master => Err(crate::ffi::errno::eopnotsupp()),
            Role::Backup => {
                if running.backup.is_some() {
                    return Err(EEXIST);
                }
                let receiver = MulticastReceiver::new(
                    net,
                    config.group(),
                    config.port,
                    interface.ifindex,
                    BackupReceiver::new(&config)?,
                )?;
                running.backup = Some(Backup {
                    config,
                    _receiver: receiver,
                });
                Ok(())
            }
        }
    }

    /// Stops the daemon of state `state` (`stop_sync_thread`): `-ESRCH` if it does not run,
    /// `-EINVAL` for a state that is no role. Sleeps.
    pub(crate) fn stop(&self, state: u32) -> Result {
        let backup = {
            let mut running = self.running.lock();
            match Role::from_state(state).ok_or(EINVAL)? {
                Role::Master => return Err(ESRCH),
                Role::Backup => running.backup.take().ok_or(ESRCH)?,
            }
        };
        // Released outside the lock: the release waits for a grace period.
        drop(backup);
        Ok(())
    }

    /// Stops every daemon (the namespace goes). Sleeps.
    pub(crate) fn stop_all(&self) {
        let backup = self.running.lock().backup.take();
        drop(backup);
    }

    /// The running daemons' states and settings, master first (`ip_vs_genl_dump_daemons`).
    pub(crate) fn running(&self) -> [Option<(u32, DaemonConfig)>; 2] {
        let running = self.running.lock();
        [
            None,
            running
                .backup
                .as_ref()
                .map(|b| (Role::Backup.state(), b.config)),
        ]
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

/// Applies one entry to the namespace's connection table (`ip_vs_proc_conn`). Entries the
/// data plane cannot carry (IPv6) are skipped, and so are those without a real server of a
/// service here: IPVS keeps them unbound until one appears.
fn apply(state: &NetState, entry: &SyncConn<'_>) {
    let Addrs::V4 {
        caddr,
        vaddr,
        daddr,
    } = entry.addrs
    else {
        return;
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
        daddr: packet::ipv4_in_16(c.tuple.daddr),
        dport: c.tuple.dport,
        flags: c.uapi_flags(),
        bound: c.dest.is_some(),
    });
    let daddr16 = packet::ipv4_in_16(daddr);
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
    caddr: [u8; 4],
    vaddr: [u8; 4],
    daddr: [u8; 4],
    flags: u32,
    state_number: u8,
    ticks: u64,
) {
    let guard = Guard::new();
    let Some(svc) =
        state
            .services
            .find_ipv4(entry.protocol, vaddr, entry.vport, entry.fwmark, &guard)
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
        af: crate::abi::AF_INET,
        addr: packet::ipv4_in_16(daddr),
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
        )
    } else {
        Conn::new(
            tuple,
            fwd,
            Some(dest.shared.clone()),
            svc.stats.clone(),
            None,
        )
    };
    drop(guard);
    let Ok(conn) = conn else {
        return;
    };
    conn.apply_synced(state_number, flags & CONN_F_INACTIVE != 0, ticks);
    state.conns.insert(conn);
}
