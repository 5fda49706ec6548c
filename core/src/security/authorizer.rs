//! Mesos's local authorizer (`--authorizers=local`, the default): decides whether a subject
//! (a principal, or nobody when authentication is off) may perform an action on an object,
//! from the ACLs of `--acls` (`acls.rs`). Pure data, consulted synchronously by the master
//! and the agent; without `--acls` every request is allowed, as in Mesos.
//!
//! The rules follow src/authorizer/local/authorizer.cpp (Mesos 1.11):
//!
//! - The ACLs of an action are checked **in order; the first one that matches decides**. An
//!   ACL matches when its subject entity matches the request's subject and its object entity
//!   the request's object; it then allows when both entities *allow* them. When no ACL
//!   matches, `permissive` decides (default true).
//! - The request's subject is `SOME[principal]`, or `ANY` for a request without a principal
//!   (authentication off); an executor's token is neither (below). Its object is `SOME[value]` (a role, a user, a path) or `ANY`
//!   when the action has no object (`view_flags`, `mark_agents_gone`, ...).
//! - `matches(request, acl)`: a `NONE` request only matches `NONE`; an `ANY` request matches
//!   `ANY` or `NONE`; a `SOME` request matches `ANY`, `NONE`, or a `SOME` whose values
//!   contain all of the request's. `allows` is the same but `NONE` allows nothing but a
//!   `NONE` request and an `ANY` request is only allowed by `ANY`. So
//!   `{"principals": {"type": "NONE"}}` matches every principal and denies, and an ACL
//!   for named principals does not apply to an unauthenticated request.
//! - Role objects are hierarchical (`LocalHierarchicalRoleApprover`): a value `a/%` in a
//!   role ACL matches every role strictly below `a` (`a/b`, `a/b/c`, not `a`), at its
//!   place in the order. `register_frameworks` must allow every role the framework asks
//!   for; a framework without roles gets `permissive`.
//!
//! - **An executor's token** (the agent's `--authenticate_http_executors`; the token also
//!   opens the agent's read-only and read-write realms, as in Mesos built with SSL) is a
//!   subject with claims (`fid`, `eid`, `cid`) and **no value**: libprocess's
//!   `JWTAuthenticator` returns `Principal(None, claims)` and the agent authorizes with
//!   that (src/slave/http.cpp). authorizer.cpp `getApprover` gives such a subject an
//!   implicit approver for the nested-container actions only (LAUNCH/WAIT/KILL/REMOVE
//!   _NESTED_CONTAINER, LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_OUTPUT: allowed
//!   when the object's root container is the token's `cid`, whatever the ACLs say) and a
//!   `RejectingObjectApprover` for every other action. So with `--acls` a token is denied
//!   every action this module decides ([`Subject::Executor`]): it is not `ANY`, and an ACL
//!   for `ANY` principals does not let it in. Without `--acls` there is no authorizer and
//!   everything is allowed, as for everyone. The nested-container actions' `cid` rule is
//!   applied by their caller (agent/http_nested.rs `executor_may`).
//!
//! Which object each check passes (the task's user, the framework's principal, ...) is the
//! caller's, as in Mesos's `ObjectApprover::Object`; [`Viewer`] holds the state-filtering
//! rules (`view_frameworks`, `view_tasks`, `view_executors`, `view_containers`,
//! `view_roles`, `view_flags`) that the master's and the agent's state endpoints share.
//!
//! Where each action is enforced (the callers; "403" means nothing changed):
//!
//! | action | where | denied |
//! |---|---|---|
//! | `register_frameworks`, `run_tasks`, `teardown_frameworks`, quota, weights, roles, maintenance, `mark_agents_gone`, `view_flags` | master (`master/scheduler.rs`, `operation.rs`, `operator.rs`) | ERROR event, TASK_ERROR, 403, or left out |
//! | `register_agents` | master (`Master::register_agent_as`, subject from the agent's gRPC session, `master/service.rs`) | session `PERMISSION_DENIED`, nothing registered |
//! | `get_endpoints` | `/metrics/snapshot` (master, standby, agent), `/logging/toggle` (`api/logging.rs`), `/files/debug` (`agent/files.rs`, both daemons), the agent's `/containers` and `/monitor/statistics` (`agent::http::authorize_containers_endpoint`) | 403 |
//! | `reserve_resources`, `unreserve_resources`, `create_volumes`, `destroy_volumes`, `resize_volumes` | the operator's RESERVE/UNRESERVE_RESOURCES, CREATE/DESTROY_VOLUMES, GROW/SHRINK_VOLUME and `/master/reserve`, `/unreserve`, `/create-volumes`, `/destroy-volumes` (`master/reservation.rs`) | 403, nothing changed |
//! | `set_log_level` | SET_LOGGING_LEVEL (master, agent), a change through `/logging/toggle` | 403 |
//! | `view_frameworks`, `view_tasks`, `view_executors`, `view_containers` | state reads, GET_CONTAINERS ([`Viewer`]) | left out |
//! | `access_sandboxes` | `/files/*`, LIST_FILES, READ_FILE | 403 |
//! | `launch_nested_container(s|_sessions)_as_user` and `..._under_parent_with_user` (both must allow), `attach_containers_input/output`, `kill/wait/remove_nested_containers`, `*_standalone_containers` | the agent's container calls (`agent/http_nested.rs`) | 403, nothing launched or changed |
//! | `access_mesos_logs` | `/master/log`, `/slave/log` through `/files/*` (attached with `--log_dir`, `agent/files.rs`; object ANY, as Mesos's `authorizeLogAccess`) | 403 |
//!
//! `--authorizers` (master) / `--authorizer` (agent) take `local` only: an authorizer
//! module cannot be loaded, so any other value stops the daemon ([`check_authorizer`]).

use std::collections::HashMap;

use remesos_proto::v1;

use super::acls::{Acls, EntityType, acl, entity_type};

pub use super::Principal;
use super::jwt::Claims;

/// Who a request comes from, as the local authorizer sees it (Mesos's
/// `Option<authorization::Subject>`). `Option<&Principal>` converts into it, so callers that
/// only know principals pass theirs as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// No authenticated caller (authentication off): Mesos's absent subject, `ANY`.
    Anyone,
    /// A principal: a subject with a `value`.
    Principal(&'a Principal),
    /// An executor's token: claims and no `value`; denied every action here when ACLs are
    /// on (authorizer.cpp's `RejectingObjectApprover`; see the module doc).
    Executor(&'a Claims),
}

impl<'a> From<Option<&'a Principal>> for Subject<'a> {
    fn from(principal: Option<&'a Principal>) -> Subject<'a> {
        principal.map_or(Subject::Anyone, Subject::Principal)
    }
}

/// Who made an HTTP request, as its realm's guard recorded it in the request's extensions:
/// a [`Principal`] (HTTP Basic), an executor token's [`Claims`] (the agent's `jwt`
/// authenticator), or nothing (the realm is not guarded). The handlers that authorize
/// extract it and hand [`Requester::subject`] to the authorizer.
#[derive(Clone, Debug, Default)]
pub struct Requester {
    principal: Option<Principal>,
    claims: Option<Claims>,
}

impl Requester {
    /// The authorizer's subject: the principal if there is one, else the token's claims.
    pub fn subject(&self) -> Subject<'_> {
        match (&self.principal, &self.claims) {
            (Some(principal), _) => Subject::Principal(principal),
            (None, Some(claims)) => Subject::Executor(claims),
            (None, None) => Subject::Anyone,
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Requester {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Requester, Self::Rejection> {
        Ok(Requester {
            principal: parts.extensions.get::<Principal>().cloned(),
            claims: parts.extensions.get::<Claims>().cloned(),
        })
    }
}

impl<'a> From<&'a Principal> for Subject<'a> {
    fn from(principal: &'a Principal) -> Subject<'a> {
        Subject::Principal(principal)
    }
}

/// The actions remesos authorizes (Mesos's `authorization::Action`, those with a
/// capability remesos has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    RegisterFramework,
    RunTask,
    TeardownFramework,
    GetQuota,
    UpdateQuota,
    UpdateWeight,
    ViewRole,
    GetEndpoint,
    ViewFramework,
    ViewTask,
    ViewExecutor,
    ViewContainer,
    AccessSandbox,
    AccessMesosLog,
    ViewFlags,
    SetLogLevel,
    RegisterAgent,
    UpdateMaintenanceSchedule,
    GetMaintenanceSchedule,
    StartMaintenance,
    StopMaintenance,
    GetMaintenanceStatus,
    MarkAgentGone,
    DrainAgent,
    DeactivateAgent,
    ReactivateAgent,
    /// Dynamic reservations and persistent volumes (master/reservation.rs): the object of
    /// RESERVE, CREATE and RESIZE (grow, shrink) is the reservation role (hierarchical, as
    /// Mesos's `LocalHierarchicalRoleApprover`); of UNRESERVE the principal that made the
    /// reservation, of DESTROY the principal that created the volume (`ANY` when the
    /// resource names none) — src/master/authorization.cpp `ActionObject::reserve` ...
    ReserveResources,
    UnreserveResources,
    CreateVolume,
    DestroyVolume,
    ResizeVolume,
    /// The nested-container calls of the agent's operator API (agent/nested.rs); their
    /// object is the user the container runs as (Mesos's `authorizer.cpp`). A launch
    /// (`LaunchNestedContainer`, `...Session`: `launch_nested_container(s|_sessions)_as_user`,
    /// object the command's own user, `ANY` without one) is also checked against its
    /// parent: the `..._under_parent_with_user` ACLs, object the user the parent's executor
    /// runs as; both must allow (`LocalNestedContainerObjectApprover`).
    LaunchNestedContainer,
    LaunchNestedContainerSession,
    LaunchNestedContainerUnderParentWithUser,
    LaunchNestedContainerSessionUnderParentWithUser,
    AttachContainerInput,
    AttachContainerOutput,
    KillNestedContainer,
    WaitNestedContainer,
    RemoveNestedContainer,
    LaunchStandaloneContainer,
    KillStandaloneContainer,
    WaitStandaloneContainer,
    RemoveStandaloneContainer,
    /// The agent's PRUNE_IMAGES call (object ANY, as Mesos's `PRUNE_IMAGES` approver).
    PruneImages,
}

impl Action {
    const ALL: [Action; 45] = [
        Action::RegisterFramework,
        Action::RunTask,
        Action::TeardownFramework,
        Action::GetQuota,
        Action::UpdateQuota,
        Action::UpdateWeight,
        Action::ViewRole,
        Action::GetEndpoint,
        Action::ViewFramework,
        Action::ViewTask,
        Action::ViewExecutor,
        Action::ViewContainer,
        Action::AccessSandbox,
        Action::AccessMesosLog,
        Action::ViewFlags,
        Action::SetLogLevel,
        Action::RegisterAgent,
        Action::UpdateMaintenanceSchedule,
        Action::GetMaintenanceSchedule,
        Action::StartMaintenance,
        Action::StopMaintenance,
        Action::GetMaintenanceStatus,
        Action::MarkAgentGone,
        Action::DrainAgent,
        Action::DeactivateAgent,
        Action::ReactivateAgent,
        Action::ReserveResources,
        Action::UnreserveResources,
        Action::CreateVolume,
        Action::DestroyVolume,
        Action::ResizeVolume,
        Action::LaunchNestedContainer,
        Action::LaunchNestedContainerSession,
        Action::LaunchNestedContainerUnderParentWithUser,
        Action::LaunchNestedContainerSessionUnderParentWithUser,
        Action::AttachContainerInput,
        Action::AttachContainerOutput,
        Action::KillNestedContainer,
        Action::WaitNestedContainer,
        Action::RemoveNestedContainer,
        Action::LaunchStandaloneContainer,
        Action::KillStandaloneContainer,
        Action::WaitStandaloneContainer,
        Action::RemoveStandaloneContainer,
        Action::PruneImages,
    ];

    /// Whether the object is a role, with Mesos's hierarchical (`a/%`) matching.
    fn on_roles(self) -> bool {
        matches!(
            self,
            Action::RegisterFramework
                | Action::GetQuota
                | Action::UpdateQuota
                | Action::UpdateWeight
                | Action::ViewRole
                | Action::ReserveResources
                | Action::CreateVolume
                | Action::ResizeVolume
        )
    }

    /// The `(subjects, objects)` of each ACL of this action, in order.
    fn entities(self, acls: &Acls) -> Vec<(&acl::Entity, &acl::Entity)> {
        macro_rules! pairs {
            ($list:ident, $object:ident) => {
                acls.$list
                    .iter()
                    .map(|a| (&a.principals, &a.$object))
                    .collect()
            };
        }
        match self {
            Action::RegisterFramework => pairs!(register_frameworks, roles),
            Action::RunTask => pairs!(run_tasks, users),
            Action::TeardownFramework => pairs!(teardown_frameworks, framework_principals),
            Action::GetQuota => pairs!(get_quotas, roles),
            Action::UpdateQuota => pairs!(update_quotas, roles),
            Action::UpdateWeight => pairs!(update_weights, roles),
            Action::ViewRole => pairs!(view_roles, roles),
            Action::GetEndpoint => pairs!(get_endpoints, paths),
            Action::ViewFramework => pairs!(view_frameworks, users),
            Action::ViewTask => pairs!(view_tasks, users),
            Action::ViewExecutor => pairs!(view_executors, users),
            Action::ViewContainer => pairs!(view_containers, users),
            Action::AccessSandbox => pairs!(access_sandboxes, users),
            Action::AccessMesosLog => pairs!(access_mesos_logs, logs),
            Action::ViewFlags => pairs!(view_flags, flags),
            Action::SetLogLevel => pairs!(set_log_level, level),
            Action::RegisterAgent => pairs!(register_agents, agents),
            Action::UpdateMaintenanceSchedule => pairs!(update_maintenance_schedules, machines),
            Action::GetMaintenanceSchedule => pairs!(get_maintenance_schedules, machines),
            Action::StartMaintenance => pairs!(start_maintenances, machines),
            Action::StopMaintenance => pairs!(stop_maintenances, machines),
            Action::GetMaintenanceStatus => pairs!(get_maintenance_statuses, machines),
            Action::MarkAgentGone => pairs!(mark_agents_gone, agents),
            Action::DrainAgent => pairs!(drain_agents, agents),
            Action::DeactivateAgent => pairs!(deactivate_agents, agents),
            Action::ReactivateAgent => pairs!(reactivate_agents, agents),
            Action::ReserveResources => pairs!(reserve_resources, roles),
            Action::UnreserveResources => pairs!(unreserve_resources, reserver_principals),
            Action::CreateVolume => pairs!(create_volumes, roles),
            Action::DestroyVolume => pairs!(destroy_volumes, creator_principals),
            Action::ResizeVolume => pairs!(resize_volumes, roles),
            Action::LaunchNestedContainer => pairs!(launch_nested_containers_as_user, users),
            Action::LaunchNestedContainerSession => {
                pairs!(launch_nested_container_sessions_as_user, users)
            }
            Action::LaunchNestedContainerUnderParentWithUser => {
                pairs!(launch_nested_containers_under_parent_with_user, users)
            }
            Action::LaunchNestedContainerSessionUnderParentWithUser => {
                pairs!(
                    launch_nested_container_sessions_under_parent_with_user,
                    users
                )
            }
            Action::AttachContainerInput => pairs!(attach_containers_input, users),
            Action::AttachContainerOutput => pairs!(attach_containers_output, users),
            Action::KillNestedContainer => pairs!(kill_nested_containers, users),
            Action::WaitNestedContainer => pairs!(wait_nested_containers, users),
            Action::RemoveNestedContainer => pairs!(remove_nested_containers, users),
            Action::LaunchStandaloneContainer => pairs!(launch_standalone_containers, users),
            Action::KillStandaloneContainer => pairs!(kill_standalone_containers, users),
            Action::WaitStandaloneContainer => pairs!(wait_standalone_containers, users),
            Action::RemoveStandaloneContainer => pairs!(remove_standalone_containers, users),
            Action::PruneImages => pairs!(prune_images, images),
        }
    }
}

/// What a request is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object<'a> {
    /// No particular object (Mesos's `ANY` object: `view_flags`, the maintenance actions).
    Any,
    /// A role, user, principal or path.
    Value(&'a str),
}

/// One side of a request: `ANY` or `SOME[value]`.
#[derive(Clone, Copy)]
enum Request<'a> {
    Any,
    Some(&'a str),
}

/// One ACL: who, on what. `recursive` is a role ACL whose single value is `<role>/%`.
#[derive(Clone, Debug)]
struct Rule {
    subjects: acl::Entity,
    objects: acl::Entity,
    recursive: bool,
}

/// `matches` of authorizer.cpp.
fn matches(request: Request<'_>, acl: &acl::Entity) -> bool {
    match (request, entity_type(acl)) {
        (Request::Any, t) => t == EntityType::Any || t == EntityType::None,
        (Request::Some(_), EntityType::Any | EntityType::None) => true,
        (Request::Some(v), EntityType::Some) => acl.values.iter().any(|a| a == v),
    }
}

/// `allows` of authorizer.cpp.
fn allows(request: Request<'_>, acl: &acl::Entity) -> bool {
    match (request, entity_type(acl)) {
        (Request::Any, t) => t == EntityType::Any,
        (Request::Some(_), EntityType::Any) => true,
        (Request::Some(_), EntityType::None) => false,
        (Request::Some(v), EntityType::Some) => acl.values.iter().any(|a| a == v),
    }
}

/// The local authorizer over one set of ACLs; `Authorizer::default()` allows everything
/// (no `--acls`).
#[derive(Clone, Debug, Default)]
pub struct Authorizer {
    /// `None` without `--acls`.
    acls: Option<Compiled>,
}

#[derive(Clone, Debug)]
struct Compiled {
    permissive: bool,
    rules: HashMap<Action, Vec<Rule>>,
}

impl Authorizer {
    /// The authorizer of `--acls` (already validated by `acls::parse`).
    pub fn new(acls: &Acls) -> Authorizer {
        let mut rules = HashMap::new();
        for action in Action::ALL {
            let mut list = Vec::new();
            for (subjects, objects) in action.entities(acls) {
                if action.on_roles() && entity_type(objects) == EntityType::Some {
                    // `createHierarchicalRoleACLs`: each `x/%` becomes its own ACL, the
                    // plain roles stay together, in place.
                    let mut plain = Vec::new();
                    for value in &objects.values {
                        if value.ends_with("/%") {
                            list.push(Rule {
                                subjects: subjects.clone(),
                                objects: acl::Entity {
                                    r#type: Some(EntityType::Some as i32),
                                    values: vec![value.clone()],
                                },
                                recursive: true,
                            });
                        } else {
                            plain.push(value.clone());
                        }
                    }
                    if !plain.is_empty() {
                        list.push(Rule {
                            subjects: subjects.clone(),
                            objects: acl::Entity {
                                r#type: Some(EntityType::Some as i32),
                                values: plain,
                            },
                            recursive: false,
                        });
                    }
                } else {
                    list.push(Rule {
                        subjects: subjects.clone(),
                        objects: objects.clone(),
                        recursive: false,
                    });
                }
            }
            rules.insert(action, list);
        }
        Authorizer {
            acls: Some(Compiled {
                permissive: acls.permissive.unwrap_or(true),
                rules,
            }),
        }
    }

    /// Whether `--acls` was given (without it everything is allowed and nothing filtered).
    pub fn is_enabled(&self) -> bool {
        self.acls.is_some()
    }

    /// Whether `subject` (`None`: no authenticated principal; an executor's token: see
    /// [`Subject`]) may perform `action` on `object`.
    pub fn is_allowed<'s>(
        &self,
        action: Action,
        subject: impl Into<Subject<'s>>,
        object: Object<'_>,
    ) -> bool {
        match subject.into() {
            Subject::Anyone => self.is_allowed_name(action, None, object),
            Subject::Principal(p) => self.is_allowed_name(action, Some(p.as_str()), object),
            // `getApprover`: claims without a value are rejected for every action but the
            // nested-container ones, which this authorizer does not decide yet.
            Subject::Executor(_) => !self.is_enabled(),
        }
    }

    /// [`Authorizer::is_allowed`] for a subject named by a `FrameworkInfo.principal`
    /// (scheduler calls are authorized as the framework's principal, as in Mesos).
    pub fn is_allowed_name(
        &self,
        action: Action,
        subject: Option<&str>,
        object: Object<'_>,
    ) -> bool {
        let Some(acls) = &self.acls else {
            return true;
        };
        let subject = match subject {
            Some(p) => Request::Some(p),
            None => Request::Any,
        };
        let object = match object {
            Object::Any => Request::Any,
            Object::Value(v) => Request::Some(v),
        };
        for rule in acls.rules.get(&action).into_iter().flatten() {
            if rule.recursive {
                // `isNestedHierarchy`: strictly below the ACL's role.
                let prefix = rule.objects.values[0].trim_end_matches('%');
                if let Request::Some(role) = object
                    && role.starts_with(prefix)
                    && matches(subject, &rule.subjects)
                {
                    return allows(subject, &rule.subjects);
                }
                continue;
            }
            if matches(subject, &rule.subjects) && matches(object, &rule.objects) {
                return allows(subject, &rule.subjects) && allows(object, &rule.objects);
            }
        }
        acls.permissive
    }

    /// `register_frameworks` for a framework asking for `roles`: every role must be
    /// allowed; no role at all gets `permissive` (Mesos's `REGISTER_FRAMEWORK` approver).
    pub fn may_register_framework(&self, subject: Option<&str>, roles: &[String]) -> bool {
        let Some(acls) = &self.acls else {
            return true;
        };
        if roles.is_empty() {
            return acls.permissive;
        }
        roles
            .iter()
            .all(|r| self.is_allowed_name(Action::RegisterFramework, subject, Object::Value(r)))
    }

    /// The state-filtering approvals of `subject`.
    pub fn viewer<'a>(&'a self, subject: impl Into<Subject<'a>>) -> Viewer<'a> {
        Viewer {
            authorizer: self,
            subject: subject.into(),
        }
    }
}

/// The user a task runs as, for `run_tasks` and `view_tasks`: its command's user, else
/// its executor's, else the framework's (Mesos's `RUN_TASK` object).
pub fn task_info_user<'a>(task: &'a v1::TaskInfo, framework: &'a v1::FrameworkInfo) -> &'a str {
    task.command
        .as_ref()
        .and_then(|c| c.user.as_deref())
        .or_else(|| {
            task.executor
                .as_ref()
                .and_then(|e| e.command.as_ref())
                .and_then(|c| c.user.as_deref())
        })
        .unwrap_or(&framework.user)
}

/// The user an executor runs as: its command's, else the framework's.
pub fn executor_user<'a>(
    executor: &'a v1::ExecutorInfo,
    framework: &'a v1::FrameworkInfo,
) -> &'a str {
    executor
        .command
        .as_ref()
        .and_then(|c| c.user.as_deref())
        .unwrap_or(&framework.user)
}

/// What one principal may see of the state (Mesos's `ObjectApprovers` for `VIEW_*`).
#[derive(Clone, Copy)]
pub struct Viewer<'a> {
    authorizer: &'a Authorizer,
    subject: Subject<'a>,
}

impl Viewer<'_> {
    /// A viewer that sees everything (no `--acls`), for internal uses.
    pub fn everything() -> Viewer<'static> {
        static OPEN: Authorizer = Authorizer { acls: None };
        Viewer {
            authorizer: &OPEN,
            subject: Subject::Anyone,
        }
    }

    /// Whether nothing is filtered (lets callers skip the checks).
    pub fn sees_everything(&self) -> bool {
        !self.authorizer.is_enabled()
    }

    /// `view_frameworks`: on the framework's user.
    pub fn framework(&self, framework: &v1::FrameworkInfo) -> bool {
        self.authorizer.is_allowed(
            Action::ViewFramework,
            self.subject,
            Object::Value(&framework.user),
        )
    }

    /// `view_tasks`: on the task's user, else the framework's.
    pub fn task(&self, task: &v1::Task, framework: &v1::FrameworkInfo) -> bool {
        let user = task.user.as_deref().unwrap_or(&framework.user);
        self.authorizer
            .is_allowed(Action::ViewTask, self.subject, Object::Value(user))
    }

    /// `view_executors`: on the executor's user, else the framework's.
    pub fn executor(&self, executor: &v1::ExecutorInfo, framework: &v1::FrameworkInfo) -> bool {
        self.authorizer.is_allowed(
            Action::ViewExecutor,
            self.subject,
            Object::Value(executor_user(executor, framework)),
        )
    }

    /// `view_containers` on an executor's container (Mesos's `VIEW_CONTAINER` object: the
    /// executor's command user, else the framework's; authorizer.cpp).
    pub fn container(&self, executor: &v1::ExecutorInfo, framework: &v1::FrameworkInfo) -> bool {
        self.authorizer.is_allowed(
            Action::ViewContainer,
            self.subject,
            Object::Value(executor_user(executor, framework)),
        )
    }

    /// `view_roles`.
    pub fn role(&self, role: &str) -> bool {
        self.authorizer
            .is_allowed(Action::ViewRole, self.subject, Object::Value(role))
    }

    /// `view_flags`.
    pub fn flags(&self) -> bool {
        self.authorizer
            .is_allowed(Action::ViewFlags, self.subject, Object::Any)
    }
}

/// `--authorizers` (master) / `--authorizer` (agent): only Mesos's default, `local`, exists
/// here; an authorizer module cannot be loaded, and running without the operator's
/// authorizer would be running open.
pub fn check_authorizer(flag: &str, value: Option<&str>) -> Result<(), String> {
    match value.map(str::trim) {
        None | Some("") | Some("local") => Ok(()),
        Some(other) => Err(format!(
            "--{flag}={other} names an authorizer module; remesos has only the local \
             authorizer ('local'), refusing to start without the authorizer asked for"
        )),
    }
}

/// The name of the authorizer-module flag: Mesos's master says `--authorizers`, its agent
/// `--authorizer`.
fn authorizer_flag(daemon: super::Daemon) -> &'static str {
    match daemon {
        super::Daemon::Master => "authorizers",
        super::Daemon::Agent => "authorizer",
    }
}

/// Declares `--acls` and the authorizer flag of `daemon` (skipping any already declared).
pub fn declare(flags: &mut crate::flags::Flags, daemon: super::Daemon) {
    use crate::flags::{Flag, FlagKind};
    if flags.get("acls").is_none() {
        // A Path: `file://` is read by `acls::load`, bounded, and `/flags` shows the path.
        flags.add(Flag::new(
            "acls",
            FlagKind::Path,
            "The local authorizer's ACLs (Mesos's JSON ACLs, mesos.ACLs): inline JSON, \
             file:///path/to/acls.json or /path/to/acls.json. Without it every request is \
             allowed",
        ));
    }
    let name = authorizer_flag(daemon);
    if flags.get(name).is_none() {
        flags.add(
            Flag::string(name, "Authorizer to use: only 'local' (Mesos's default)")
                .default("local"),
        );
    }
}

/// The authorizer `daemon`'s loaded flags ask for: the local authorizer over `--acls`, or
/// one that allows everything without it. An unreadable or invalid ACL document or another
/// authorizer is an error that stops the daemon.
pub fn from_flags(
    loaded: &crate::flags::LoadedFlags,
    daemon: super::Daemon,
) -> Result<Authorizer, String> {
    let name = authorizer_flag(daemon);
    check_authorizer(name, loaded.get_str(name))?;
    match loaded.get_str("acls").map(str::trim) {
        None | Some("") => Ok(Authorizer::default()),
        Some(value) => {
            let acls = super::acls::load(value).map_err(|e| format!("--acls: {e}"))?;
            Ok(Authorizer::new(&acls))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authorizer(acls: serde_json::Value) -> Authorizer {
        Authorizer::new(&super::super::acls::parse(acls.to_string().as_bytes()).unwrap())
    }

    fn p(name: &str) -> Principal {
        Principal::new(name).unwrap()
    }

    /// authorizer.cpp `getApprover`: a subject with claims and no value (an executor's
    /// token, libprocess's `JWTAuthenticator`) gets the `RejectingObjectApprover` for every
    /// action but the nested-container ones. It is not `ANY`: an ACL that lets any principal
    /// in, or `permissive`, does not let it in. Without `--acls` there is no authorizer.
    #[test]
    fn an_executor_token_is_no_principal_and_is_denied_when_acls_are_on() {
        let claims: Claims = [("fid", "f"), ("eid", "e"), ("cid", "c")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let token = Subject::Executor(&claims);
        let a = authorizer(json!({"get_endpoints": [
            {"principals": {"type": "ANY"}, "paths": {"type": "ANY"}}
        ]}));
        let containers = Object::Value("/containers");
        assert!(a.is_allowed(Action::GetEndpoint, None, containers));
        assert!(a.is_allowed(Action::GetEndpoint, Some(&p("x")), containers));
        assert!(!a.is_allowed(Action::GetEndpoint, token, containers));
        // No ACL for the action and `permissive` true: still denied, and nothing is seen.
        assert!(a.is_allowed(Action::ViewFlags, None, Object::Any));
        assert!(!a.is_allowed(Action::ViewFlags, token, Object::Any));
        let framework = v1::FrameworkInfo {
            user: "u".into(),
            ..Default::default()
        };
        assert!(a.viewer(None).framework(&framework));
        assert!(!a.viewer(token).framework(&framework));
        assert!(!a.viewer(token).flags());
        // Without --acls: allowed, as everyone.
        let open = Authorizer::default();
        assert!(open.is_allowed(Action::ViewFlags, token, Object::Any));
        assert!(open.viewer(token).framework(&framework));
    }

    #[test]
    fn without_acls_everything_is_allowed() {
        let open = Authorizer::default();
        assert!(!open.is_enabled());
        assert!(open.is_allowed(Action::ViewFlags, None, Object::Any));
        assert!(open.is_allowed(Action::RunTask, Some(&p("x")), Object::Value("root")));
        assert!(open.may_register_framework(None, &[]));
    }

    /// authorizer.cpp `approved`: the first ACL whose subject and object match decides.
    #[test]
    fn the_first_matching_acl_decides() {
        let a = authorizer(json!({"run_tasks": [
            {"principals": {"values": ["ops"]}, "users": {"values": ["root"]}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ]}));
        assert!(a.is_allowed(Action::RunTask, Some(&p("ops")), Object::Value("root")));
        // ops as another user: the first does not match, the second denies.
        assert!(!a.is_allowed(Action::RunTask, Some(&p("ops")), Object::Value("nobody")));
        assert!(!a.is_allowed(Action::RunTask, Some(&p("dev")), Object::Value("root")));
        // The other order: the deny-all comes first and wins.
        let b = authorizer(json!({"run_tasks": [
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}},
            {"principals": {"values": ["ops"]}, "users": {"values": ["root"]}}
        ]}));
        assert!(!b.is_allowed(Action::RunTask, Some(&p("ops")), Object::Value("root")));
    }

    /// ACLs.permissive: the answer when no ACL matches (default true).
    #[test]
    fn permissive_decides_when_no_acl_matches() {
        let acl = json!([{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}}]);
        let open = authorizer(json!({"view_flags": acl}));
        let closed = authorizer(json!({"permissive": false, "view_flags": acl}));
        assert!(open.is_allowed(Action::ViewFlags, Some(&p("dev")), Object::Any));
        assert!(!closed.is_allowed(Action::ViewFlags, Some(&p("dev")), Object::Any));
        assert!(closed.is_allowed(Action::ViewFlags, Some(&p("ops")), Object::Any));
        // An action without ACLs falls to `permissive` too.
        assert!(!closed.is_allowed(Action::MarkAgentGone, Some(&p("ops")), Object::Any));
        assert!(open.is_allowed(Action::MarkAgentGone, Some(&p("ops")), Object::Any));
    }

    /// `matches`/`allows`: NONE principals match everyone and deny; an unauthenticated
    /// request (ANY) is not matched by an ACL naming principals, only by ANY or NONE.
    #[test]
    fn any_and_none_match_as_in_mesos() {
        let a = authorizer(json!({"permissive": false, "view_flags": [
            {"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}}
        ]}));
        assert!(!a.is_allowed(Action::ViewFlags, None, Object::Any));
        let any = authorizer(json!({"permissive": false, "view_flags": [
            {"principals": {"type": "ANY"}, "flags": {"type": "ANY"}}
        ]}));
        assert!(any.is_allowed(Action::ViewFlags, None, Object::Any));
        assert!(any.is_allowed(Action::ViewFlags, Some(&p("x")), Object::Any));
        let none = authorizer(json!({"permissive": true, "view_flags": [
            {"principals": {"type": "NONE"}, "flags": {"type": "ANY"}}
        ]}));
        assert!(!none.is_allowed(Action::ViewFlags, None, Object::Any));
        assert!(!none.is_allowed(Action::ViewFlags, Some(&p("x")), Object::Any));
        // A SOME object is matched by ANY objects; an ANY object only by ANY or NONE.
        let users = authorizer(json!({"permissive": false, "run_tasks": [
            {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}
        ]}));
        assert!(users.is_allowed(Action::RunTask, Some(&p("x")), Object::Value("nobody")));
        assert!(!users.is_allowed(Action::RunTask, Some(&p("x")), Object::Value("root")));
        assert!(!users.is_allowed(Action::RunTask, Some(&p("x")), Object::Any));
    }

    /// `LocalHierarchicalRoleApprover`: `a/%` covers the roles strictly below `a`.
    #[test]
    fn role_acls_are_hierarchical() {
        let a = authorizer(json!({"permissive": false, "view_roles": [
            {"principals": {"values": ["eng"]}, "roles": {"values": ["eng/%", "shared"]}}
        ]}));
        let eng = p("eng");
        for allowed in ["eng/web", "eng/web/canary", "shared"] {
            assert!(
                a.is_allowed(Action::ViewRole, Some(&eng), Object::Value(allowed)),
                "{allowed}"
            );
        }
        for denied in ["eng", "engineering/x", "other"] {
            assert!(
                !a.is_allowed(Action::ViewRole, Some(&eng), Object::Value(denied)),
                "{denied}"
            );
        }
        // Not for non-role actions: `x/%` is then a plain value.
        let users = authorizer(json!({"permissive": false, "run_tasks": [
            {"principals": {"type": "ANY"}, "users": {"values": ["a/%"]}}
        ]}));
        assert!(!users.is_allowed(Action::RunTask, None, Object::Value("a/b")));
    }

    /// REGISTER_FRAMEWORK: every role must be allowed; no roles get `permissive`.
    #[test]
    fn a_framework_registers_only_when_every_role_is_allowed() {
        let a = authorizer(json!({"permissive": false, "register_frameworks": [
            {"principals": {"values": ["spark"]}, "roles": {"values": ["analytics", "*"]}}
        ]}));
        let spark = "spark";
        assert!(a.may_register_framework(Some(spark), &["analytics".into()]));
        assert!(a.may_register_framework(Some(spark), &["analytics".into(), "*".into()]));
        assert!(!a.may_register_framework(Some(spark), &["analytics".into(), "prod".into()]));
        assert!(!a.may_register_framework(Some("other"), &["*".into()]));
        assert!(!a.may_register_framework(Some(spark), &[]));
    }

    #[test]
    fn the_viewer_filters_by_user_and_falls_back_to_the_framework_user() {
        let a = authorizer(json!({"permissive": false,
            "view_frameworks": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}],
            "view_tasks": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}],
            "view_executors": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}]
        }));
        let alice = p("alice");
        let viewer = a.viewer(Some(&alice));
        let mut framework = v1::FrameworkInfo {
            user: "alice".into(),
            ..Default::default()
        };
        let mut task = v1::Task::default();
        assert!(viewer.framework(&framework));
        assert!(viewer.task(&task, &framework));
        task.user = Some("root".into());
        assert!(!viewer.task(&task, &framework));
        framework.user = "bob".into();
        assert!(!viewer.framework(&framework));
        let executor = v1::ExecutorInfo {
            command: Some(v1::CommandInfo {
                user: Some("alice".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(viewer.executor(&executor, &framework));
        assert!(!a.viewer(None).framework(&framework));
        // view_containers: no ACL here and not permissive, so no container is visible.
        assert!(!viewer.container(&executor, &framework));
        assert!(Viewer::everything().framework(&framework));
    }

    #[test]
    fn only_the_local_authorizer_is_accepted() {
        assert!(check_authorizer("authorizers", None).is_ok());
        assert!(check_authorizer("authorizers", Some("local")).is_ok());
        let err = check_authorizer("authorizers", Some("com_acme_Authorizer")).unwrap_err();
        assert!(err.contains("--authorizers=com_acme_Authorizer"), "{err}");
    }
}
