//! The executor driver: Apache's `MesosExecutorDriver` semantics
//! (reference/mesos-contract.md §1.4) over the v1 executor API (§3.3), on
//! [`crate::client::executor::Connection`] (at-least-once status updates, reconnection when
//! the framework checkpoints).
//!
//! As in the scheduler driver, natives enqueue and return; one callback thread delivers
//! [`Event`]s in order; a failed callback aborts the driver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use remesos_proto::v1;
use v1::executor::{self as exec, event};

use super::{Status, StatusCell};
use crate::client::Format;
use crate::client::executor::{Connection, ExecutorEnv, event_type};

/// Callbacks of Apache's `org.apache.mesos.Executor`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Registered {
        executor_info: Box<v1::ExecutorInfo>,
        framework_info: Box<v1::FrameworkInfo>,
        agent_info: Box<v1::AgentInfo>,
    },
    Reregistered(v1::AgentInfo),
    Disconnected,
    LaunchTask(Box<v1::TaskInfo>),
    KillTask(v1::TaskId),
    FrameworkMessage(Vec<u8>),
    Shutdown,
    Error(String),
}

/// What the executor implements (the JNI layer: calls into the Java `Executor`).
pub trait Executor: Send + 'static {
    fn thread_started(&mut self) {}
    fn thread_stopping(&mut self) {}
    /// `Err`: the callback failed (a Java exception); the driver aborts.
    fn deliver(&mut self, event: Event) -> Result<(), String>;
}

fn is_staging(status: &v1::TaskStatus) -> bool {
    status.state == v1::TaskState::TaskStaging as i32
}

enum Command {
    Update(Box<v1::TaskStatus>),
    Message(Vec<u8>),
    Stop(std::sync::mpsc::Sender<()>),
    Abort,
}

struct Unstarted {
    commands: mpsc::UnboundedReceiver<Command>,
    executor: Box<dyn Executor>,
}

/// The handle behind a Java `MesosExecutorDriver` (`__driver`).
pub struct ExecutorDriver {
    shared: Arc<StatusCell>,
    commands: mpsc::UnboundedSender<Command>,
    unstarted: Mutex<Option<Unstarted>>,
    /// The process environment, read at `start` as Apache's driver does.
    vars: Vec<(String, String)>,
}

/// How long `stop` waits for queued updates to go out.
const STOP_WAIT: Duration = Duration::from_secs(5);

impl ExecutorDriver {
    pub fn new(executor: Box<dyn Executor>, vars: Vec<(String, String)>) -> ExecutorDriver {
        // Unbounded: the senders are the framework's own calls through the Java API
        // (sendStatusUpdate, sendFrameworkMessage, stop, abort), which must not block — a
        // callback that calls the driver runs on the thread the actor delivers through, so
        // waiting for room could deadlock. Apache's driver queues them without bound too
        // (libprocess `dispatch`). The actor drains it continuously; the queue holds what
        // the framework sent faster than the agent takes it.
        let (tx, rx) = mpsc::unbounded_channel();
        ExecutorDriver {
            shared: Arc::new(StatusCell::new()),
            commands: tx,
            unstarted: Mutex::new(Some(Unstarted {
                commands: rx,
                executor,
            })),
            vars,
        }
    }

    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Reads the executor environment and connects to the agent. A bad environment is an
    /// error (Apache's driver exits the process with the message; we let Java see it).
    pub fn start(&self) -> Result<Status, String> {
        if self.status() != Status::NotStarted {
            return Ok(self.status());
        }
        let env = ExecutorEnv::from_env(self.vars.iter().map(|(k, v)| (k, v)))
            .map_err(|e| e.to_string())?;
        let unstarted = self
            .unstarted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(unstarted) = unstarted else {
            return Ok(self.status());
        };
        if self
            .shared
            .transition(&[Status::NotStarted], Status::Running)
            != Status::NotStarted
        {
            return Ok(self.status());
        }
        // Unbounded (a known gap, DESIGN.md §3): callbacks the JVM has not run yet. It grows
        // while the executor's callbacks are slower than the agent's events, as Apache's
        // driver's libprocess queue does; a bound would have to push back onto the
        // agent's stream instead.
        let (deliveries_tx, deliveries_rx) = std::sync::mpsc::channel::<Event>();
        let shared = self.shared.clone();
        let commands = self.commands.clone();
        let mut executor = unstarted.executor;
        std::thread::Builder::new()
            .name("mesos-executor-callbacks".into())
            .spawn(move || {
                executor.thread_started();
                while let Ok(event) = deliveries_rx.recv() {
                    let is_error = matches!(event, Event::Error(_));
                    if shared.status() != Status::Running && !is_error {
                        continue;
                    }
                    if let Err(e) = executor.deliver(event) {
                        tracing::error!(error = %e, "an executor callback failed; aborting");
                        if shared.transition(&[Status::Running], Status::Aborted) == Status::Running
                        {
                            let _ = commands.send(Command::Abort);
                        }
                    }
                }
                executor.thread_stopping();
            })
            .map_err(|e| format!("cannot start the callback thread: {e}"))?;
        let actor = Actor {
            shared: self.shared.clone(),
            connection: Connection::new(&env, Format::Protobuf),
            env,
            commands: unstarted.commands,
            deliveries: deliveries_tx,
            registered: false,
            launched: Vec::new(),
        };
        super::runtime().spawn(actor.run());
        Ok(Status::Running)
    }

    pub fn stop(&self) -> Status {
        let before = self
            .shared
            .transition(&[Status::Running, Status::Aborted], Status::Stopped);
        if before != Status::Running && before != Status::Aborted {
            return before;
        }
        let (done, wait) = std::sync::mpsc::channel();
        if self.commands.send(Command::Stop(done)).is_ok() {
            let _ = wait.recv_timeout(STOP_WAIT);
        }
        if before == Status::Aborted {
            Status::Aborted
        } else {
            Status::Stopped
        }
    }

    pub fn abort(&self) -> Status {
        let before = self.shared.transition(&[Status::Running], Status::Aborted);
        if before != Status::Running {
            return before;
        }
        let _ = self.commands.send(Command::Abort);
        Status::Aborted
    }

    pub fn join(&self) -> Status {
        self.shared.join()
    }

    /// `sendStatusUpdate`: queued, in order with the executor's other calls. A TASK_STAGING
    /// update shuts the executor down when its turn comes (see [`Actor::refuse_staging`]).
    pub fn send_status_update(&self, status: v1::TaskStatus) -> Status {
        let current = self.status();
        if current == Status::Running {
            let _ = self.commands.send(Command::Update(Box::new(status)));
        }
        current
    }

    pub fn send_framework_message(&self, data: Vec<u8>) -> Status {
        let current = self.status();
        if current == Status::Running {
            let _ = self.commands.send(Command::Message(data));
        }
        current
    }
}

impl Drop for ExecutorDriver {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Abort);
    }
}

struct Actor {
    shared: Arc<StatusCell>,
    env: ExecutorEnv,
    connection: Connection,
    commands: mpsc::UnboundedReceiver<Command>,
    deliveries: std::sync::mpsc::Sender<Event>,
    registered: bool,
    /// Tasks launched whose terminal update was not acknowledged (resent on resubscription).
    launched: Vec<v1::TaskInfo>,
}

enum Flow {
    Continue,
    Exit,
}

impl Actor {
    async fn run(mut self) {
        loop {
            // (Re)subscribe while still answering commands.
            let subscribed = loop {
                let tasks = self.unacknowledged_tasks();
                tokio::select! {
                    result = self.connection.resubscribe(tasks) => break result,
                    command = self.commands.recv() => {
                        match command {
                            None | Some(Command::Stop(_)) | Some(Command::Abort) => return,
                            Some(Command::Update(status)) if is_staging(&status) => {
                                self.refuse_staging();
                                return;
                            }
                            // Kept by the connection and sent with the next subscription.
                            Some(Command::Update(status)) => {
                                let _ = self.connection.update(*status).await;
                            }
                            Some(Command::Message(_)) => {
                                tracing::warn!("dropping a framework message: not connected to the agent");
                            }
                        }
                    }
                }
            };
            match subscribed {
                Ok(s) => {
                    let event = if self.registered {
                        Event::Reregistered(s.agent_info)
                    } else {
                        self.registered = true;
                        Event::Registered {
                            executor_info: Box::new(s.executor_info),
                            framework_info: Box::new(s.framework_info),
                            agent_info: Box::new(s.agent_info),
                        }
                    };
                    let _ = self.deliveries.send(event);
                }
                Err(e) => {
                    // §1.4: without the agent (and no recovery), the executor shuts down.
                    tracing::warn!(error = %e, "cannot (re)connect to the agent; shutting down");
                    self.shut_down();
                    return;
                }
            }
            loop {
                tokio::select! {
                    event = self.connection.next_event() => {
                        match event {
                            Ok(event) => {
                                if let Flow::Exit = self.on_event(event) {
                                    return;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "disconnected from the agent");
                                let _ = self.deliveries.send(Event::Disconnected);
                                if !self.env.checkpoint {
                                    self.shut_down();
                                    return;
                                }
                                break;
                            }
                        }
                    }
                    command = self.commands.recv() => {
                        match command {
                            None | Some(Command::Abort) => return,
                            Some(Command::Stop(done)) => {
                                let _ = done.send(());
                                return;
                            }
                            Some(Command::Update(status)) if is_staging(&status) => {
                                self.refuse_staging();
                                return;
                            }
                            Some(Command::Update(status)) => {
                                if let Err(e) = self.connection.update(*status).await {
                                    tracing::warn!(error = %e, "status update not sent yet");
                                }
                            }
                            Some(Command::Message(data)) => {
                                if let Err(e) = self.connection.message(data).await {
                                    tracing::warn!(error = %e, "framework message not sent");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn unacknowledged_tasks(&self) -> Vec<v1::TaskInfo> {
        let pending: Vec<&v1::TaskId> = self
            .connection
            .unacknowledged_updates()
            .iter()
            .map(|u| &u.status.task_id)
            .collect();
        self.launched
            .iter()
            .filter(|t| pending.contains(&&t.task_id))
            .cloned()
            .collect()
    }

    fn on_event(&mut self, event: exec::Event) -> Flow {
        match event_type(&event) {
            Some(event::Type::Launch) => {
                if let Some(launch) = event.launch {
                    self.launched.push(launch.task.clone());
                    let _ = self
                        .deliveries
                        .send(Event::LaunchTask(Box::new(launch.task)));
                }
            }
            Some(event::Type::LaunchGroup) => {
                if let Some(group) = event.launch_group {
                    for task in group.task_group.tasks {
                        self.launched.push(task.clone());
                        let _ = self.deliveries.send(Event::LaunchTask(Box::new(task)));
                    }
                }
            }
            Some(event::Type::Kill) => {
                if let Some(kill) = event.kill {
                    let _ = self.deliveries.send(Event::KillTask(kill.task_id));
                }
            }
            Some(event::Type::Message) => {
                if let Some(message) = event.message {
                    let _ = self.deliveries.send(Event::FrameworkMessage(message.data));
                }
            }
            Some(event::Type::Error) => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                let _ = self.deliveries.send(Event::Error(message));
            }
            Some(event::Type::Shutdown) => {
                self.shut_down();
                return Flow::Exit;
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged {
                    let still = self
                        .connection
                        .unacknowledged_updates()
                        .iter()
                        .any(|u| u.status.task_id == ack.task_id);
                    if !still {
                        self.launched.retain(|t| t.task_id != ack.task_id);
                    }
                }
            }
            _ => {}
        }
        Flow::Continue
    }

    /// An executor may not send TASK_STAGING. Apache's driver passes it on and Mesos's agent
    /// shuts such an executor down (slave.cpp `statusUpdate`: "Received TASK_STAGING from
    /// executor … which is not allowed. Shutting down the executor"); the v1 executor API
    /// only answers 400 and does nothing more. The driver does here what the agent would
    /// have done, so a driver-based executor ends the same way on remesos: the update never
    /// reaches the scheduler, `shutdown` is called, and the process group is killed after
    /// the grace period unless the executor exits first.
    fn refuse_staging(&mut self) {
        tracing::error!(
            executor_id = %self.env.executor_id.value,
            "the executor sent TASK_STAGING, which is not allowed; shutting the executor down"
        );
        self.shut_down();
    }

    /// Apache's `shutdown()`: the executor's `shutdown` callback, then after the grace
    /// period the executor's process group is killed (`ShutdownProcess`), since the agent
    /// runs each executor in a process group of its own.
    fn shut_down(&mut self) {
        let _ = self.deliveries.send(Event::Shutdown);
        let grace = self.env.shutdown_grace_period;
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            // An executor that stopped its driver and is exiting by itself is left alone.
            if shared.status() == Status::Running {
                tracing::warn!(
                    "executor did not exit within the shutdown grace period; killing its process group"
                );
                // This process's own group, as Apache's ShutdownProcess does.
                let _ = rustix::process::kill_current_process_group(rustix::process::Signal::KILL);
            }
        });
    }
}
