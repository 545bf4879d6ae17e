//! rvs-fuzz: fuzzers of rvs's inputs, run inside the test VM against rvs or ip_vs.
//!
//! `rvs-fuzz netlink` sends IPVS generic netlink requests built from the schema and bent
//! (gen.rs), in blocks. After each block it lists the tables and compares them with the state the
//! accepted requests set (model.rs), reads the kernel log for splats, and folds every answer
//! (errno and reply) and the listed state into the block's digest. Digests recorded against
//! ip_vs (`--record`) are what rvs must give with the same seed (`--expect`): any request
//! accepted by one and refused by the other, or refused with another errno, changes the digest
//! of its block, and `--trace BLOCK` shows that block request by request. With `--senders K`,
//! K senders with disjoint pools then work at once while another lists the tables; with
//! `--unprivileged N`, N requests go from an unprivileged user and from root in a new user
//! namespace, and every one must be refused with EPERM and change nothing. To find what differs
//! in a block whose requests all got the same answers, `RVS_FUZZ_SHOW_LISTING=1` prints each
//! listing that is digested.

#![deny(unsafe_op_in_unsafe_fn)]

mod attrs;
mod gen;
mod kmsg;
mod model;
mod rng;

use attrs::{get_u32, parse, Attr};
use gen::{Pool, Request};
use model::{listed_dest, listed_service, State, SvcKey};
use rvs_abi::{cmd, cmd_attr, daemon_attr, svc_attr, GENL_NAME};
use rvsadm::netlink::{Error, GenlSocket};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: rvs-fuzz netlink [--seed N] [--messages N] [--block N] [--senders K]
                        [--unprivileged N] [--record FILE | --expect FILE] [--trace BLOCK]
                        [--splats FILE]
";

/// FNV-1a, 64 bits: a digest that only has to tell two runs apart.
#[derive(Clone, Copy)]
struct Digest(u64);

impl Digest {
    fn new() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn add_u32(&mut self, v: u32) {
        self.add(&v.to_le_bytes());
    }
}

struct Options {
    seed: u64,
    messages: usize,
    block: usize,
    senders: usize,
    unprivileged: usize,
    record: Option<String>,
    expect: Option<String>,
    trace: Option<usize>,
    splats: Option<String>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seed: 1,
        messages: 2000,
        block: 250,
        senders: 0,
        unprivileged: 0,
        record: None,
        expect: None,
        trace: None,
        splats: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{a}: not a number: {v}"))
        };
        match a.as_str() {
            "--seed" => o.seed = number(value()?)?,
            "--messages" => o.messages = number(value()?)? as usize,
            "--block" => o.block = (number(value()?)? as usize).max(1),
            "--senders" => o.senders = number(value()?)? as usize,
            "--unprivileged" => o.unprivileged = number(value()?)? as usize,
            "--record" => o.record = Some(value()?),
            "--expect" => o.expect = Some(value()?),
            "--trace" => o.trace = Some(number(value()?)? as usize),
            "--splats" => o.splats = Some(value()?),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

/// The parameters a record holds in its first line; an `--expect` file must have been recorded
/// with the same ones.
fn header(o: &Options) -> String {
    format!(
        "# rvs-fuzz netlink --seed {} --messages {} --block {} --senders {} --unprivileged {}",
        o.seed, o.messages, o.block, o.senders, o.unprivileged
    )
}

fn errno_name(errno: i32) -> String {
    let name = match errno {
        0 => "ok",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::ENOMEM => "ENOMEM",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EADDRINUSE => "EADDRINUSE",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// The messages of a reply: each one's command and attributes.
type Replies = Vec<(u8, Vec<u8>)>;

/// A connection to the IPVS family.
struct Ipvs {
    sock: GenlSocket,
    family: u16,
}

impl Ipvs {
    fn open() -> Result<Self, String> {
        let mut sock = GenlSocket::open().map_err(|e| e.to_string())?;
        sock.set_receive_timeout(60).map_err(|e| e.to_string())?;
        let family = sock.resolve_family(GENL_NAME).map_err(|e| e.to_string())?;
        Ok(Ipvs { sock, family })
    }

    /// Sends a request; its errno (0 when accepted) and the messages of its reply.
    fn send(&mut self, q: &Request) -> Result<(i32, Replies), String> {
        let seq = self.sock.next_seq();
        self.sock
            .send(&q.encode(self.family, seq))
            .map_err(|e| format!("send: {e}"))?;
        // IPVS stops a sync daemon with kthread_stop, which answers -EINTR when the thread
        // never got to run (a daemon stopped right after its start); netlink then sends no
        // answer at all (netlink_rcv_skb skips the ack of -EINTR). The daemon is stopped all
        // the same: a stop left unanswered for a few seconds counts as done.
        let stop = q.cmd == cmd::DEL_DAEMON && !q.is_dump();
        if stop {
            self.sock
                .set_receive_timeout(5)
                .map_err(|e| e.to_string())?;
        }
        let answer = self.sock.receive(seq, q.is_dump());
        if stop {
            self.sock
                .set_receive_timeout(60)
                .map_err(|e| e.to_string())?;
        }
        match answer {
            Ok(m) => Ok((0, m)),
            Err(Error::Kernel(errno)) => Ok((errno, Vec::new())),
            Err(Error::Io(e)) if stop && e.kind() == std::io::ErrorKind::WouldBlock => {
                println!("  a sync daemon's stop was not answered (IPVS: kthread_stop's -EINTR); taken as done");
                Ok((0, Vec::new()))
            }
            Err(e) => Err(format!("{} ({}): {e}", gen::cmd_name(q.cmd), q.describe())),
        }
    }

    fn must(&mut self, command: u8, attrs: Vec<Attr>, dump: bool) -> Result<Replies, String> {
        let mut q = Request {
            cmd: command,
            version: 1,
            flags: 0,
            attrs,
            trailer: Vec::new(),
            mutations: Vec::new(),
        };
        if dump {
            q.flags = rvsadm::netlink::NLM_F_DUMP;
        }
        match self.send(&q)? {
            (0, m) => Ok(m),
            (errno, _) => Err(format!(
                "{} failed: {}",
                gen::cmd_name(command),
                errno_name(errno)
            )),
        }
    }

    /// The tables as the module lists them, and a digest of the listing (sorted, since the two
    /// modules hash differently).
    fn snapshot(&mut self) -> Result<(State, u64), String> {
        let mut state = State::default();
        let mut listing: Vec<Vec<u8>> = Vec::new();
        for (_, svc_msg) in self.must(cmd::GET_SERVICE, vec![], true)? {
            let (key, mut svc) =
                listed_service(&svc_msg).ok_or("a listed service without its identity")?;
            let mut dests: Vec<Vec<u8>> = Vec::new();
            for (_, d) in self.must(
                cmd::GET_DEST,
                vec![Attr::nest(cmd_attr::SERVICE, identity(&key))],
                true,
            )? {
                let (dk, dest) =
                    listed_dest(&d).ok_or("a listed real server without its identity")?;
                svc.dests.insert(dk, dest);
                dests.push(d);
            }
            dests.sort();
            let mut entry = svc_msg;
            for d in dests {
                entry.extend_from_slice(&d);
            }
            listing.push(entry);
            state.services.insert(key, svc);
        }
        for (_, m) in self.must(cmd::GET_DAEMON, vec![], true)? {
            let top = parse(&m, cmd_attr::MAX);
            let d = parse(
                top[cmd_attr::DAEMON as usize].unwrap_or(&[]),
                daemon_attr::MAX,
            );
            state.daemons.insert(
                d[daemon_attr::STATE as usize]
                    .map(get_u32)
                    .ok_or("a daemon without state")?,
            );
            listing.push(m);
        }
        for (_, m) in self.must(cmd::GET_CONFIG, vec![], false)? {
            let t = parse(&m, cmd_attr::MAX);
            for (i, a) in [
                cmd_attr::TIMEOUT_TCP,
                cmd_attr::TIMEOUT_TCP_FIN,
                cmd_attr::TIMEOUT_UDP,
            ]
            .iter()
            .enumerate()
            {
                state.timeouts[i] = t[*a as usize]
                    .map(get_u32)
                    .ok_or("a timeout missing from GET_CONFIG")?;
            }
            listing.push(m);
        }
        listing.sort();
        if std::env::var_os("RVS_FUZZ_SHOW_LISTING").is_some() {
            for l in &listing {
                println!(
                    "  listing {}",
                    l.iter().map(|b| format!("{b:02x}")).collect::<String>()
                );
            }
        }
        let mut d = Digest::new();
        for l in &listing {
            d.add_u32(l.len() as u32);
            d.add(l);
        }
        Ok((state, d.0))
    }
}

/// The identifying attributes of a service.
fn identity(key: &SvcKey) -> Vec<Attr> {
    match key {
        SvcKey::Addr {
            af,
            protocol,
            addr,
            port,
        } => vec![
            Attr::u16(svc_attr::AF, *af),
            Attr::u16(svc_attr::PROTOCOL, *protocol),
            Attr::bytes(svc_attr::ADDR, addr),
            Attr::be16(svc_attr::PORT, *port),
        ],
        SvcKey::Mark { af, mark } => vec![
            Attr::u16(svc_attr::AF, *af),
            Attr::u32(svc_attr::FWMARK, *mark),
        ],
    }
}

/// Folds one answer into a digest: the errno, and the reply's messages (sorted: a dump's order
/// is the module's hash order).
fn fold(d: &mut Digest, errno: i32, mut replies: Replies) {
    d.add_u32(errno as u32);
    replies.sort();
    for (c, m) in replies {
        d.add(&[c]);
        d.add_u32(m.len() as u32);
        d.add(&m);
    }
}

#[derive(Default)]
struct Tally {
    sent: usize,
    bent: usize,
    errnos: BTreeMap<String, usize>,
}

impl Tally {
    fn count(&mut self, q: &Request, errno: i32) {
        self.sent += 1;
        self.bent += usize::from(!q.mutations.is_empty());
        *self.errnos.entry(errno_name(errno)).or_default() += 1;
    }

    fn line(&self) -> String {
        let errnos: Vec<String> = self
            .errnos
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "{} requests ({} bent): {}",
            self.sent,
            self.bent,
            errnos.join(", ")
        )
    }
}

/// Where the run compares its digests: lines of a record, in order.
struct Expected {
    lines: Vec<String>,
    at: usize,
}

impl Expected {
    fn check(&mut self, line: &str, replay: &str) -> Result<(), String> {
        let want = self.lines.get(self.at).cloned().unwrap_or_default();
        self.at += 1;
        if want == line {
            return Ok(());
        }
        Err(format!(
            "answers differ from the record (ip_vs's): expected `{want}`, got `{line}`\n  replay this block request by request: {replay}"
        ))
    }
}

struct Run {
    o: Options,
    ipvs: Ipvs,
    model: State,
    kmsg: kmsg::Watch,
    tally: Tally,
    out: Vec<String>,
    expected: Option<Expected>,
}

impl Run {
    /// Emits a digest line: recorded, or compared with the record.
    fn emit(&mut self, line: String, replay: String) -> Result<(), String> {
        if let Some(e) = &mut self.expected {
            e.check(&line, &replay)?;
        }
        self.out.push(line);
        Ok(())
    }

    /// After a batch: the listed state against the model, the kernel log against the splat
    /// patterns. Returns the listing's digest.
    fn verify(&mut self, what: &str) -> Result<u64, String> {
        self.kmsg.check().map_err(|e| format!("{what}: {e}"))?;
        let (listed, digest) = self
            .ipvs
            .snapshot()
            .map_err(|e| format!("{what}: listing: {e}"))?;
        let diff = self.model.differences(&listed);
        if !diff.is_empty() {
            return Err(format!(
                "{what}: the listed state is not what the accepted requests set:\n    {}",
                diff.join("\n    ")
            ));
        }
        Ok(digest)
    }

    fn sole(&mut self) -> Result<(), String> {
        let mut sender = gen::Sender::new(self.o.seed, Pool::SOLE);
        let blocks = self.o.messages.div_ceil(self.o.block);
        for b in 0..blocks {
            let n = self.o.block.min(self.o.messages - b * self.o.block);
            let mut d = Digest::new();
            let mut block_tally = Tally::default();
            for i in 0..n {
                let q = sender.next();
                let (errno, replies) = self.ipvs.send(&q)?;
                if self.o.trace == Some(b) {
                    // The reply's own digest tells a difference in what came back.
                    let mut one = Digest::new();
                    fold(&mut one, errno, replies.clone());
                    println!(
                        "  {b}.{i} {} -> {} (reply {:016x})",
                        q.describe(),
                        errno_name(errno),
                        one.0
                    );
                }
                if errno == 0 {
                    self.model.apply(q.cmd, &q.attr_bytes());
                }
                fold(&mut d, errno, replies);
                block_tally.count(&q, errno);
                self.tally.count(&q, errno);
            }
            let what = format!("block {b} (seed {})", self.o.seed);
            let state = self.verify(&what)?;
            d.add(&state.to_le_bytes());
            println!(
                "  block {b}: {}; {} services, {} real servers",
                block_tally.line(),
                self.model.services.len(),
                self.model
                    .services
                    .values()
                    .map(|s| s.dests.len())
                    .sum::<usize>()
            );
            let replay = format!(
                "rvs-fuzz netlink --seed {} --messages {} --block {} --trace {b}",
                self.o.seed, self.o.messages, self.o.block
            );
            self.emit(format!("block {b} {:016x}", d.0), replay)?;
        }
        Ok(())
    }

    /// Several senders at once, each in its own pool, while another lists the tables.
    fn concurrent(&mut self) -> Result<(), String> {
        // The senders start from empty tables; the sync daemons and timeouts stay as the
        // requests before left them (the senders' answers depend on them, the same for both
        // modules: the last listing compared them).
        self.ipvs.must(cmd::FLUSH, vec![], false)?;
        self.model.services.clear();
        let per = self.o.messages / self.o.senders.max(1);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lister = {
            let stop = stop.clone();
            std::thread::spawn(move || -> Result<usize, String> {
                let mut ipvs = Ipvs::open()?;
                let mut lists = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // The tables change under the listing: only the answer's shape is checked.
                    for (_, svc) in ipvs.must(cmd::GET_SERVICE, vec![], true)? {
                        if let Some((key, _)) = listed_service(&svc) {
                            let q = Request {
                                cmd: cmd::GET_DEST,
                                version: 1,
                                flags: rvsadm::netlink::NLM_F_DUMP,
                                attrs: vec![Attr::nest(cmd_attr::SERVICE, identity(&key))],
                                trailer: Vec::new(),
                                mutations: Vec::new(),
                            };
                            ipvs.send(&q)?;
                        }
                    }
                    lists += 1;
                }
                Ok(lists)
            })
        };
        let senders: Vec<_> = (0..self.o.senders)
            .map(|i| {
                let seed = self.o.seed ^ ((i as u64 + 1) << 48);
                std::thread::spawn(move || -> Result<(u64, State, Tally), String> {
                    let mut ipvs = Ipvs::open()?;
                    let mut sender = gen::Sender::new(seed, Pool::shared(i as u16));
                    let mut model = State::default();
                    let mut d = Digest::new();
                    let mut tally = Tally::default();
                    for _ in 0..per {
                        let q = sender.next();
                        let (errno, replies) = ipvs.send(&q)?;
                        if errno == 0 {
                            model.apply(q.cmd, &q.attr_bytes());
                        }
                        fold(&mut d, errno, replies);
                        tally.count(&q, errno);
                    }
                    Ok((d.0, model, tally))
                })
            })
            .collect();
        let mut results = Vec::new();
        for s in senders {
            results.push(s.join().map_err(|_| "a sender panicked".to_string())??);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let lists = lister
            .join()
            .map_err(|_| "the lister panicked".to_string())??;
        for (i, (digest, model, tally)) in results.into_iter().enumerate() {
            println!("  sender {i}: {}", tally.line());
            self.tally.sent += tally.sent;
            self.tally.bent += tally.bent;
            for (k, v) in tally.errnos {
                *self.tally.errnos.entry(k).or_default() += v;
            }
            self.model.services.extend(model.services);
            let replay = format!(
                "rvs-fuzz netlink --seed {} --messages {} --senders {} (sender {i})",
                self.o.seed, self.o.messages, self.o.senders
            );
            self.emit(format!("sender {i} {digest:016x}"), replay)?;
        }
        println!("  {lists} listings of the whole table ran beside them");
        let state = self.verify(&format!(
            "{} senders at once (seed {})",
            self.o.senders, self.o.seed
        ))?;
        self.emit(format!("senders state {state:016x}"), String::new())
    }

    /// Requests from an unprivileged user and from root in a user namespace of its own: each is
    /// refused (EPERM, or EOPNOTSUPP for a command IPVS does not have), the tables unchanged.
    fn unprivileged(&mut self) -> Result<(), String> {
        let before = self.ipvs.snapshot()?;
        for (who, how) in [
            ("user nobody", Unprivileged::User),
            (
                "root of a new user and network namespace",
                Unprivileged::Namespace,
            ),
        ] {
            let seed = self.o.seed ^ (0xdead << 32);
            let n = self.o.unprivileged;
            // SAFETY: the process is single-threaded here (the senders have been joined), so the
            // child may run any code.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(format!("fork: {}", std::io::Error::last_os_error()));
            }
            if pid == 0 {
                let code = match unprivileged_child(how, seed, n) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("  FAIL: {who}: {e}");
                        1
                    }
                };
                std::process::exit(code);
            }
            let mut status = 0;
            // SAFETY: waits for the child just forked; `status` is a valid out pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                return Err(format!("{who}: a request was not refused as it should be"));
            }
            println!("  {n} requests as {who}: every one refused");
        }
        self.kmsg.check()?;
        if self.ipvs.snapshot()?.1 != before.1 {
            return Err("unprivileged requests changed the tables".into());
        }
        self.tally.sent += 2 * self.o.unprivileged;
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Unprivileged {
    User,
    Namespace,
}

fn unprivileged_child(how: Unprivileged, seed: u64, n: usize) -> Result<(), String> {
    // SAFETY: plain system calls on this process's own credentials.
    let ok = unsafe {
        match how {
            Unprivileged::User => {
                libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setgid(65534) == 0
                    && libc::setuid(65534) == 0
            }
            Unprivileged::Namespace => libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) == 0,
        }
    };
    if !ok {
        return Err(format!(
            "dropping privileges: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut ipvs = Ipvs::open()?;
    let mut sender = gen::Sender::new(seed, Pool::SOLE);
    const DOIT: [u8; 14] = [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 15, 16, 17];
    const DUMPIT: [u8; 3] = [4, 8, 11];
    for _ in 0..n {
        let q = sender.next();
        let (errno, _) = ipvs.send(&q)?;
        let exists = if q.is_dump() {
            DUMPIT.contains(&q.cmd)
        } else {
            DOIT.contains(&q.cmd)
        };
        // Commands from the family's first reserved one on (IPVS: past FLUSH) must not carry
        // flags the netlink core does not define for them (`genl_header_check`).
        let flags = if q.is_dump() {
            q.flags & !rvsadm::netlink::NLM_F_DUMP
        } else {
            q.flags
        };
        let strict = q.cmd > cmd::FLUSH && flags & !(libc::NLM_F_ECHO as u16) != 0;
        let want = if strict {
            libc::EINVAL
        } else if exists {
            libc::EPERM
        } else {
            libc::EOPNOTSUPP
        };
        if errno != want {
            return Err(format!(
                "{} answered {} (expected {})",
                q.describe(),
                errno_name(errno),
                errno_name(want)
            ));
        }
    }
    Ok(())
}

fn netlink(args: &[String]) -> Result<(), String> {
    let o = parse_options(args)?;
    let expected = match &o.expect {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.first() != Some(&header(&o)) {
                return Err(format!(
                    "{path} was recorded with other parameters: {:?}",
                    lines.first()
                ));
            }
            lines.remove(0);
            Some(Expected { lines, at: 0 })
        }
        None => None,
    };
    let mut ipvs = Ipvs::open()?;
    let (model, _) = ipvs.snapshot()?;
    if !model.services.is_empty() || !model.daemons.is_empty() {
        return Err("the tables must start empty (ipvsadm -C, no sync daemon)".into());
    }
    let kmsg = kmsg::Watch::open(o.splats.as_deref())?;
    println!("{}", header(&o));
    let started = Instant::now();
    let mut run = Run {
        o,
        ipvs,
        model,
        kmsg,
        tally: Tally::default(),
        out: Vec::new(),
        expected,
    };
    run.sole()?;
    if run.o.senders > 0 {
        run.concurrent()?;
    }
    if run.o.unprivileged > 0 {
        run.unprivileged()?;
    }
    if let Some(e) = &run.expected {
        if e.at != e.lines.len() {
            return Err(format!(
                "the record has {} lines, this run gave {}",
                e.lines.len(),
                e.at
            ));
        }
    }
    if let Some(path) = &run.o.record {
        let mut text = header(&run.o);
        for l in &run.out {
            let _ = write!(text, "\n{l}");
        }
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
    }
    println!(
        "netlink fuzz: seed {}, {} in {:.0} s; every listing as the model says{}; no splat",
        run.o.seed,
        run.tally.line(),
        started.elapsed().as_secs_f64(),
        if run.o.expect.is_some() {
            ", every answer as recorded"
        } else {
            ""
        }
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("netlink") => netlink(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("  FAIL: {e}");
            ExitCode::FAILURE
        }
    }
}
