//! A framework's credential (Mesos's `Credential`: principal and secret) and the headers a
//! scheduler client puts on every request to the master with it.
//!
//! Mesos's v1 scheduler library decorates every request, SUBSCRIBE and calls alike, with
//! `Authorization: Basic base64(principal ":" secret)` when it holds a credential (Apache's
//! src/authentication/http/basic_authenticatee.cpp, used by src/scheduler/scheduler.cpp);
//! Mesos's driver (src/sched/sched.cpp) authenticated over CRAM-MD5 instead. Our drivers speak
//! the v1 API, so they send HTTP Basic too, plus [`DRIVER_MARKER`], by which the master tells
//! a driver (checked under `--authenticate_frameworks`) from a v1 HTTP framework (checked under
//! `--authenticate_http_frameworks`).
//!
//! The secret never appears in `Debug` output, logs or errors.

use base64::Engine as _;

use remesos_proto::v1;

/// The header (name, value) by which a request says it comes from one of our drivers (the
/// JNI `libmesos.so`), not from a v1 HTTP framework: the master authenticates it under
/// `--authenticate_frameworks` (master/http/authn.rs, `DRIVER_HEADER`: any value; the
/// drivers send the Mesos version they implement).
pub const DRIVER_MARKER: (&str, &str) = (
    "Remesos-Scheduler-Driver",
    crate::common::version::MESOS_VERSION,
);

/// Largest principal or secret a client sends: an `Authorization` header stays well inside
/// the masters' header limits (api/serve.rs), and a bigger one is a configuration mistake.
pub const MAX_CREDENTIAL_BYTES: usize = 4096;

/// Why a credential cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("the credential's principal is empty")]
    EmptyPrincipal,
    /// HTTP Basic splits the user-id from the password at the first ':' (RFC 7617 §2).
    #[error("the credential's principal contains ':', which HTTP Basic cannot carry")]
    ColonInPrincipal,
    #[error("the credential's {0} contains a control character")]
    ControlCharacter(&'static str),
    #[error("the credential's {0} is longer than {MAX_CREDENTIAL_BYTES} bytes")]
    TooLong(&'static str),
}

/// A validated principal and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    principal: String,
    secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Credential {
    /// A credential, checked so that it can travel as HTTP Basic.
    pub fn new(
        principal: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Credential, CredentialError> {
        let principal = principal.into();
        let secret = secret.into();
        if principal.is_empty() {
            return Err(CredentialError::EmptyPrincipal);
        }
        if principal.contains(':') {
            return Err(CredentialError::ColonInPrincipal);
        }
        for (what, text) in [("principal", &principal), ("secret", &secret)] {
            if text.len() > MAX_CREDENTIAL_BYTES {
                return Err(CredentialError::TooLong(what));
            }
            if text.chars().any(char::is_control) {
                return Err(CredentialError::ControlCharacter(what));
            }
        }
        Ok(Credential { principal, secret })
    }

    /// From the `Credential` message (the Java constructors' argument); no secret is an
    /// empty one, as Mesos's authenticatee sends it.
    pub fn from_proto(credential: v1::Credential) -> Result<Credential, CredentialError> {
        Credential::new(credential.principal, credential.secret.unwrap_or_default())
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The `Authorization` header's value: `Basic base64(principal ":" secret)`.
    pub fn authorization(&self) -> String {
        let mut plain = Vec::with_capacity(self.principal.len() + 1 + self.secret.len());
        plain.extend_from_slice(self.principal.as_bytes());
        plain.push(b':');
        plain.extend_from_slice(self.secret.as_bytes());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(plain)
        )
    }
}

/// How a scheduler client presents itself on every request to the master (SUBSCRIBE, every
/// call, and a redirected SUBSCRIBE to the leader).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Sent as HTTP Basic when present.
    pub credential: Option<Credential>,
    /// One of our drivers: [`DRIVER_MARKER`] is sent.
    pub driver: bool,
}

impl Identity {
    /// A v1 HTTP framework with this credential (`remesos execute`, Rust clients).
    pub fn framework(credential: Option<Credential>) -> Identity {
        Identity {
            credential,
            driver: false,
        }
    }

    /// One of our drivers with this credential (the JNI `libmesos.so`).
    pub fn driver(credential: Option<Credential>) -> Identity {
        Identity {
            credential,
            driver: true,
        }
    }

    /// The headers to add to a request.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(2);
        if let Some(credential) = &self.credential {
            headers.push(("Authorization", credential.authorization()));
        }
        if self.driver {
            headers.push((DRIVER_MARKER.0, DRIVER_MARKER.1.to_string()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_is_base64_of_principal_colon_secret() {
        // RFC 7617 §2's example: "Aladdin" / "open sesame".
        let c = Credential::new("Aladdin", "open sesame").unwrap();
        assert_eq!(c.authorization(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        // No secret: Mesos's authenticatee still sends "principal:".
        let c = Credential::from_proto(v1::Credential {
            principal: "p".into(),
            secret: None,
        })
        .unwrap();
        assert_eq!(c.authorization(), "Basic cDo=");
    }

    #[test]
    fn a_principal_that_basic_cannot_carry_is_refused() {
        assert_eq!(
            Credential::new("", "s"),
            Err(CredentialError::EmptyPrincipal)
        );
        assert_eq!(
            Credential::new("a:b", "s"),
            Err(CredentialError::ColonInPrincipal)
        );
        assert_eq!(
            Credential::new("a\nb", "s"),
            Err(CredentialError::ControlCharacter("principal"))
        );
        // A secret may hold ':' (only the first one splits) but no line breaks.
        assert!(Credential::new("a", "s:t").is_ok());
        assert_eq!(
            Credential::new("a", "s\r\n"),
            Err(CredentialError::ControlCharacter("secret"))
        );
        assert_eq!(
            Credential::new("a", "x".repeat(MAX_CREDENTIAL_BYTES + 1)),
            Err(CredentialError::TooLong("secret"))
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let c = Credential::new("alice", "hunter2").unwrap();
        let shown = format!("{:?}", Identity::driver(Some(c)));
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_driver_sends_the_marker_and_a_framework_does_not() {
        let c = Credential::new("alice", "s").unwrap();
        let driver = Identity::driver(Some(c.clone())).headers();
        assert_eq!(driver.len(), 2);
        assert_eq!(driver[0], ("Authorization", c.authorization()));
        assert_eq!(driver[1].0, DRIVER_MARKER.0);
        let framework = Identity::framework(Some(c)).headers();
        assert_eq!(framework.len(), 1);
        assert!(Identity::default().headers().is_empty());
    }
}
