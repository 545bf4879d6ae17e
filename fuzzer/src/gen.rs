//! IPVS generic netlink requests built from the schema (`ip_vs_*_policy` and what
//! `ip_vs_genl_set_cmd` reads), over a small pool of services and real servers so that requests
//! keep meeting what earlier ones made; then bent by mutations: attributes dropped, repeated,
//! truncated, lengthened, retyped, lied about, strings without their NUL, nests of garbage,
//! extreme values, bytes left over, random commands, versions and flags.
//!
//! What is generated depends on the seed alone, never on the kernel's answers, so the same seed
//! sends the same bytes to rvs and to ip_vs.

use crate::attrs::{encode, Attr, Payload};
use crate::rng::Rng;
use rvs_abi::{cmd, cmd_attr, daemon_attr, dest_attr, svc_attr, AF_INET, AF_INET6};
use rvsadm::netlink::{NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

/// One request: its generic netlink header, attributes and what was done to it.
#[derive(Clone, Debug)]
pub struct Request {
    pub cmd: u8,
    pub version: u8,
    /// nlmsg flags besides `NLM_F_REQUEST | NLM_F_ACK`, which every request carries so that
    /// every request is answered.
    pub flags: u16,
    pub attrs: Vec<Attr>,
    /// Bytes after the last attribute.
    pub trailer: Vec<u8>,
    pub mutations: Vec<String>,
}

impl Request {
    fn new(cmd: u8, attrs: Vec<Attr>) -> Self {
        Request {
            cmd,
            version: 1,
            flags: 0,
            attrs,
            trailer: Vec::new(),
            mutations: Vec::new(),
        }
    }

    pub fn is_dump(&self) -> bool {
        self.flags & NLM_F_DUMP == NLM_F_DUMP
    }

    /// The attribute bytes as sent (trailer included), which the model reads as the kernel did.
    pub fn attr_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&self.attrs, &mut out);
        out.extend_from_slice(&self.trailer);
        out
    }

    /// The whole netlink message.
    pub fn encode(&self, family: u16, seq: u32) -> Vec<u8> {
        let body = self.attr_bytes();
        let len = 20 + body.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&family.to_ne_bytes());
        m.extend_from_slice(&(self.flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[self.cmd, self.version, 0, 0]);
        m.extend_from_slice(&body);
        m
    }

    /// A line for a trace: command, flags, mutations and the attribute bytes.
    pub fn describe(&self) -> String {
        let hex: String = self
            .attr_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "{} v{} flags {:#x}{} attrs {}",
            cmd_name(self.cmd),
            self.version,
            self.flags,
            if self.mutations.is_empty() {
                String::new()
            } else {
                format!(" [{}]", self.mutations.join("; "))
            },
            if hex.is_empty() { "-".into() } else { hex }
        )
    }
}

pub fn cmd_name(c: u8) -> String {
    const NAMES: [&str; 18] = [
        "UNSPEC",
        "NEW_SERVICE",
        "SET_SERVICE",
        "DEL_SERVICE",
        "GET_SERVICE",
        "NEW_DEST",
        "SET_DEST",
        "DEL_DEST",
        "GET_DEST",
        "NEW_DAEMON",
        "DEL_DAEMON",
        "GET_DAEMON",
        "SET_CONFIG",
        "GET_CONFIG",
        "SET_INFO",
        "GET_INFO",
        "ZERO",
        "FLUSH",
    ];
    NAMES
        .get(c as usize)
        .map_or_else(|| format!("cmd{c}"), |n| n.to_string())
}

const SVC_ADDR4: [[u8; 4]; 2] = [[10, 0, 0, 1], [10, 0, 0, 2]];
const SVC_ADDR6: [[u8; 16]; 2] = [
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
];
const RS_ADDR4: [[u8; 4]; 3] = [[192, 168, 2, 2], [192, 168, 2, 3], [192, 168, 2, 4]];
const RS_ADDR6: [[u8; 16]; 2] = [
    [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3],
];
const SCHEDULERS: [&str; 15] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
    "none",
];

/// The interface a sync daemon may be started on (the test makes it).
pub const DAEMON_IFN: &str = "rvs-fz0";

/// Where the requests of one sender go: the pool it draws services from. Senders working at once
/// get disjoint pools (their own ports and fwmarks), so each one's answers stay its own.
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    pub ports: [u16; 3],
    pub marks: [u32; 3],
    /// Whether requests that touch everything (FLUSH, ZERO of all, timeouts, sync daemons) may
    /// be sent: not when senders share the tables.
    pub global: bool,
}

impl Pool {
    pub const SOLE: Pool = Pool {
        ports: [80, 443, 0],
        marks: [1, 2, 3],
        global: true,
    };

    /// Whether a service is one of this pool's (a mutation may have made another of it: an
    /// extreme fwmark, a port of 0, which other senders could name too).
    fn owns(&self, key: &crate::model::SvcKey) -> bool {
        match key {
            crate::model::SvcKey::Addr { port, .. } => self.ports.contains(port),
            crate::model::SvcKey::Mark { mark, .. } => self.marks.contains(mark),
        }
    }

    /// The pool of sender `i` of several.
    pub fn shared(i: u16) -> Pool {
        let base = 1000 + 10 * i;
        Pool {
            ports: [base, base + 1, base + 2],
            marks: [u32::from(base), u32::from(base) + 1, u32::from(base) + 2],
            global: false,
        }
    }
}

fn svc_identity(r: &mut Rng, pool: &Pool) -> Vec<Attr> {
    let af = match r.weighted(&[8, 3, 1]) {
        0 => AF_INET,
        1 => AF_INET6,
        _ => *r.pick(&[0u16, 1, 3, 0xffff]),
    };
    let mut a = vec![Attr::u16(svc_attr::AF, af)];
    if r.chance(25) {
        a.push(Attr::u32(svc_attr::FWMARK, *r.pick(&pool.marks)));
        return a;
    }
    let protocol = match r.weighted(&[5, 3, 1, 1]) {
        0 => 6,
        1 => 17,
        2 => 132,
        _ => *r.pick(&[0u16, 50, 51, 255]),
    };
    let addr: Vec<u8> = if af == AF_INET6 || (af != AF_INET && r.chance(50)) {
        r.pick(&SVC_ADDR6).to_vec()
    } else {
        let mut b = r.pick(&SVC_ADDR4).to_vec();
        // ipvsadm sends the whole `nf_inet_addr`; some send 4 bytes.
        if r.chance(80) {
            b.resize(16, 0);
        }
        b
    };
    a.push(Attr::u16(svc_attr::PROTOCOL, protocol));
    a.push(Attr::bytes(svc_attr::ADDR, &addr));
    a.push(Attr::be16(svc_attr::PORT, *r.pick(&pool.ports)));
    a
}

fn svc_full(r: &mut Rng, identity: Vec<Attr>) -> Vec<Attr> {
    let mut a = identity;
    let sched = if r.chance(90) {
        r.pick(&SCHEDULERS).to_string()
    } else {
        r.pick(&["", "nosuch", "RR", "rr ", "0123456789abcde"])
            .to_string()
    };
    a.push(Attr::string(svc_attr::SCHED_NAME, &sched));
    let flags = r.next_u32() & 0x3f & !0x2;
    let mask = if r.chance(70) {
        u32::MAX
    } else {
        r.next_u32() & 0x3f
    };
    let mut fb = flags.to_ne_bytes().to_vec();
    fb.extend_from_slice(&mask.to_ne_bytes());
    a.push(Attr::bytes(svc_attr::FLAGS, &fb));
    a.push(Attr::u32(
        svc_attr::TIMEOUT,
        *r.pick(&[0u32, 300, 1, 86400, 4_000_000]),
    ));
    // IPv4 masks as ipvsadm sends them (the address's bytes), IPv6 ones as prefix lengths.
    let v6 = a.first().and_then(|af| match &af.payload {
        Payload::Bytes(b) => Some(b[..] == AF_INET6.to_ne_bytes()),
        Payload::Nest(_) => None,
    });
    let netmask = if r.chance(90) {
        if v6 == Some(true) {
            *r.pick(&[128u32, 64])
        } else {
            *r.pick(&[u32::MAX, 0x00ff_ffff])
        }
    } else {
        *r.pick(&[0u32, 129, 64, u32::MAX])
    };
    a.push(Attr::u32(svc_attr::NETMASK, netmask));
    if r.chance(15) {
        let pe: &&str = r.pick(&["sip", "", "nosuch"]);
        a.push(Attr::string(svc_attr::PE_NAME, pe));
    }
    a
}

fn dest_identity(r: &mut Rng) -> Vec<Attr> {
    let v6 = r.chance(25);
    let mut a = vec![if v6 {
        Attr::bytes(dest_attr::ADDR, &r.pick(&RS_ADDR6)[..])
    } else {
        let mut b = r.pick(&RS_ADDR4).to_vec();
        b.resize(16, 0);
        Attr::bytes(dest_attr::ADDR, &b)
    }];
    a.push(Attr::be16(dest_attr::PORT, *r.pick(&[80u16, 8080, 0])));
    if r.chance(60) {
        let af = if r.chance(90) {
            if v6 {
                AF_INET6
            } else {
                AF_INET
            }
        } else {
            *r.pick(&[0u16, 7])
        };
        a.push(Attr::u16(dest_attr::ADDR_FAMILY, af));
    }
    a
}

fn dest_full(r: &mut Rng) -> Vec<Attr> {
    let mut a = dest_identity(r);
    let fwd = if r.chance(90) {
        r.below(5) as u32
    } else {
        r.next_u32()
    };
    a.push(Attr::u32(dest_attr::FWD_METHOD, fwd));
    a.push(Attr::u32(
        dest_attr::WEIGHT,
        *r.pick(&[0u32, 1, 1, 5, 100, 0x7fff_ffff, 0x8000_0000]),
    ));
    let u = *r.pick(&[0u32, 0, 10, 100]);
    a.push(Attr::u32(dest_attr::U_THRESH, u));
    a.push(Attr::u32(dest_attr::L_THRESH, *r.pick(&[0u32, 0, 5, 200])));
    if r.chance(40) {
        a.push(Attr::u8(dest_attr::TUN_TYPE, r.below(4) as u8));
        if r.chance(70) {
            a.push(Attr::be16(dest_attr::TUN_PORT, *r.pick(&[0u16, 6080])));
        }
        if r.chance(50) {
            a.push(Attr::u16(dest_attr::TUN_FLAGS, r.below(5) as u16));
        }
    }
    a
}

fn daemon(r: &mut Rng, full: bool) -> Vec<Attr> {
    let mut a = vec![Attr::u32(
        daemon_attr::STATE,
        *r.pick(&[1u32, 1, 2, 2, 0, 3]),
    )];
    if !full {
        return a;
    }
    let ifname = *r.pick(&[DAEMON_IFN, DAEMON_IFN, "lo", "nosuch0", ""]);
    a.push(Attr::string(daemon_attr::MCAST_IFN, ifname));
    a.push(Attr::u32(daemon_attr::SYNC_ID, r.below(4) as u32));
    if r.chance(30) {
        a.push(Attr::u16(
            daemon_attr::SYNC_MAXLEN,
            *r.pick(&[0u16, 100, 1472, 65535]),
        ));
    }
    if r.chance(30) {
        a.push(Attr::bytes(
            daemon_attr::MCAST_GROUP,
            &r.pick(&[[224u8, 0, 0, 81], [239, 9, 9, 9], [10, 1, 1, 1]])[..],
        ));
    } else if r.chance(15) {
        // rvs has no IPv6 sync group yet: it refuses with EAFNOSUPPORT the daemon IPVS would
        // start. The IPv6 groups sent are those IPVS refuses too: not multicast (EINVAL), or
        // multicast on an interface that does not exist (ENODEV).
        let mut g = [0u8; 16];
        g[0] = if ifname == "nosuch0" { 0xff } else { 0x20 };
        g[1] = 2;
        g[15] = 0x81;
        a.push(Attr::bytes(daemon_attr::MCAST_GROUP6, &g));
    }
    if r.chance(30) {
        a.push(Attr::u16(
            daemon_attr::MCAST_PORT,
            *r.pick(&[8848u16, 0, 9000]),
        ));
    }
    if r.chance(30) {
        a.push(Attr::u8(daemon_attr::MCAST_TTL, *r.pick(&[1u8, 0, 255])));
    }
    a
}

/// The requests of one sender: its generator and pool, and the services it named in its last
/// NEW_SERVICE requests, which most later requests name again (sent, not necessarily accepted:
/// what is generated never depends on the kernel's answers).
pub struct Sender {
    rng: Rng,
    pool: Pool,
    recent: Vec<Vec<Attr>>,
}

impl Sender {
    pub fn new(seed: u64, pool: Pool) -> Self {
        Sender {
            rng: Rng::new(seed),
            pool,
            recent: Vec::new(),
        }
    }

    /// A service identity: a new one from the pool, or most often one named lately.
    fn identity(&mut self, new: bool) -> Vec<Attr> {
        if new || self.recent.is_empty() || self.rng.chance(25) {
            let id = svc_identity(&mut self.rng, &self.pool);
            if new {
                if self.recent.len() == 8 {
                    self.recent.remove(self.rng.below(8));
                }
                self.recent.push(id.clone());
            }
            return id;
        }
        let i = self.rng.below(self.recent.len());
        self.recent[i].clone()
    }

    /// The next request: well formed half the time, bent once to three times otherwise.
    pub fn next(&mut self) -> Request {
        let mut q = self.well_formed();
        let r = &mut self.rng;
        if r.chance(50) {
            for _ in 0..1 + r.below(3) {
                mutate(r, &mut q);
            }
        }
        let zero_all = || {
            q.cmd == cmd::ZERO
                && crate::attrs::parse(&q.attr_bytes(), cmd_attr::MAX)[cmd_attr::SERVICE as usize]
                    .is_none()
        };
        let list_all = q.cmd == cmd::GET_SERVICE && q.is_dump();
        let foreign = || {
            let bytes = q.attr_bytes();
            crate::attrs::parse(&bytes, cmd_attr::MAX)[cmd_attr::SERVICE as usize]
                .and_then(crate::model::svc_key)
                .is_some_and(|key| !self.pool.owns(&key))
        };
        if !self.pool.global
            && (matches!(
                q.cmd,
                cmd::FLUSH | cmd::SET_CONFIG | cmd::NEW_DAEMON | cmd::DEL_DAEMON
            ) || zero_all()
                || list_all
                || foreign())
        {
            // A mutation made it a request that reaches or shows other senders' state, or names
            // a service outside the pool: send a harmless one.
            q = Request::new(cmd::GET_INFO, vec![]);
        }
        q
    }

    /// A well-formed request (that the kernel may still refuse: it names what may not exist).
    fn well_formed(&mut self) -> Request {
        let pool = self.pool;
        let svc = |me: &mut Sender| Attr::nest(cmd_attr::SERVICE, me.identity(false));
        // A FLUSH empties everything: rare enough that the tables fill between two.
        let mut weights = [
            60u32, 32, 12, 20, 12, 64, 32, 20, 16, 6, 6, 4, 8, 4, 4, 4, 6, 1,
        ];
        if !pool.global {
            // FLUSH, ZERO of all, the timeouts and the daemons reach other senders' state, and
            // a listing of all services shows it.
            for i in [4, 9, 10, 11, 12, 15, 17] {
                weights[i] = 0;
            }
        }
        match self.rng.weighted(&weights) {
            0 => Request::new(
                cmd::NEW_SERVICE,
                vec![Attr::nest(cmd_attr::SERVICE, {
                    let id = self.identity(true);
                    svc_full(&mut self.rng, id)
                })],
            ),
            1 => Request::new(
                cmd::SET_SERVICE,
                vec![Attr::nest(cmd_attr::SERVICE, {
                    let id = self.identity(false);
                    svc_full(&mut self.rng, id)
                })],
            ),
            2 => Request::new(cmd::DEL_SERVICE, vec![svc(self)]),
            3 => Request::new(cmd::GET_SERVICE, vec![svc(self)]),
            4 => {
                let mut q = Request::new(cmd::GET_SERVICE, vec![]);
                q.flags = NLM_F_DUMP;
                q
            }
            5 => Request::new(
                cmd::NEW_DEST,
                vec![
                    svc(self),
                    Attr::nest(cmd_attr::DEST, dest_full(&mut self.rng)),
                ],
            ),
            6 => Request::new(
                cmd::SET_DEST,
                vec![
                    svc(self),
                    Attr::nest(cmd_attr::DEST, dest_full(&mut self.rng)),
                ],
            ),
            7 => Request::new(
                cmd::DEL_DEST,
                vec![
                    svc(self),
                    Attr::nest(cmd_attr::DEST, dest_identity(&mut self.rng)),
                ],
            ),
            8 => {
                let mut q = Request::new(cmd::GET_DEST, vec![svc(self)]);
                q.flags = NLM_F_DUMP;
                q
            }
            9 => Request::new(
                cmd::NEW_DAEMON,
                vec![Attr::nest(cmd_attr::DAEMON, daemon(&mut self.rng, true))],
            ),
            10 => Request::new(
                cmd::DEL_DAEMON,
                vec![Attr::nest(cmd_attr::DAEMON, daemon(&mut self.rng, false))],
            ),
            11 => {
                let mut q = Request::new(cmd::GET_DAEMON, vec![]);
                q.flags = NLM_F_DUMP;
                q
            }
            12 => {
                let mut a = Vec::new();
                for kind in [
                    cmd_attr::TIMEOUT_TCP,
                    cmd_attr::TIMEOUT_TCP_FIN,
                    cmd_attr::TIMEOUT_UDP,
                ] {
                    if self.rng.chance(60) {
                        a.push(Attr::u32(
                            kind,
                            *self.rng.pick(&[
                                0u32,
                                1,
                                900,
                                120,
                                300,
                                86400,
                                2_147_483,
                                2_147_484,
                                0x7fff_ffff,
                            ]),
                        ));
                    }
                }
                Request::new(cmd::SET_CONFIG, a)
            }
            13 => Request::new(cmd::GET_CONFIG, vec![]),
            14 => Request::new(cmd::GET_INFO, vec![]),
            15 => Request::new(cmd::ZERO, vec![]),
            16 => Request::new(cmd::ZERO, vec![svc(self)]),
            _ => Request::new(cmd::FLUSH, vec![]),
        }
    }
}

/// Every attribute of a tree, by its path of indices.
fn paths(attrs: &[Attr], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (i, a) in attrs.iter().enumerate() {
        prefix.push(i);
        out.push(prefix.clone());
        if let Payload::Nest(inner) = &a.payload {
            paths(inner, prefix, out);
        }
        prefix.pop();
    }
}

fn at<'a>(attrs: &'a mut [Attr], path: &[usize]) -> &'a mut Attr {
    if path.len() == 1 {
        return &mut attrs[path[0]];
    }
    match &mut attrs[path[0]].payload {
        Payload::Nest(inner) => at(inner, &path[1..]),
        Payload::Bytes(_) => unreachable!("paths lead through nests"),
    }
}

/// The list that holds the attribute at `path`, and its index there.
fn parent<'a>(attrs: &'a mut Vec<Attr>, path: &[usize]) -> (&'a mut Vec<Attr>, usize) {
    if path.len() == 1 {
        return (attrs, path[0]);
    }
    match &mut attrs[path[0]].payload {
        Payload::Nest(inner) => parent(inner, &path[1..]),
        Payload::Bytes(_) => unreachable!("paths lead through nests"),
    }
}

fn extreme(r: &mut Rng, n: usize) -> Vec<u8> {
    match r.below(5) {
        0 => vec![0; n],
        1 => vec![0xff; n],
        2 => {
            let mut v = vec![0; n];
            if let Some(last) = v.last_mut() {
                *last = 0x80;
            }
            v
        }
        3 => {
            let mut v = vec![0xff; n];
            if let Some(last) = v.last_mut() {
                *last = 0x7f;
            }
            v
        }
        _ => r.bytes(n),
    }
}

/// Bends one thing in the request.
fn mutate(r: &mut Rng, q: &mut Request) {
    let mut all = Vec::new();
    paths(&q.attrs, &mut Vec::new(), &mut all);
    let kind = r.below(15);
    if all.is_empty() || kind >= 11 {
        match kind % 4 {
            0 => {
                q.trailer = {
                    let n = 1 + r.below(7);
                    r.bytes(n)
                };
                q.mutations
                    .push(format!("{} trailing bytes", q.trailer.len()));
            }
            1 => {
                q.cmd = if r.chance(50) {
                    r.below(20) as u8
                } else {
                    r.next_u32() as u8
                };
                q.mutations.push(format!("command {}", cmd_name(q.cmd)));
            }
            2 => {
                q.flags ^= *r.pick(&[NLM_F_DUMP, 0x100, 0x200, 0x8, 0x10, 0x20, 0x400, 0x800]);
                q.mutations.push(format!("flags {:#x}", q.flags));
            }
            _ => {
                q.version = r.next_u32() as u8;
                q.mutations.push(format!("version {}", q.version));
            }
        }
        return;
    }
    let path = r.pick(&all).clone();
    let name = path
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(".");
    let a = at(&mut q.attrs, &path);
    let number = a.number();
    let desc = match kind {
        0 => {
            let (list, i) = parent(&mut q.attrs, &path);
            list.remove(i);
            format!("attr {name} (type {number}) dropped")
        }
        1 => {
            let mut copy = a.clone();
            if let Payload::Bytes(b) = &mut copy.payload {
                let n = b.len();
                *b = extreme(r, n);
            }
            let (list, i) = parent(&mut q.attrs, &path);
            list.insert(i + 1, copy);
            format!("attr {name} (type {number}) repeated")
        }
        2 => {
            let mut b = Vec::new();
            encode(std::slice::from_ref(a), &mut b);
            let keep = r.below((b.len() - 4).max(1));
            let payload = b[4..4 + keep].to_vec();
            a.payload = Payload::Bytes(payload);
            format!("attr {name} (type {number}) truncated to {keep}")
        }
        3 => {
            let extra = {
                let n = 1 + r.below(24);
                r.bytes(n)
            };
            match &mut a.payload {
                Payload::Bytes(b) => b.extend_from_slice(&extra),
                Payload::Nest(inner) => {
                    inner.push(Attr::bytes(r.next_u32() as u16 & 0x3fff, &extra))
                }
            }
            format!("attr {name} (type {number}) lengthened by {}", extra.len())
        }
        4 => {
            if let Payload::Bytes(b) = &mut a.payload {
                let n = if r.chance(80) {
                    b.len()
                } else {
                    *r.pick(&[1usize, 2, 4, 8, 16])
                };
                *b = extreme(r, n);
            }
            format!("attr {name} (type {number}) extreme value")
        }
        5 => {
            a.payload = match &a.payload {
                Payload::Nest(_) => Payload::Bytes({
                    let n = r.below(24);
                    r.bytes(n)
                }),
                Payload::Bytes(_) => Payload::Nest(vec![Attr::bytes(r.below(20) as u16, &{
                    let n = r.below(12);
                    r.bytes(n)
                })]),
            };
            format!("attr {name} (type {number}) nest swapped for bytes or bytes for a nest")
        }
        6 => {
            a.kind = match r.below(4) {
                0 => 0,
                1 => number + 1 + r.below(3) as u16,
                2 => a.kind ^ NLA_F_NESTED,
                _ => r.next_u32() as u16,
            };
            format!("attr {name} (type {number}) retyped {:#x}", a.kind)
        }
        7 => {
            let mut b = Vec::new();
            encode(std::slice::from_ref(a), &mut b);
            let lie = *r.pick(&[
                0usize,
                1,
                3,
                4,
                5,
                b.len() - 1,
                b.len() + 1,
                b.len() + 4,
                4000,
            ]);
            a.claimed_len = Some(lie as u16);
            format!("attr {name} (type {number}) claims length {lie}")
        }
        8 => {
            if let Payload::Bytes(b) = &mut a.payload {
                match r.below(3) {
                    0 => {
                        while b.last() == Some(&0) {
                            b.pop();
                        }
                        if b.is_empty() {
                            b.push(b'x');
                        }
                    }
                    1 => {
                        *b = std::iter::repeat_n(b'a', 16 + r.below(30))
                            .chain([0])
                            .collect()
                    }
                    _ => b.insert(0, 0),
                }
            }
            format!("attr {name} (type {number}) string bent")
        }
        9 => {
            let garbage = {
                let n = 1 + r.below(40);
                r.bytes(n)
            };
            a.payload = Payload::Nest(vec![Attr::bytes(r.below(16) as u16, &garbage)]);
            a.kind |= NLA_F_NESTED;
            format!("attr {name} (type {number}) filled with a nest of garbage")
        }
        _ => {
            let n = 1000 + r.below(3000);
            a.payload = Payload::Bytes(r.bytes(n));
            format!("attr {name} (type {number}) {n} bytes long")
        }
    };
    q.mutations.push(desc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_sends_the_same_bytes() {
        let mut a = Sender::new(42, Pool::SOLE);
        let mut b = Sender::new(42, Pool::SOLE);
        for i in 0..2000 {
            let (qa, qb) = (a.next(), b.next());
            assert_eq!(qa.encode(0x20, i), qb.encode(0x20, i));
        }
    }

    #[test]
    fn shared_pools_never_reach_everything() {
        let mut r = Sender::new(3, Pool::shared(1));
        for _ in 0..5000 {
            let q = r.next();
            assert!(q.cmd != cmd::GET_SERVICE || !q.is_dump());
            let bytes = q.attr_bytes();
            if let Some(key) = crate::attrs::parse(&bytes, cmd_attr::MAX)
                [cmd_attr::SERVICE as usize]
                .and_then(crate::model::svc_key)
            {
                assert!(Pool::shared(1).owns(&key), "{key}");
            }
            assert!(!matches!(
                q.cmd,
                cmd::FLUSH | cmd::SET_CONFIG | cmd::NEW_DAEMON | cmd::DEL_DAEMON
            ));
            let bytes = q.attr_bytes();
            let top = crate::attrs::parse(&bytes, cmd_attr::MAX);
            assert!(q.cmd != cmd::ZERO || top[cmd_attr::SERVICE as usize].is_some());
        }
    }

    #[test]
    fn mutations_happen_and_say_what_they_did() {
        let mut r = Sender::new(5, Pool::SOLE);
        let bent = (0..1000)
            .map(|_| r.next())
            .filter(|q| !q.mutations.is_empty())
            .count();
        assert!((350..650).contains(&bent), "{bent}");
    }
}
