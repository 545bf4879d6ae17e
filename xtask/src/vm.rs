//! The VM runner: boots a test kernel under QEMU, loads the module under test, runs a command as
//! root in the guest and returns its exit status (`cargo xtask vm`), or runs a guest that takes
//! selftests one at a time from the host (a worker of `cargo xtask check`).
//!
//! The guest's root file system is the host's, seen read-only over 9p under a tmpfs overlay
//! (qemu/guest-init.sh is its PID 1): the project tree and every host tool are at the same paths,
//! and nothing the guest writes reaches the host except through the run directory, shared
//! read-write at the same path. Test traffic stays on veth pairs inside the guest; its one NIC,
//! `peer0`, is a point-to-point link to a peer VM that a selftest with a `# peer: ipvs` header
//! gets (a second director running in-tree ip_vs, driven through selftests/lib/peer.py), and
//! carries nothing otherwise. After the command the module is unloaded, and any oops, WARN, BUG,
//! KASAN, lockdep or kmemleak report in the guest's kernel log fails the run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::kernel::Flavour;
use crate::module::{self, Target};
use crate::util::{bail, root, Error, Result};

/// The implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    Rvs,
    /// In-tree ip_vs, the reference every expectation is proven against.
    Ipvs,
    /// Nothing loaded (rvs.ko is still at hand for scripts that load it themselves).
    None,
}

impl Module {
    pub fn parse(s: &str) -> Result<Module> {
        match s {
            "rvs" => Ok(Module::Rvs),
            "ipvs" | "ip_vs" => Ok(Module::Ipvs),
            "none" => Ok(Module::None),
            _ => bail!("MODULE must be rvs, ipvs or none, not '{s}'"),
        }
    }
    /// The guest's name for it (MODULE=...).
    pub fn name(self) -> &'static str {
        match self {
            Module::Rvs => "rvs",
            Module::Ipvs => "ipvs",
            Module::None => "none",
        }
    }
    /// How reports name it.
    pub fn shown(self) -> &'static str {
        match self {
            Module::Ipvs => "ip_vs",
            m => m.name(),
        }
    }
}

/// The build products a VM of one kernel needs: the kernel and, unless ip_vs is tested, rvs.ko.
#[derive(Clone, Debug)]
pub struct Image {
    pub kernel: Flavour,
    pub kdir: PathBuf,
    pub ko: Option<PathBuf>,
}

impl Image {
    /// Builds what a VM of `kernel` testing `module` needs (rvsadm included).
    pub fn prepare(kernel: Flavour, module: Module) -> Result<Image> {
        // RVS_KDIR uses a given kernel build directory instead of the cached one of the flavour.
        let target = match std::env::var_os("RVS_KDIR") {
            Some(d) => Target::Kdir(PathBuf::from(d)),
            None => Target::Test(kernel),
        };
        let kdir = target.kdir()?;
        let ko = match module {
            Module::Ipvs => None,
            _ => Some(module::build(&target)?),
        };
        module::build_guest_tools()?;
        Ok(Image { kernel, kdir, ko })
    }
}

/// A VM's run directory, shared read-write with the guest; removed when dropped.
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn new(image: &Image, module: Module, cmd: &str, verbose: bool) -> Result<RunDir> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let base = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/tmp".into());
        let path = base.join(format!(
            "rvs-run.{}.{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path)?;
        let run = RunDir { path };
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&run.path, fs::Permissions::from_mode(0o755))?;
        let ko = run.path.join("rvs.ko");
        if let Some(built) = &image.ko {
            // The guest loads a copy, so that a rebuild on the host during the run cannot change it.
            fs::copy(built, &ko)?;
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| root());
        let env = format!(
            "export RVS_ROOT={} RVS_RUN={} MODULE={} KERNEL={} RVS_KO={}\n\
             export RVS_MODROOT={} RVS_CWD={}\nexport RVS_VERBOSE={}\n",
            quote(&root()),
            quote(&run.path),
            module.name(),
            image.kernel.name(),
            quote(&ko),
            quote(&image.kdir.join("modroot")),
            quote(&cwd),
            if verbose { 1 } else { 0 }
        );
        fs::write(run.path.join("env"), env)?;
        // The command goes through a file, not the kernel command line, so that any quoting survives.
        fs::write(run.path.join("cmd"), format!("{cmd}\n"))?;
        Ok(run)
    }

    /// The guest's exit status of CMD, once it has powered off; None if it never got there.
    pub fn rc(&self) -> Option<i32> {
        fs::read_to_string(self.path.join("rc"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// The kernel's reports (oops, WARN, KASAN, lockdep, kmemleak) that fail the run.
    pub fn splats(&self) -> String {
        fs::read_to_string(self.path.join("splats")).unwrap_or_default()
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

/// Virtual CPUs of a VM. The debug kernel has no ACPI (see qemu/config/debug.config), hence one.
pub fn vcpus(kernel: Flavour) -> u32 {
    match kernel {
        Flavour::Release => 2,
        Flavour::Debug => 1,
    }
}

/// One end of a VM-to-VM Ethernet link: QEMU's UDP socket backend, each end sending its frames
/// to the other's port on the host's loopback. Nothing is listening while the peer is not
/// running, and the frames are dropped.
#[derive(Clone, Debug)]
pub struct Link {
    local: u16,
    remote: u16,
    mac: &'static str,
}

impl Link {
    /// The two ends of a new link, on UDP ports that were free when asked for.
    pub fn pair() -> Result<(Link, Link)> {
        let free = || -> Result<u16> {
            Ok(std::net::UdpSocket::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (a, b) = (free()?, free()?);
        if a == b {
            bail!("the host gave the same UDP port twice");
        }
        Ok((
            Link {
                local: a,
                remote: b,
                mac: "52:54:00:72:76:01",
            },
            Link {
                local: b,
                remote: a,
                mac: "52:54:00:72:76:02",
            },
        ))
    }
}

/// A peer VM on the other end of a worker's [`Link`]: the release kernel with in-tree ip_vs,
/// running selftests/lib/peer.py's command server until it is dropped.
pub struct Peer {
    child: Child,
    _run: RunDir,
}

impl Peer {
    pub fn start(image: &Image, link: &Link, console: &Path) -> Result<Peer> {
        let run = RunDir::new(
            image,
            Module::Ipvs,
            "python3 selftests/lib/peer.py serve",
            false,
        )?;
        let out = fs::File::create(console)?;
        let child = spawn(
            image,
            &run,
            vcpus(image.kernel),
            Stdio::from(out),
            Some(link),
        )?;
        Ok(Peer { child, _run: run })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts QEMU for `run`, its console on `console`, its NIC on `link` if given.
pub fn spawn(
    image: &Image,
    run: &RunDir,
    smp: u32,
    console: Stdio,
    link: Option<&Link>,
) -> Result<Child> {
    let mem = match image.kernel {
        Flavour::Release => "1G",
        Flavour::Debug => "2G",
    };
    let accel = if std::env::var("RVS_KVM").as_deref() == Ok("1") {
        "kvm"
    } else {
        "tcg,thread=multi"
    };
    let append = format!(
        "root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro \
         console=ttyS0 loglevel=4 panic=-1 init={} RVS_RUN={}",
        root().join("qemu/guest-init.sh").display(),
        run.path.display()
    );
    let mut c = Command::new("qemu-system-x86_64");
    c.args([
        "-accel",
        accel,
        "-cpu",
        "max",
        "-smp",
        &smp.to_string(),
        "-m",
        mem,
    ])
    .args([
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ])
    .args([
        "-chardev",
        "stdio,id=console,signal=off",
        "-serial",
        "chardev:console",
    ])
    .arg("-kernel")
    .arg(image.kdir.join("arch/x86/boot/bzImage"))
    .args([
        "-fsdev",
        "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
    ])
    .args(["-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"])
    .arg("-fsdev")
    .arg(format!(
        "local,id=rvsrun,path={},security_model=none",
        run.path.display()
    ))
    .args(["-device", "virtio-9p-pci,fsdev=rvsrun,mount_tag=rvsrun"])
    .arg("-append")
    .arg(append);
    if let Some(l) = link {
        c.arg("-netdev")
            .arg(format!(
                "socket,id=peer,udp=127.0.0.1:{},localaddr=127.0.0.1:{}",
                l.remote, l.local
            ))
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=peer,mac={}", l.mac));
    }
    c.env("PATH", crate::toolchain::path_env())
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(Stdio::inherit());
    c.spawn()
        .map_err(|e| Error(format!("cannot start qemu-system-x86_64: {e}")))
}

/// CPU seconds a process has used so far (user + system), from /proc.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Waits for `child`, killing it after `timeout`; true if it had to be killed.
pub fn wait_or_kill(child: &mut Child, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `cmd` in a VM with the console on this terminal and returns the guest's status:
/// 125 when the guest died or timed out, 124 when the kernel reported problems after a success.
pub fn run_cmd(kernel: Flavour, module: Module, timeout: Duration, cmd: &str) -> Result<i32> {
    run_cmd_then(kernel, module, timeout, cmd, |_| Ok(()))
}

/// What a VM run of [`run_with`] needs besides its kernel and module.
pub struct RunOptions {
    pub timeout: Duration,
    /// Boot a [`Peer`] on the VM's link as well.
    pub peer: bool,
}

/// [`run_cmd`], then `collect` with the run directory (what the guest left in it) before it goes.
pub fn run_cmd_then(
    kernel: Flavour,
    module: Module,
    timeout: Duration,
    cmd: &str,
    collect: impl FnOnce(&Path) -> Result<()>,
) -> Result<i32> {
    let o = RunOptions {
        timeout,
        peer: false,
    };
    run_with(kernel, module, &o, cmd, collect)
}

/// [`run_cmd_then`] with [`RunOptions`].
pub fn run_with(
    kernel: Flavour,
    module: Module,
    o: &RunOptions,
    cmd: &str,
    collect: impl FnOnce(&Path) -> Result<()>,
) -> Result<i32> {
    let timeout = o.timeout;
    let image = Image::prepare(kernel, module)?;
    let run = RunDir::new(
        &image,
        module,
        cmd,
        std::env::var("RVS_VERBOSE").as_deref() == Ok("1"),
    )?;
    let accel = if std::env::var("RVS_KVM").as_deref() == Ok("1") {
        "kvm"
    } else {
        "tcg"
    };
    eprintln!(
        "vm: booting the {} kernel ({accel}), module {}",
        kernel.name(),
        module.name()
    );
    let (link, peer_link) = Link::pair()?;
    let _peer = if o.peer {
        let peer_image = Image::prepare(Flavour::Release, Module::Ipvs)?;
        let console = run.path.with_extension("peer.console");
        eprintln!(
            "vm: booting a peer (release kernel, ip_vs), console in {}",
            console.display()
        );
        Some(Peer::start(&peer_image, &peer_link, &console)?)
    } else {
        None
    };
    let mut child = spawn(&image, &run, vcpus(kernel), Stdio::inherit(), Some(&link))?;
    let timed_out = wait_or_kill(&mut child, timeout)?;
    let Some(mut rc) = run.rc() else {
        if timed_out {
            eprintln!("vm: FAIL: timed out after {}s", timeout.as_secs());
        } else {
            eprintln!("vm: FAIL: the guest stopped before CMD finished (kernel panic?)");
        }
        return Ok(125);
    };
    let splats = run.splats();
    if !splats.trim().is_empty() {
        eprintln!("vm: FAIL: the guest kernel reported problems:\n{splats}");
        if rc == 0 {
            rc = 124;
        }
    }
    collect(&run.path)?;
    Ok(rc)
}

/// `cargo xtask vm [--kernel release|debug] [--module rvs|ipvs|none] [--timeout SECS] [--peer] -- CMD...`
pub fn main(args: &[String]) -> Result<i32> {
    let mut peer = false;
    let mut kernel = Flavour::parse(&std::env::var("KERNEL").unwrap_or_else(|_| "release".into()))?;
    let mut module = Module::parse(&std::env::var("MODULE").unwrap_or_else(|_| "rvs".into()))?;
    let mut timeout = 2400u64;
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .cloned()
                .ok_or_else(|| Error(format!("{} needs a value", args[i])))
        };
        match args[i].as_str() {
            "--kernel" => kernel = Flavour::parse(&value()?)?,
            "--module" => module = Module::parse(&value()?)?,
            "--timeout" => {
                timeout = value()?
                    .parse()
                    .map_err(|_| Error("--timeout takes seconds".into()))?
            }
            "--peer" => {
                peer = true;
                i += 1;
                continue;
            }
            "--" => {
                i += 1;
                break;
            }
            a if a.starts_with('-') => bail!("unknown option {a}"),
            _ => break,
        }
        i += 2;
    }
    let cmd = args[i.min(args.len())..].join(" ");
    if cmd.trim().is_empty() {
        bail!("usage: cargo xtask vm [--kernel release|debug] [--module rvs|ipvs|none] [--timeout SECS] [--peer] -- CMD...");
    }
    let o = RunOptions {
        timeout: Duration::from_secs(timeout),
        peer,
    };
    run_with(kernel, module, &o, &cmd, |_| Ok(()))
}
