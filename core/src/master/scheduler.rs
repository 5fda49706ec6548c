//! The v1 scheduler API's calls (reference/mesos-contract.md §3.2), after HTTP decoding.

use std::collections::BTreeSet;
use std::time::Duration;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::scheduler as sched;

use super::framework::{Connection, Framework, framework_roles};
use super::task::TaskRecord;
use super::validation::{CallError, FrameworkCall, SchedulerCall, bad, validate_call};
use super::{ConnId, Effect, MAX_REFUSE, Master, Time};
use crate::common::id::{AgentId, FrameworkId, OfferId};
use crate::resources::Resources;
use crate::security::Principal;

/// Why the offers of an ACCEPT are invalid (Mesos's `validation::offer`, with its texts):
/// its tasks end TASK_DROPPED (or TASK_LOST) with this message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OfferError {
    #[error("No offers specified")]
    NoOffers,
    #[error("Duplicate offer {0} in offer list")]
    Duplicate(String),
    #[error("Offer {0} is no longer valid")]
    NoLongerValid(String),
    #[error("Offer {offer} has invalid framework {actual} while framework {expected} is expected")]
    OtherFramework {
        offer: String,
        actual: String,
        expected: String,
    },
    #[error(
        "Aggregated offers must belong to one single agent but offer {offer} uses agent {agent} and agent {other}"
    )]
    SeveralAgents {
        offer: String,
        agent: String,
        other: String,
    },
}

/// How an accepted non-SUBSCRIBE call is answered.
#[derive(Clone, Debug, PartialEq)]
pub enum CallOk {
    /// `202 Accepted`, empty body (most calls).
    Accepted,
    /// `200 OK`, empty body (UPDATE_FRAMEWORK).
    Ok,
}

/// The duration of the offer filter a DECLINE or ACCEPT installs (reference §8.7): default
/// 5 s, at least the allocation interval, at most a year; zero means no filter. As Mesos's
/// allocator (`HierarchicalAllocatorProcess::recoverResources`): above 365 days (infinity
/// included) is 365 days; negative, or what `Duration::create` refuses (NaN), is the
/// default. Nothing a framework sends here can overflow a deadline.
pub fn refuse_duration(
    filters: Option<&v1::Filters>,
    allocation_interval: Duration,
) -> Option<Duration> {
    let seconds = filters
        .and_then(|f| f.refuse_seconds)
        .unwrap_or(super::DEFAULT_REFUSE.as_secs_f64());
    let refuse = if seconds > MAX_REFUSE.as_secs_f64() {
        MAX_REFUSE
    } else {
        let seconds = if seconds < 0.0 || crate::duration::seconds_to_nanos(seconds).is_err() {
            super::DEFAULT_REFUSE.as_secs_f64()
        } else {
            seconds
        };
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(MAX_REFUSE)
            .min(MAX_REFUSE)
    };
    if refuse.is_zero() {
        return None;
    }
    Some(refuse.max(allocation_interval))
}

/// What a SUBSCRIBE answered the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribed {
    /// The stream's `Mesos-Stream-Id`.
    pub stream_id: String,
    /// The framework now subscribed on the connection; `None` when the subscription was
    /// answered with an ERROR event and closed (a removed framework's id).
    pub framework_id: Option<String>,
}

impl Master {
    /// SUBSCRIBE on connection `conn`: registers a new framework, or fails one over to this
    /// connection. Returns the new `Mesos-Stream-Id`; SUBSCRIBED (or ERROR) goes out as an
    /// effect on `conn`.
    pub fn subscribe(
        &mut self,
        now: Time,
        conn: ConnId,
        call: sched::Call,
    ) -> Result<String, CallError> {
        self.subscribe_on(now, conn, call).map(|s| s.stream_id)
    }

    /// SUBSCRIBE on connection `conn`, answering which framework now owns the stream, so
    /// that the runtime need not look for it; unauthenticated.
    pub fn subscribe_on(
        &mut self,
        now: Time,
        conn: ConnId,
        call: sched::Call,
    ) -> Result<Subscribed, CallError> {
        self.subscribe_as(now, conn, call, None)
    }

    /// SUBSCRIBE on connection `conn` from `principal` (`None`: the request was not
    /// authenticated, master/http/authn.rs). Mesos's rules (`validation::scheduler::call::validate`,
    /// `Master::Http::scheduler`, `validation::framework::validateUpdate`):
    ///
    /// - an authenticated principal must equal `FrameworkInfo.principal` when that is set
    ///   (`400 Authenticated principal 'p' does not match principal 'q' set in
    ///   `FrameworkInfo``), and fills it when it is not;
    /// - a resubscription cannot change `FrameworkInfo.principal`, authenticated or not
    ///   (ERROR event `Changing framework's principal is not allowed.`, stream closed,
    ///   nothing changed);
    /// - beyond Mesos: a framework whose subscription was authenticated can be resubscribed
    ///   only by a request authenticated as the same principal, whichever flag guarded the
    ///   request (master/http/authn.rs); otherwise the same ERROR. Without authentication a
    ///   principal is only a claim in `FrameworkInfo`, and Mesos's rule is all there is.
    pub fn subscribe_as(
        &mut self,
        now: Time,
        conn: ConnId,
        call: sched::Call,
        principal: Option<Principal>,
    ) -> Result<Subscribed, CallError> {
        let SchedulerCall::Subscribe(subscribe) = validate_call(call)? else {
            return Err(bad("Expecting 'subscribe' to be present"));
        };
        let sched::call::Subscribe {
            framework_info: mut info,
            suppressed_roles,
            ..
        } = *subscribe;
        if let Some(p) = &principal {
            match &info.principal {
                Some(claimed) if claimed != p.as_str() => {
                    return Err(bad(format!(
                        "Authenticated principal '{p}' does not match principal '{claimed}' set \
                         in `FrameworkInfo`"
                    )));
                }
                Some(_) => {}
                None => {
                    tracing::warn!(%p, "Setting 'principal' in FrameworkInfo because the framework authenticated with that principal but did not set it in FrameworkInfo");
                    info.principal = Some(p.as_str().to_string());
                }
            }
        }
        let requested_id = self.validate_framework_info(&info)?;
        let suppressed: BTreeSet<String> = suppressed_roles.into_iter().collect();
        let roles = framework_roles(&info);
        if let Some(role) = suppressed.iter().find(|r| !roles.contains(*r)) {
            return Err(bad(format!(
                "Suppressed role '{role}' is not contained in the list of roles"
            )));
        }
        let stream_id = uuid::Uuid::new_v4().to_string();
        let connection = Connection {
            conn,
            stream_id: stream_id.clone(),
        };
        if let Some(message) = self.register_denied(&info) {
            // Mesos's `Master::_subscribe`: an ERROR event on the stream, which then closes;
            // nothing of the framework is kept.
            tracing::info!(name = %info.name, "Refusing subscription of framework: {message}");
            self.emit_framework(conn, error_event(&message));
            self.emit(Effect::CloseFramework { conn });
            return Ok(Subscribed {
                stream_id,
                framework_id: None,
            });
        }

        if let Some(id) = &requested_id
            && self.completed_frameworks.iter().any(|f| &f.id == id)
        {
            // Reference §8.4: a removed framework cannot come back under its id.
            self.emit_framework(conn, error_event("Framework has been removed"));
            self.emit(Effect::CloseFramework { conn });
            return Ok(Subscribed {
                stream_id,
                framework_id: None,
            });
        }

        if let Some(id) = &requested_id
            && let Some(framework) = self.frameworks.get(id)
        {
            let refusal = if info.principal != framework.info.principal {
                // Mesos logs both principals but does not tell the client the old one.
                tracing::warn!(framework_id = %id, old = ?framework.info.principal, new = ?info.principal, "framework tried to resubscribe with a new principal");
                Some("Changing framework's principal is not allowed.")
            } else if framework.principal.is_some() && framework.principal != principal {
                tracing::warn!(framework_id = %id, "an unauthenticated request tried to resubscribe a framework that subscribed authenticated");
                Some(
                    "Framework subscribed with an authenticated principal; it can only be \
                     resubscribed by that principal",
                )
            } else {
                None
            };
            if let Some(message) = refusal {
                self.emit_framework(conn, error_event(message));
                self.emit(Effect::CloseFramework { conn });
                return Ok(Subscribed {
                    stream_id,
                    framework_id: None,
                });
            }
        }

        let framework_id = match requested_id {
            Some(id) if self.frameworks.contains_key(&id) => {
                self.failover_framework(now, &id, info, suppressed, connection, principal);
                id
            }
            requested => {
                // A new framework, or one whose id this master has never seen: after a master
                // failover every framework comes back this way, and Spark's dispatcher chooses
                // its drivers' ids, so Mesos accepts the id as a re-registration.
                let id = match requested {
                    Some(id) => id,
                    None => self.new_framework_id(),
                };
                info.id = Some(id.to_proto());
                let mut framework = Framework::new(id.clone(), info, now.wall);
                framework.principal = principal;
                framework.suppressed_roles = suppressed;
                framework.connection = Some(connection);
                self.allocator.add_framework(
                    &id,
                    framework.allocator_spec(),
                    &Default::default(),
                    true,
                );
                self.emit_operator(|_| {
                    operator_framework_event(v1::master::event::Type::FrameworkAdded, &framework)
                });
                tracing::info!(framework_id = %id, name = %framework.info.name, "framework subscribed");
                self.frameworks.insert(id.clone(), framework);
                id
            }
        };

        let subscribed = sched::Event {
            r#type: Some(sched::event::Type::Subscribed as i32),
            subscribed: Some(sched::event::Subscribed {
                framework_id: framework_id.to_proto(),
                heartbeat_interval_seconds: Some(self.config.heartbeat_interval.as_secs_f64()),
                master_info: Some(self.info.clone()),
            }),
            ..Default::default()
        };
        self.emit_framework(conn, subscribed);
        self.start_heartbeats(now, &framework_id, conn);
        self.request_allocation();
        Ok(Subscribed {
            stream_id,
            framework_id: Some(framework_id.to_string()),
        })
    }

    /// A known framework resubscribes (scheduler failover or reconnect): the old stream gets
    /// an ERROR and is closed, the framework keeps its tasks.
    fn failover_framework(
        &mut self,
        now: Time,
        id: &str,
        mut info: v1::FrameworkInfo,
        suppressed: BTreeSet<String>,
        connection: Connection,
        principal: Option<Principal>,
    ) {
        let old = self
            .frameworks
            .get_mut(id)
            .and_then(|f| f.connection.take());
        if let Some(old) = old {
            let conn = old.conn;
            self.emit_framework(conn, error_event("Framework failed over"));
            self.emit(Effect::CloseFramework { conn });
        }
        let Some(framework) = self.frameworks.get_mut(id) else {
            return;
        };
        // On resubscription `user` and `checkpoint` changes are ignored (reference §3.2).
        info.user = framework.info.user.clone();
        info.checkpoint = framework.info.checkpoint;
        info.id = Some(v1::FrameworkId {
            value: id.to_string(),
        });
        framework.info = info;
        // `subscribe_as` let only the same principal resubscribe one that had one.
        framework.principal = principal;
        framework.suppressed_roles = suppressed;
        framework.connection = Some(connection);
        framework.active = true;
        framework.recovered = false;
        framework.failover_deadline = None;
        framework.reregistered_time = Some(now.wall);
        framework.unregistered_time = None;
        let spec = framework.allocator_spec();
        tracing::info!(framework_id = %id, "framework resubscribed");
        self.allocator.update_framework(id, spec);
        self.allocator.activate_framework(id);
        self.emit_operator(|m| {
            operator_framework_event(v1::master::event::Type::FrameworkUpdated, &m.frameworks[id])
        });
    }

    /// `register_frameworks` (Mesos's REGISTER_FRAMEWORK on the framework's principal, every
    /// role it asks for): `None` when allowed, else Mesos's refusal
    /// (`checkSubscribeAuthorization`, `operator<<(ActionObject)`).
    fn register_denied(&self, info: &v1::FrameworkInfo) -> Option<String> {
        let roles: Vec<String> = framework_roles(info).into_iter().collect();
        let principal = info.principal.as_deref();
        if self
            .config
            .authorizer
            .may_register_framework(principal, &roles)
        {
            return None;
        }
        Some(format!(
            "Not authorized to register framework {} with roles {{ {} }}",
            info.id
                .as_ref()
                .map(|i| i.value.as_str())
                .unwrap_or_default(),
            roles.join(", ")
        ))
    }

    /// Mesos's `validation::framework::validate`; returns the framework's id (if it names
    /// one), validated.
    fn validate_framework_info(
        &self,
        info: &v1::FrameworkInfo,
    ) -> Result<Option<FrameworkId>, CallError> {
        use v1::framework_info::capability::Type as Cap;
        let multi_role = crate::common::protocol::framework_has_capability(info, Cap::MultiRole);
        if multi_role && info.role.is_some() {
            return Err(bad(
                "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable",
            ));
        }
        if !multi_role && !info.roles.is_empty() {
            return Err(bad(
                "'FrameworkInfo.roles' is set but the framework is not MULTI_ROLE capable",
            ));
        }
        let roles = framework_roles(info);
        let mut seen = BTreeSet::new();
        for role in &info.roles {
            if !seen.insert(role) {
                return Err(bad(format!(
                    "'FrameworkInfo.roles' contains duplicate role '{role}'"
                )));
            }
        }
        for role in &roles {
            crate::resources::validate_role(role)
                .map_err(|e| bad(format!("Role '{role}' is invalid: {e}")))?;
            if let Some(whitelist) = &self.config.roles
                && role != "*"
                && !whitelist.contains(role)
            {
                return Err(bad(format!(
                    "Role '{role}' is not present in the master's --roles"
                )));
            }
        }
        let id = info
            .id
            .as_ref()
            .map(|id| {
                // Mesos's master prefixes `validateID`'s message per field.
                FrameworkId::new(id.value.as_str())
                    .map_err(|e| bad(format!("framework has an invalid ID: {e}")))
            })
            .transpose()?;
        // Mesos's `validateFailoverTimeout` (master/validation.cpp): what stout's
        // `Duration::create` refuses is refused here, before it reaches a deadline.
        if let Some(timeout) = info.failover_timeout
            && crate::duration::seconds_to_nanos(timeout).is_err()
        {
            return Err(bad(format!(
                "The framework failover_timeout ({}) is invalid",
                crate::duration::format_g(timeout, 6)
            )));
        }
        Ok(id)
    }

    /// Every call but SUBSCRIBE, from the subscription identified by `stream_id`;
    /// unauthenticated.
    pub fn call(
        &mut self,
        now: Time,
        stream_id: Option<&str>,
        call: sched::Call,
    ) -> Result<CallOk, CallError> {
        self.call_as(now, stream_id, call, None)
    }

    /// Every call but SUBSCRIBE from `principal` (`None`: not authenticated). As Mesos's
    /// `Master::Http::scheduler`, an authenticated principal must be the framework's
    /// (`400 Authenticated principal 'p' does not match principal 'q' set in
    /// `FrameworkInfo``); beyond Mesos, a framework that subscribed authenticated takes
    /// calls only authenticated as its principal (`403`), whichever flag guarded the request.
    pub fn call_as(
        &mut self,
        now: Time,
        stream_id: Option<&str>,
        call: sched::Call,
        principal: Option<Principal>,
    ) -> Result<CallOk, CallError> {
        let (framework_id, call) = match validate_call(call)? {
            SchedulerCall::Subscribe(_) => {
                return Err(bad("SUBSCRIBE must be sent on its own connection"));
            }
            SchedulerCall::Framework { framework_id, call } => (framework_id, call),
        };
        let Some(framework) = self.frameworks.get(framework_id.as_str()) else {
            return Err(bad("Framework cannot be found"));
        };
        if let Some(p) = &principal
            && framework.info.principal.as_deref() != Some(p.as_str())
        {
            return Err(bad(format!(
                "Authenticated principal '{p}' does not match principal '{}' set in \
                 `FrameworkInfo`",
                framework.info.principal.as_deref().unwrap_or_default()
            )));
        }
        if framework.principal.is_some() && principal.is_none() {
            return Err(CallError::Forbidden(
                "Framework subscribed with an authenticated principal; its calls must be \
                 authenticated as that principal"
                    .to_string(),
            ));
        }
        let Some(connection) = &framework.connection else {
            return Err(CallError::Forbidden(
                "Framework is not subscribed".to_string(),
            ));
        };
        let Some(stream_id) = stream_id else {
            return Err(bad(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
            ));
        };
        if stream_id != connection.stream_id {
            return Err(bad(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently \
                 associated with framework ID {framework_id}"
            )));
        }
        let fid = framework_id.as_str();
        match call {
            FrameworkCall::Teardown => {
                tracing::info!(framework_id = %fid, "framework teardown");
                self.remove_framework(now, fid);
            }
            FrameworkCall::Accept(accept) => self.accept(now, fid, accept),
            FrameworkCall::Decline(decline) => self.decline(now, fid, decline),
            FrameworkCall::Revive { roles } => {
                self.counters.messages_revive_offers += 1;
                self.check_roles(fid, &roles)?;
                if let Some(framework) = self.frameworks.get_mut(fid) {
                    if roles.is_empty() {
                        framework.suppressed_roles.clear();
                    } else {
                        for role in &roles {
                            framework.suppressed_roles.remove(role);
                        }
                    }
                }
                self.allocator.revive(fid, &roles);
                self.request_allocation();
            }
            FrameworkCall::Suppress { roles } => {
                self.counters.messages_suppress_offers += 1;
                self.check_roles(fid, &roles)?;
                if let Some(framework) = self.frameworks.get_mut(fid) {
                    let all = framework.roles();
                    let target: Vec<String> = if roles.is_empty() {
                        all.into_iter().collect()
                    } else {
                        roles.clone()
                    };
                    framework.suppressed_roles.extend(target);
                }
                self.allocator.suppress(fid, &roles);
            }
            FrameworkCall::Kill(kill) => self.kill(now, fid, kill),
            FrameworkCall::Shutdown(shutdown) => {
                self.send_to_agent(
                    &shutdown.agent_id.value,
                    wire::master_message::Message::ShutdownExecutor(wire::ShutdownExecutor {
                        framework_id: v1::FrameworkId {
                            value: fid.to_string(),
                        },
                        executor_id: shutdown.executor_id,
                    }),
                );
            }
            FrameworkCall::Acknowledge(ack) => self.acknowledge(now, fid, ack)?,
            FrameworkCall::Reconcile(reconcile) => {
                self.counters.messages_reconcile_tasks += 1;
                self.reconcile(now, fid, reconcile);
            }
            FrameworkCall::Message(message) => {
                if self
                    .agents
                    .get(&message.agent_id.value)
                    .is_some_and(|a| a.conn.is_some())
                {
                    self.counters.valid_framework_to_executor_messages += 1;
                    self.send_to_agent(
                        &message.agent_id.value,
                        wire::master_message::Message::FrameworkToExecutor(
                            wire::FrameworkToExecutor {
                                framework_id: v1::FrameworkId {
                                    value: fid.to_string(),
                                },
                                executor_id: message.executor_id,
                                data: message.data,
                            },
                        ),
                    );
                } else {
                    self.counters.invalid_framework_to_executor_messages += 1;
                }
            }
            // The built-in allocator ignores resource requests, as Mesos's does.
            FrameworkCall::Request => {}
            FrameworkCall::UpdateFramework(update) => {
                self.update_framework(now, fid, *update)?;
                return Ok(CallOk::Ok);
            }
            // Mesos's `acceptInverseOffers` / `declineInverseOffers` (`inverse.rs`).
            FrameworkCall::AcceptInverseOffers(a) => {
                self.answer_inverse_offers(now, fid, &a.inverse_offer_ids, a.filters.as_ref(), true)
            }
            FrameworkCall::DeclineInverseOffers(d) => self.answer_inverse_offers(
                now,
                fid,
                &d.inverse_offer_ids,
                d.filters.as_ref(),
                false,
            ),
            FrameworkCall::AcknowledgeOperationStatus(ack) => {
                self.acknowledge_operation_status(fid, ack)
            }
            FrameworkCall::ReconcileOperations(reconcile) => {
                self.reconcile_operations(fid, reconcile)
            }
            FrameworkCall::Unknown => {
                return Err(CallError::NotImplemented(
                    "Received an unknown call type".to_string(),
                ));
            }
        }
        Ok(CallOk::Accepted)
    }

    fn check_roles(&self, framework_id: &str, roles: &[String]) -> Result<(), CallError> {
        let subscribed = self
            .frameworks
            .get(framework_id)
            .map(|f| f.roles())
            .unwrap_or_default();
        match roles.iter().find(|r| !subscribed.contains(*r)) {
            Some(role) => Err(bad(format!(
                "Role '{role}' is not subscribed by the framework"
            ))),
            None => Ok(()),
        }
    }

    fn decline(&mut self, now: Time, framework_id: &str, decline: sched::call::Decline) {
        self.counters.messages_decline_offers += 1;
        let refuse = refuse_duration(decline.filters.as_ref(), self.config.allocation_interval);
        for offer_id in decline.offer_ids {
            let belongs = self
                .offers
                .get(&offer_id.value)
                .is_some_and(|o| o.offer.framework_id.value == framework_id);
            if !belongs {
                tracing::warn!(framework_id, offer_id = %offer_id.value, "ignoring decline of an invalid offer");
                continue;
            }
            if let Some(offer) = self.take_offer(&offer_id.value) {
                let agent_id = offer.offer.agent_id.value.clone();
                self.allocator.recover_resources(
                    now.mono,
                    framework_id,
                    &agent_id,
                    &offer.resources,
                    refuse,
                );
            }
        }
        // As Mesos's allocator (`recoverResources` allocates nothing, MESOS-3078): declined
        // resources wait for the next batch allocation, so a framework declining with
        // `refuse_seconds: 0` gets them back once per `--allocation_interval`, not in a
        // storm of offers as fast as it can decline.
    }

    fn acknowledge(
        &mut self,
        now: Time,
        framework_id: &str,
        ack: sched::call::Acknowledge,
    ) -> Result<(), CallError> {
        if uuid::Uuid::from_slice(&ack.uuid).is_err() {
            return Err(bad("Failed to parse UUID: not a 16 byte UUID"));
        }
        if self
            .agents
            .get(&ack.agent_id.value)
            .is_none_or(|a| a.conn.is_none())
        {
            // The agent resends the update once it is back; the framework acknowledges again.
            self.counters.invalid_status_update_acknowledgements += 1;
            return Ok(());
        }
        self.counters.valid_status_update_acknowledgements += 1;
        // Every acknowledgement comes here: the completed tasks are searched only for a
        // task whose end awaits one.
        if let Some(framework) = self.frameworks.get_mut(framework_id)
            && framework
                .unacknowledged_ends
                .contains(ack.task_id.value.as_str())
        {
            let acknowledged_end = framework
                .completed_tasks
                .iter()
                .rev()
                .find(|t| t.task_id() == ack.task_id)
                .is_some_and(|t| t.status_update_uuid.as_deref() == Some(ack.uuid.as_slice()));
            if acknowledged_end {
                framework
                    .unacknowledged_ends
                    .remove(ack.task_id.value.as_str());
            }
        }
        let agent_id = ack.agent_id.value;
        self.send_to_agent(
            &agent_id,
            wire::master_message::Message::Acknowledgement(wire::StatusUpdateAcknowledgement {
                framework_id: v1::FrameworkId {
                    value: framework_id.to_string(),
                },
                task_id: ack.task_id.clone(),
                uuid: ack.uuid.clone(),
            }),
        );
        self.drain_acknowledged(now, &agent_id, framework_id, &ack.task_id.value, &ack.uuid);
        Ok(())
    }

    fn kill(&mut self, now: Time, framework_id: &str, kill: sched::call::Kill) {
        self.counters.messages_kill_task += 1;
        // The task's key as the framework holds it, for the agent's books.
        let task = self.frameworks.get(framework_id).and_then(|f| {
            let (task_id, task) = f.tasks.get_key_value(&kill.task_id.value)?;
            Some(((f.id.clone(), task_id.clone()), task.agent_id().value))
        });
        match task {
            // The agent is away (restarting, partitioned): the kill waits for it to come back.
            Some((key, agent_id))
                if self.agents.get(&agent_id).is_some_and(|a| a.conn.is_none()) =>
            {
                tracing::info!(%framework_id, task_id = %kill.task_id.value, %agent_id, "agent disconnected: the kill is sent when it reregisters");
                if let Some(agent) = self.agents.get_mut(&agent_id) {
                    agent.pending_kills.insert(key, kill.kill_policy);
                }
            }
            Some((_, agent_id)) => self.send_to_agent(
                &agent_id,
                wire::master_message::Message::KillTask(wire::KillTask {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    task_id: kill.task_id,
                    kill_policy: kill.kill_policy,
                }),
            ),
            // Mesos answers a kill of an unknown task with that task's reconciliation.
            None => {
                let task = sched::call::reconcile::Task {
                    task_id: kill.task_id,
                    agent_id: kill.agent_id,
                };
                self.reconcile(
                    now,
                    framework_id,
                    sched::call::Reconcile { tasks: vec![task] },
                );
            }
        }
    }

    /// Reference §8.3.
    pub(super) fn reconcile(
        &mut self,
        now: Time,
        framework_id: &str,
        reconcile: sched::call::Reconcile,
    ) {
        use v1::TaskState as S;
        use v1::task_status::Reason;
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let partition_aware = framework.partition_aware();
        let mut statuses = Vec::new();
        if reconcile.tasks.is_empty() {
            for task in framework.tasks.values() {
                statuses.push(reconciled_status(now, task));
            }
            for task in framework.unacknowledged_completed() {
                statuses.push(reconciled_status(now, task));
            }
            for task in framework.unreachable_tasks.values() {
                statuses.push(reconciled_status(now, task));
            }
        } else {
            for wanted in &reconcile.tasks {
                let id = &wanted.task_id.value;
                if let Some(task) = framework
                    .tasks
                    .get(id)
                    .or_else(|| framework.unreachable_tasks.get(id))
                {
                    statuses.push(reconciled_status(now, task));
                    continue;
                }
                // Ended here (e.g. reported by an agent that reregistered after a master
                // failover): its terminal state.
                if let Some(task) = framework
                    .completed_tasks
                    .iter()
                    .rev()
                    .find(|t| &t.task_id().value == id)
                {
                    statuses.push(reconciled_status(now, task));
                    continue;
                }
                let agent_id = wanted.agent_id.as_ref();
                // Reference §8.3: while the agent (or, without an agent id, any agent) is
                // recovered but not yet reregistered, the master cannot know: no reply.
                let pending = match agent_id {
                    Some(a) => self.recovered_agents.contains_key(&a.value),
                    None => !self.recovered_agents.is_empty(),
                };
                if pending {
                    continue;
                }
                let (state, pa_state, message) = match agent_id.map(|a| a.value.as_str()) {
                    Some(a) if self.gone_agents.contains_key(a) => (
                        S::TaskLost,
                        S::TaskGoneByOperator,
                        "Task is gone: its agent was marked gone",
                    ),
                    Some(a) if self.agents.contains_key(a) => {
                        (S::TaskLost, S::TaskGone, "Task is unknown to the agent")
                    }
                    Some(a) if self.unreachable_agents.contains_key(a) => {
                        (S::TaskLost, S::TaskUnreachable, "Task is unreachable")
                    }
                    _ => (
                        S::TaskLost,
                        S::TaskUnknown,
                        "Reconciliation: Task is unknown",
                    ),
                };
                let state = if partition_aware { pa_state } else { state };
                let mut status = super::master_status(
                    now,
                    &wanted.task_id,
                    agent_id,
                    state,
                    Reason::Reconciliation,
                    message,
                );
                if state == S::TaskUnreachable
                    && let Some(a) = self
                        .unreachable_agents
                        .get(&agent_id.map(|a| a.value.clone()).unwrap_or_default())
                {
                    status.unreachable_time = Some(v1::TimeInfo {
                        nanoseconds: (a.since * 1e9) as i64,
                    });
                }
                statuses.push(status);
            }
        }
        for status in statuses {
            let event = super::update_event(status);
            self.send_to_framework(framework_id, event);
        }
    }

    fn update_framework(
        &mut self,
        now: Time,
        framework_id: &str,
        update: sched::call::UpdateFramework,
    ) -> Result<(), CallError> {
        let mut info = update.framework_info;
        match &info.id {
            Some(id) if id.value == framework_id => {}
            _ => return Err(bad("'framework_info.id' must match the framework's id")),
        }
        self.validate_framework_info(&info)?;
        let framework = &self.frameworks[framework_id];
        // Reference §3.2: `principal`, `user` and `checkpoint` cannot change.
        if info.principal != framework.info.principal {
            return Err(bad("Updating 'FrameworkInfo.principal' is unsupported"));
        }
        if info.user != framework.info.user {
            return Err(bad("Updating 'FrameworkInfo.user' is unsupported"));
        }
        if info.checkpoint.unwrap_or(false) != framework.info.checkpoint.unwrap_or(false) {
            return Err(bad("Updating 'FrameworkInfo.checkpoint' is unsupported"));
        }
        // Mesos's `Master::updateFramework`: 403 when the new roles are not allowed.
        if let Some(message) = self.register_denied(&info) {
            return Err(CallError::Forbidden(message));
        }
        let roles = framework_roles(&info);
        let suppressed: BTreeSet<String> = update.suppressed_roles.into_iter().collect();
        if let Some(role) = suppressed.iter().find(|r| !roles.contains(*r)) {
            return Err(bad(format!(
                "Suppressed role '{role}' is not contained in the list of roles"
            )));
        }
        let removed_roles: BTreeSet<String> =
            framework.roles().difference(&roles).cloned().collect();
        let stale_offers: Vec<OfferId> = framework
            .offers
            .iter()
            .filter(|id| {
                self.offers
                    .get(*id)
                    .is_some_and(|o| removed_roles.contains(&o.role))
            })
            .cloned()
            .collect();
        for offer_id in stale_offers {
            self.rescind_offer(now, &offer_id);
        }
        info.id = Some(v1::FrameworkId {
            value: framework_id.to_string(),
        });
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("checked above");
        framework.info = info.clone();
        framework.suppressed_roles = suppressed;
        let spec = framework.allocator_spec();
        let agents: Vec<AgentId> = framework.executors.keys().cloned().collect();
        self.allocator.update_framework(framework_id, spec);
        for agent_id in agents {
            self.send_to_agent(
                &agent_id,
                wire::master_message::Message::UpdateFramework(wire::UpdateFramework {
                    framework_info: info.clone(),
                }),
            );
        }
        self.emit_operator(|m| {
            operator_framework_event(
                v1::master::event::Type::FrameworkUpdated,
                &m.frameworks[framework_id],
            )
        });
        self.request_allocation();
        Ok(())
    }

    /// Validates and applies an ACCEPT: operations in order, then the unused rest goes back
    /// to the allocator under the call's filter.
    fn accept(&mut self, now: Time, framework_id: &str, accept: sched::call::Accept) {
        self.counters.messages_launch_tasks += 1;
        let refuse = refuse_duration(accept.filters.as_ref(), self.config.allocation_interval);
        let offer_error = self.validate_offers(framework_id, &accept.offer_ids).err();
        // The offers are used up whether or not the call is valid.
        let mut taken = Vec::new();
        for offer_id in &accept.offer_ids {
            let ours = self
                .offers
                .get(&offer_id.value)
                .is_some_and(|o| o.offer.framework_id.value == framework_id);
            if ours && let Some(offer) = self.take_offer(&offer_id.value) {
                taken.push(offer);
            }
        }
        if let Some(error) = offer_error {
            tracing::warn!(framework_id, %error, "ACCEPT with invalid offers");
            self.drop_launches(now, framework_id, &accept.operations, &error.to_string());
            self.drop_operations_of_invalid_offers(
                framework_id,
                &accept.operations,
                &error.to_string(),
            );
            // Each offer's resources go back to its own agent (invalid calls may name offers
            // of several agents).
            for offer in taken {
                let agent_id = offer.offer.agent_id.value.clone();
                self.allocator.recover_resources(
                    now.mono,
                    framework_id,
                    &agent_id,
                    &offer.resources,
                    None,
                );
            }
            self.request_allocation();
            return;
        }
        for offer in &taken {
            self.histograms
                .offer_accept
                .observe(now.mono.saturating_duration_since(offer.created));
        }
        let agent_id = taken.first().map(|o| o.offer.agent_id.value.clone());
        let mut available = Resources::default();
        for offer in &taken {
            available += &offer.resources;
        }
        let Some(agent_id) = agent_id else {
            return;
        };
        for operation in accept.operations {
            self.apply_operation(now, framework_id, &agent_id, &mut available, operation);
        }
        if !available.is_empty() {
            self.allocator
                .recover_resources(now.mono, framework_id, &agent_id, &available, refuse);
        }
        self.request_allocation();
    }

    /// Offer validation (Mesos's `validation::offer`): every id names a live offer of this
    /// framework, once, all on one agent.
    fn validate_offers(
        &self,
        framework_id: &str,
        offer_ids: &[v1::OfferId],
    ) -> Result<(), OfferError> {
        if offer_ids.is_empty() {
            return Err(OfferError::NoOffers);
        }
        let mut seen = BTreeSet::new();
        let mut agent: Option<&str> = None;
        for id in offer_ids {
            if !seen.insert(&id.value) {
                return Err(OfferError::Duplicate(id.value.clone()));
            }
            let Some(offer) = self.offers.get(&id.value) else {
                return Err(OfferError::NoLongerValid(id.value.clone()));
            };
            if offer.offer.framework_id.value != framework_id {
                return Err(OfferError::OtherFramework {
                    offer: id.value.clone(),
                    actual: offer.offer.framework_id.value.clone(),
                    expected: framework_id.to_string(),
                });
            }
            match agent {
                Some(a) if a != offer.offer.agent_id.value => {
                    return Err(OfferError::SeveralAgents {
                        offer: id.value.clone(),
                        agent: offer.offer.agent_id.value.clone(),
                        other: a.to_string(),
                    });
                }
                _ => agent = Some(&offer.offer.agent_id.value),
            }
        }
        Ok(())
    }

    /// Tasks of an ACCEPT with invalid offers end TASK_DROPPED (TASK_LOST for frameworks that
    /// are not partition-aware) with REASON_INVALID_OFFERS.
    fn drop_launches(
        &mut self,
        now: Time,
        framework_id: &str,
        operations: &[v1::offer::Operation],
        error: &str,
    ) {
        let state = self.lost_state(framework_id, v1::TaskState::TaskDropped);
        for op in operations {
            let tasks: Vec<&v1::TaskInfo> = op
                .launch
                .iter()
                .flat_map(|l| l.task_infos.iter())
                .chain(
                    op.launch_group
                        .iter()
                        .flat_map(|g| g.task_group.tasks.iter()),
                )
                .collect();
            for task in tasks {
                let status = super::master_status(
                    now,
                    &task.task_id,
                    Some(&task.agent_id),
                    state,
                    v1::task_status::Reason::InvalidOffers,
                    &format!("Task launched with invalid offers: {error}"),
                );
                self.count_terminal(state);
                let event = super::update_event(status);
                self.send_to_framework(framework_id, event);
            }
        }
    }
}

/// A task's latest state as reconciliation reports it: no uuid, REASON_RECONCILIATION.
fn reconciled_status(now: Time, task: &TaskRecord) -> v1::TaskStatus {
    let head = task.task();
    let mut status = head
        .statuses
        .last()
        .cloned()
        .unwrap_or_else(|| v1::TaskStatus {
            task_id: head.task_id.clone(),
            state: task.state,
            agent_id: Some(head.agent_id.clone()),
            executor_id: head.executor_id.clone(),
            ..Default::default()
        });
    status.state = task.state;
    status.uuid = None;
    status.data = None;
    status.source = Some(v1::task_status::Source::Master as i32);
    status.reason = Some(v1::task_status::Reason::Reconciliation as i32);
    status.message = Some("Reconciliation: Latest task state".to_string());
    status.timestamp = Some(now.wall);
    status.agent_id = Some(head.agent_id);
    status
}

pub(super) fn error_event(message: &str) -> sched::Event {
    sched::Event {
        r#type: Some(sched::event::Type::Error as i32),
        error: Some(sched::event::Error {
            message: message.to_string(),
        }),
        ..Default::default()
    }
}

pub(super) fn operator_framework_event(
    ty: v1::master::event::Type,
    framework: &Framework,
) -> v1::master::Event {
    use v1::master::event;
    let info = super::state::framework_proto(framework);
    let mut e = v1::master::Event {
        r#type: Some(ty as i32),
        ..Default::default()
    };
    match ty {
        event::Type::FrameworkAdded => {
            e.framework_added = Some(event::FrameworkAdded { framework: info })
        }
        event::Type::FrameworkUpdated => {
            e.framework_updated = Some(event::FrameworkUpdated { framework: info })
        }
        _ => {
            e.framework_removed = Some(event::FrameworkRemoved {
                framework_info: framework.info.clone(),
            });
        }
    }
    e
}
