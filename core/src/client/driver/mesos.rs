//! The v1 scheduler library behind Apache's `org.apache.mesos.v1.scheduler.V1Mesos` and
//! `V0Mesos` (Mesos's `src/scheduler/scheduler.cpp`, `include/mesos/v1/scheduler.hpp`):
//! the framework sends v1 `Call`s and receives `connected`, `disconnected` and
//! `received(Event)`, over the same v1 HTTP client ([`crate::client::scheduler`]) the
//! drivers use.
//!
//! ```text
//!  send/reconnect (any Java thread) --Command--> actor (tokio task): detect the master,
//!                                                 SUBSCRIBE when the framework sends it,
//!                                                 then events and calls
//!                                                    | Callback
//!                                                    v
//!                              callback thread (one per instance) --> Callbacks::deliver
//! ```
//!
//! As Mesos's library: `connected` once a master is detected; the framework then sends
//! SUBSCRIBE (its SUBSCRIBED arrives through `received`); calls other than SUBSCRIBE
//! before that are dropped with a warning; a broken stream or a failed SUBSCRIBE is
//! `disconnected`, then `connected` again (after a second) once a master is detected;
//! `reconnect()` forces that cycle. `V0Mesos` (Mesos's adapter over the v0 driver)
//! subscribes by itself with the `FrameworkInfo` given at construction and ignores the
//! framework's SUBSCRIBE calls.

use std::time::Duration;

use tokio::sync::mpsc;

use remesos_proto::v1;
use v1::scheduler as sched;

use crate::client::scheduler::Subscription;
use crate::client::{Credential, Format, Identity};
use crate::zk::MasterDetector;

/// What the framework's `Scheduler` receives, in order, on one callback thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    Connected,
    Disconnected,
    Received(Box<sched::Event>),
}

/// The framework's side (the JNI layer: the Java `Scheduler`).
pub trait Callbacks: Send + 'static {
    /// First thing on the callback thread (the JNI layer attaches it to the JVM).
    fn thread_started(&mut self) {}
    /// Last thing on the callback thread.
    fn thread_stopping(&mut self) {}
    fn deliver(&mut self, callback: Callback);
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `host:port`, `master@host:port`, `zk://...` or `file://...`.
    pub master: String,
    pub credential: Option<Credential>,
    /// `V0Mesos`: subscribe with this on every connection.
    pub framework: Option<v1::FrameworkInfo>,
}

enum Command {
    Send(Box<sched::Call>),
    Reconnect,
}

/// Pause between a disconnection and the next attempt.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// The handle behind a Java `V1Mesos`/`V0Mesos` (`__mesos`). Dropping it (`finalize`)
/// ends the actor and, once its queue is delivered, the callback thread.
pub struct Mesos {
    /// Unbounded, as the drivers' command queues: `send` is called from inside callbacks
    /// and must never wait for the actor (which may be waiting for the callback thread).
    commands: mpsc::UnboundedSender<Command>,
}

impl Mesos {
    /// Validates the master string and starts the actor and the callback thread.
    pub fn start(config: Config, callbacks: Box<dyn Callbacks>) -> Result<Mesos, String> {
        let detector = {
            let _runtime = super::runtime().enter();
            MasterDetector::parse(&config.master)?
        };
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        // Bounded: when the framework's callbacks fall 1024 behind, the actor waits, which
        // stops it reading the event stream; the master then drops the slow stream and the
        // framework resubscribes after `disconnected`, as with Mesos's library.
        let (deliveries_tx, deliveries_rx) = std::sync::mpsc::sync_channel::<Callback>(1024);
        let mut callbacks = callbacks;
        std::thread::Builder::new()
            .name("mesos-v1-scheduler-callbacks".into())
            .spawn(move || {
                callbacks.thread_started();
                while let Ok(callback) = deliveries_rx.recv() {
                    callbacks.deliver(callback);
                }
                callbacks.thread_stopping();
            })
            .map_err(|e| format!("cannot start the callback thread: {e}"))?;
        let actor = Actor {
            identity: Identity::driver(config.credential.clone()),
            framework: config.framework,
            commands: commands_rx,
            deliveries: deliveries_tx,
        };
        super::runtime().spawn(actor.run(detector));
        Ok(Mesos {
            commands: commands_tx,
        })
    }

    pub fn send(&self, call: sched::Call) {
        let _ = self.commands.send(Command::Send(Box::new(call)));
    }

    pub fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }
}

struct Actor {
    identity: Identity,
    framework: Option<v1::FrameworkInfo>,
    commands: mpsc::UnboundedReceiver<Command>,
    deliveries: std::sync::mpsc::SyncSender<Callback>,
}

/// How a connection ended.
enum End {
    /// The handle was dropped: stop.
    Closed,
    /// Disconnected (stream ended, SUBSCRIBE failed, `reconnect()`): try again.
    Disconnected,
}

impl Actor {
    /// Hands a callback to the callback thread; false once that thread is gone.
    async fn deliver(&self, callback: Callback) -> bool {
        let deliveries = self.deliveries.clone();
        // The channel is bounded and blocking: wait for room off the runtime's workers.
        tokio::task::spawn_blocking(move || deliveries.send(callback).is_ok())
            .await
            .unwrap_or(false)
    }

    async fn run(mut self, detector: MasterDetector) {
        loop {
            let master = tokio::select! {
                master = detector.leader() => master,
                closed = self.drain_until_closed() => {
                    if closed { return; }
                    continue;
                }
            };
            if !self.deliver(Callback::Connected).await {
                return;
            }
            let end = self.connection(&master).await;
            if matches!(end, End::Closed) || !self.deliver(Callback::Disconnected).await {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                closed = self.drain_until_closed() => if closed { return; },
            }
        }
    }

    /// While no master is known: drops calls (Mesos's library does: not connected);
    /// returns true when the handle is gone, false on `reconnect()`.
    async fn drain_until_closed(&mut self) -> bool {
        loop {
            match self.commands.recv().await {
                None => return true,
                Some(Command::Reconnect) => return false,
                Some(Command::Send(call)) => {
                    tracing::warn!(call = ?call.r#type(), "dropping a call: not connected to a master");
                }
            }
        }
    }

    /// One connection to `master`: wait for SUBSCRIBE (or send V0's), then events.
    async fn connection(&mut self, master: &str) -> End {
        let subscribe = match &self.framework {
            Some(framework) => sched::call::Subscribe {
                framework_info: framework.clone(),
                ..Default::default()
            },
            None => loop {
                match self.commands.recv().await {
                    None => return End::Closed,
                    Some(Command::Reconnect) => return End::Disconnected,
                    Some(Command::Send(call)) => {
                        if call.r#type() == sched::call::Type::Subscribe
                            && let Some(mut subscribe) = call.subscribe
                        {
                            if subscribe.framework_info.id.is_none() {
                                subscribe.framework_info.id = call.framework_id;
                            }
                            break subscribe;
                        }
                        tracing::warn!(call = ?call.r#type(), "dropping a call: not subscribed");
                    }
                }
            },
        };
        let subscribing =
            Subscription::subscribe_as(master, subscribe, Format::Protobuf, &self.identity);
        tokio::pin!(subscribing);
        let subscribed = loop {
            tokio::select! {
                result = &mut subscribing => break result,
                command = self.commands.recv() => match command {
                    None => return End::Closed,
                    Some(Command::Reconnect) => return End::Disconnected,
                    // A call while SUBSCRIBE is in flight (a framework's own SUBSCRIBE
                    // retry, say) is dropped and the subscription goes on.
                    Some(Command::Send(call)) => {
                        tracing::warn!(call = ?call.r#type(), "dropping a call: SUBSCRIBE is in flight");
                    }
                },
            }
        };
        let mut subscription = match subscribed {
            Ok(subscription) => subscription,
            Err(e) => {
                tracing::warn!(error = %e, %master, "SUBSCRIBE failed");
                return End::Disconnected;
            }
        };
        // V0Mesos resubscribes on its own after a disconnection: with the id it was given,
        // as Apache's v0 driver reregisters, never as a new framework.
        if let Some(framework) = &mut self.framework {
            framework.id = Some(subscription.framework_id.clone());
        }
        let event = sched::Event {
            r#type: Some(sched::event::Type::Subscribed as i32),
            subscribed: Some(sched::event::Subscribed {
                framework_id: subscription.framework_id.clone(),
                heartbeat_interval_seconds: Some(subscription.heartbeat_interval_seconds),
                master_info: subscription.master_info.clone(),
            }),
            ..Default::default()
        };
        if !self.deliver(Callback::Received(Box::new(event))).await {
            return End::Closed;
        }
        // Calls go out in order on their own task, so that a slow call never delays events.
        // Unbounded for the reason given at `Mesos::commands`.
        let (calls_tx, mut calls_rx) = mpsc::unbounded_channel::<sched::Call>();
        let caller = subscription.caller();
        let sender = super::runtime().spawn(async move {
            while let Some(call) = calls_rx.recv().await {
                if let Err(e) = caller.call(call).await {
                    tracing::warn!(error = %e, "a call was refused by the master");
                }
            }
        });
        let end = loop {
            tokio::select! {
                event = subscription.next_event() => match event {
                    Ok(event) => {
                        if !self.deliver(Callback::Received(Box::new(event))).await {
                            break End::Closed;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, %master, "the event stream ended");
                        break End::Disconnected;
                    }
                },
                command = self.commands.recv() => match command {
                    None => break End::Closed,
                    Some(Command::Reconnect) => break End::Disconnected,
                    Some(Command::Send(call)) => {
                        if call.r#type() == sched::call::Type::Subscribe {
                            tracing::warn!("ignoring SUBSCRIBE: already subscribed");
                        } else {
                            let _ = calls_tx.send(*call);
                        }
                    }
                },
            }
        };
        // Calls already queued still go out (a TEARDOWN right before finalize, say).
        drop(calls_tx);
        let abort = sender.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), sender)
            .await
            .is_err()
        {
            // Never two connections' calls at once: the next one may reorder them.
            abort.abort();
        }
        end
    }
}
