//! Security settings remesos does not implement yet stop the daemon (DESIGN.md §8: "a
//! security setting that cannot be honoured stops the daemon: never fail open").
//!
//! An operator moving from Apache Mesos brings its configuration: `--authenticate_frameworks`,
//! `--credentials`, `--acls`, ... on the command line or as `MESOS_*` variables, and TLS as
//! `LIBPROCESS_SSL_*`. Ignoring them would serve every framework, agent and endpoint
//! unauthenticated while the operator believes otherwise. So each security flag of Mesos
//! 1.11's master (src/master/flags.cpp) and agent (src/slave/flags.cpp) is declared, and a
//! value that would turn it on stops the daemon with an error naming the flag and where it
//! came from. A value that leaves it off is accepted: `false` for a boolean, an empty value
//! for a file or secret, Mesos's default for a mechanism (`--authenticators=crammd5`,
//! `--authorizers=local`, `--http_authenticators=basic`, `--authenticatee=crammd5`), which
//! only acts when authentication is on.
//!
//! `MESOS_*` variables that name no flag of the daemon are still ignored (the environment
//! carries much else) but each is warned about by name at start, so that a misspelt or
//! unsupported setting does not pass silently.
//!
//! The master's authentication flags are implemented (`authn.rs`, declared and checked in
//! master/flags.rs): `--authenticate_frameworks`, `--authenticate_http_readonly`,
//! `--authenticate_http_readwrite`, `--authenticate_http_frameworks`, `--credentials`,
//! `--authenticators`, `--http_authenticators`, `--http_framework_authenticators`, and
//! `--authenticate_agents` (master/service.rs checks the agents' credentials); they are no
//! longer in the master's table below. So are `--acls` and `--authorizers` (master) /
//! `--authorizer` (agent): the local authorizer (`acls.rs`, `authorizer.rs`), whose values
//! are checked when the daemon builds its configuration (a bad one stops it there). Every
//! ACL with a capability remesos has is enforced; `authorizer.rs` has the table of where
//! (including `register_agents`, `get_endpoints` on each of Mesos's authorizable endpoints,
//! `set_log_level` and `view_containers`). `LIBPROCESS_SSL_VERIFICATION_DEPTH` bounds the
//! verified chains on both sides ([`tls`]).
//!
//! The agent's authentication flags are implemented (agent/authn.rs, declared in
//! agent/flags.rs): `--credential`, `--http_credentials`, `--authenticate_http_readonly`,
//! `--authenticate_http_readwrite`, `--authenticate_http_executors`, `--jwt_secret_key`
//! (alias `--executor_secret_key`), `--http_authenticators`, `--authenticatee`; they are no
//! longer in the agent's table below. Executor tokens are HS256 JWTs ([`jwt`]).
//!
//! This module is the daemons' security configuration (DESIGN.md §1 `security/`): the
//! refusal above; HTTP authentication ([`authn`]); TLS from libprocess's `LIBPROCESS_SSL_*`
//! environment ([`tls`]: a setting it cannot honour stops the daemon there); the local
//! authorizer ([`acls`], [`authorizer`]). The CLI only prints its error and exits
//! (`cli::check_security`).

pub mod authn;
pub mod jwt;
pub mod tls;

pub mod acls;
pub mod authorizer;

pub use authn::Principal;

use crate::flags::{Flag, FlagKind, Flags, LoadedFlags, Source};

/// Which daemon's flags: the master's and the agent's security flags differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    Master,
    Agent,
}

/// What value of a flag leaves the feature off.
#[derive(Clone, Copy, Debug)]
enum Off {
    /// A file, secret or module list: empty (unset). (Booleans and mechanisms with a
    /// default were refused here until issue 14 implemented them.)
    Empty,
}

/// A Mesos security flag remesos refuses to enable.
struct Security {
    name: &'static str,
    alias: Option<&'static str>,
    off: Off,
    /// What the flag would turn on, for the error.
    what: &'static str,
}

const fn s(name: &'static str, off: Off, what: &'static str) -> Security {
    Security {
        name,
        alias: None,
        off,
        what,
    }
}

/// src/master/flags.cpp (Mesos 1.11).
const MASTER: &[Security] = &[
    s("firewall_rules", Off::Empty, "endpoint firewall rules"),
    s("modules", Off::Empty, "modules"),
    s("modules_dir", Off::Empty, "modules"),
    s("hooks", Off::Empty, "hook modules"),
];

/// src/slave/flags.cpp (Mesos 1.11), and `executor_secret_generator` of later agents.
/// The agent's authentication flags (`--credential`, `--http_credentials`,
/// `--authenticate_http_readonly`, `--authenticate_http_readwrite`,
/// `--authenticate_http_executors`, `--jwt_secret_key`, `--http_authenticators`,
/// `--authenticatee`) are implemented (agent/authn.rs, declared in agent/flags.rs).
const AGENT: &[Security] = &[
    s(
        "executor_secret_generator",
        Off::Empty,
        "executor authentication",
    ),
    s("secret_resolver", Off::Empty, "secret resolution"),
    s("firewall_rules", Off::Empty, "endpoint firewall rules"),
    s("modules", Off::Empty, "modules"),
    s("modules_dir", Off::Empty, "modules"),
    s("hooks", Off::Empty, "hook modules"),
];

fn table(daemon: Daemon) -> &'static [Security] {
    match daemon {
        Daemon::Master => MASTER,
        Daemon::Agent => AGENT,
    }
}

/// Declares `daemon`'s security flags on `flags` (skipping any already declared): those
/// implemented (`--acls`, `--authorizers`) with their help, the others so that a value that
/// leaves them off loads.
pub fn declare(flags: &mut Flags, daemon: Daemon) {
    authorizer::declare(flags, daemon);
    for sec in table(daemon) {
        if flags.get(sec.name).is_some() {
            continue;
        }
        let help = format!(
            "Not implemented by remesos: only a value that disables {} is accepted",
            sec.what
        );
        let mut flag = match sec.off {
            // Paths: a `file://` value is not read (it may hold secrets we do not use).
            Off::Empty => Flag::new(sec.name, FlagKind::Path, &help),
        };
        if let Some(alias) = sec.alias {
            flag = flag.alias(alias);
        }
        flags.add(flag);
    }
}

/// The error for the first security setting in `loaded` that would turn on something
/// remesos does not implement, or for a `LIBPROCESS_SSL_*` setting of `env` that
/// [`tls`] cannot honour.
pub fn refuse_unimplemented<K: AsRef<str>, V: AsRef<str>>(
    loaded: &LoadedFlags,
    daemon: Daemon,
    env: impl IntoIterator<Item = (K, V)>,
) -> Result<(), String> {
    for sec in table(daemon) {
        let enabled = match sec.off {
            Off::Empty => loaded.get_str(sec.name).is_some_and(|v| !v.is_empty()),
        };
        if !enabled {
            continue;
        }
        let from = match loaded.source(sec.name) {
            Some(Source::Environment) => format!(
                " (from {}{})",
                crate::flags::ENV_PREFIX,
                sec.name.to_ascii_uppercase()
            ),
            _ => String::new(),
        };
        let value = match sec.off {
            // The value of a file or secret flag is not echoed.
            Off::Empty => String::new(),
        };
        return Err(format!(
            "flag '{}' is set{value}{from}, but remesos does not implement {} yet; refusing \
             to start rather than run without it (unset it or set it to a value that \
             disables it)",
            sec.name, sec.what
        ));
    }
    tls::TlsConfig::parse(env).map_err(|e| e.to_string())?;
    Ok(())
}

/// The `MESOS_*` variables of `env` that name no flag of `flags` (warned about at start).
pub fn unknown_env<K: AsRef<str>, V>(
    flags: &Flags,
    env: impl IntoIterator<Item = (K, V)>,
) -> Vec<String> {
    env.into_iter()
        .filter_map(|(key, _)| {
            let key = key.as_ref();
            let name = key.strip_prefix(crate::flags::ENV_PREFIX)?;
            let name = name.to_ascii_lowercase();
            let bare = name.strip_prefix("no-").unwrap_or(&name);
            flags.get(bare).is_none().then(|| key.to_string())
        })
        .collect()
}

/// Logs each unknown `MESOS_*` variable by name.
pub fn warn_unknown_env<K: AsRef<str>, V>(flags: &Flags, env: impl IntoIterator<Item = (K, V)>) {
    for name in unknown_env(flags, env) {
        tracing::warn!(variable = %name, "ignoring environment variable {name}: it names no flag of this command");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(daemon: Daemon, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
        let mut flags = Flags::new("test");
        declare(&mut flags, daemon);
        let loaded = flags
            .load(args, env.iter().copied())
            .map_err(|e| e.to_string())?;
        refuse_unimplemented(&loaded, daemon, env.iter().copied())
    }

    /// Issue 11, defect 5: Mesos's security settings, from the environment or the command
    /// line, stop the daemon when they would turn on what remesos lacks (DESIGN.md §8).
    /// On main `MESOS_AUTHENTICATE_FRAMEWORKS=true` was silently ignored.
    #[test]
    fn security_settings_that_would_enable_what_remesos_lacks_stop_the_daemon() {
        let refused = [
            (
                Daemon::Master,
                &[][..],
                &[("MESOS_FIREWALL_RULES", "{\"disabled_endpoints\": {}}")][..],
            ),
            (Daemon::Agent, &["--hooks=com_acme_Hook"][..], &[][..]),
        ];
        for (daemon, args, env) in refused {
            let err = load(daemon, args, env).expect_err(&format!("{args:?} {env:?}"));
            assert!(err.contains("remesos does not implement"), "{err}");
        }
        let err = load(Daemon::Master, &[], &[("MESOS_MODULES", "/m.json")]).unwrap_err();
        assert!(
            err.starts_with(
                "flag 'modules' is set (from MESOS_MODULES), but remesos does not implement \
                 modules yet"
            ),
            "{err}"
        );
        // A secret's value is not echoed.
        let err = load(Daemon::Agent, &["--executor_secret_generator=s3cr3t"], &[]).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn security_settings_that_leave_it_off_are_accepted() {
        let accepted = [
            (
                Daemon::Master,
                &["--authorizers=local", "--acls="][..],
                &[][..],
            ),
            (
                Daemon::Master,
                &[][..],
                &[("LIBPROCESS_SSL_ENABLED", "false")][..],
            ),
            (
                Daemon::Master,
                &[][..],
                &[("LIBPROCESS_SSL_ENABLED", "0")][..],
            ),
            (Daemon::Agent, &[][..], &[][..]),
        ];
        for (daemon, args, env) in accepted {
            load(daemon, args, env).unwrap_or_else(|e| panic!("{args:?} {env:?}: {e}"));
        }
    }

    #[test]
    fn unknown_mesos_variables_are_named() {
        let mut flags = Flags::new("test").flag(Flag::string("work_dir", "w"));
        declare(&mut flags, Daemon::Master);
        let env = [
            ("MESOS_WORK_DIR", "/w"),
            ("MESOS_MODULES", ""),
            ("MESOS_WORKDIR", "/typo"),
            ("PATH", "/bin"),
        ];
        assert_eq!(unknown_env(&flags, env), vec!["MESOS_WORKDIR".to_string()]);
    }
}
