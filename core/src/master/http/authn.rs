//! Which realm guards each endpoint on the master's port, and the authentication every HTTP
//! request passes before routing hands it to a handler (security/authn.rs does the checking).
//!
//! # Realms (Mesos 1.11)
//!
//! libprocess authenticates a request before the endpoint's handler runs (`process.cpp`
//! `ProcessManager::handle`), so a standby master or one that recovers answers `401` before
//! its `307` or `503`: the same rule applies on every master, leading or not.
//!
//! | endpoint | realm | Mesos source |
//! |---|---|---|
//! | `/master/api/v1` (every operator call) | `mesos-master-readwrite` | `master.cpp` `route("/api/v1", READWRITE_HTTP_AUTHENTICATION_REALM, ...)` |
//! | `/master/api/v1/scheduler` | `mesos-master-scheduler` (see below) | `route("/api/v1/scheduler", DEFAULT_HTTP_FRAMEWORK_AUTHENTICATION_REALM, ...)` |
//! | `/master/state`, `state-summary`, `frameworks`, `slaves`, `tasks`, `roles`, `flags`, `maintenance/status` (and the legacy `state.json`, `tasks.json`, `roles.json`) | `mesos-master-readonly` | `master.cpp` `route(...)` |
//! | `/master/teardown`, `weights`, `quota`, `maintenance/schedule`, `machine/down`, `machine/up`, `reserve`, `unreserve`, `create-volumes`, `destroy-volumes` (and any master endpoint not named here: fail closed) | `mesos-master-readwrite` | `master.cpp` `route(...)` |
//! | `/master/health`, `/master/redirect` | none | `master.cpp` `route("/health", ...)`, `route("/redirect", ...)` |
//! | `/metrics/snapshot` | `mesos-master-readonly` | libprocess `metrics.cpp` (`process::initialize(.., READWRITE, READONLY)` in `master/main.cpp`) |
//! | `/files/*` | `mesos-master-readonly` | `master/main.cpp` `Files files(READONLY_HTTP_AUTHENTICATION_REALM, ...)` |
//! | `/logging/toggle` | `mesos-master-readwrite` | libprocess `logging.cpp` (the readwrite realm given to `process::initialize`) |
//! | `/version` | none | `version.cpp` `route("/", ...)` |
//! | `/`, `/app`, `/assets` (web UI) | `mesos-master-readonly` (Mesos: none, see below) | `master.cpp` `provide(...)` |
//! | `/agent/<id>/files/*` (remesos's sandbox proxy, sandbox.rs) | `mesos-master-readonly` | as `/files/*` |
//!
//! The web UI's page is in the readonly realm, where Mesos serves its assets to anyone: the
//! browser then asks for credentials once, when the page loads, and sends them on every
//! call the page makes to the same origin (a browser sends cached Basic credentials to every
//! path below the one that asked). With Mesos's open page each endpoint the UI calls answers
//! `401` on its own, and a browser prompts once per realm.
//!
//! A realm is protected when its flag is on: readonly by `--authenticate_http_readonly`,
//! readwrite by `--authenticate_http_readwrite`; an unprotected realm does not authenticate
//! (no principal, the `Authorization` header ignored), as libprocess without an authenticator
//! for the realm. The agents' gRPC sessions are not HTTP endpoints and are not looked at here.
//!
//! # Scheduler drivers and HTTP frameworks
//!
//! Mesos authenticates two kinds of framework under two flags: the scheduler driver
//! (`libmesos`, speaking libprocess messages, CRAM-MD5) under `--authenticate_frameworks`, and
//! v1 HTTP frameworks under `--authenticate_http_frameworks`. Our drivers (the JNI
//! `libmesos.so`, Python's `mesos.native`) speak the v1 HTTP API and present HTTP Basic, so
//! the master tells them apart by a request header: a scheduler API request carrying
//! [`DRIVER_HEADER`] (`Remesos-Scheduler-Driver`, any value; the drivers send their version)
//! is a driver's and needs credentials when `--authenticate_frameworks` is on; one without it
//! is an HTTP framework's and needs them when `--authenticate_http_frameworks` is on. Both are
//! checked against `--credentials` in the `mesos-master-scheduler` realm.
//!
//! A client gains nothing by sending or omitting the header: in Mesos too any client may
//! choose either protocol, so each choice gets exactly what the operator's flags give that
//! protocol. With both flags on (what a secured cluster runs) every request needs
//! credentials either way. And a framework that once subscribed with an authenticated
//! principal keeps it: its later calls and resubscriptions must come from that principal
//! whatever header they carry (`Master::call_as`, `Master::subscribe_as`).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderMap;

use super::routing::{self, Process, Target};
use crate::security::authn::{
    AuthnError, Credentials, HttpAuthenticator, MASTER_READONLY_REALM, MASTER_READWRITE_REALM,
    MASTER_SCHEDULER_REALM, Unauthorized,
};

/// The header that marks a scheduler API request as a scheduler driver's (module doc).
pub const DRIVER_HEADER: &str = "Remesos-Scheduler-Driver";

/// The master's HTTP authentication settings (its `--authenticate_*` flags and
/// `--credentials`). The default authenticates nothing.
#[derive(Clone, Debug, Default)]
pub struct Authentication {
    /// Over `--credentials`; `None` when no flag protects anything.
    authenticator: Option<HttpAuthenticator>,
    /// `--authenticate_http_readonly`.
    pub readonly: bool,
    /// `--authenticate_http_readwrite`.
    pub readwrite: bool,
    /// `--authenticate_frameworks`: scheduler drivers.
    pub frameworks: bool,
    /// `--authenticate_http_frameworks`: v1 HTTP frameworks.
    pub http_frameworks: bool,
    /// `--authenticate_agents`: the credentials agents present on their gRPC session
    /// (master/service.rs); `None`: agents do not authenticate.
    pub agents: Option<Arc<Credentials>>,
}

/// The realm an endpoint belongs to (module doc's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realm {
    None,
    ReadOnly,
    ReadWrite,
    Scheduler,
}

/// The realm of an endpoint of `process` named `name` (module doc's table).
pub fn realm(process: Process, name: &str) -> Realm {
    match (process, name) {
        (Process::Master, "api/v1") => Realm::ReadWrite,
        (Process::Master, "api/v1/scheduler") => Realm::Scheduler,
        (
            Process::Master,
            "state" | "state.json" | "state-summary" | "frameworks" | "slaves" | "tasks"
            | "tasks.json" | "roles" | "roles.json" | "flags" | "maintenance/status",
        ) => Realm::ReadOnly,
        (
            Process::Master,
            "teardown"
            | "weights"
            | "quota"
            | "maintenance/schedule"
            | "machine/down"
            | "machine/up"
            | "reserve"
            | "unreserve"
            | "create-volumes"
            | "destroy-volumes",
        ) => Realm::ReadWrite,
        (Process::Master, "health" | "redirect") => Realm::None,
        // Fail closed: an endpoint missing from the table above is guarded as the
        // operator's writes are, never left open.
        (Process::Master, _) => Realm::ReadWrite,
        (Process::Metrics | Process::Files, _) => Realm::ReadOnly,
        (Process::Logging, _) => Realm::ReadWrite,
        (Process::Version, _) => Realm::None,
    }
}

/// The realm of whatever `target` routes to (module doc's table).
pub fn target_realm(target: &Target) -> Realm {
    match target {
        Target::Endpoint { process, name, .. } => realm(*process, name),
        Target::WebUi | Target::AgentFiles { .. } => Realm::ReadOnly,
        Target::BadPath | Target::NotFound => Realm::None,
    }
}

/// Marks a request whose authentication is done, so that a router nested in another (the
/// leading master's inside a contender's) does not do it twice. Only this module builds it;
/// nothing from the network can put it in a request's extensions.
#[derive(Clone, Copy, Debug)]
struct Authenticated;

impl Authentication {
    /// Settings that protect what the flags say, over `credentials`.
    pub fn new(
        credentials: Option<Arc<Credentials>>,
        readonly: bool,
        readwrite: bool,
        frameworks: bool,
        http_frameworks: bool,
    ) -> Authentication {
        Authentication {
            authenticator: credentials.map(HttpAuthenticator::new),
            readonly,
            readwrite,
            frameworks,
            http_frameworks,
            agents: None,
        }
    }

    /// Agents must present a credential of `credentials` (`--authenticate_agents`).
    pub fn with_agents(mut self, credentials: Arc<Credentials>) -> Authentication {
        self.agents = Some(credentials);
        self
    }

    /// Whether any realm is protected.
    pub fn is_on(&self) -> bool {
        self.readonly || self.readwrite || self.frameworks || self.http_frameworks
    }

    /// The realm name a request to `realm` must authenticate in, or `None` when that realm
    /// is not protected for this request (`headers` tell a driver from an HTTP framework).
    pub fn protected(&self, realm: Realm, headers: &HeaderMap) -> Option<&'static str> {
        let on = match realm {
            Realm::None => false,
            Realm::ReadOnly => self.readonly,
            Realm::ReadWrite => self.readwrite,
            Realm::Scheduler if headers.contains_key(DRIVER_HEADER) => self.frameworks,
            Realm::Scheduler => self.http_frameworks,
        };
        on.then_some(match realm {
            Realm::ReadOnly => MASTER_READONLY_REALM,
            Realm::ReadWrite => MASTER_READWRITE_REALM,
            Realm::None | Realm::Scheduler => MASTER_SCHEDULER_REALM,
        })
    }

    /// Authenticates `request` for the endpoint it routes to: on success the principal (if
    /// its realm is protected) is in its extensions; otherwise the refusal, whose response
    /// is the `401` to answer. gRPC requests and requests already authenticated pass
    /// untouched.
    pub fn authenticate(&self, request: &mut Request) -> Result<(), Unauthorized> {
        if request.extensions().get::<Authenticated>().is_some() || super::is_grpc(request) {
            return Ok(());
        }
        let realm = target_realm(&routing::resolve(request.uri().path()));
        if let Some(realm) = self.protected(realm, request.headers()) {
            // A protected realm always has an authenticator: flags.rs refuses to start
            // otherwise. Should it be missing, every request is refused, never let through.
            let result = match &self.authenticator {
                Some(authenticator) => authenticator.authenticate(realm, request.headers()),
                None => Err(Unauthorized {
                    realm,
                    reason: AuthnError::BadCredentials,
                }),
            };
            match result {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                }
                Err(refused) => {
                    tracing::debug!(path = %request.uri().path(), realm, reason = %refused.reason, "request refused by authentication");
                    return Err(refused);
                }
            }
        }
        request.extensions_mut().insert(Authenticated);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm_of(path: &str) -> Realm {
        target_realm(&routing::resolve(path))
    }

    /// `master.cpp` `Master::initialize` routes, `master/main.cpp` and libprocess's
    /// processes (module doc's table).
    #[test]
    fn every_master_endpoint_is_in_the_realm_mesos_routes_it_in() {
        for path in [
            "/master/state",
            "/state.json",
            "/master/state-summary",
            "/master/frameworks",
            "/master/slaves",
            "/master/tasks",
            "/tasks.json",
            "/master/roles",
            "/roles.json",
            "/master/flags",
            "/flags",
            "/master/maintenance/status",
            "/metrics/snapshot",
            "/files/browse",
            "/files/read.json",
            "/files/download",
            "/files/debug",
            "/",
            "/app/app.js",
            "/agent/a-S0/files/read",
        ] {
            assert_eq!(realm_of(path), Realm::ReadOnly, "{path}");
        }
        for path in [
            "/master/api/v1",
            "/api/v1",
            "/master/teardown",
            "/master/weights",
            "/master/maintenance/schedule",
            "/master/machine/down",
            "/master/machine/up",
            "/master/quota",
            "/master/reserve",
            "/master/unreserve",
            "/master/create-volumes",
            "/master/destroy-volumes",
            "/logging/toggle",
        ] {
            assert_eq!(realm_of(path), Realm::ReadWrite, "{path}");
        }
        for path in ["/api/v1/scheduler", "/master/api/v1/scheduler"] {
            assert_eq!(realm_of(path), Realm::Scheduler, "{path}");
        }
        for path in [
            "/version",
            "/master/health",
            "/health",
            "/master/redirect",
            "/no/such/thing",
        ] {
            assert_eq!(realm_of(path), Realm::None, "{path}");
        }
    }

    /// libprocess authenticates before the handler runs, and a standby's redirect is the
    /// handler's (`Master::Http::redirect`): without credentials a standby answers `401`,
    /// with them `307` to the leader; `/master/health` needs none.
    #[tokio::test]
    async fn a_standby_authenticates_before_it_redirects() {
        use axum::body::Body;
        use tower::ServiceExt;
        let credentials =
            Credentials::parse(r#"{"credentials":[{"principal":"alice","secret":"s"}]}"#).unwrap();
        let authn = Authentication::new(Some(Arc::new(credentials)), true, true, false, false);
        let config = crate::master::Config::default();
        let leader = crate::master::master_info(&config, "leader");
        let (_role, role_rx) =
            tokio::sync::watch::channel(super::super::Role::Standby(Some(Box::new(leader))));
        let router = super::super::contender_router(
            role_rx,
            super::super::Snapshot::new(&config, "standby"),
            axum::Router::new(),
            authn,
        );
        let request = |path: &str, auth: Option<&str>| {
            let mut r = Request::builder().uri(path);
            if let Some(a) = auth {
                r = r.header("Authorization", a);
            }
            r.body(Body::empty()).unwrap()
        };
        let alice = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s")
        );
        let status = |r: axum::response::Response| r.status().as_u16();
        let answer = router
            .clone()
            .oneshot(request("/master/state", None))
            .await
            .unwrap();
        assert_eq!(status(answer), 401);
        let answer = router
            .clone()
            .oneshot(request("/master/state", Some(&alice)))
            .await
            .unwrap();
        assert_eq!(status(answer), 307);
        let answer = router
            .clone()
            .oneshot(request("/master/flags", None))
            .await
            .unwrap();
        assert_eq!(status(answer), 401);
        let answer = router
            .clone()
            .oneshot(request("/master/health", None))
            .await
            .unwrap();
        assert_eq!(status(answer), 200);
    }

    #[test]
    fn the_scheduler_realm_is_guarded_by_the_flag_of_the_clients_kind() {
        let driver = {
            let mut h = HeaderMap::new();
            h.insert(DRIVER_HEADER, "1.11.0".parse().unwrap());
            h
        };
        let http = HeaderMap::new();
        let only_drivers = Authentication::new(None, false, false, true, false);
        assert_eq!(
            only_drivers.protected(Realm::Scheduler, &driver),
            Some(MASTER_SCHEDULER_REALM)
        );
        assert_eq!(only_drivers.protected(Realm::Scheduler, &http), None);
        let only_http = Authentication::new(None, false, false, false, true);
        assert_eq!(only_http.protected(Realm::Scheduler, &driver), None);
        assert_eq!(
            only_http.protected(Realm::Scheduler, &http),
            Some(MASTER_SCHEDULER_REALM)
        );
        let readonly = Authentication::new(None, true, false, false, false);
        assert_eq!(
            readonly.protected(Realm::ReadOnly, &http),
            Some(MASTER_READONLY_REALM)
        );
        assert_eq!(readonly.protected(Realm::ReadWrite, &http), None);
        assert_eq!(readonly.protected(Realm::None, &http), None);
    }
}
