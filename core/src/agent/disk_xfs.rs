//! The `disk/xfs` isolator (Mesos 1.11's `XfsDiskIsolatorProcess`,
//! src/slave/containerizer/mesos/isolators/xfs/{disk,utils}.cpp; docs/isolators/disk-xfs.md).
//!
//! Each container's sandbox gets an XFS *project id* from `--xfs_project_range` (default
//! `[5000-10000]`): set with `FS_IOC_FSSETXATTR` (`fsx_projid`, and `FS_XFLAG_PROJINHERIT` on
//! directories so new files inherit it) on the sandbox and everything already in it, before
//! the executor starts. The kernel then counts the sandbox's blocks against the project,
//! and a project quota (`quotactl(Q_XSETQLIM, PRJQUOTA)`) on the work_dir's block device
//! limits it:
//!
//! | flags | soft limit | hard limit | over it |
//! |---|---|---|---|
//! | (none) | — | — | accounting only |
//! | `--enforce_container_disk_quota` | `disk` | `disk` | writes fail with `EDQUOT` |
//! | … `--xfs_kill_containers` | `disk` | `disk` + `--xfs_quota_headroom` (10MB) | the container is destroyed, `REASON_CONTAINER_LIMITATION_DISK`, `Disk usage (…) exceeded quota (…)`, checked every `--container_disk_watch_interval` |
//!
//! The quota is the container's `disk` without a `DiskInfo` (executor and tasks, grown as
//! tasks join). `/monitor/statistics` shows `disk_limit_bytes` (that quota) and
//! `disk_used_bytes` (the project's block count, `Q_XGETQUOTA`).
//!
//! As in Mesos, a project id is not reclaimed when its container ends but when its sandbox
//! is gone (garbage collected): checked every `--disk_watch_interval`, its quota is then
//! cleared and the id goes back to the free range. A restarted agent recovers the ids from
//! the sandboxes themselves (`FS_IOC_FSGETXATTR` on each `runs/<container id>`): a live
//! container keeps its project and its quota (the kernel keeps both), an ended one is
//! scheduled for reclaim.
//!
//! The agent refuses to start (a setting it cannot honour is refused, never run open) when
//! the work_dir is not on XFS (`'<work_dir>' is not an XFS filesystem`), project quotas
//! cannot be enabled or are not (`XFS project quotas are not enabled on '<work_dir>'`), it
//! is not root, or the range is bad.
//!
//! Not done (Mesos does them): persistent volumes get no project of their own here (their
//! use is not counted or limited by `disk/xfs`; `disk/du` measures them); sandboxes of live
//! containers that had no project when the isolator was first enabled are left unmanaged;
//! ephemeral (overlay) volumes are not labelled; the `project_ids_*` metrics.
//!
//! Every project id acted on is checked against the range (the only ids [`ProjectIds`]
//! hands out) and every directory against the work_dir: a recovered id outside the range
//! (the operator changed it) is tracked and reclaimed, never reused, as in Mesos.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::duration::format_bytes;

/// Mesos's default `--xfs_project_range`.
pub const DEFAULT_PROJECT_RANGE: &str = "[5000-10000]";
/// Mesos's default `--xfs_quota_headroom` (10MB).
pub const DEFAULT_QUOTA_HEADROOM: u64 = 10 << 20;

/// What went wrong; the text is Mesos's where Mesos has one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XfsError {
    #[error("Failed to parse XFS project range '{0}'")]
    BadRange(String),
    #[error("Invalid XFS project resource type {0}, expecting RANGES")]
    RangeType(String),
    #[error("Project ID {0}  is out of range")]
    OutOfRange(u64),
    #[error("XFS project ID range contains illegal 0 value")]
    ZeroProject,
    #[error("'{0}' is not an XFS filesystem")]
    NotXfs(String),
    #[error("Failed to enable XFS project quotas on '{path}': {error}")]
    EnableQuota { path: String, error: String },
    #[error("Failed to get quota status for '{path}': {error}")]
    QuotaStatus { path: String, error: String },
    #[error("XFS project quotas are not enabled on '{0}'")]
    QuotaNotEnabled(String),
    #[error("The XFS disk isolator requires running as root.")]
    NotRoot,
    #[error("Failed to assign project ID, range exhausted")]
    Exhausted,
    #[error("Container has already been prepared")]
    AlreadyPrepared,
    #[error("'{0}' is not a sandbox under the work_dir")]
    NotUnderWorkDir(String),
    #[error("Failed to assign project {id}: {error}")]
    Assign { id: u32, error: String },
    #[error("Failed to update quota for project {id}: {error}")]
    SetQuota { id: u32, error: String },
    #[error("Unable to get device for '{path}': {error}")]
    Device { path: String, error: String },
}

/// `--xfs_project_range`: closed intervals of project ids, none of them 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRange(Vec<(u32, u32)>);

impl ProjectRange {
    /// Parses Mesos's ranges text (`[5000-10000]`, `[1-5,10-20]`) as Mesos does
    /// (`Resources::parse("projects", flag, "*")`).
    pub fn parse(text: &str) -> Result<ProjectRange, XfsError> {
        use remesos_proto::v1::value::Type;
        let resource = crate::resources::parse_resource("projects", text, "*")
            .map_err(|_| XfsError::BadRange(text.to_string()))?;
        if resource.r#type != Type::Ranges as i32 {
            let name = Type::try_from(resource.r#type)
                .map(|t| t.as_str_name().to_string())
                .unwrap_or_else(|_| resource.r#type.to_string());
            return Err(XfsError::RangeType(name));
        }
        let mut ranges = Vec::new();
        for r in resource.ranges.iter().flat_map(|r| r.range.iter()) {
            let end = u32::try_from(r.end).map_err(|_| XfsError::OutOfRange(r.end))?;
            let begin = u32::try_from(r.begin).map_err(|_| XfsError::OutOfRange(r.begin))?;
            if begin == 0 {
                return Err(XfsError::ZeroProject);
            }
            if begin <= end {
                ranges.push((begin, end));
            }
        }
        if ranges.is_empty() {
            return Err(XfsError::BadRange(text.to_string()));
        }
        ranges.sort_unstable();
        Ok(ProjectRange(ranges))
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.iter().any(|&(b, e)| (b..=e).contains(&id))
    }

    pub fn size(&self) -> u64 {
        self.0.iter().map(|&(b, e)| u64::from(e - b) + 1).sum()
    }
}

/// The isolator's quota policy (Mesos's `xfs::QuotaPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaPolicy {
    /// Usage is counted, nothing is limited.
    Accounting,
    /// `--enforce_container_disk_quota`: soft = hard = `disk`; writes over it fail.
    EnforcingPassive,
    /// ... and `--xfs_kill_containers`: hard = `disk` + headroom, over the soft limit kills.
    EnforcingActive,
}

impl QuotaPolicy {
    pub fn of(enforce: bool, kill: bool) -> QuotaPolicy {
        match (enforce, kill) {
            (false, _) => QuotaPolicy::Accounting,
            (true, false) => QuotaPolicy::EnforcingPassive,
            (true, true) => QuotaPolicy::EnforcingActive,
        }
    }

    /// The (soft, hard) limits for a quota of `bytes`; `None`: no limit (the quota record
    /// cleared).
    pub fn limits(self, bytes: u64, headroom: u64) -> Option<(u64, u64)> {
        match self {
            QuotaPolicy::Accounting => None,
            _ if bytes == 0 => None,
            QuotaPolicy::EnforcingPassive => Some((bytes, bytes)),
            QuotaPolicy::EnforcingActive => Some((bytes, bytes.saturating_add(headroom))),
        }
    }
}

/// One container's project: its sandbox and the quota the isolator set (its `disk`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: u32,
    pub sandbox: PathBuf,
    pub quota_bytes: u64,
}

/// Project ids in use, by container, and those whose container ended, waiting until their
/// directories are gone (Mesos's `infos`, `freeProjectIds`, `scheduledProjects`). Pure
/// state: the syscalls are [`XfsDisk`]'s.
#[derive(Debug)]
pub struct ProjectIds {
    range: ProjectRange,
    /// Every id in use (by a container or scheduled), in the range or not.
    used: BTreeSet<u32>,
    containers: BTreeMap<String, Project>,
    /// Ended containers' ids with the directories that still carry them.
    scheduled: BTreeMap<u32, BTreeSet<PathBuf>>,
}

impl ProjectIds {
    pub fn new(range: ProjectRange) -> ProjectIds {
        ProjectIds {
            range,
            used: BTreeSet::new(),
            containers: BTreeMap::new(),
            scheduled: BTreeMap::new(),
        }
    }

    /// The lowest free id of the range (Mesos's `nextProjectId`), taken.
    fn take_next(&mut self) -> Option<u32> {
        let id = self.range.0.iter().find_map(|&(begin, end)| {
            // The used ids inside this interval are sorted: the first gap is the answer.
            let mut candidate = begin;
            for &u in self.used.range(begin..=end) {
                if u != candidate {
                    break;
                }
                candidate = candidate.checked_add(1)?;
            }
            (candidate <= end).then_some(candidate)
        })?;
        self.used.insert(id);
        Some(id)
    }

    /// A new container's project.
    pub fn assign(&mut self, container_id: &str, sandbox: &Path) -> Result<u32, XfsError> {
        if self.containers.contains_key(container_id) {
            return Err(XfsError::AlreadyPrepared);
        }
        let id = self.take_next().ok_or(XfsError::Exhausted)?;
        self.containers.insert(
            container_id.to_string(),
            Project {
                id,
                sandbox: sandbox.to_path_buf(),
                quota_bytes: 0,
            },
        );
        Ok(id)
    }

    /// A project found on disk after a restart (any id but 0, even outside the range).
    pub fn recovered(&mut self, container_id: &str, project: Project) {
        self.used.insert(project.id);
        self.containers.insert(container_id.to_string(), project);
    }

    pub fn project(&self, container_id: &str) -> Option<&Project> {
        self.containers.get(container_id)
    }

    pub fn set_quota(&mut self, container_id: &str, bytes: u64) {
        if let Some(p) = self.containers.get_mut(container_id) {
            p.quota_bytes = bytes;
        }
    }

    pub fn containers(&self) -> impl Iterator<Item = (&String, &Project)> {
        self.containers.iter()
    }

    /// The container ended: its id waits for its sandbox to go (Mesos's `cleanup`).
    pub fn ended(&mut self, container_id: &str) -> Option<u32> {
        let project = self.containers.remove(container_id)?;
        self.scheduled
            .entry(project.id)
            .or_default()
            .insert(project.sandbox);
        Some(project.id)
    }

    /// The scheduled ids none of whose directories exist any more (`exists` says), taken
    /// out: the caller clears their quota. Ids outside the range are not freed for reuse.
    pub fn reclaimable(&mut self, exists: impl Fn(&Path) -> bool) -> Vec<u32> {
        let mut done = Vec::new();
        for (id, dirs) in &mut self.scheduled {
            dirs.retain(|d| exists(d));
            if dirs.is_empty() {
                done.push(*id);
            }
        }
        for id in &done {
            self.scheduled.remove(id);
            if self.range.contains(*id) {
                self.used.remove(id);
            }
        }
        done
    }

    /// How many ids of the range are free (Mesos's `project_ids_free`).
    pub fn free(&self) -> u64 {
        let used_in_range = self
            .used
            .iter()
            .filter(|id| self.range.contains(**id))
            .count() as u64;
        self.range.size() - used_in_range
    }
}

/// A container over its soft limit (`--xfs_kill_containers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exceeded {
    pub container_id: String,
    pub message: String,
}

/// Mesos's limitation message (note: "exceeded", where `disk/du` says "exceeds").
pub fn exceeded_message(used_bytes: u64, soft_limit_bytes: u64) -> String {
    format!(
        "Disk usage ({}) exceeded quota ({})",
        format_bytes(used_bytes),
        format_bytes(soft_limit_bytes)
    )
}

/// The `disk/xfs` isolator: its settings, the work_dir's block device, and the project ids.
/// Shared by the containerizer (launch, update, exit, limits) and the agent's ticks.
#[derive(Debug)]
pub struct XfsDisk {
    pub work_dir: PathBuf,
    pub device: PathBuf,
    pub policy: QuotaPolicy,
    pub headroom: u64,
    /// `--container_disk_watch_interval`: how often soft limits are checked (kill policy).
    pub watch_interval: Duration,
    ids: Mutex<ProjectIds>,
}

impl XfsDisk {
    /// Mesos's `XfsDiskIsolatorProcess::create` and the sandbox half of `recover`: checks
    /// the work_dir and the range, enables project quota enforcement (when mounted with
    /// accounting only), and takes up the project ids found on the sandboxes.
    pub fn create(
        work_dir: &Path,
        range: &str,
        policy: QuotaPolicy,
        headroom: u64,
        watch_interval: Duration,
    ) -> Result<XfsDisk, XfsError> {
        let range = ProjectRange::parse(range)?;
        let shown = work_dir.display().to_string();
        if !sys::is_xfs(work_dir).unwrap_or(false) {
            return Err(XfsError::NotXfs(shown));
        }
        let device = sys::device_of(work_dir).map_err(|e| XfsError::Device {
            path: shown.clone(),
            error: e.to_string(),
        })?;
        sys::enable_project_quota(&device).map_err(|e| XfsError::EnableQuota {
            path: shown.clone(),
            error: e.to_string(),
        })?;
        let enabled = sys::project_quota_enabled(&device).map_err(|e| XfsError::QuotaStatus {
            path: shown.clone(),
            error: e.to_string(),
        })?;
        if !enabled {
            return Err(XfsError::QuotaNotEnabled(shown));
        }
        if !rustix::process::geteuid().is_root() {
            return Err(XfsError::NotRoot);
        }
        let mut ids = ProjectIds::new(range);
        for (container_id, sandbox) in sandboxes(work_dir) {
            // A sandbox without a project was not ours (the isolator was just enabled).
            if let Ok(Some(id)) = sys::project_id(&sandbox) {
                let quota_bytes = sys::get_quota(&device, id)
                    .ok()
                    .flatten()
                    .map_or(0, |q| q.soft_limit);
                ids.recovered(
                    &container_id,
                    Project {
                        id,
                        sandbox,
                        quota_bytes,
                    },
                );
            }
        }
        tracing::info!(
            free = ids.free(),
            device = %device.display(),
            "disk/xfs: project ids"
        );
        Ok(XfsDisk {
            work_dir: work_dir.to_path_buf(),
            device,
            policy,
            headroom,
            watch_interval,
            ids: Mutex::new(ids),
        })
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, ProjectIds> {
        // A panic while holding it leaves plain data: still consistent enough to go on.
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `sandbox` must be a directory strictly under the work_dir, without `..`.
    fn check_sandbox(&self, sandbox: &Path) -> Result<(), XfsError> {
        let inside = sandbox.starts_with(&self.work_dir)
            && sandbox != self.work_dir
            && sandbox
                .components()
                .all(|c| !matches!(c, Component::ParentDir | Component::CurDir));
        if inside {
            Ok(())
        } else {
            Err(XfsError::NotUnderWorkDir(sandbox.display().to_string()))
        }
    }

    /// Before the executor starts (Mesos's `prepare`): a project for the sandbox and
    /// everything in it, and its quota of `disk_bytes`.
    pub fn prepare(
        &self,
        container_id: &str,
        sandbox: &Path,
        disk_bytes: u64,
    ) -> Result<u32, XfsError> {
        self.check_sandbox(sandbox)?;
        let id = self.ids().assign(container_id, sandbox)?;
        if let Err(e) = sys::set_project_id_tree(sandbox, id) {
            // Scheduled: what was labelled keeps the id until the sandbox goes.
            self.ids().ended(container_id);
            return Err(XfsError::Assign {
                id,
                error: e.to_string(),
            });
        }
        tracing::info!(container_id, project = id, sandbox = %sandbox.display(), "assigned project");
        self.update(container_id, disk_bytes)?;
        Ok(id)
    }

    /// The container's `disk` changed (Mesos's `update`): its quota follows. A container
    /// without a project (not ours) is left alone.
    pub fn update(&self, container_id: &str, disk_bytes: u64) -> Result<(), XfsError> {
        let mut ids = self.ids();
        let Some(project) = ids.project(container_id) else {
            return Ok(());
        };
        let id = project.id;
        if disk_bytes == 0 {
            return Ok(());
        }
        let limits = self.policy.limits(disk_bytes, self.headroom);
        sys::set_quota(&self.device, id, limits).map_err(|e| XfsError::SetQuota {
            id,
            error: e.to_string(),
        })?;
        ids.set_quota(container_id, disk_bytes);
        let (soft, hard) = limits.unwrap_or((0, 0));
        tracing::info!(
            container_id,
            project = id,
            "set quota to {}/{}",
            format_bytes(soft),
            format_bytes(hard)
        );
        Ok(())
    }

    /// The container's (limit, used) bytes for its statistics; `None`: not ours.
    pub fn usage(&self, container_id: &str) -> Option<(u64, Option<u64>)> {
        let (id, quota) = {
            let ids = self.ids();
            let p = ids.project(container_id)?;
            (p.id, p.quota_bytes)
        };
        let used = sys::get_quota(&self.device, id)
            .ok()
            .map(|q| q.map_or(0, |q| q.used));
        Some((quota, used))
    }

    /// The containers over their soft limit (Mesos's `check`, `--xfs_kill_containers`).
    pub fn exceeded(&self) -> Vec<Exceeded> {
        if self.policy != QuotaPolicy::EnforcingActive {
            return Vec::new();
        }
        let projects: Vec<(String, u32)> = self
            .ids()
            .containers()
            .map(|(c, p)| (c.clone(), p.id))
            .collect();
        projects
            .into_iter()
            .filter_map(|(container_id, id)| {
                let quota = sys::get_quota(&self.device, id).ok()??;
                (quota.soft_limit > 0 && quota.used > quota.soft_limit).then(|| Exceeded {
                    container_id,
                    message: exceeded_message(quota.used, quota.soft_limit),
                })
            })
            .collect()
    }

    /// The container ended (Mesos's `cleanup`): its id is reclaimed once its sandbox is gone.
    pub fn cleanup(&self, container_id: &str) {
        if let Some(id) = self.ids().ended(container_id) {
            tracing::info!(container_id, project = id, "project scheduled for reclaim");
        }
    }

    /// After a restart, with the containers still alive: the others' projects are
    /// scheduled for reclaim.
    pub fn recover(&self, live: &BTreeSet<String>) {
        let mut ids = self.ids();
        let ended: Vec<String> = ids
            .containers()
            .map(|(c, _)| c.clone())
            .filter(|c| !live.contains(c))
            .collect();
        for container_id in ended {
            ids.ended(&container_id);
        }
    }

    /// Every `--disk_watch_interval` (Mesos's `reclaimProjectIds`): projects whose
    /// directories are all gone get their quota cleared and their id back. Blocking.
    pub fn reclaim(&self) -> Vec<u32> {
        let done = self.ids().reclaimable(|d| d.symlink_metadata().is_ok());
        for id in &done {
            match sys::set_quota(&self.device, *id, None) {
                Ok(()) => tracing::info!(project = id, "reclaimed project ID"),
                Err(e) => tracing::error!(project = id, error = %e, "failed to clear quota"),
            }
        }
        done
    }

    /// Free ids of the range.
    pub fn free(&self) -> u64 {
        self.ids().free()
    }

    /// The container's project id, if it has one.
    pub fn project_of(&self, container_id: &str) -> Option<u32> {
        self.ids().project(container_id).map(|p| p.id)
    }
}

/// Every run directory `<work_dir>/slaves/*/frameworks/*/executors/*/runs/<container id>`
/// (not the `latest` symlinks), with its container id.
fn sandboxes(work_dir: &Path) -> Vec<(String, PathBuf)> {
    fn dirs(path: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    }
    let mut found = Vec::new();
    for agent in dirs(&work_dir.join("slaves")) {
        for framework in dirs(&agent.join("frameworks")) {
            for executor in dirs(&framework.join("executors")) {
                for run in dirs(&executor.join("runs")) {
                    if let Some(name) = run.file_name().and_then(OsStr::to_str) {
                        found.push((name.to_string(), run.clone()));
                    }
                }
            }
        }
    }
    found
}

/// A project's quota as `Q_XGETQUOTA` reports it (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub soft_limit: u64,
    pub hard_limit: u64,
    pub used: u64,
}

/// The kernel calls, each behind a safe function.
pub mod sys {
    use super::*;

    const FS_IOC_FSGETXATTR: libc::c_ulong = 0x801c_581f;
    const FS_IOC_FSSETXATTR: libc::c_ulong = 0x401c_5820;
    const FS_XFLAG_PROJINHERIT: u32 = 0x0000_0200;
    const XFS_SUPER_MAGIC: i64 = 0x5846_5342;
    const PRJQUOTA: libc::c_int = 2;
    const fn xqm_cmd(x: libc::c_int) -> libc::c_int {
        (('X' as libc::c_int) << 8) + x
    }
    const Q_XQUOTAON: libc::c_int = xqm_cmd(1);
    const Q_XGETQUOTA: libc::c_int = xqm_cmd(3);
    const Q_XSETQLIM: libc::c_int = xqm_cmd(4);
    const Q_XGETQSTATV: libc::c_int = xqm_cmd(8);
    const FS_DQUOT_VERSION: i8 = 1;
    const FS_PROJ_QUOTA: i8 = 2;
    const FS_DQ_BSOFT: u16 = 1 << 2;
    const FS_DQ_BHARD: u16 = 1 << 3;
    const FS_QUOTA_PDQ_ACCT: u32 = 1 << 4;
    const FS_QUOTA_PDQ_ENFD: u32 = 1 << 5;
    const FS_QSTATV_VERSION1: i8 = 1;
    /// Quota limits and counts are in 512-byte basic blocks.
    const BASIC_BLOCK: u64 = 512;

    /// `struct fsxattr` (linux/fs.h).
    #[repr(C)]
    #[derive(Default)]
    struct FsXattr {
        fsx_xflags: u32,
        fsx_extsize: u32,
        fsx_nextents: u32,
        fsx_projid: u32,
        fsx_cowextsize: u32,
        fsx_pad: [u8; 8],
    }

    /// `struct fs_disk_quota` (linux/dqblk_xfs.h).
    #[repr(C)]
    #[derive(Default)]
    struct FsDiskQuota {
        d_version: i8,
        d_flags: i8,
        d_fieldmask: u16,
        d_id: u32,
        d_blk_hardlimit: u64,
        d_blk_softlimit: u64,
        d_ino_hardlimit: u64,
        d_ino_softlimit: u64,
        d_bcount: u64,
        d_icount: u64,
        d_itimer: i32,
        d_btimer: i32,
        d_iwarns: u16,
        d_bwarns: u16,
        d_itimer_hi: i8,
        d_btimer_hi: i8,
        d_rtbtimer_hi: i8,
        d_padding2: i8,
        d_rtb_hardlimit: u64,
        d_rtb_softlimit: u64,
        d_rtbcount: u64,
        d_rtbtimer: i32,
        d_rtbwarns: u16,
        d_padding3: i16,
        d_padding4: [u8; 8],
    }

    /// `struct fs_qfilestatv`.
    #[repr(C)]
    #[derive(Default)]
    struct FsQfilestatv {
        qfs_ino: u64,
        qfs_nblks: u64,
        qfs_nextents: u32,
        qfs_pad: u32,
    }

    /// `struct fs_quota_statv`.
    #[repr(C)]
    #[derive(Default)]
    struct FsQuotaStatv {
        qs_version: i8,
        qs_pad1: u8,
        qs_flags: u16,
        qs_incoredqs: u32,
        qs_uquota: FsQfilestatv,
        qs_gquota: FsQfilestatv,
        qs_pquota: FsQfilestatv,
        qs_btimelimit: i32,
        qs_itimelimit: i32,
        qs_rtbtimelimit: i32,
        qs_bwarnlimit: u16,
        qs_iwarnlimit: u16,
        qs_rtbwarnlimit: u16,
        qs_pad3: u16,
        qs_pad4: u32,
        qs_pad2: [u64; 7],
        /// Room beyond the kernel's structure, should a newer kernel write more.
        _spare: [u64; 8],
    }

    pub fn is_xfs(path: &Path) -> std::io::Result<bool> {
        let fs = rustix::fs::statfs(path)?;
        #[allow(clippy::unnecessary_cast, reason = "f_type's width differs by target")]
        Ok(fs.f_type as i64 == XFS_SUPER_MAGIC)
    }

    /// The block device holding `path`: the source of the mount whose device number is
    /// `path`'s (`/proc/self/mountinfo`).
    pub fn device_of(path: &Path) -> std::io::Result<PathBuf> {
        let st = rustix::fs::stat(path)?;
        let (major, minor) = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        device_in_mountinfo(&mountinfo, major, minor).ok_or_else(|| {
            std::io::Error::other(format!("no block device mounted as {major}:{minor}"))
        })
    }

    /// The mount source of device `major:minor` in a mountinfo text, if it is a path.
    pub fn device_in_mountinfo(mountinfo: &str, major: u32, minor: u32) -> Option<PathBuf> {
        let wanted = format!("{major}:{minor}");
        mountinfo.lines().find_map(|line| {
            let mut fields = line.split(' ');
            if fields.nth(2)? != wanted {
                return None;
            }
            let (_, after) = line.split_once(" - ")?;
            let source = after.split(' ').nth(1)?;
            source.starts_with('/').then(|| PathBuf::from(source))
        })
    }

    fn quotactl(
        cmd: libc::c_int,
        device: &Path,
        id: u32,
        data: *mut libc::c_char,
    ) -> std::io::Result<()> {
        let device = std::ffi::CString::new(device.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // quotactl's id is a C int carrying the unsigned project id bit for bit, as in C.
        let id = libc::c_int::from_ne_bytes(id.to_ne_bytes());
        // SAFETY: `device` is a NUL-terminated string alive for the call; `data` points to
        // the structure `cmd` reads or writes (each caller passes its own, of that type,
        // exclusively borrowed for the call).
        let rc = unsafe { libc::quotactl(cmd, device.as_ptr(), id, data) };
        if rc == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Turns on project quota accounting and enforcement; already on is fine.
    pub fn enable_project_quota(device: &Path) -> std::io::Result<()> {
        let mut flags: u32 = FS_QUOTA_PDQ_ACCT | FS_QUOTA_PDQ_ENFD;
        match quotactl(
            libc::QCMD(Q_XQUOTAON, 0),
            device,
            0,
            (&raw mut flags).cast(),
        ) {
            // EEXIST: already on. ENOSYS: no quota on this mount (or in this kernel), which
            // the status check then reports in Mesos's words.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOSYS)) => Ok(()),
            other => other,
        }
    }

    /// Whether project quotas are accounted or enforced on `device` (`ENOSYS`: no quota).
    pub fn project_quota_enabled(device: &Path) -> std::io::Result<bool> {
        let mut statv = FsQuotaStatv {
            qs_version: FS_QSTATV_VERSION1,
            ..Default::default()
        };
        match quotactl(
            libc::QCMD(Q_XGETQSTATV, 0),
            device,
            0,
            (&raw mut statv).cast(),
        ) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(false),
            Err(e) => Err(e),
            Ok(()) => Ok(u32::from(statv.qs_flags) & (FS_QUOTA_PDQ_ACCT | FS_QUOTA_PDQ_ENFD) != 0),
        }
    }

    /// Sets project `id`'s block limits in bytes (rounded up to basic blocks); `None`
    /// clears them (0/0 deletes the limits).
    pub fn set_quota(device: &Path, id: u32, limits: Option<(u64, u64)>) -> std::io::Result<()> {
        if id == 0 {
            return Err(std::io::Error::other("Invalid project ID '0'"));
        }
        let (soft, hard) = limits.unwrap_or((0, 0));
        let mut quota = FsDiskQuota {
            d_version: FS_DQUOT_VERSION,
            d_flags: FS_PROJ_QUOTA,
            d_fieldmask: FS_DQ_BSOFT | FS_DQ_BHARD,
            d_id: id,
            d_blk_softlimit: soft.div_ceil(BASIC_BLOCK),
            d_blk_hardlimit: hard.div_ceil(BASIC_BLOCK),
            ..Default::default()
        };
        quotactl(
            libc::QCMD(Q_XSETQLIM, PRJQUOTA),
            device,
            id,
            (&raw mut quota).cast(),
        )
    }

    /// Project `id`'s limits and use; `None` when it has neither (no record).
    pub fn get_quota(device: &Path, id: u32) -> std::io::Result<Option<Quota>> {
        if id == 0 {
            return Err(std::io::Error::other("Invalid project ID '0'"));
        }
        let mut quota = FsDiskQuota {
            d_version: FS_DQUOT_VERSION,
            d_flags: FS_PROJ_QUOTA,
            d_id: id,
            ..Default::default()
        };
        match quotactl(
            libc::QCMD(Q_XGETQUOTA, PRJQUOTA),
            device,
            id,
            (&raw mut quota).cast(),
        ) {
            // No record at all for this id.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            other => other?,
        }
        if quota.d_blk_hardlimit == 0 && quota.d_bcount == 0 {
            return Ok(None);
        }
        Ok(Some(Quota {
            soft_limit: quota.d_blk_softlimit.saturating_mul(BASIC_BLOCK),
            hard_limit: quota.d_blk_hardlimit.saturating_mul(BASIC_BLOCK),
            used: quota.d_bcount.saturating_mul(BASIC_BLOCK),
        }))
    }

    fn get_xattr(fd: &impl AsFd) -> std::io::Result<FsXattr> {
        let mut attr = FsXattr::default();
        // SAFETY: `fd` is an open descriptor borrowed for the call; FS_IOC_FSGETXATTR
        // writes one `struct fsxattr`, which `attr` is (repr(C), same layout).
        let rc = unsafe {
            libc::ioctl(
                fd.as_fd().as_raw_fd(),
                FS_IOC_FSGETXATTR as _,
                &raw mut attr,
            )
        };
        if rc == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(attr)
    }

    fn set_xattr(fd: &impl AsFd, attr: &FsXattr) -> std::io::Result<()> {
        // SAFETY: `fd` is an open descriptor borrowed for the call; FS_IOC_FSSETXATTR
        // reads one `struct fsxattr` from `attr`.
        let rc = unsafe {
            libc::ioctl(
                fd.as_fd().as_raw_fd(),
                FS_IOC_FSSETXATTR as _,
                std::ptr::from_ref(attr),
            )
        };
        if rc == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn open_nofollow<Fd: AsFd>(dir: Fd, name: &OsStr, directory: bool) -> std::io::Result<OwnedFd> {
        let mut flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        if directory {
            flags |= OFlags::DIRECTORY;
        }
        Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
    }

    /// The project id of directory `dir`; `None` for 0 (no project). `dir` is not
    /// followed if it is a symlink.
    pub fn project_id(dir: &Path) -> std::io::Result<Option<u32>> {
        let fd = open_nofollow(rustix::fs::CWD, dir.as_os_str(), true)?;
        let id = get_xattr(&fd)?.fsx_projid;
        Ok((id != 0).then_some(id))
    }

    fn label(fd: &OwnedFd, id: u32, directory: bool) -> std::io::Result<()> {
        let mut attr = get_xattr(fd)?;
        attr.fsx_projid = id;
        if directory {
            attr.fsx_xflags |= FS_XFLAG_PROJINHERIT;
        }
        set_xattr(fd, &attr)
    }

    /// Labels directory `root` and every directory and regular file under it on its
    /// filesystem with project `id` (Mesos's `setProjectIdRecursively`). Every entry is
    /// opened relative to its parent's descriptor without following symlinks (the tree
    /// may belong to a task); symlinks and special files are left alone, and so is what
    /// lies on another device.
    pub fn set_project_id_tree(root: &Path, id: u32) -> std::io::Result<()> {
        if id == 0 {
            return Err(std::io::Error::other("Invalid project ID '0'"));
        }
        let top = open_nofollow(rustix::fs::CWD, root.as_os_str(), true)?;
        let device = rustix::fs::fstat(&top)?.st_dev;
        label(&top, id, true)?;
        let mut pending = vec![top];
        while let Some(dir) = pending.pop() {
            let listing = open_nofollow(&dir, OsStr::new("."), true)?;
            let names: Vec<std::ffi::OsString> = rustix::fs::Dir::new(listing)?
                .flatten()
                .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
                .filter(|n| n != "." && n != "..")
                .collect();
            for name in names {
                let Ok(meta) =
                    rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                else {
                    continue;
                };
                let kind = FileType::from_raw_mode(meta.st_mode);
                let directory = match kind {
                    FileType::Directory => true,
                    FileType::RegularFile => false,
                    _ => continue,
                };
                if meta.st_dev != device {
                    continue;
                }
                // Swapped for a symlink since the stat: refused by O_NOFOLLOW, skipped.
                let Ok(fd) = open_nofollow(&dir, name.as_os_str(), directory) else {
                    continue;
                };
                let opened = rustix::fs::fstat(&fd)?;
                if opened.st_dev != device || FileType::from_raw_mode(opened.st_mode) != kind {
                    continue;
                }
                label(&fd, id, directory)?;
                if directory {
                    pending.push(fd);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_range_is_parsed_as_mesos_does_and_bad_ones_refused() {
        let r = ProjectRange::parse(DEFAULT_PROJECT_RANGE).unwrap();
        assert_eq!(r.size(), 5001);
        assert!(r.contains(5000) && r.contains(10000) && !r.contains(4999));
        let two = ProjectRange::parse("[10-12,1-2]").unwrap();
        assert_eq!(two.size(), 5);
        assert_eq!(
            ProjectRange::parse("5000").unwrap_err().to_string(),
            "Invalid XFS project resource type SCALAR, expecting RANGES"
        );
        assert_eq!(
            ProjectRange::parse("[0-10]").unwrap_err().to_string(),
            "XFS project ID range contains illegal 0 value"
        );
        assert_eq!(
            ProjectRange::parse("[1-4294967296]")
                .unwrap_err()
                .to_string(),
            "Project ID 4294967296  is out of range"
        );
        for bad in ["[5000-", "abc", "[x-y]", ""] {
            assert!(
                matches!(
                    ProjectRange::parse(bad),
                    Err(XfsError::BadRange(_) | XfsError::RangeType(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_are_taken_lowest_first_and_come_back_only_when_their_directories_are_gone() {
        let mut ids = ProjectIds::new(ProjectRange::parse("[5-6,9-9]").unwrap());
        assert_eq!(ids.assign("a", Path::new("/w/a")).unwrap(), 5);
        assert_eq!(ids.assign("b", Path::new("/w/b")).unwrap(), 6);
        assert_eq!(
            ids.assign("a", Path::new("/w/a")).unwrap_err(),
            XfsError::AlreadyPrepared
        );
        assert_eq!(ids.assign("c", Path::new("/w/c")).unwrap(), 9);
        assert_eq!(
            ids.assign("d", Path::new("/w/d")).unwrap_err(),
            XfsError::Exhausted
        );
        assert_eq!(ids.free(), 0);
        // Ended, but the sandbox is still there: not reusable yet.
        assert_eq!(ids.ended("a"), Some(5));
        assert_eq!(ids.ended("a"), None);
        assert!(ids.reclaimable(|_| true).is_empty());
        assert_eq!(
            ids.assign("d", Path::new("/w/d")).unwrap_err(),
            XfsError::Exhausted
        );
        // The sandbox was collected: the id is reclaimed and handed out again.
        assert_eq!(ids.reclaimable(|_| false), vec![5]);
        assert_eq!(ids.free(), 1);
        assert_eq!(ids.assign("d", Path::new("/w/d")).unwrap(), 5);
    }

    #[test]
    fn a_recovered_id_outside_the_range_is_tracked_but_never_reused() {
        let mut ids = ProjectIds::new(ProjectRange::parse("[5-6]").unwrap());
        ids.recovered(
            "old",
            Project {
                id: 100,
                sandbox: "/w/old".into(),
                quota_bytes: 1,
            },
        );
        ids.recovered(
            "live",
            Project {
                id: 5,
                sandbox: "/w/live".into(),
                quota_bytes: 1,
            },
        );
        assert_eq!(ids.free(), 1);
        assert_eq!(ids.assign("new", Path::new("/w/new")).unwrap(), 6);
        ids.ended("old");
        assert_eq!(ids.reclaimable(|_| false), vec![100]);
        assert_eq!(ids.free(), 0);
        assert_eq!(ids.project("live").unwrap().id, 5);
    }

    #[test]
    fn limits_follow_the_policy() {
        let mb = 1 << 20;
        assert_eq!(QuotaPolicy::of(false, true).limits(mb, 10 * mb), None);
        assert_eq!(
            QuotaPolicy::of(true, false).limits(mb, 10 * mb),
            Some((mb, mb))
        );
        assert_eq!(
            QuotaPolicy::of(true, true).limits(mb, 10 * mb),
            Some((mb, 11 * mb))
        );
        assert_eq!(QuotaPolicy::of(true, true).limits(0, 10 * mb), None);
        assert_eq!(
            exceeded_message(12 << 20, 10 << 20),
            "Disk usage (12MB) exceeded quota (10MB)"
        );
    }

    #[test]
    fn the_device_comes_from_mountinfo() {
        let mountinfo = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                         40 22 7:3 / /tmp/x rw,relatime - xfs /dev/loop3 rw,prjquota\n\
                         41 22 0:45 / /tmp/t rw - tmpfs tmpfs rw\n";
        assert_eq!(
            sys::device_in_mountinfo(mountinfo, 7, 3),
            Some(PathBuf::from("/dev/loop3"))
        );
        assert_eq!(sys::device_in_mountinfo(mountinfo, 0, 45), None);
        assert_eq!(sys::device_in_mountinfo(mountinfo, 9, 9), None);
    }

    #[test]
    fn a_work_dir_not_on_xfs_is_refused_with_mesoss_message() {
        let dir =
            std::env::temp_dir().join(format!("remesos-xfs-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if sys::is_xfs(&dir).unwrap() {
            return;
        }
        let err = XfsDisk::create(
            &dir,
            DEFAULT_PROJECT_RANGE,
            QuotaPolicy::Accounting,
            DEFAULT_QUOTA_HEADROOM,
            Duration::from_secs(15),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("'{}' is not an XFS filesystem", dir.display())
        );
        // The range is checked first: a bad one is refused whatever the filesystem.
        let err = XfsDisk::create(
            &dir,
            "[0-3]",
            QuotaPolicy::Accounting,
            DEFAULT_QUOTA_HEADROOM,
            Duration::from_secs(15),
        )
        .unwrap_err();
        assert_eq!(err, XfsError::ZeroProject);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
