//! The executor API (`POST /api/v1/executor`) inside the agent: SUBSCRIBE (with the
//! tasks and updates a resubscribing executor carries), UPDATE, MESSAGE, HEARTBEAT, and the
//! end of a subscription stream. The HTTP side is `http.rs`.
//!
//! Mirrors src/slave/http.cpp `Http::executor` and src/slave/slave.cpp `Slave::subscribe`,
//! `Slave::registerExecutor` / `Slave::reregisterExecutor` (queued tasks sent on
//! subscription), `Slave::statusUpdate` (as an executor's update arrives),
//! `Slave::executorMessage`; the update checks follow `validateExecutorCall`
//! (src/common/validation.cpp).

use std::net::Ipv4Addr;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::executor as exec;
use wire::agent_message::Message as ToMaster;

use super::authn::Caller;
use super::{
    Agent, CallError, ConnId, Effect, Executor, ExecutorKey, ExecutorState, Time, container_status,
};
use crate::common::id::TaskId;

/// A principal as libprocess writes it (`operator<<(Principal)`): its value alone, or
/// `{"claims":{...}}` for a token's claims. Values from the network are escaped by the JSON.
fn principal_text(caller: &Caller) -> String {
    match caller {
        Caller::Principal(p) => p.as_str().escape_debug().to_string(),
        Caller::Token(claims) => serde_json::json!({ "claims": claims }).to_string(),
    }
}

impl Agent {
    /// When executors authenticate, the caller's token must name the executor the call
    /// names, in the container it runs in now: Mesos's `verifyExecutorClaims`
    /// (src/slave/http.cpp), checked after the framework and executor are found (400s
    /// first) and answered 403 with Mesos's text. A Basic principal (an operator's
    /// credential, accepted by the realm's `basic` authenticator) carries no claims, so it
    /// cannot act as an executor either. `None`: executors do not authenticate.
    pub fn verify_executor_caller(
        &self,
        call: &exec::Call,
        caller: Option<&Caller>,
    ) -> Result<(), CallError> {
        let Some(caller) = caller else {
            return Ok(());
        };
        let (key, executor) = self.calling_executor(call)?;
        let claims = match caller {
            Caller::Token(claims) => Some(claims),
            Caller::Principal(_) => None,
        };
        let has =
            |name: &str, value: &str| claims.and_then(|c| c.get(name)).is_some_and(|v| v == value);
        let who = principal_text(caller);
        if !has("fid", key.framework.as_str()) {
            return Err(CallError::Forbidden(format!(
                "Authenticated principal '{who}' does not contain an 'fid' claim with the \
                 framework ID {}, which is set in the call",
                key.framework
            )));
        }
        if !has("eid", key.executor.as_str()) {
            return Err(CallError::Forbidden(format!(
                "Authenticated principal '{who}' does not contain an 'eid' claim with the \
                 executor ID {}, which is set in the call",
                key.executor
            )));
        }
        if !has("cid", &executor.container_id) {
            return Err(CallError::Forbidden(format!(
                "Authenticated principal '{who}' does not contain a 'cid' claim with the \
                 correct active ContainerID"
            )));
        }
        Ok(())
    }

    pub fn executor_subscribe(
        &mut self,
        now: Time,
        conn: ConnId,
        call: exec::Call,
    ) -> Result<(), CallError> {
        let (key, _) = self.calling_executor(&call)?;
        if matches!(
            self.executor(&key).map(|e| e.state),
            Some(ExecutorState::Terminated)
        ) {
            return Err(CallError::BadRequest("Executor is terminated".into()));
        }
        let (fid, eid) = (key.framework.to_string(), key.executor.to_string());
        let subscribe = call.subscribe.unwrap_or_default();
        let Some((framework, _)) = self.framework_executor(&key) else {
            return Err(CallError::BadRequest("Executor cannot be found".into()));
        };
        let framework_info = framework.info.clone();
        let mut agent_info = self.info.clone();
        agent_info.id = Some(v1::AgentId {
            value: self.agent_id(),
        });
        let old = self.executor_mut(&key).and_then(|e| e.conn.replace(conn));
        if let Some(old) = old {
            self.emit(Effect::CloseExecutor { conn: old });
        }
        let Some(executor) = self.executor_mut(&key) else {
            return Err(CallError::BadRequest("Executor cannot be found".into()));
        };
        if executor.state == ExecutorState::Registering {
            executor.state = ExecutorState::Running;
        }
        let subscribed = exec::Event {
            r#type: Some(exec::event::Type::Subscribed as i32),
            subscribed: Some(exec::event::Subscribed {
                executor_info: executor.info.clone(),
                framework_info: framework_info.clone(),
                agent_info,
                container_id: Some(v1::ContainerId {
                    value: executor.container_id.clone(),
                    parent: None,
                }),
            }),
            ..Default::default()
        };
        tracing::info!(framework_id = %fid, executor_id = %eid, "executor subscribed");
        let recovered = std::mem::take(&mut executor.recovered);
        self.send_executor(conn, subscribed);
        if recovered {
            self.reconnected(now, &key, &subscribe.unacknowledged_tasks);
        }
        // Updates the executor resent because it never saw them acknowledged (§8.2), checked
        // as an UPDATE call is: a SUBSCRIBE must not carry what an UPDATE may not.
        for update in subscribe.unacknowledged_updates {
            let valid = self
                .executor(&key)
                .map(|e| validate_executor_status(&fid, &eid, e, &update.status));
            match valid {
                Some(Ok(())) => self.executor_status(now, &key, update.status),
                Some(Err(error)) => {
                    tracing::warn!(framework_id = %fid, executor_id = %eid, %error, "dropping an unacknowledged update resent on SUBSCRIBE");
                }
                None => {}
            }
        }
        let Some(executor) = self.executor_mut(&key) else {
            return Ok(());
        };
        let queued = std::mem::take(&mut executor.queued);
        let queued_groups = std::mem::take(&mut executor.queued_groups);
        for group in queued_groups {
            let Some(executor) = self.executor(&key) else {
                break;
            };
            let records: Vec<(String, v1::Task)> = group
                .tasks
                .iter()
                .map(|t| {
                    (
                        t.task_id.value.clone(),
                        self.new_task(&framework_info, executor, t),
                    )
                })
                .collect();
            if let Some(executor) = self.executor_mut(&key) {
                executor.tasks.extend(records);
            }
            self.send_executor(conn, launch_group_event(group));
        }
        for task in queued {
            let Some(executor) = self.executor(&key) else {
                break;
            };
            let record = self.new_task(&framework_info, executor, &task);
            if let Some(executor) = self.executor_mut(&key) {
                executor.tasks.insert(task.task_id.value.clone(), record);
            }
            self.send_executor(conn, launch_event(task));
        }
        Ok(())
    }

    /// The executor a call names, found through the index, with Mesos's answers when it is
    /// not there ([`CallError::BadRequest`]: "Framework cannot be found", "Executor cannot
    /// be found"). Ids that are not valid name nothing here, so they get the same answers.
    fn calling_executor(&self, call: &exec::Call) -> Result<(ExecutorKey, &Executor), CallError> {
        let (fid, eid) = (&call.framework_id.value, &call.executor_id.value);
        if !self.frameworks.contains_key(fid) {
            return Err(CallError::BadRequest("Framework cannot be found".into()));
        }
        let key = ExecutorKey::parse(fid, eid)
            .ok_or_else(|| CallError::BadRequest("Executor cannot be found".into()))?;
        match self.executor(&key) {
            Some(executor) => Ok((key, executor)),
            None => Err(CallError::BadRequest("Executor cannot be found".into())),
        }
    }

    pub(super) fn executor_status(
        &mut self,
        now: Time,
        key: &ExecutorKey,
        mut status: v1::TaskStatus,
    ) {
        if let Some(executor) = self.executor(key) {
            fill_container_status(executor, self.config.ip, &mut status);
        }
        let uuid = status.uuid.clone().unwrap_or_default();
        let task_id = status.task_id.clone();
        self.handle_update(now, key.framework.as_str(), key.executor.as_str(), status);
        // The update is checkpointed: the executor may forget it (ACKNOWLEDGED).
        let conn = self.executor(key).and_then(|e| e.conn);
        if let Some(conn) = conn {
            let event = exec::Event {
                r#type: Some(exec::event::Type::Acknowledged as i32),
                acknowledged: Some(exec::event::Acknowledged { task_id, uuid }),
                ..Default::default()
            };
            self.send_executor(conn, event);
        }
    }

    /// UPDATE, MESSAGE and HEARTBEAT from a subscribed executor.
    pub fn executor_call(&mut self, now: Time, call: exec::Call) -> Result<(), CallError> {
        use exec::call::Type;
        let (key, executor) = self.calling_executor(&call)?;
        let (fid, eid) = (key.framework.as_str(), key.executor.as_str());
        let ty = call
            .r#type
            .and_then(|t| Type::try_from(t).ok())
            .unwrap_or(Type::Unknown);
        if ty != Type::Heartbeat && executor.conn.is_none() {
            return Err(CallError::Forbidden("Executor is not subscribed".into()));
        }
        match ty {
            Type::Update => {
                let Some(update) = call.update else {
                    return Err(CallError::BadRequest(
                        "Expecting 'update' to be present".into(),
                    ));
                };
                let mut status = update.status;
                validate_executor_status(fid, eid, executor, &status)?;
                // A task that ends because its container reached a limit ends as the
                // limitation says (Mesos reports the container's termination reason), not
                // as the executor saw it (e.g. "Command terminated with signal Killed").
                if let Some((reason, message)) = &executor.limitation
                    && v1::TaskState::try_from(status.state).is_ok_and(|s| {
                        crate::common::protocol::is_terminal(s) && s != v1::TaskState::TaskFinished
                    })
                {
                    status.state = v1::TaskState::TaskFailed as i32;
                    status.reason = Some(*reason as i32);
                    status.source = Some(v1::task_status::Source::Agent as i32);
                    status.message = Some(message.clone());
                }
                self.executor_status(now, &key, status);
            }
            Type::Message => {
                let Some(message) = call.message else {
                    return Err(CallError::BadRequest(
                        "Expecting 'message' to be present".into(),
                    ));
                };
                self.emit(Effect::Master(Box::new(ToMaster::ExecutorToFramework(
                    wire::ExecutorToFramework {
                        framework_id: call.framework_id,
                        executor_id: call.executor_id,
                        data: message.data,
                    },
                ))));
            }
            Type::Heartbeat => {}
            Type::Subscribe => {
                return Err(CallError::BadRequest(
                    "SUBSCRIBE opens its own stream".into(),
                ));
            }
            Type::Unknown => {
                return Err(CallError::BadRequest(
                    "Expecting 'type' to be present".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn executor_disconnected(&mut self, framework_id: &str, executor_id: &str, conn: ConnId) {
        if let Some(executor) =
            ExecutorKey::parse(framework_id, executor_id).and_then(|key| self.executor_mut(&key))
            && executor.conn == Some(conn)
        {
            executor.conn = None;
        }
    }
}

/// The checks an executor's status update passes before the agent takes it: Mesos's
/// (`validateExecutorCall`, src/common/validation.cpp: a UUID, not TASK_STAGING, source
/// SOURCE_EXECUTOR, the executor id matching the call's) and, beyond Mesos, a valid task id
/// that names one of this executor's own tasks. Mesos only warns about an update for an
/// unknown task or another executor's task; remesos refuses it (403), because any host that
/// can reach the agent could otherwise end or fake the state of any task on it (the
/// complete guard, a per-executor token, comes with authentication).
pub(super) fn validate_executor_status(
    framework_id: &str,
    executor_id: &str,
    executor: &Executor,
    status: &v1::TaskStatus,
) -> Result<(), CallError> {
    let uuid_ok = status
        .uuid
        .as_deref()
        .is_some_and(|u| uuid::Uuid::from_slice(u).is_ok());
    if !uuid_ok {
        return Err(CallError::BadRequest(
            "'TaskStatus.uuid' must be a valid UUID".into(),
        ));
    }
    if status.state == v1::TaskState::TaskStaging as i32 {
        return Err(CallError::BadRequest(
            "An executor may not send TASK_STAGING".into(),
        ));
    }
    if status
        .source
        .is_some_and(|s| s != v1::task_status::Source::Executor as i32)
    {
        return Err(CallError::BadRequest(
            "'TaskStatus.source' must be SOURCE_EXECUTOR".into(),
        ));
    }
    if let Some(id) = &status.executor_id
        && id.value != executor_id
    {
        return Err(CallError::BadRequest(format!(
            "ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: {}",
            id.value.escape_debug()
        )));
    }
    let task_id = &status.task_id.value;
    if let Err(e) = TaskId::new(task_id.as_str()) {
        return Err(CallError::BadRequest(format!(
            "'TaskStatus.task_id' is invalid: {e}"
        )));
    }
    let owned = executor.tasks.contains_key(task_id)
        || executor
            .completed
            .iter()
            .any(|t| &t.task_id.value == task_id);
    if !owned {
        return Err(CallError::Forbidden(format!(
            "Task {task_id} is not a task of executor {executor_id} of framework {framework_id}"
        )));
    }
    Ok(())
}

/// Fills `status.container_status` of an update an executor sent, as Mesos's agent does
/// before forwarding it (`Slave::statusUpdate`, `Slave::_statusUpdate`, src/slave/slave.cpp):
/// the container's status merged in — with the container's own IP addresses when its
/// containerizer reported some (a docker container on a bridge or user network) — and,
/// when the container has no network of its own, one NetworkInfo with the agent's own IP (`self().address.ip`:
/// here the advertised `--ip`/`--advertise_ip`), so that clients find the task's container
/// (`task exec`, `attach`) and its address.
///
/// Left alone: updates of an executor whose container is gone (`status()` of an unknown
/// container fails, and Mesos then forwards the update without it), and updates whose
/// `container_status.container_id` names another container than the executor's or one
/// nested right under it (the update goes on as the executor sent it). Updates the agent generates
/// itself (`local_update`: tasks never delivered, dropped or lost by the agent, or failed
/// with their exited executor) never come here: Mesos sends those without a container
/// status either.
pub(super) fn fill_container_status(
    executor: &Executor,
    agent_ip: Ipv4Addr,
    status: &mut v1::TaskStatus,
) {
    if executor.state == ExecutorState::Terminated {
        return;
    }
    let named = status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.as_ref());
    // A task of a group names its own container, nested under the executor's (the default
    // executor's `createTaskStatus`): it shares the executor's network.
    let nested = named.is_some_and(|id| {
        id.parent
            .as_deref()
            .is_some_and(|p| p.value == executor.container_id && p.parent.is_none())
    });
    if !nested && named.is_some_and(|id| id.value != executor.container_id || id.parent.is_some()) {
        return;
    }
    let filled = status.container_status.get_or_insert_with(Default::default);
    let known = container_status(executor);
    if !nested {
        // Protobuf's MergeFrom: set fields of the containerizer's status win.
        filled.container_id = known.container_id;
        if known.executor_pid.is_some() {
            filled.executor_pid = known.executor_pid;
        }
    }
    if filled.network_infos.is_empty() && !known.network_infos.is_empty() {
        filled.network_infos = known.network_infos;
    }
    if filled.network_infos.is_empty() {
        // IPv4 is IPAddress.protocol's default, left unset as Mesos leaves it.
        filled.network_infos.push(v1::NetworkInfo {
            ip_addresses: vec![v1::network_info::IpAddress {
                protocol: None,
                ip_address: Some(agent_ip.to_string()),
            }],
            ..Default::default()
        });
    }
}

pub(super) fn launch_group_event(task_group: v1::TaskGroupInfo) -> exec::Event {
    exec::Event {
        r#type: Some(exec::event::Type::LaunchGroup as i32),
        launch_group: Some(exec::event::LaunchGroup { task_group }),
        ..Default::default()
    }
}

pub(super) fn launch_event(task: v1::TaskInfo) -> exec::Event {
    exec::Event {
        r#type: Some(exec::event::Type::Launch as i32),
        launch: Some(exec::event::Launch { task }),
        ..Default::default()
    }
}
