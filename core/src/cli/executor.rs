//! `remesos executor`: the built-in command executor (logic in
//! [`crate::executor::command`]). The agent starts it in the executor's sandbox with
//! the Mesos executor environment (reference/mesos-contract.md §4.1); it takes the flags
//! Mesos's `mesos-executor` takes (§4.3). As in Mesos, flags come from the command line
//! only: `MESOS_*` variables belong to the executor environment, not to flags.

use std::process::ExitCode;

use crate::client::Format;
use crate::client::executor::ExecutorEnv;
use crate::executor::command::{self, Config};
use crate::flags::{Flag, Flags, LoadedFlags};

pub fn flags() -> Flags {
    Flags::new("remesos executor")
        .usage_message(
            "The command executor: runs one task's command for the agent, speaking the v1 \
             executor API. Started by the agent with the Mesos executor environment.",
        )
        .flag(Flag::path(
            "launcher_dir",
            "Directory of the Mesos helper binaries (accepted for compatibility; unused)",
        ))
        .flag(Flag::path(
            "sandbox_directory",
            "The sandbox path inside the container (accepted for compatibility; unused)",
        ))
        .flag(Flag::path(
            "working_directory",
            "The task's working directory (default: MESOS_SANDBOX, else MESOS_DIRECTORY)",
        ))
        .flag(Flag::path(
            "rootfs",
            "The task's root filesystem (not supported)",
        ))
        .flag(Flag::string(
            "user",
            "The user the task runs as (overrides CommandInfo.user; needs root)",
        ))
        .flag(Flag::string(
            "task_command",
            "JSON CommandInfo that replaces the task's command",
        ))
        .flag(Flag::string(
            "task_environment",
            "JSON Environment added to the executor's environment for the task",
        ))
        .flag(Flag::path(
            "docker",
            "Docker mode (Mesos's mesos-docker-executor): the docker CLI",
        ))
        .flag(
            Flag::path("docker_socket", "Docker mode: dockerd's socket")
                .default("/var/run/docker.sock"),
        )
        .flag(Flag::string(
            "container",
            "Docker mode: the task's container name (mesos-<container id>)",
        ))
        .flag(Flag::string(
            "docker_run",
            "Docker mode: JSON array of the `docker run` arguments the agent built",
        ))
        .flag(
            Flag::bool(
                "default",
                "Run as the default executor, which runs task groups (LAUNCH_GROUP)",
            )
            .default(false),
        )
        .flag(Flag::string("logging_level", "Log level: INFO, WARNING or ERROR").default("INFO"))
        .flag(Flag::bool("quiet", "Log only errors").default(false))
}

/// `remesos executor [flags]`; `env` is the process environment.
pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    // Before anything else: the launch path's "executor main() entered" phase, logged
    // once logging is set up.
    let entered = crate::common::time::monotonic_us();
    let flags = flags();
    let loaded = match flags.load(args, std::iter::empty::<(&str, &str)>()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}", flags.usage(Some(&e.to_string())));
            return ExitCode::from(1);
        }
    };
    if loaded.help() {
        println!("{}", flags.usage(None));
        return ExitCode::SUCCESS;
    }
    super::init_logging(
        loaded.get_str("logging_level").unwrap_or("INFO"),
        loaded.get_bool("quiet").unwrap_or(false),
    );
    if crate::common::time::phases_on()
        && let Some((_, id)) = env.iter().find(|(k, _)| k == "MESOS_EXECUTOR_ID")
    {
        crate::common::time::phase_at("executor_main", id, entered);
    }
    let executor_env = match ExecutorEnv::from_env(env.iter().map(|(k, v)| (k, v))) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let config = match config(&loaded, &executor_env, env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", flags.usage(Some(&e)));
            return ExitCode::from(1);
        }
    };
    let runtime = match super::start_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    tracing::info!(
        framework_id = %executor_env.framework_id.value,
        executor_id = %executor_env.executor_id.value,
        agent = %executor_env.url(),
        "starting the command executor"
    );
    if loaded.get_bool("default").unwrap_or(false) {
        let code = runtime.block_on(crate::executor::default::run(
            executor_env,
            config,
            Format::Protobuf,
        ));
        return ExitCode::from(code);
    }
    // Protobuf, as Mesos's HTTP command executor uses.
    let code = runtime.block_on(command::run(executor_env, config, Format::Protobuf));
    ExitCode::from(code)
}

/// The command executor's configuration from its flags and environment.
pub fn config(
    loaded: &LoadedFlags,
    env: &ExecutorEnv,
    vars: &[(String, String)],
) -> Result<Config, String> {
    let task_command = loaded
        .get_str("task_command")
        .map(|json| {
            remesos_proto::json::from_slice(json.as_bytes())
                .map_err(|e| format!("failed to parse --task_command: {e}"))
        })
        .transpose()?;
    let task_environment = loaded
        .get_str("task_environment")
        .map(|json| {
            remesos_proto::json::from_slice(json.as_bytes())
                .map_err(|e| format!("failed to parse --task_environment: {e}"))
        })
        .transpose()?;
    let docker = match (loaded.get_str("docker_run"), loaded.get_str("container")) {
        (None, None) => None,
        (Some(run), Some(container)) => {
            let run: Vec<String> = serde_json::from_str(run)
                .map_err(|e| format!("failed to parse --docker_run: {e}"))?;
            Some(crate::executor::docker::DockerRun::new(
                loaded.get_str("docker").unwrap_or("docker").into(),
                loaded
                    .get_str("docker_socket")
                    .unwrap_or("/var/run/docker.sock")
                    .into(),
                container.to_string(),
                run,
            )?)
        }
        _ => return Err("--docker_run and --container go together".into()),
    };
    Ok(Config {
        docker,
        framework_id: env.framework_id.clone(),
        executor_id: env.executor_id.clone(),
        shutdown_grace_period: env.shutdown_grace_period,
        working_directory: loaded
            .get_str("working_directory")
            .map(Into::into)
            .or_else(|| env.sandbox_dir().map(Into::into)),
        user: loaded.get_str("user").map(str::to_string),
        task_command,
        task_environment,
        environment: vars.to_vec(),
        rootfs: loaded.get_str("rootfs").map(Into::into),
    })
}
