//! Operator commands: what the v1 operator API (`POST /api/v1`, reference §3.4) and the
//! master's JSON endpoints (§6) ask of the master, as data, and the master's typed answer.
//!
//! Mesos's counterpart is `Master::Http` (src/master/http.cpp): each endpoint (`getState`,
//! `getFrameworks`, `teardown`, `markAgentGone`, `updateMaintenanceSchedule`, ...) defers
//! into the master actor and computes its answer from the master's state. Here the HTTP
//! layer (`http/operator.rs`) decodes a request into an [`OperatorCommand`], the runtime
//! hands it to [`Master::operator`] inside the actor, and the HTTP layer turns the
//! [`OperatorReply`] into bytes. So every operator action is testable without HTTP.
//!
//! Ids enter here typed: TEARDOWN names a [`FrameworkId`], MARK_AGENT_GONE an [`AgentId`],
//! each validated once by [`OperatorCommand::teardown`] / [`OperatorCommand::mark_agent_gone`].
//! An id that Mesos's `validateID` refuses cannot name a framework or agent of this master
//! (every one entered through the same validation), so it gets the "not found" answer Mesos
//! gives, with the same text.
//!
//! Authorization (`--acls`, `security::authorizer`) is decided here, before anything
//! changes, for the principal the HTTP layer authenticated (`None` when authentication is
//! off, which ACLs match as `ANY`), as Mesos's handlers in src/master/http.cpp,
//! weights_handler.cpp and quota_handler.cpp do:
//!
//! | command | action (object) | when denied |
//! |---|---|---|
//! | GET_FLAGS, `/flags` | `view_flags` | 403 |
//! | `/metrics/snapshot` | `get_endpoints` (`/metrics/snapshot`) | 403 |
//! | TEARDOWN, `/teardown` | `teardown_frameworks` (the framework's principal) | 403 |
//! | UPDATE_WEIGHTS, `PUT /weights` | `update_weights` (each role) | 403 |
//! | UPDATE_QUOTA | `update_quotas` (each role) | 403 |
//! | MARK_AGENT_GONE | `mark_agents_gone` | 403 |
//! | DRAIN_AGENT | `drain_agents` (and `mark_agents_gone` with `mark_gone`) | 403 |
//! | DEACTIVATE_AGENT, REACTIVATE_AGENT | `deactivate_agents`, `reactivate_agents` | 403 |
//! | SET_LOGGING_LEVEL | `set_log_level` | 403, the level unchanged |
//! | RESERVE/UNRESERVE_RESOURCES, CREATE/DESTROY_VOLUMES, GROW/SHRINK_VOLUME and their endpoints | `reserve_resources` (each role), `unreserve_resources` (each reserver), `create_volumes` (each role), `destroy_volumes` (each creator), `resize_volume` (the role) — decided in `reservation.rs` after validation, as Mesos | 403 |
//! | UPDATE_MAINTENANCE_SCHEDULE, START/STOP_MAINTENANCE and their endpoints | `update_maintenance_schedules`, `start_maintenances`, `stop_maintenances` | 403 |
//! | GET_MAINTENANCE_SCHEDULE / _STATUS and their endpoints | `get_maintenance_schedules` / `get_maintenance_statuses` | empty answer |
//! | GET_WEIGHTS, `GET /weights`, GET_ROLES, `/roles` | `view_roles` (each role) | role left out |
//! | GET_QUOTA | `get_quotas` (each role) | role left out |
//! | state reads (GET_STATE, `/state`, ...) | `view_frameworks`, `view_tasks`, `view_executors`, `view_flags` | left out (`state.rs`) |
//!
//! Not yet filtered: the agents' reserved resources by `view_roles` (GET_AGENTS,
//! `/slaves`), as Mesos does for reservations.

use serde_json::{Value, json};

use remesos_proto::v1;
use v1::master::{self as op, response::Type as RespType};

use super::lifecycle::AgentNotFound;
use super::{Master, ReplyId, Time};
use crate::common::id::{AgentId, FrameworkId};
use crate::security::authorizer::{Action, Object, Principal, Viewer};

/// An operator's request, decoded and with its ids validated.
#[derive(Debug)]
pub enum OperatorCommand {
    // Reads of the v1 operator API; each answers [`OperatorReply::Response`].
    GetFlags,
    GetMetrics,
    GetState,
    GetAgents,
    /// The `host:port` of one registered agent (the web UI's sandbox proxy): answers
    /// [`OperatorReply::Json`] with the address as a string, or null for no such agent.
    AgentEndpoint {
        agent_id: String,
    },
    GetFrameworks,
    GetExecutors,
    GetTasks,
    GetRoles,
    GetMaster,
    GetWeights,
    GetQuota,
    GetMaintenanceSchedule,
    GetMaintenanceStatus,

    // Changes (v1 calls and the JSON endpoints that make the same change).
    /// TEARDOWN and `POST /master/teardown`: remove the framework. Answers
    /// [`OperatorReply::Done`].
    Teardown {
        framework_id: FrameworkId,
    },
    /// UPDATE_WEIGHTS and `PUT /master/weights`. Answers [`OperatorReply::Persisting`].
    UpdateWeights {
        weight_infos: Vec<v1::WeightInfo>,
    },
    /// UPDATE_QUOTA. Answers [`OperatorReply::Persisting`].
    UpdateQuota {
        quota_configs: Vec<v1::quota::QuotaConfig>,
    },
    /// The deprecated SET_QUOTA and `POST /master/quota`: guarantee and limit both set to
    /// the request's guarantee, for a role without quota. Answers
    /// [`OperatorReply::Persisting`].
    SetQuota {
        request: v1::quota::QuotaRequest,
    },
    /// The deprecated REMOVE_QUOTA and `DELETE /master/quota/<role>`. Answers
    /// [`OperatorReply::Persisting`].
    RemoveQuota {
        role: String,
    },
    /// MARK_AGENT_GONE. Answers [`OperatorReply::Persisting`], or [`OperatorReply::Done`]
    /// when the agent already is gone.
    MarkAgentGone {
        agent_id: AgentId,
    },
    /// DRAIN_AGENT (`drain.rs`). Answers [`OperatorReply::Persisting`].
    DrainAgent {
        agent_id: AgentId,
        max_grace_period: Option<v1::DurationInfo>,
        mark_gone: bool,
    },
    /// DEACTIVATE_AGENT. Answers [`OperatorReply::Persisting`].
    DeactivateAgent {
        agent_id: AgentId,
    },
    /// REACTIVATE_AGENT. Answers [`OperatorReply::Persisting`].
    ReactivateAgent {
        agent_id: AgentId,
    },
    /// UPDATE_MAINTENANCE_SCHEDULE and `POST /master/maintenance/schedule`.
    UpdateMaintenanceSchedule {
        schedule: v1::maintenance::Schedule,
    },
    /// START_MAINTENANCE and `POST /master/machine/down`.
    StartMaintenance {
        machines: Vec<v1::MachineId>,
    },
    /// STOP_MAINTENANCE and `POST /master/machine/up`.
    StopMaintenance {
        machines: Vec<v1::MachineId>,
    },
    /// RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES,
    /// GROW_VOLUME, SHRINK_VOLUME and `/master/reserve`, `/unreserve`, `/create-volumes`,
    /// `/destroy-volumes` (`reservation.rs`, which also authorizes them). Answers
    /// [`OperatorReply::Accepted`].
    ResourceOperation(Box<super::reservation::AgentOperation>),
    /// SET_LOGGING_LEVEL: the master only authorizes it (`set_log_level`) and answers
    /// [`OperatorReply::Done`]; the HTTP layer then sets the process's level
    /// (`api::logging::set_level`), as Mesos's handler dispatches to libprocess's
    /// `Logging` process once approved.
    SetLoggingLevel {
        level: u32,
        duration: std::time::Duration,
    },

    // The JSON endpoints' reads; each answers [`OperatorReply::Json`].
    /// `/master/state`.
    StateJson,
    /// `/master/state-summary`.
    StateSummaryJson,
    /// `/master/frameworks`, optionally only the framework with this id.
    FrameworksJson {
        framework_id: Option<String>,
    },
    /// `/master/slaves`, optionally only the agent with this id.
    SlavesJson {
        slave_id: Option<String>,
    },
    /// `/master/tasks`.
    TasksJson(TasksQuery),
    /// `/master/roles`.
    RolesJson,
    /// `GET /master/weights`.
    WeightsJson,
    /// `GET /master/quota`: the QuotaStatus.
    QuotaJson,
    /// `/master/flags`.
    FlagsJson,
    /// `/metrics/snapshot`.
    MetricsJson,
    /// `/metrics`: `/metrics/snapshot`'s metrics and the gauges remesos adds (keys
    /// `remesos_*`, see `Master::prometheus_gauges`).
    PrometheusJson,
    /// `GET /master/maintenance/schedule`.
    MaintenanceScheduleJson,
    /// `/master/maintenance/status`.
    MaintenanceStatusJson,
    /// `/master/redirect`: where the leading master (this one) is. Answers
    /// [`OperatorReply::Location`].
    LeaderLocation,
}

/// `/master/tasks`'s query (Mesos's `Master::Http::tasks`): filters, order and a page.
#[derive(Clone, Debug, PartialEq)]
pub struct TasksQuery {
    /// At most this many tasks (default 100).
    pub limit: usize,
    /// Skip this many first (default 0).
    pub offset: usize,
    /// Oldest latest-status first (`order=asc`); newest first otherwise.
    pub ascending: bool,
    pub framework_id: Option<String>,
    pub task_id: Option<String>,
}

impl Default for TasksQuery {
    fn default() -> Self {
        TasksQuery {
            limit: 100,
            offset: 0,
            ascending: false,
            framework_id: None,
            task_id: None,
        }
    }
}

impl OperatorCommand {
    /// TEARDOWN of the framework named `id`, as an operator sent it.
    pub fn teardown(id: String) -> Result<OperatorCommand, OperatorError> {
        match FrameworkId::new(id.as_str()) {
            Ok(framework_id) => Ok(OperatorCommand::Teardown { framework_id }),
            Err(_) => Err(OperatorError::UnknownFramework(id)),
        }
    }

    /// MARK_AGENT_GONE of the agent named `id`, as an operator sent it.
    pub fn mark_agent_gone(id: String) -> Result<OperatorCommand, OperatorError> {
        match AgentId::new(id.as_str()) {
            Ok(agent_id) => Ok(OperatorCommand::MarkAgentGone { agent_id }),
            Err(_) => Err(OperatorError::UnknownAgent(AgentNotFound(id))),
        }
    }
}

/// An agent id of DRAIN/DEACTIVATE/REACTIVATE_AGENT: one that does not validate names no
/// agent, and gets Mesos's "Unknown agent" (400).
fn drain_target(id: String) -> Result<AgentId, OperatorError> {
    AgentId::new(id.as_str()).map_err(|_| OperatorError::Invalid("Unknown agent".to_string()))
}

impl OperatorCommand {
    /// DRAIN_AGENT as an operator sent it.
    pub fn drain_agent(
        call: v1::master::call::DrainAgent,
    ) -> Result<OperatorCommand, OperatorError> {
        let max_grace_period = call
            .max_grace_period
            .as_ref()
            .map(|d| super::drain::grace_period(d.seconds, d.nanos))
            .transpose()?;
        Ok(OperatorCommand::DrainAgent {
            agent_id: drain_target(call.agent_id.value)?,
            max_grace_period,
            mark_gone: call.mark_gone.unwrap_or(false),
        })
    }

    /// DEACTIVATE_AGENT as an operator sent it.
    pub fn deactivate_agent(id: String) -> Result<OperatorCommand, OperatorError> {
        Ok(OperatorCommand::DeactivateAgent {
            agent_id: drain_target(id)?,
        })
    }

    /// REACTIVATE_AGENT as an operator sent it.
    pub fn reactivate_agent(id: String) -> Result<OperatorCommand, OperatorError> {
        Ok(OperatorCommand::ReactivateAgent {
            agent_id: drain_target(id)?,
        })
    }
}

/// The master's answer to an [`OperatorCommand`].
#[derive(Debug)]
pub enum OperatorReply {
    /// A v1 operator API response.
    Response(Box<op::Response>),
    /// A v1 operator API response taken from the state but not yet encoded (the big dumps,
    /// GET_STATE and GET_TASKS: `dump.rs`); the HTTP handler encodes it off the actor.
    Encoded(Box<super::dump::Dump>),
    /// A v0 JSON endpoint's document taken from the state but not yet written (the big
    /// ones, `/master/state` and `/master/tasks`: `dump_json.rs`); the HTTP handler writes
    /// it off the actor.
    JsonDump(Box<super::dump_json::JsonDump>),
    /// A JSON endpoint's document.
    Json(Value),
    /// The change is made and nothing is waiting to become durable.
    Done,
    /// The change is made; its registry operation (this reply id) is in flight. Mesos
    /// answers once the registrar has written it: the runtime waits for
    /// [`Master::registry_done`] of this id.
    Persisting(ReplyId),
    /// The leading master's address, protocol-relative (`//host:port`).
    Location(String),
    /// The operation is applied and on its way to the agent: `202 Accepted`.
    Accepted,
}

/// Why the master refused an [`OperatorCommand`], in Mesos's words.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OperatorError {
    #[error("No framework found with specified ID '{0}'")]
    UnknownFramework(String),
    #[error(transparent)]
    UnknownAgent(#[from] AgentNotFound),
    /// The request's content is invalid (weights, quota, a maintenance schedule or the
    /// machines it names); the text says why.
    #[error("{0}")]
    Invalid(String),
    /// The ACLs deny the principal this command (Mesos's `Forbidden()`: no body).
    #[error("")]
    Forbidden,
    /// The resources an operation needs are not available, even after rescinding the
    /// agent's offers (Mesos's `Conflict`); the text says what is missing.
    #[error("{0}")]
    Conflict(String),
}

impl OperatorError {
    /// The HTTP status Mesos answers with.
    pub fn status(&self) -> u16 {
        match self {
            OperatorError::UnknownFramework(_) | OperatorError::Invalid(_) => 400,
            OperatorError::UnknownAgent(_) => 404,
            OperatorError::Forbidden => 403,
            OperatorError::Conflict(_) => 409,
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> OperatorError {
    OperatorError::Invalid(e.to_string())
}

fn response(ty: RespType) -> op::Response {
    op::Response {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

impl Master {
    /// Performs an operator's command (inside the actor) and answers it, for a request
    /// without an authenticated principal.
    pub fn operator(
        &mut self,
        now: Time,
        command: OperatorCommand,
    ) -> Result<OperatorReply, OperatorError> {
        self.operator_as(now, command, None)
    }

    /// Whether `principal` may perform `command` at all (the 403 rows of the module doc's
    /// table); checked before anything changes.
    fn authorize_operator(
        &self,
        command: &OperatorCommand,
        principal: Option<&Principal>,
    ) -> Result<(), OperatorError> {
        use OperatorCommand as C;
        let authorizer = &self.config.authorizer;
        if !authorizer.is_enabled() {
            return Ok(());
        }
        let allowed = |action, object| authorizer.is_allowed(action, principal, object);
        let ok = match command {
            C::GetFlags | C::FlagsJson => allowed(Action::ViewFlags, Object::Any),
            C::MetricsJson | C::PrometheusJson => {
                allowed(Action::GetEndpoint, Object::Value("/metrics/snapshot"))
            }
            C::Teardown { framework_id } => match self.frameworks.get(framework_id.as_str()) {
                // Mesos's TEARDOWN_FRAMEWORK object: the framework's principal ("" when
                // it has none). An unknown id is answered as such afterwards.
                Some(f) => allowed(
                    Action::TeardownFramework,
                    Object::Value(f.info.principal.as_deref().unwrap_or_default()),
                ),
                None => true,
            },
            C::UpdateWeights { weight_infos } => weight_infos.iter().all(|w| {
                allowed(
                    Action::UpdateWeight,
                    Object::Value(w.role.as_deref().unwrap_or_default()),
                )
            }),
            C::UpdateQuota { quota_configs } => quota_configs
                .iter()
                .all(|q| allowed(Action::UpdateQuota, Object::Value(&q.role))),
            C::SetQuota { request } => allowed(
                Action::UpdateQuota,
                Object::Value(request.role.as_deref().unwrap_or_default()),
            ),
            C::RemoveQuota { role } => allowed(Action::UpdateQuota, Object::Value(role)),
            C::MarkAgentGone { .. } => allowed(Action::MarkAgentGone, Object::Any),
            // Mesos's `_drainAgent`: DRAIN_AGENT, and MARK_AGENT_GONE when it marks gone.
            C::DrainAgent { mark_gone, .. } => {
                allowed(Action::DrainAgent, Object::Any)
                    && (!mark_gone || allowed(Action::MarkAgentGone, Object::Any))
            }
            C::DeactivateAgent { .. } => allowed(Action::DeactivateAgent, Object::Any),
            C::ReactivateAgent { .. } => allowed(Action::ReactivateAgent, Object::Any),
            C::UpdateMaintenanceSchedule { .. } => {
                allowed(Action::UpdateMaintenanceSchedule, Object::Any)
            }
            C::StartMaintenance { .. } => allowed(Action::StartMaintenance, Object::Any),
            C::StopMaintenance { .. } => allowed(Action::StopMaintenance, Object::Any),
            C::SetLoggingLevel { .. } => allowed(Action::SetLogLevel, Object::Any),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(OperatorError::Forbidden)
        }
    }

    /// Performs an operator's command for `principal` (the request's authenticated
    /// principal): refused with [`OperatorError::Forbidden`] when the ACLs deny it, reads
    /// filtered to what it may see (module doc).
    pub fn operator_as(
        &mut self,
        now: Time,
        command: OperatorCommand,
        principal: Option<&Principal>,
    ) -> Result<OperatorReply, OperatorError> {
        use OperatorCommand as C;
        self.authorize_operator(&command, principal)?;
        let authorizer = self.config.authorizer.clone();
        let v = authorizer.viewer(principal);
        let allowed = |action| authorizer.is_allowed(action, principal, Object::Any);
        let reply = |r: op::Response| Ok(OperatorReply::Response(Box::new(r)));
        match command {
            C::GetFlags => {
                let flags = self
                    .config
                    .flags
                    .iter()
                    .map(|(k, v)| v1::Flag {
                        name: k.clone(),
                        value: Some(v.clone()),
                    })
                    .collect();
                reply(op::Response {
                    get_flags: Some(op::response::GetFlags { flags }),
                    ..response(RespType::GetFlags)
                })
            }
            C::GetMetrics => {
                let metrics = self
                    .metrics()
                    .into_iter()
                    .map(|(name, value)| v1::Metric {
                        name,
                        value: Some(value),
                    })
                    .collect();
                reply(op::Response {
                    get_metrics: Some(op::response::GetMetrics { metrics }),
                    ..response(RespType::GetMetrics)
                })
            }
            C::GetState => Ok(OperatorReply::Encoded(Box::new(self.get_state_dump_for(v)))),
            C::GetAgents => reply(op::Response {
                get_agents: Some(self.get_agents()),
                ..response(RespType::GetAgents)
            }),
            C::AgentEndpoint { agent_id } => Ok(OperatorReply::Json(
                self.agents
                    .get(agent_id.as_str())
                    .map_or(Value::Null, |a| Value::String(a.endpoint.clone())),
            )),
            C::GetFrameworks => reply(op::Response {
                get_frameworks: Some(self.get_frameworks_for(v)),
                ..response(RespType::GetFrameworks)
            }),
            C::GetExecutors => reply(op::Response {
                get_executors: Some(self.get_executors_for(v)),
                ..response(RespType::GetExecutors)
            }),
            C::GetTasks => Ok(OperatorReply::Encoded(Box::new(self.get_tasks_dump_for(v)))),
            C::GetRoles => reply(op::Response {
                get_roles: Some(self.get_roles_for(v)),
                ..response(RespType::GetRoles)
            }),
            C::GetMaster => reply(op::Response {
                get_master: Some(op::response::GetMaster {
                    master_info: Some(self.info.clone()),
                    start_time: Some(self.start_time),
                    elected_time: Some(self.elected_time),
                }),
                ..response(RespType::GetMaster)
            }),
            C::GetWeights => reply(op::Response {
                get_weights: Some(op::response::GetWeights {
                    weight_infos: self.weight_infos_for(v),
                }),
                ..response(RespType::GetWeights)
            }),
            C::GetQuota => reply(op::Response {
                get_quota: Some(op::response::GetQuota {
                    status: {
                        let mut status = self.quota_status();
                        status.configs.retain(|c| {
                            authorizer.is_allowed(
                                Action::GetQuota,
                                principal,
                                Object::Value(&c.role),
                            )
                        });
                        status
                    },
                }),
                ..response(RespType::GetQuota)
            }),
            C::GetMaintenanceSchedule => reply(op::Response {
                get_maintenance_schedule: Some(op::response::GetMaintenanceSchedule {
                    schedule: if allowed(Action::GetMaintenanceSchedule) {
                        self.maintenance.schedule.clone()
                    } else {
                        Default::default()
                    },
                }),
                ..response(RespType::GetMaintenanceSchedule)
            }),
            C::GetMaintenanceStatus => reply(op::Response {
                get_maintenance_status: Some(op::response::GetMaintenanceStatus {
                    status: if allowed(Action::GetMaintenanceStatus) {
                        self.maintenance_status()
                    } else {
                        Default::default()
                    },
                }),
                ..response(RespType::GetMaintenanceStatus)
            }),

            C::Teardown { framework_id } => {
                let id = framework_id.as_str();
                if !self.frameworks.contains_key(id) {
                    return Err(OperatorError::UnknownFramework(id.to_string()));
                }
                self.remove_framework(now, id);
                Ok(OperatorReply::Done)
            }
            C::UpdateWeights { weight_infos } => {
                self.update_weights(&weight_infos).map_err(invalid)?;
                Ok(OperatorReply::Persisting(self.persist_roles()))
            }
            C::UpdateQuota { quota_configs } => {
                self.update_quota(&quota_configs).map_err(invalid)?;
                Ok(OperatorReply::Persisting(self.persist_roles()))
            }
            C::SetQuota { request } => {
                self.set_quota(&request).map_err(invalid)?;
                Ok(OperatorReply::Persisting(self.persist_roles()))
            }
            C::RemoveQuota { role } => {
                self.remove_quota(&role).map_err(invalid)?;
                Ok(OperatorReply::Persisting(self.persist_roles()))
            }
            C::MarkAgentGone { agent_id } => {
                Ok(match self.mark_agent_gone(now, agent_id.as_str())? {
                    Some(reply) => OperatorReply::Persisting(reply),
                    None => OperatorReply::Done,
                })
            }
            C::DrainAgent {
                agent_id,
                max_grace_period,
                mark_gone,
            } => self
                .drain_agent(now, agent_id.as_str(), max_grace_period, mark_gone)
                .map(OperatorReply::Persisting),
            C::DeactivateAgent { agent_id } => self
                .deactivate_agent(now, agent_id.as_str())
                .map(OperatorReply::Persisting),
            C::ReactivateAgent { agent_id } => self
                .reactivate_agent(agent_id.as_str())
                .map(OperatorReply::Persisting),
            C::UpdateMaintenanceSchedule { schedule } => self
                .update_maintenance_schedule(now, schedule)
                .map(OperatorReply::Persisting)
                .map_err(invalid),
            C::StartMaintenance { machines } => self
                .start_maintenance(now, &machines)
                .map(OperatorReply::Persisting)
                .map_err(invalid),
            C::StopMaintenance { machines } => self
                .stop_maintenance(&machines)
                .map(OperatorReply::Persisting)
                .map_err(invalid),

            C::StateJson => Ok(OperatorReply::JsonDump(Box::new(
                super::dump_json::JsonDump::State(self.state_json_dump_for(v)),
            ))),
            C::StateSummaryJson => Ok(OperatorReply::Json(self.state_summary_json_for(v))),
            C::FrameworksJson { framework_id } => {
                Ok(OperatorReply::Json(self.frameworks_json(framework_id, v)))
            }
            C::SlavesJson { slave_id } => Ok(OperatorReply::Json(self.slaves_json(slave_id))),
            C::TasksJson(query) => Ok(OperatorReply::JsonDump(Box::new(
                super::dump_json::JsonDump::Tasks(self.tasks_json_dump_for(query, v)),
            ))),
            C::RolesJson => Ok(OperatorReply::Json(self.roles_json_for(v))),
            C::QuotaJson => {
                let mut status = self.quota_status();
                status.configs.retain(|c| {
                    authorizer.is_allowed(Action::GetQuota, principal, Object::Value(&c.role))
                });
                Ok(OperatorReply::Json(remesos_proto::json::to_value(&status)))
            }
            C::WeightsJson => Ok(OperatorReply::Json(Value::Array(
                self.weight_infos_for(v)
                    .iter()
                    .map(remesos_proto::json::to_value)
                    .collect(),
            ))),
            C::FlagsJson => Ok(OperatorReply::Json(json!({ "flags": self.flags_json() }))),
            C::MetricsJson => {
                let map: serde_json::Map<String, Value> = self
                    .metrics()
                    .into_iter()
                    .map(|(k, v)| (k, json!(v)))
                    .collect();
                Ok(OperatorReply::Json(Value::Object(map)))
            }
            C::PrometheusJson => {
                let mut metrics = self.metrics();
                metrics.extend(self.prometheus_gauges(now));
                let map: serde_json::Map<String, Value> =
                    metrics.into_iter().map(|(k, v)| (k, json!(v))).collect();
                Ok(OperatorReply::Json(Value::Object(map)))
            }
            C::MaintenanceScheduleJson => Ok(OperatorReply::Json(remesos_proto::json::to_value(
                &if allowed(Action::GetMaintenanceSchedule) {
                    self.maintenance.schedule.clone()
                } else {
                    Default::default()
                },
            ))),
            C::MaintenanceStatusJson => Ok(OperatorReply::Json(remesos_proto::json::to_value(
                &if allowed(Action::GetMaintenanceStatus) {
                    self.maintenance_status()
                } else {
                    Default::default()
                },
            ))),
            C::LeaderLocation => Ok(OperatorReply::Location(format!(
                "//{}:{}",
                self.config.hostname, self.config.port
            ))),
            C::ResourceOperation(request) => self.operate_on_agent(now, *request, principal),
            // Authorized above; the level is the process's, not the master's state: the
            // HTTP layer sets it once this answers.
            C::SetLoggingLevel { .. } => Ok(OperatorReply::Done),
        }
    }

    /// `/master/frameworks`: active and completed frameworks (only `wanted`, if given), as
    /// `v` may see them.
    fn frameworks_json(&self, wanted: Option<String>, v: Viewer<'_>) -> Value {
        let keep = |f: &super::Framework| {
            wanted.as_deref().is_none_or(|w| w == f.id) && v.framework(&f.info)
        };
        let active: Vec<Value> = self
            .frameworks
            .values()
            .filter(|f| keep(f))
            .map(|f| self.framework_json_for(f, true, v))
            .collect();
        let completed: Vec<Value> = self
            .completed_frameworks
            .iter()
            .filter(|f| keep(f))
            .map(|f| self.framework_json_for(f, true, v))
            .collect();
        json!({"frameworks": active, "completed_frameworks": completed, "unregistered_frameworks": []})
    }

    /// `/master/slaves`: registered agents by id (only `wanted`, if given).
    fn slaves_json(&self, wanted: Option<String>) -> Value {
        let mut agents: Vec<&super::Agent> = self
            .agents
            .values()
            .filter(|a| wanted.as_deref().is_none_or(|w| w == a.id))
            .collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        let agents: Vec<Value> = agents.into_iter().map(|a| self.agent_json(a)).collect();
        json!({"slaves": agents, "recovered_slaves": []})
    }
}
