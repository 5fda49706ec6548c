//! What a daemon does when one of its actors panics (DESIGN.md §3: "a panic never leaves a
//! process that reports healthy").
//!
//! The master's and the agent's state each belong to one actor task. A panic there is a
//! bug whose damage cannot be bounded: the state it was changing may be half changed, and
//! every later answer would be built on it. So a panic is not contained and retried; the
//! supervisor runs an [`OnPanic`] policy, which in the daemons is [`exit_on_panic`]: log
//! the panic and exit the process with [`EXIT_ACTOR_PANIC`] (70, sysexits.h `EX_SOFTWARE`),
//! as a Mesos master or agent that fails a `CHECK` aborts. A supervisor (systemd, Marathon,
//! Kubernetes) restarts it; with `--zk` a standby master takes over meanwhile, and agents
//! and frameworks reregister and resubscribe there; a restarted agent recovers its
//! executors from its checkpoints.
//!
//! Between the panic and the exit the actor's handle reports it is not serving
//! (`MasterHandle::is_serving`, `AgentHandle::is_serving`), and `/health` answers 503 and
//! GET_HEALTH `healthy: false`. Tests pass their own policy to observe the panic instead.

/// What happens when an actor panics; it gets the panic's message.
pub type OnPanic = Box<dyn FnOnce(String) + Send>;

/// The exit status of a process whose master or agent actor panicked (sysexits.h
/// `EX_SOFTWARE`: an internal software error).
pub const EXIT_ACTOR_PANIC: i32 = 70;

/// The daemons' policy: log the panic and exit with [`EXIT_ACTOR_PANIC`].
pub fn exit_on_panic(actor: &'static str) -> OnPanic {
    Box::new(move |why| {
        tracing::error!(actor, %why, "the actor panicked; exiting so that a healthy process can take over");
        std::process::exit(EXIT_ACTOR_PANIC);
    })
}

/// Runs `on_panic` with the panic's message if the task behind `actor` panics. By then
/// tokio has dropped the task's future, and with it the actor's command receiver, so its
/// handles already report that it is not serving.
pub fn supervise(actor: tokio::task::JoinHandle<()>, on_panic: OnPanic) {
    tokio::spawn(async move {
        if let Err(e) = actor.await
            && e.is_panic()
        {
            let payload = e.into_panic();
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            on_panic(why);
        }
    });
}
