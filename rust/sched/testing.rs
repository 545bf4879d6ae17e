// SPDX-License-Identifier: GPL-2.0

//! A scripted service for the schedulers' tests, driven like the host C harness that produced
//! their expected values (see the tests of each scheduler).

use super::{locality::Clock, Candidate, Flow, SchedState, Scheduler};
use std::format;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::string::String;
use std::vec::Vec;

/// A fake destination.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fake {
    pub(crate) id: u64,
    pub(crate) weight: i32,
    pub(crate) active: u32,
    pub(crate) inactive: u32,
    pub(crate) overloaded: bool,
}

impl Candidate for Fake {
    fn id(&self) -> u64 {
        self.id
    }
    fn weight(&self) -> i32 {
        self.weight
    }
    fn active_conns(&self) -> u32 {
        self.active
    }
    fn inactive_conns(&self) -> u32 {
        self.inactive
    }
    fn overloaded(&self) -> bool {
        self.overloaded
    }
}

/// What a scheduled connection adds to its destination's counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conn {
    /// Nothing.
    None,
    /// One active connection.
    Active,
    /// One inactive connection.
    Inactive,
}

/// A service: its destination list in IPVS's list order and its scheduler state.
pub(crate) struct World {
    pub(crate) kind: Scheduler,
    pub(crate) dests: Vec<Fake>,
    pub(crate) state: Option<SchedState>,
    /// The service's address family (`svc->af`).
    pub(crate) af: u16,
    /// The service's flags (`svc->flags`).
    pub(crate) svc_flags: u32,
    /// The random numbers `twos` draws, used in turn and wrapping around, each reduced
    /// modulo the bound (kept as is for bound 0), as the C harness's scripted
    /// `get_random_u32_below` does.
    pub(crate) script: Vec<u32>,
    script_pos: usize,
    /// The bounds `twos` asked for, in order.
    pub(crate) bounds: Vec<u32>,
    /// The clock `lblc` and `lblcr` see.
    pub(crate) clock: Clock,
}

impl World {
    /// A service without destinations that will use `kind`.
    pub(crate) fn new(kind: Scheduler) -> Self {
        World {
            kind,
            dests: Vec::new(),
            state: None,
            af: 2,
            svc_flags: 0,
            script: Vec::new(),
            script_pos: 0,
            bounds: Vec::new(),
            clock: Clock::default(),
        }
    }

    fn fake(id: u64, weight: i32, active: u32, inactive: u32, overloaded: bool) -> Fake {
        Fake {
            id,
            weight,
            active,
            inactive,
            overloaded,
        }
    }

    /// Links a destination at the list head without telling the scheduler (setup before
    /// `start`): the last one put is index 0.
    pub(crate) fn put(&mut self, id: u64, weight: i32, act: u32, inact: u32, ovl: bool) {
        self.dests
            .insert(0, Self::fake(id, weight, act, inact, ovl));
    }

    /// Binds the scheduler (IPVS `init_service`).
    pub(crate) fn start(&mut self) {
        self.state = Some(self.kind.new_state(&self.dests));
    }

    fn changed(&mut self) {
        if let Some(state) = self.state.as_mut() {
            state.dests_changed(&self.dests);
        }
    }

    fn index_of(&self, id: u64) -> usize {
        self.dests.iter().position(|d| d.id == id).unwrap()
    }

    /// Adds a destination (at the list head, as IPVS does) and tells the scheduler.
    pub(crate) fn add(&mut self, id: u64, weight: i32, act: u32, inact: u32, ovl: bool) {
        self.put(id, weight, act, inact, ovl);
        self.changed();
    }

    /// Deletes a destination and tells the scheduler.
    pub(crate) fn del(&mut self, id: u64) {
        let i = self.index_of(id);
        self.dests.remove(i);
        self.changed();
    }

    /// Edits a destination's weight and overload flag and tells the scheduler.
    pub(crate) fn upd(&mut self, id: u64, weight: i32, ovl: bool) {
        let i = self.index_of(id);
        self.dests[i].weight = weight;
        self.dests[i].overloaded = ovl;
        self.changed();
    }

    /// Sets or clears the overload flag only: IPVS calls no scheduler callback for that.
    pub(crate) fn ovl(&mut self, id: u64, ovl: bool) {
        let i = self.index_of(id);
        self.dests[i].overloaded = ovl;
    }

    /// Schedules one connection of a packet from `saddr:sport` to `daddr:dport` (wire-order
    /// addresses).
    fn pick(&mut self, saddr: [u8; 16], sport: u16, daddr: [u8; 16], dport: u16) -> Option<usize> {
        let World {
            dests,
            state,
            af,
            svc_flags,
            script,
            script_pos,
            bounds,
            clock,
            ..
        } = self;
        let state = state.as_mut().expect("start() first");
        let mut random_below = |bound: u32| {
            bounds.push(bound);
            let r = match script.len() {
                0 => 0,
                len => script[*script_pos % len],
            };
            *script_pos += 1;
            if bound == 0 {
                r
            } else {
                r % bound
            }
        };
        let mut flow = Flow {
            af: *af,
            saddr,
            daddr,
            sport: sport.to_be_bytes(),
            dport: dport.to_be_bytes(),
            svc_flags: *svc_flags,
            random_below: &mut random_below,
            clock: *clock,
        };
        state.schedule(dests, &mut flow)
    }

    /// The harness's `clients(n)`: TCP from 10.0.1.i, port 1024 + i, to 192.168.0.1:80 for
    /// i in 1..=n (for `dh`, from 192.168.0.1 to 10.0.1.i), no connection counted; the choices
    /// as the C harness prints them.
    pub(crate) fn clients(&mut self, n: u8) -> String {
        let vip = v4(Ipv4Addr::new(192, 168, 0, 1));
        let mut out = Vec::new();
        for i in 1..=n {
            let client = v4(Ipv4Addr::new(10, 0, 1, i));
            let port = 1024 + u16::from(i);
            out.push(show(if self.kind == Scheduler::DestinationHashing {
                self.pick(vip, port, client, 80)
            } else {
                self.pick(client, port, vip, 80)
            }));
        }
        out.join(" ")
    }

    /// The harness's `clients6(n)`: as [`World::clients`] with 2001:db8::(7i):i and
    /// 2001:db8::1.
    pub(crate) fn clients6(&mut self, n: u16) -> String {
        let vip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut out = Vec::new();
        for i in 1..=n {
            let client: Ipv6Addr = format!("2001:db8::{:x}:{:x}", i * 7, i).parse().unwrap();
            let port = 1024 + i;
            out.push(show(if self.kind == Scheduler::DestinationHashing {
                self.pick(vip.octets(), port, client.octets(), 80)
            } else {
                self.pick(client.octets(), port, vip.octets(), 80)
            }));
        }
        out.join(" ")
    }

    /// Schedules `n` connections and returns the chosen indices as the C harness prints them
    /// (`-` for none), each chosen destination gaining `conn`. The packet is all zeros.
    pub(crate) fn sched(&mut self, n: usize, conn: Conn) -> String {
        let mut out = Vec::new();
        for _ in 0..n {
            match self.pick([0; 16], 0, [0; 16], 0) {
                None => out.push(String::from("-")),
                Some(i) => {
                    out.push(i.to_string());
                    let d = &mut self.dests[i];
                    match conn {
                        Conn::None => {}
                        // Wrapping, as the C harness's int counts do.
                        Conn::Active => d.active = d.active.wrapping_add(1),
                        Conn::Inactive => d.inactive = d.inactive.wrapping_add(1),
                    }
                }
            }
        }
        out.join(" ")
    }
}

/// An IPv4 address as a [`Flow`] carries it.
fn v4(a: Ipv4Addr) -> [u8; 16] {
    let mut b = [0; 16];
    b[..4].copy_from_slice(&a.octets());
    b
}

/// A choice as the C harness prints it.
fn show(i: Option<usize>) -> String {
    i.map_or(String::from("-"), |i| i.to_string())
}
