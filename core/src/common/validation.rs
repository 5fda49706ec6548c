//! Validation of the task fields both the master and the executors check: a task's
//! `health_check` and `check`, and the environment of their commands — Mesos's
//! `common::validation::validateHealthCheck`, `validateCheckInfo` and
//! `validateEnvironment` (`src/common/validation.cpp`), with their messages.
//!
//! The master refuses a task whose definition fails here (`TASK_ERROR`, "Task uses invalid
//! health check: …", `master/validation.rs`); the executors run the same functions before
//! they build a checker (Mesos's `HealthChecker::create` and `Checker::create`), so a task
//! that reached an executor another way is never checked on a definition Mesos refuses.

use remesos_proto::v1;

/// Why a `HealthCheck` or a `CheckInfo` is refused, in Mesos's words. `what` is "health
/// check" or "check", as Mesos's two validators word the same rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// No type, or one this build does not know (proto2 drops unknown enum values).
    #[error("{0} must specify 'type'")]
    MissingType(&'static str),
    #[error("'UNKNOWN' is not a valid {0} type")]
    UnknownType(&'static str),
    #[error("Expecting '{field}' to be set for {kind} {what}")]
    MissingField {
        field: &'static str,
        kind: &'static str,
        what: &'static str,
    },
    /// `Command health check must contain 'shell command'` / `'executable path'`.
    #[error("{0} must contain {1}")]
    CommandWithoutValue(&'static str, &'static str),
    #[error("{0}'s `CommandInfo` is invalid: {1}")]
    InvalidCommand(&'static str, EnvironmentError),
    #[error("Unsupported HTTP health check scheme: '{0}'")]
    UnsupportedScheme(String),
    #[error("The path '{path}' of HTTP {what} must start with '/'")]
    RelativePath { path: String, what: &'static str },
    #[error("Expecting '{0}' to be non-negative")]
    Negative(&'static str),
}

/// Why an `Environment` is refused (Mesos's `validateEnvironment` and `validateSecret`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    #[error("Environment variable '{0}' of type 'SECRET' must have a secret set")]
    SecretWithoutSecret(String),
    #[error("Environment variable '{0}' of type 'SECRET' must not have a value set")]
    SecretWithValue(String),
    #[error("Environment variable '{0}' specifies an invalid secret: {1}")]
    InvalidSecret(String, String),
    #[error(
        "Environment variable '{0}' specifies a secret containing null bytes, which is not \
         allowed in the environment"
    )]
    SecretWithNul(String),
    #[error("Environment variable '{0}' of type 'VALUE' must have a value set")]
    ValueWithoutValue(String),
    #[error("Environment variable '{0}' of type 'VALUE' must not have a secret set")]
    ValueWithSecret(String),
    #[error("Environment variable of type 'UNKNOWN' is not allowed")]
    UnknownType,
}

/// Why a persistent volume's `container_path` is refused. Mesos's documentation asks for
/// "the non-nested relative path within the container" (docs/persistent-volume.md) and its
/// agent skips a path with a slash when it mounts (`filesystem/linux`); remesos accepts
/// nested relative paths and refuses what would leave the sandbox. The agent checks at
/// launch (agent/volumes.rs) and the master at CREATE (master/reservation.rs), so a volume
/// no task could use is never created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContainerPathError {
    #[error("persistent volume '{0}' has no container path")]
    Empty(String),
    #[error("Absolute container path '{0}' is not supported")]
    Absolute(String),
    #[error("container path '{0}' must stay inside the sandbox")]
    Escaping(String),
}

/// Checks the `container_path` of the persistent volume `persistence_id`: not empty, not
/// absolute, and made of plain names only (no `..`, no `.`), so that joined to a sandbox it
/// stays inside it.
pub fn validate_volume_container_path(
    persistence_id: &str,
    container_path: &str,
) -> Result<(), ContainerPathError> {
    let path = std::path::Path::new(container_path);
    if container_path.is_empty() {
        return Err(ContainerPathError::Empty(persistence_id.to_string()));
    }
    if path.is_absolute() {
        return Err(ContainerPathError::Absolute(container_path.to_string()));
    }
    // `Path::components` drops inner `.` and repeated slashes; a literal `.` or `..`
    // segment anywhere is refused all the same, as is a NUL (no path holds one).
    let odd_segment = container_path
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    if odd_segment
        || container_path.contains('\0')
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(ContainerPathError::Escaping(container_path.to_string()));
    }
    Ok(())
}

/// Mesos's `validateEnvironment`.
pub fn validate_environment(environment: &v1::Environment) -> Result<(), EnvironmentError> {
    use v1::environment::variable::Type;
    for variable in &environment.variables {
        let name = || variable.name.clone();
        // Unset means VALUE (the field's default); an unknown number decodes as unset.
        match Type::try_from(variable.r#type.unwrap_or(Type::Value as i32)) {
            Ok(Type::Secret) => {
                let Some(secret) = &variable.secret else {
                    return Err(EnvironmentError::SecretWithoutSecret(name()));
                };
                if variable.value.is_some() {
                    return Err(EnvironmentError::SecretWithValue(name()));
                }
                if let Some(error) = secret_error(secret) {
                    return Err(EnvironmentError::InvalidSecret(name(), error));
                }
                if secret.value.as_ref().is_some_and(|v| v.data.contains(&0)) {
                    return Err(EnvironmentError::SecretWithNul(name()));
                }
            }
            Ok(Type::Value) | Err(_) => {
                if variable.value.is_none() {
                    return Err(EnvironmentError::ValueWithoutValue(name()));
                }
                if variable.secret.is_some() {
                    return Err(EnvironmentError::ValueWithSecret(name()));
                }
            }
            Ok(Type::Unknown) => return Err(EnvironmentError::UnknownType),
        }
    }
    Ok(())
}

/// Mesos's `validateSecret`, its message when the secret is refused.
fn secret_error(secret: &v1::Secret) -> Option<String> {
    use v1::secret::Type;
    match secret.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::Reference) => match (&secret.reference, &secret.value) {
            (None, _) => {
                Some("Secret of type REFERENCE must have the 'reference' field set".into())
            }
            (Some(reference), Some(_)) => Some(format!(
                "Secret '{}' of type REFERENCE must not have the 'value' field set",
                reference.name
            )),
            _ => None,
        },
        Some(Type::Value) => match (&secret.value, &secret.reference) {
            (None, _) => Some("Secret of type VALUE must have the 'value' field set".into()),
            (Some(_), Some(_)) => {
                Some("Secret of type VALUE must not have the 'reference' field set".into())
            }
            _ => None,
        },
        Some(Type::Unknown) | None => None,
    }
}

/// Mesos's check on the `CommandInfo` of a COMMAND (health) check.
fn validate_check_command(command: &v1::CommandInfo, what: &'static str) -> Result<(), CheckError> {
    let (label, owner) = if what == HEALTH {
        ("Command health check", "Health check")
    } else {
        ("Command check", "Check")
    };
    if command.value.is_none() {
        let kind = if command.shell.unwrap_or(true) {
            "'shell command'"
        } else {
            "'executable path'"
        };
        return Err(CheckError::CommandWithoutValue(label, kind));
    }
    if let Some(environment) = &command.environment {
        validate_environment(environment).map_err(|e| CheckError::InvalidCommand(owner, e))?;
    }
    Ok(())
}

const HEALTH: &str = "health check";
const CHECK: &str = "check";

/// Mesos's `validateHealthCheck`.
pub fn validate_health_check(check: &v1::HealthCheck) -> Result<(), CheckError> {
    use v1::health_check::Type;
    let missing = |field, kind| CheckError::MissingField {
        field,
        kind,
        what: HEALTH,
    };
    match check.r#type.and_then(|t| Type::try_from(t).ok()) {
        None => return Err(CheckError::MissingType("HealthCheck")),
        Some(Type::Unknown) => return Err(CheckError::UnknownType(HEALTH)),
        Some(Type::Command) => {
            let command = check
                .command
                .as_ref()
                .ok_or_else(|| missing("command", "COMMAND"))?;
            validate_check_command(command, HEALTH)?;
        }
        Some(Type::Http) => {
            let http = check.http.as_ref().ok_or_else(|| missing("http", "HTTP"))?;
            if let Some(scheme) = &http.scheme
                && scheme != "http"
                && scheme != "https"
            {
                return Err(CheckError::UnsupportedScheme(scheme.clone()));
            }
            relative_path(http.path.as_deref(), HEALTH)?;
        }
        Some(Type::Tcp) => {
            check.tcp.as_ref().ok_or_else(|| missing("tcp", "TCP"))?;
        }
    }
    non_negative("delay_seconds", check.delay_seconds)?;
    non_negative("grace_period_seconds", check.grace_period_seconds)?;
    non_negative("interval_seconds", check.interval_seconds)?;
    non_negative("timeout_seconds", check.timeout_seconds)?;
    Ok(())
}

/// Mesos's `validateCheckInfo`.
pub fn validate_check_info(check: &v1::CheckInfo) -> Result<(), CheckError> {
    use v1::check_info::Type;
    let missing = |field, kind| CheckError::MissingField {
        field,
        kind,
        what: CHECK,
    };
    match check.r#type.and_then(|t| Type::try_from(t).ok()) {
        None => return Err(CheckError::MissingType("CheckInfo")),
        Some(Type::Unknown) => return Err(CheckError::UnknownType(CHECK)),
        Some(Type::Command) => {
            let command = check
                .command
                .as_ref()
                .ok_or_else(|| missing("command", "COMMAND"))?;
            validate_check_command(&command.command, CHECK)?;
        }
        Some(Type::Http) => {
            let http = check.http.as_ref().ok_or_else(|| missing("http", "HTTP"))?;
            relative_path(http.path.as_deref(), CHECK)?;
        }
        Some(Type::Tcp) => {
            check.tcp.as_ref().ok_or_else(|| missing("tcp", "TCP"))?;
        }
    }
    non_negative("delay_seconds", check.delay_seconds)?;
    non_negative("interval_seconds", check.interval_seconds)?;
    non_negative("timeout_seconds", check.timeout_seconds)?;
    Ok(())
}

fn relative_path(path: Option<&str>, what: &'static str) -> Result<(), CheckError> {
    match path {
        Some(path) if !path.starts_with('/') => Err(CheckError::RelativePath {
            path: path.to_string(),
            what,
        }),
        _ => Ok(()),
    }
}

/// Mesos compares with `< 0.0`, so NaN passes there; here it is refused as well, since a
/// NaN duration cannot be scheduled (remesos's one deviation).
fn non_negative(field: &'static str, value: Option<f64>) -> Result<(), CheckError> {
    match value {
        Some(v) if v.is_nan() || v < 0.0 => Err(CheckError::Negative(field)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_container_paths_must_stay_inside_the_sandbox() {
        for ok in ["data", "data/db", "a.b/c..d"] {
            assert_eq!(validate_volume_container_path("v", ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_volume_container_path("v", ""),
            Err(ContainerPathError::Empty("v".into()))
        );
        assert_eq!(
            validate_volume_container_path("v", "/etc"),
            Err(ContainerPathError::Absolute("/etc".into()))
        );
        for bad in ["..", "a/../../x", "./data", "data/.", "a/./b", "a\0b"] {
            assert_eq!(
                validate_volume_container_path("v", bad),
                Err(ContainerPathError::Escaping(bad.into())),
                "{bad:?}"
            );
        }
    }

    fn http_health(port: u32, path: Option<&str>) -> v1::HealthCheck {
        v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Http as i32),
            http: Some(v1::health_check::HttpCheckInfo {
                port,
                path: path.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn message(result: Result<(), CheckError>) -> String {
        result.unwrap_err().to_string()
    }

    /// src/common/validation.cpp `validateHealthCheck`, message by message.
    #[test]
    fn health_checks_are_refused_with_mesos_messages() {
        assert!(validate_health_check(&http_health(8080, Some("/health"))).is_ok());
        assert_eq!(
            message(validate_health_check(&v1::HealthCheck::default())),
            "HealthCheck must specify 'type'"
        );
        let unknown = v1::HealthCheck {
            r#type: Some(0),
            ..Default::default()
        };
        assert_eq!(
            message(validate_health_check(&unknown)),
            "'UNKNOWN' is not a valid health check type"
        );
        // An enum number this build does not know is as if unset (proto2).
        let future = v1::HealthCheck {
            r#type: Some(42),
            ..Default::default()
        };
        assert_eq!(
            message(validate_health_check(&future)),
            "HealthCheck must specify 'type'"
        );
        let mut no_http = http_health(1, None);
        no_http.http = None;
        assert_eq!(
            message(validate_health_check(&no_http)),
            "Expecting 'http' to be set for HTTP health check"
        );
        let command = v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Command as i32),
            ..Default::default()
        };
        assert_eq!(
            message(validate_health_check(&command)),
            "Expecting 'command' to be set for COMMAND health check"
        );
        let tcp = v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Tcp as i32),
            ..Default::default()
        };
        assert_eq!(
            message(validate_health_check(&tcp)),
            "Expecting 'tcp' to be set for TCP health check"
        );
        let mut ftp = http_health(21, None);
        ftp.http.as_mut().unwrap().scheme = Some("ftp".into());
        assert_eq!(
            message(validate_health_check(&ftp)),
            "Unsupported HTTP health check scheme: 'ftp'"
        );
        assert_eq!(
            message(validate_health_check(&http_health(80, Some("health")))),
            "The path 'health' of HTTP health check must start with '/'"
        );
        for (field, set) in [
            (
                "delay_seconds",
                (|c: &mut v1::HealthCheck| c.delay_seconds = Some(-1.0)) as fn(&mut _),
            ),
            ("grace_period_seconds", |c| {
                c.grace_period_seconds = Some(-1.0)
            }),
            ("interval_seconds", |c| c.interval_seconds = Some(-0.5)),
            ("timeout_seconds", |c| c.timeout_seconds = Some(f64::NAN)),
        ] {
            let mut check = http_health(80, None);
            set(&mut check);
            assert_eq!(
                message(validate_health_check(&check)),
                format!("Expecting '{field}' to be non-negative")
            );
        }
    }

    #[test]
    fn a_command_check_needs_a_value_and_a_valid_environment() {
        let mut check = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Command as i32),
            command: Some(v1::check_info::Command {
                command: v1::CommandInfo::default(),
            }),
            ..Default::default()
        };
        assert_eq!(
            message(validate_check_info(&check)),
            "Command check must contain 'shell command'"
        );
        let command = &mut check.command.as_mut().unwrap().command;
        command.shell = Some(false);
        assert_eq!(
            message(validate_check_info(&check)),
            "Command check must contain 'executable path'"
        );
        let command = &mut check.command.as_mut().unwrap().command;
        command.value = Some("/bin/true".into());
        command.environment = Some(v1::Environment {
            variables: vec![v1::environment::Variable {
                name: "A".into(),
                ..Default::default()
            }],
        });
        assert_eq!(
            message(validate_check_info(&check)),
            "Check's `CommandInfo` is invalid: Environment variable 'A' of type 'VALUE' must \
             have a value set"
        );
        let health = v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Command as i32),
            command: Some(v1::CommandInfo {
                value: Some("true".into()),
                environment: Some(v1::Environment {
                    variables: vec![v1::environment::Variable {
                        name: "S".into(),
                        r#type: Some(v1::environment::variable::Type::Secret as i32),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            message(validate_health_check(&health)),
            "Health check's `CommandInfo` is invalid: Environment variable 'S' of type \
             'SECRET' must have a secret set"
        );
    }

    /// src/common/validation.cpp `validateCheckInfo`: no scheme rule, no grace period.
    #[test]
    fn general_checks_are_refused_with_mesos_messages() {
        let http = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Http as i32),
            http: Some(v1::check_info::Http {
                port: 80,
                path: Some("x".into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            message(validate_check_info(&http)),
            "The path 'x' of HTTP check must start with '/'"
        );
        assert_eq!(
            message(validate_check_info(&v1::CheckInfo::default())),
            "CheckInfo must specify 'type'"
        );
        let tcp = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Tcp as i32),
            interval_seconds: Some(-3.0),
            tcp: Some(v1::check_info::Tcp { port: 1 }),
            ..Default::default()
        };
        assert_eq!(
            message(validate_check_info(&tcp)),
            "Expecting 'interval_seconds' to be non-negative"
        );
        let no_tcp = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Tcp as i32),
            ..Default::default()
        };
        assert_eq!(
            message(validate_check_info(&no_tcp)),
            "Expecting 'tcp' to be set for TCP check"
        );
    }
}
