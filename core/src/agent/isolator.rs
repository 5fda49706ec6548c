//! Isolation of executor containers (DESIGN.md §5; Mesos `--isolation`,
//! `src/slave/containerizer/mesos/isolators/{posix,cgroups,namespaces}`).
//!
//! - `posix/cpu`, `posix/mem` (the default): no limits; usage is accounted from `/proc` over
//!   the executor's session (the executor leads one; its tasks stay in it).
//! - `cgroups/cpu`, `cgroups/mem`: each container gets `<hierarchy>/<cgroups_root>/<container
//!   id>` in cgroups v1 (the `cpu`/`cpuacct`/`memory` hierarchies) or v2 (the unified one),
//!   whichever the machine mounts, detected at start. Memory: a hard limit of the
//!   container's `mem` (executor plus tasks). CPU: shares of 1024 per cpu (v2: the equivalent
//!   weight), and a CFS quota when `--cgroups_enable_cfs` is set, as in Mesos. The executor
//!   joins its cgroups between fork and exec, so every process it starts is inside.
//!   A container whose processes the kernel OOM-killed is *limited*: the agent destroys it and
//!   its unfinished tasks end `TASK_FAILED` with `REASON_CONTAINER_LIMITATION_MEMORY`.
//! - `disk/du` (`posix/disk`): disk use per sandbox and persistent volume, a quota enforced
//!   with `--enforce_container_disk_quota` (disk_du.rs).
//! - `disk/xfs`: each sandbox an XFS project, its `disk` a project quota (disk_xfs.rs).
//! - `namespaces/pid`: the executor is pid 1 of a new pid namespace with its own `/proc`
//!   (a small reaper outside the namespace carries its exit status to the agent).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use remesos_proto::v1;

/// The isolators named in `--isolation`, and the cgroup hierarchy found at start.
#[derive(Clone, Debug, Default)]
pub struct Isolation {
    pub cgroups_cpu: bool,
    pub cgroups_mem: bool,
    pub pid_namespace: bool,
    /// `--cgroups_enable_cfs`: a hard CPU limit (CFS quota) besides the shares.
    pub enable_cfs: bool,
    /// Set by [`Isolation::prepare`] when a cgroups isolator is in use.
    pub hierarchy: Option<Hierarchy>,
    /// `disk/du` (or its old name `posix/disk`): containers' disk use measured, and with
    /// `--enforce_container_disk_quota` limited (disk_du.rs).
    pub disk_du: Option<super::disk_du::DiskDu>,
    /// `disk/xfs` was named in `--isolation`; [`Isolation::disk_xfs`] is set once the
    /// work_dir was checked (agent/flags.rs).
    pub wants_disk_xfs: bool,
    /// `disk/xfs`: project quotas on the sandboxes (disk_xfs.rs).
    pub disk_xfs: Option<std::sync::Arc<super::disk_xfs::XfsDisk>>,
}

/// Where containers' cgroups go: `<mount>/<cgroups_root>` per controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    V1 {
        cpu: Option<PathBuf>,
        cpuacct: Option<PathBuf>,
        memory: Option<PathBuf>,
    },
    V2 {
        root: PathBuf,
    },
}

/// A container's share of the agent: its executor's and tasks' `cpus` and `mem`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    pub cpus: f64,
    pub mem_bytes: u64,
    /// The sandbox's `disk` (without a `DiskInfo`: no volume), as Mesos's `disk/xfs` sums it.
    pub disk_bytes: u64,
}

impl Limits {
    pub fn of(resources: &[v1::Resource]) -> Limits {
        let mut limits = Limits::default();
        for r in resources {
            let value = r.scalar.as_ref().map(|s| s.value).unwrap_or(0.0);
            match r.name.as_str() {
                "cpus" => limits.cpus += value,
                "mem" => limits.mem_bytes += (value.max(0.0) * 1024.0 * 1024.0) as u64,
                "disk" if r.disk.is_none() => {
                    limits.disk_bytes += (value.max(0.0) * 1024.0 * 1024.0) as u64;
                }
                _ => {}
            }
        }
        limits
    }

    /// Adds `more`'s share (a task joining the container).
    pub fn add(&mut self, more: Limits) {
        self.cpus += more.cpus;
        self.mem_bytes += more.mem_bytes;
        self.disk_bytes += more.disk_bytes;
    }
}

/// Mesos's minimum cpu shares and memory limit (`src/slave/constants.hpp`).
const MIN_CPU_SHARES: u64 = 2;
const CPU_SHARES_PER_CPU: f64 = 1024.0;
const MIN_MEMORY: u64 = 32 * 1024 * 1024;
const CFS_PERIOD_US: u64 = 100_000;
const MIN_CFS_QUOTA_US: u64 = 1_000;

impl Isolation {
    /// Parses `--isolation`. Unknown isolators are refused, as Mesos refuses to start.
    pub fn parse(flag: &str) -> Result<Isolation, String> {
        let mut isolation = Isolation::default();
        for name in flag.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "posix/cpu" | "posix/mem" | "filesystem/posix" => {}
                "posix/disk" | "disk/du" => {
                    isolation.disk_du = Some(super::disk_du::DiskDu::default());
                }
                "disk/xfs" => isolation.wants_disk_xfs = true,
                "cgroups/cpu" => isolation.cgroups_cpu = true,
                "cgroups/mem" => isolation.cgroups_mem = true,
                "cgroups/all" => {
                    isolation.cgroups_cpu = true;
                    isolation.cgroups_mem = true;
                }
                "namespaces/pid" => isolation.pid_namespace = true,
                // The image isolators (containerizer/provisioner, containerizer/linux.rs):
                // what they need is checked with `--image_providers` (agent/flags.rs).
                "filesystem/linux"
                | "docker/runtime"
                | "volume/host_path"
                | "volume/sandbox_path" => {}
                other => return Err(format!("Unknown or unsupported isolator '{other}'")),
            }
        }
        Ok(isolation)
    }

    pub fn uses_cgroups(&self) -> bool {
        self.cgroups_cpu || self.cgroups_mem
    }

    /// Finds the cgroup hierarchy (v1 or v2) and creates `<root_name>` in it; an error means
    /// the agent cannot offer the isolation it was asked for and must not start.
    pub fn prepare(&mut self, root_name: &str) -> Result<(), String> {
        if !self.uses_cgroups() {
            return Ok(());
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts")
            .map_err(|e| format!("Failed to read /proc/self/mounts: {e}"))?;
        let hierarchy = detect(&mounts, root_name).ok_or_else(|| {
            "Failed to find a cgroup hierarchy with the memory and cpu controllers".to_string()
        })?;
        match &hierarchy {
            Hierarchy::V1 {
                cpu,
                cpuacct,
                memory,
            } => {
                if self.cgroups_mem && memory.is_none() {
                    return Err("cgroups/mem: no v1 memory hierarchy is mounted".into());
                }
                if self.cgroups_cpu && cpu.is_none() {
                    return Err("cgroups/cpu: no v1 cpu hierarchy is mounted".into());
                }
                for dir in [cpu, cpuacct, memory].into_iter().flatten() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("Failed to create cgroup '{}': {e}", dir.display()))?;
                }
            }
            Hierarchy::V2 { root } => {
                let mount = root.parent().unwrap_or(Path::new("/"));
                // Controllers must be enabled for the children of each level.
                let _ = write(&mount.join("cgroup.subtree_control"), "+cpu +memory");
                std::fs::create_dir_all(root)
                    .map_err(|e| format!("Failed to create cgroup '{}': {e}", root.display()))?;
                write(&root.join("cgroup.subtree_control"), "+cpu +memory")
                    .map_err(|e| format!("Failed to enable the cpu and memory controllers: {e}"))?;
            }
        }
        self.hierarchy = Some(hierarchy);
        Ok(())
    }

    /// The container's cgroup directories (one per controller in v1).
    fn dirs(&self, container_id: &str) -> Vec<PathBuf> {
        match &self.hierarchy {
            None => vec![],
            Some(Hierarchy::V2 { root }) => vec![root.join(container_id)],
            Some(Hierarchy::V1 {
                cpu,
                cpuacct,
                memory,
            }) => {
                let mut dirs: Vec<PathBuf> = Vec::new();
                for d in [cpu, cpuacct, memory].into_iter().flatten() {
                    let d = d.join(container_id);
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
                dirs
            }
        }
    }

    fn memory_dir(&self, container_id: &str) -> Option<PathBuf> {
        match &self.hierarchy {
            Some(Hierarchy::V2 { root }) => Some(root.join(container_id)),
            Some(Hierarchy::V1 { memory, .. }) => memory.as_ref().map(|m| m.join(container_id)),
            None => None,
        }
    }

    /// Creates the container's cgroups with its limits. Returns the open `cgroup.procs`
    /// files the executor writes itself into between fork and exec.
    pub fn create(&self, container_id: &str, limits: Limits) -> Result<Vec<File>, String> {
        if self.hierarchy.is_none() {
            return Ok(vec![]);
        }
        let mut procs = Vec::new();
        for dir in self.dirs(container_id) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("Failed to create cgroup '{}': {e}", dir.display()))?;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .map_err(|e| format!("Failed to open '{}/cgroup.procs': {e}", dir.display()))?;
            procs.push(file);
        }
        self.update(container_id, limits)?;
        Ok(procs)
    }

    /// Opens the `cgroup.procs` files of an existing container, for a process that joins
    /// it between fork and exec (a nested container shares its parent's cgroups, as
    /// Mesos's nested containers do by default: `LinuxInfo.share_cgroups`).
    pub fn join(&self, container_id: &str) -> Result<Vec<File>, String> {
        self.dirs(container_id)
            .into_iter()
            .map(|dir| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))
                    .map_err(|e| format!("Failed to open '{}/cgroup.procs': {e}", dir.display()))
            })
            .collect()
    }

    /// Applies `limits` to an existing container (a task joined or left it).
    pub fn update(&self, container_id: &str, limits: Limits) -> Result<(), String> {
        let failed = |what: &str, e: std::io::Error| format!("Failed to set {what}: {e}");
        match &self.hierarchy {
            None => {}
            Some(Hierarchy::V1 { cpu, memory, .. }) => {
                if let (true, Some(cpu)) = (self.cgroups_cpu, cpu) {
                    let dir = cpu.join(container_id);
                    write(
                        &dir.join("cpu.shares"),
                        &cpu_shares(limits.cpus).to_string(),
                    )
                    .map_err(|e| failed("cpu.shares", e))?;
                    if self.enable_cfs {
                        write(&dir.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())
                            .map_err(|e| failed("cpu.cfs_period_us", e))?;
                        write(
                            &dir.join("cpu.cfs_quota_us"),
                            &cfs_quota(limits.cpus).to_string(),
                        )
                        .map_err(|e| failed("cpu.cfs_quota_us", e))?;
                    }
                }
                if let (true, Some(memory)) = (self.cgroups_mem, memory) {
                    let dir = memory.join(container_id);
                    let limit = limits.mem_bytes.max(MIN_MEMORY).to_string();
                    // memsw (memory + swap) must stay >= the memory limit: raise the memory
                    // limit first when growing is not possible the other way around.
                    let memsw = dir.join("memory.memsw.limit_in_bytes");
                    let _ = write(&memsw, &limit);
                    write(&dir.join("memory.limit_in_bytes"), &limit)
                        .map_err(|e| failed("memory.limit_in_bytes", e))?;
                    let _ = write(&memsw, &limit);
                    let _ = write(&dir.join("memory.soft_limit_in_bytes"), &limit);
                }
            }
            Some(Hierarchy::V2 { root }) => {
                let dir = root.join(container_id);
                if self.cgroups_cpu {
                    write(
                        &dir.join("cpu.weight"),
                        &cpu_weight(limits.cpus).to_string(),
                    )
                    .map_err(|e| failed("cpu.weight", e))?;
                    if self.enable_cfs {
                        let max = format!("{} {CFS_PERIOD_US}", cfs_quota(limits.cpus));
                        write(&dir.join("cpu.max"), &max).map_err(|e| failed("cpu.max", e))?;
                    }
                }
                if self.cgroups_mem {
                    let limit = limits.mem_bytes.max(MIN_MEMORY).to_string();
                    write(&dir.join("memory.max"), &limit).map_err(|e| failed("memory.max", e))?;
                    let _ = write(&dir.join("memory.swap.max"), "0");
                }
            }
        }
        Ok(())
    }

    /// Whether the kernel OOM-killed a process of the container (v1 `memory.oom_control`,
    /// v2 `memory.events`: `oom_kill N`).
    pub fn oom_killed(&self, container_id: &str) -> bool {
        if !self.cgroups_mem {
            return false;
        }
        let Some(dir) = self.memory_dir(container_id) else {
            return false;
        };
        let file = match self.hierarchy {
            Some(Hierarchy::V2 { .. }) => "memory.events",
            _ => "memory.oom_control",
        };
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|n| n.trim().parse::<u64>().ok())
                })
            })
            .is_some_and(|n| n > 0)
    }

    /// Mesos's text for a memory limitation: `Memory limit exceeded: Requested: 96MB Maximum
    /// Used: 96MB` and the cgroup's memory statistics.
    pub fn memory_limitation_message(&self, container_id: &str) -> String {
        let dir = self.memory_dir(container_id).unwrap_or_default();
        let read_u64 = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
        };
        let (limit, max) = match self.hierarchy {
            Some(Hierarchy::V2 { .. }) => (read_u64("memory.max"), read_u64("memory.peak")),
            _ => (
                read_u64("memory.limit_in_bytes"),
                read_u64("memory.max_usage_in_bytes"),
            ),
        };
        let mut message = String::from("Memory limit exceeded: ");
        if let Some(limit) = limit {
            message.push_str(&format!("Requested: {} ", bytes_text(limit)));
        }
        if let Some(max) = max {
            message.push_str(&format!("Maximum Used: {}", bytes_text(max)));
        }
        let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
        message.push_str("\n\nMEMORY STATISTICS: \n");
        message.push_str(&stat);
        message
    }

    /// Pids in the container's cgroups.
    pub fn processes(&self, container_id: &str) -> Vec<i32> {
        let mut pids = Vec::new();
        for dir in self.dirs(container_id) {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    if !pids.contains(&pid) {
                        pids.push(pid);
                    }
                }
            }
        }
        pids
    }

    /// SIGKILLs every process of the container's cgroups (tasks may sit in process groups
    /// of their own, which a signal to the executor's group misses).
    pub fn kill_all(&self, container_id: &str) {
        for pid in self.processes(container_id) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                // A process that is already gone is what was wanted.
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }

    /// Kills what is left and removes the container's cgroups (retried briefly: the kernel
    /// refuses to remove a cgroup until its last process is reaped).
    pub fn destroy(&self, container_id: &str) {
        if self.hierarchy.is_none() {
            return;
        }
        for _ in 0..50 {
            self.kill_all(container_id);
            let mut left = false;
            for dir in self.dirs(container_id) {
                if dir.exists() && std::fs::remove_dir(&dir).is_err() {
                    left = true;
                }
            }
            if !left {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        tracing::warn!(container_id, "failed to remove the container's cgroups");
    }

    /// The container's resource usage: from its cgroups when it has them, else from `/proc`
    /// over the executor's session (`session` = the executor's pid).
    pub fn usage(
        &self,
        container_id: &str,
        session: Option<u32>,
        limits: Limits,
        now: f64,
    ) -> v1::ResourceStatistics {
        let mut stats = v1::ResourceStatistics {
            timestamp: now,
            cpus_limit: Some(limits.cpus),
            mem_limit_bytes: Some(limits.mem_bytes),
            ..Default::default()
        };
        let pids: Vec<i32> = if self.hierarchy.is_some() {
            self.processes(container_id)
        } else {
            session
                .and_then(|s| i32::try_from(s).ok())
                .map(session_members)
                .unwrap_or_default()
        };
        let ticks = clock_ticks();
        let page = page_size();
        let (mut user, mut system, mut rss, mut threads) = (0u64, 0u64, 0u64, 0u64);
        for pid in &pids {
            if let Some(s) = proc_stat(*pid) {
                user += s.utime;
                system += s.stime;
                rss += s.rss_pages.saturating_mul(page);
                threads += s.threads;
            }
        }
        stats.processes = Some(pids.len() as u32);
        stats.threads = Some(threads as u32);
        stats.cpus_user_time_secs = Some(user as f64 / ticks);
        stats.cpus_system_time_secs = Some(system as f64 / ticks);
        stats.mem_rss_bytes = Some(rss);
        if self.cgroups_mem
            && let Some(dir) = self.memory_dir(container_id)
        {
            let file = match self.hierarchy {
                Some(Hierarchy::V2 { .. }) => "memory.current",
                _ => "memory.usage_in_bytes",
            };
            if let Some(total) = std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
            {
                stats.mem_total_bytes = Some(total);
            }
        }
        if let Some((limit, used)) = self.disk_xfs.as_ref().and_then(|x| x.usage(container_id)) {
            stats.disk_limit_bytes = Some(limit);
            stats.disk_used_bytes = used;
        }
        stats
    }
}

/// Finds the hierarchy: v1 when a `memory` or `cpu` v1 hierarchy is mounted, else a
/// cgroup2 mount whose `cgroup.controllers` lists `memory`.
pub fn detect(mounts: &str, root_name: &str) -> Option<Hierarchy> {
    let (mut cpu, mut cpuacct, mut memory) = (None, None, None);
    let mut v2 = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, path, fstype, options, ..] = fields[..] else {
            continue;
        };
        match fstype {
            "cgroup" => {
                let options: Vec<&str> = options.split(',').collect();
                let dir = Path::new(path).join(root_name);
                if options.contains(&"memory") {
                    memory = Some(dir.clone());
                }
                if options.contains(&"cpu") {
                    cpu = Some(dir.clone());
                }
                if options.contains(&"cpuacct") {
                    cpuacct = Some(dir);
                }
            }
            "cgroup2" => {
                let controllers =
                    std::fs::read_to_string(Path::new(path).join("cgroup.controllers"))
                        .unwrap_or_default();
                if controllers.split_whitespace().any(|c| c == "memory") {
                    v2 = Some(Path::new(path).join(root_name));
                }
            }
            _ => {}
        }
    }
    if memory.is_some() || cpu.is_some() {
        return Some(Hierarchy::V1 {
            cpu,
            cpuacct,
            memory,
        });
    }
    v2.map(|root| Hierarchy::V2 { root })
}

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

pub fn cpu_shares(cpus: f64) -> u64 {
    ((cpus * CPU_SHARES_PER_CPU) as u64).max(MIN_CPU_SHARES)
}

/// cgroups v2 weight for the same share (the kernel's own shares-to-weight mapping).
fn cpu_weight(cpus: f64) -> u64 {
    let shares = cpu_shares(cpus).clamp(2, 262_144);
    (1 + ((shares - 2) * 9999) / 262_142).clamp(1, 10_000)
}

fn cfs_quota(cpus: f64) -> u64 {
    ((cpus * CFS_PERIOD_US as f64) as u64).max(MIN_CFS_QUOTA_US)
}

/// stout's `Bytes` text: the largest unit that divides evenly (`96MB`, `1GB`, `1000B`).
pub fn bytes_text(bytes: u64) -> String {
    const KB: u64 = 1024;
    for (unit, size) in [
        ("TB", KB.pow(4)),
        ("GB", KB.pow(3)),
        ("MB", KB.pow(2)),
        ("KB", KB),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// The raw fds of `files`, for the child to write itself into between fork and exec.
pub fn raw_fds(files: &[File]) -> Vec<RawFd> {
    files.iter().map(|f| f.as_raw_fd()).collect()
}

struct ProcStat {
    session: i32,
    utime: u64,
    stime: u64,
    threads: u64,
    rss_pages: u64,
}

fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields from 3 (state) on: session is field 6, utime 14, stime 15, threads 20, rss 24.
    let at = |n: usize| f.get(n - 3).and_then(|v| v.parse::<i64>().ok());
    Some(ProcStat {
        session: at(6)? as i32,
        utime: at(14)?.max(0) as u64,
        stime: at(15)?.max(0) as u64,
        threads: at(20)?.max(0) as u64,
        rss_pages: at(24)?.max(0) as u64,
    })
}

/// Every process whose session is `session`.
pub fn session_members(session: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| proc_stat(*pid).is_some_and(|s| s.session == session))
        .collect()
}

fn clock_ticks() -> f64 {
    let t = rustix::param::clock_ticks_per_second();
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    let p = rustix::param::page_size() as u64;
    if p > 0 { p } else { 4096 }
}

/// Whether `pid` is alive (and not a zombie): how a restarted agent watches executors it
/// did not start.
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = text
        .rfind(')')
        .and_then(|i| text.get(i + 2..i + 3))
        .unwrap_or("");
    state != "Z" && state != "X"
}

/// When `pid` started (wall clock, whole seconds: /proc gives clock ticks since boot, boot
/// time in seconds), to tell a recovered executor from a process that reused its pid.
pub fn started_at(pid: u32) -> Option<std::time::SystemTime> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.get(text.rfind(')')? + 2..)?;
    let ticks: u64 = rest.split_whitespace().nth(22 - 3)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = Some(rustix::param::clock_ticks_per_second()).filter(|h| *h > 0)?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(boot * 1000 + ticks * 1000 / hz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_flag_is_parsed_and_unknown_isolators_refused() {
        let i = Isolation::parse("posix/cpu,posix/mem").unwrap();
        assert!(!i.uses_cgroups() && !i.pid_namespace);
        let i = Isolation::parse("cgroups/cpu,cgroups/mem,namespaces/pid").unwrap();
        assert!(i.cgroups_cpu && i.cgroups_mem && i.pid_namespace);
        assert_eq!(
            Isolation::parse("cgroups/devices").unwrap_err(),
            "Unknown or unsupported isolator 'cgroups/devices'"
        );
    }

    #[test]
    fn v1_is_preferred_and_comounted_controllers_share_a_directory() {
        let mounts = "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n\
                      cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n\
                      cgroup2 /nonexistent cgroup2 rw 0 0\n";
        assert_eq!(
            detect(mounts, "mesos"),
            Some(Hierarchy::V1 {
                cpu: Some("/sys/fs/cgroup/cpu,cpuacct/mesos".into()),
                cpuacct: Some("/sys/fs/cgroup/cpu,cpuacct/mesos".into()),
                memory: Some("/sys/fs/cgroup/memory/mesos".into()),
            })
        );
        assert_eq!(detect("proc /proc proc rw 0 0\n", "mesos"), None);
    }

    #[test]
    fn shares_quota_and_bytes_follow_mesos() {
        assert_eq!(cpu_shares(0.5), 512);
        assert_eq!(cpu_shares(0.0), 2);
        assert_eq!(cfs_quota(1.5), 150_000);
        assert_eq!(cpu_weight(1.0), 1 + (1022 * 9999) / 262_142);
        assert_eq!(bytes_text(96 * 1024 * 1024), "96MB");
        assert_eq!(bytes_text(1024 * 1024 * 1024), "1GB");
        assert_eq!(bytes_text(1000), "1000B");
        let r = crate::resources::Resources::parse("cpus:0.5;mem:64;disk:10", "*")
            .unwrap()
            .into_protos();
        assert_eq!(
            Limits::of(&r),
            Limits {
                cpus: 0.5,
                mem_bytes: 64 << 20,
                disk_bytes: 10 << 20
            }
        );
    }

    #[test]
    fn usage_of_this_process_session_is_accounted() {
        let sid = rustix::process::Pid::as_raw(rustix::process::getsid(None).ok());
        let stats = Isolation::default().usage("none", Some(sid as u32), Limits::default(), 1.0);
        assert!(stats.processes.unwrap() >= 1);
        assert!(stats.mem_rss_bytes.unwrap() > 0);
    }
}
