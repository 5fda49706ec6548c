//! Authentication of the agent's HTTP endpoints and of its executors, as Mesos's agent sets
//! it up (`Slave::initialize`, src/slave/slave.cpp; `initializeHttpAuthenticators`,
//! src/common/http.cpp; the combined authenticator, src/authentication/http/
//! combined_authenticator.cpp).
//!
//! Three realms, each guarded only when its flag is on:
//!
//! | realm | flag | endpoints (Mesos's `route(...)` realms) |
//! |---|---|---|
//! | `mesos-agent-readonly` | `--authenticate_http_readonly` | `/state`, `/flags`, `/containers`, `/monitor/statistics`, `/metrics/snapshot`, `/files/*` |
//! | `mesos-agent-readwrite` | `--authenticate_http_readwrite` | the operator API `/api/v1`, `/logging/toggle` (libprocess's readwrite realm, `process::initialize` in src/slave/main.cpp) |
//! | `mesos-agent-executor` | `--authenticate_http_executors` | the executor API `/api/v1/executor` |
//!
//! `/health` and `/version` are never authenticated (Mesos routes them without a realm).
//!
//! Each guarded realm gets the authenticators of `--http_authenticators`: `basic` (HTTP Basic
//! against `--http_credentials`) and `jwt` (the executors' Bearer tokens, signed with
//! `--jwt_secret_key`). Without the flag the list is `basic`, or `basic,jwt` when executors
//! authenticate, as in Mesos built with SSL (so an executor's token also opens `/api/v1`
//! and the read-only endpoints). Several authenticators combine as Mesos's
//! `CombinedAuthenticator`: the first that accepts wins; when all refuse, the 401 carries
//! each one's challenge, joined by commas. An authenticator a realm needs but cannot have
//! (`basic` without `--http_credentials`, `jwt` without `--jwt_secret_key`, any module name)
//! stops the agent with Mesos's error, as does `--authenticate_http_executors` without
//! `--jwt_secret_key`.
//!
//! A request that passes carries who made it in its extensions: the [`Principal`] of Basic
//! (the shared seam), or the token's [`Claims`]. The executor API then checks that the
//! claims name the calling executor (agent/executor_api.rs, Mesos's `verifyExecutorClaims`).
//! Elsewhere a token is no principal: with `--acls` the authorizer denies it every action it
//! decides, as Mesos's local authorizer denies a subject with claims and no value
//! (security/authorizer.rs, `Subject::Executor`); without `--acls` it is allowed, as anyone.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::security::jwt::{self, Claims, JwtKey};

pub use crate::security::authn::{
    AGENT_EXECUTOR_REALM as EXECUTOR_REALM, AGENT_READONLY_REALM as READONLY_REALM,
    AGENT_READWRITE_REALM as READWRITE_REALM,
};
use crate::security::authn::{Credentials, HttpAuthenticator, Principal};

/// Mesos's names of its built-in HTTP authenticators (src/common/http.hpp).
const BASIC: &str = "basic";
const JWT: &str = "jwt";

/// Which realm an endpoint belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realm {
    ReadOnly,
    ReadWrite,
    Executor,
}

impl Realm {
    pub fn name(self) -> &'static str {
        match self {
            Realm::ReadOnly => READONLY_REALM,
            Realm::ReadWrite => READWRITE_REALM,
            Realm::Executor => EXECUTOR_REALM,
        }
    }
}

/// One authenticator of a realm.
#[derive(Clone, Debug)]
enum Authenticator {
    Basic(HttpAuthenticator),
    Jwt(JwtKey),
}

/// Who an authenticated request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// HTTP Basic: a principal of `--http_credentials`.
    Principal(Principal),
    /// A Bearer token's claims (an executor's: `fid`, `eid`, `cid`).
    Token(Claims),
}

/// The agent's HTTP authentication: which realms are guarded, by which authenticators.
#[derive(Clone, Debug, Default)]
pub struct HttpAuthn {
    readonly: Option<Vec<Authenticator>>,
    readwrite: Option<Vec<Authenticator>>,
    executor: Option<Vec<Authenticator>>,
}

/// The agent's security settings read from its flags.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub http: HttpAuthn,
    /// `--jwt_secret_key`: when set, every executor launched gets a token (Mesos creates its
    /// `JWTSecretGenerator` from the key alone, authentication on or not).
    pub jwt_key: Option<JwtKey>,
    /// `--credential`: what the agent presents to the master.
    pub credential: Option<Credential>,
}

/// The agent's credential (`--credential`): presented to the master as
/// `authorization: Basic base64(principal:secret)` in the metadata of the gRPC session
/// request (Mesos runs CRAM-MD5 over libprocess messages before registering; remesos's
/// agent link is one gRPC stream, so the credential rides on its opening request, as HTTP
/// Basic does for the master's other clients). `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credential {
    pub principal: Principal,
    secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Mesos's credential JSON (`credentials::readCredential`, src/credentials/
    /// credentials.hpp: the `Credential` message, `principal` required, `secret` optional).
    pub fn parse(text: &str) -> Result<Credential, String> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("Invalid json format: {e}"))?;
        let serde_json::Value::Object(o) = json else {
            return Err("Invalid json format: expected a JSON object".into());
        };
        let principal = match o.get("principal") {
            Some(serde_json::Value::String(p)) => p,
            Some(_) => return Err("Failed to parse credential: 'principal' is not a string".into()),
            None => {
                return Err(
                    "Failed to parse credential: missing required field 'principal'".into(),
                );
            }
        };
        let secret = match o.get("secret") {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err("Failed to parse credential: 'secret' is not a string".into()),
        };
        let principal = Principal::new(principal.as_str())
            .map_err(|e| format!("Failed to parse credential: {e}"))?;
        if principal.as_str().contains(':') {
            return Err(
                "Failed to parse credential: a principal with ':' cannot be sent as HTTP Basic"
                    .into(),
            );
        }
        Ok(Credential { principal, secret })
    }

    /// Reads `--credential` (a path or `file://` URL), with Mesos's errors; the error never
    /// shows the file's content.
    pub fn read(value: &str) -> Result<Credential, String> {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        let path = flag_path(value);
        let fail = |e: std::io::Error| format!("Failed to read credential file '{path}': {e}");
        let file = std::fs::File::open(path).map_err(fail)?;
        let meta = file.metadata().map_err(fail)?;
        let mut text = String::new();
        file.take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(fail)?;
        if text.is_empty() {
            return Err(format!("Empty credential file '{path}'"));
        }
        if meta.permissions().mode() & 0o007 != 0 {
            tracing::warn!(
                path,
                "Permissions on credential file are too open; it is recommended that your \
                 credential file is NOT accessible by others"
            );
        }
        let credential = Credential::parse(&text)?;
        tracing::info!(principal = %credential.principal, "Agent using credential");
        Ok(credential)
    }

    /// The `authorization` value the agent sends: `Basic base64(principal:secret)`.
    pub fn basic(&self) -> String {
        use base64::Engine;
        let pair = format!("{}:{}", self.principal.as_str(), self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// `file:///p` or `/p`, as Mesos's path flags take them.
fn flag_path(value: &str) -> &str {
    value.strip_prefix("file://").unwrap_or(value)
}

/// Reads `--jwt_secret_key` (Mesos: `os::read` of the file, used whole; a file others can
/// read is warned about). An unreadable or empty file stops the agent.
fn read_jwt_key(value: &str) -> Result<JwtKey, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = flag_path(value);
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("Failed to read the file specified by --jwt_secret_key: {e}"))?;
    if !meta.is_file() {
        return Err("Failed to read the file specified by --jwt_secret_key: not a file".into());
    }
    // A key is a few bytes; a huge file is a mistake, not a key.
    if meta.len() > 64 * 1024 {
        return Err("The file specified by --jwt_secret_key is larger than 64 KiB".into());
    }
    let secret = std::fs::read(path)
        .map_err(|e| format!("Failed to read the file specified by --jwt_secret_key: {e}"))?;
    if meta.permissions().mode() & 0o007 != 0 {
        tracing::warn!(
            path,
            "Permissions on executor secret key file are too open; it is recommended that \
             your key file is NOT accessible by others"
        );
    }
    if secret.len() < jwt::MIN_KEY_BYTES {
        tracing::warn!(
            path,
            bytes = secret.len(),
            minimum = jwt::MIN_KEY_BYTES,
            "the JWT secret key is shorter than HS256's hash; a short key can be guessed from \
             any executor's token"
        );
    }
    JwtKey::new(&secret).map_err(|e| format!("{e} (see --jwt_secret_key)"))
}

impl Settings {
    /// The settings of `--authenticate_http_readonly`, `--authenticate_http_readwrite`,
    /// `--authenticate_http_executors`, `--http_authenticators`, `--http_credentials` and
    /// `--jwt_secret_key` (alias `--executor_secret_key`), or the error that stops the agent.
    pub fn from_flags(loaded: &crate::flags::LoadedFlags) -> Result<Settings, String> {
        let on = |name| loaded.get_bool(name).unwrap_or(false);
        let (readonly, readwrite, executors) = (
            on("authenticate_http_readonly"),
            on("authenticate_http_readwrite"),
            on("authenticate_http_executors"),
        );
        let value = |name| loaded.get_str(name).filter(|v| !v.is_empty());
        let credentials = match value("http_credentials") {
            None => None,
            Some(v) => {
                let credentials = Credentials::read(v)
                    .map_err(|e| format!("{e} (see --http_credentials flag)"))?;
                if credentials.is_empty() {
                    return Err("Credentials file must contain at least one credential \
                                (see --http_credentials flag)"
                        .into());
                }
                Some(Arc::new(credentials))
            }
        };
        let credential = value("credential")
            .map(Credential::read)
            .transpose()
            .map_err(|e| format!("{e} (see --credential flag)"))?;
        match loaded.get_str("authenticatee").unwrap_or("crammd5") {
            "crammd5" => {}
            other => {
                return Err(format!(
                    "Authenticatee '{other}' not found: remesos loads no authenticatee \
                     modules; use 'crammd5' (see --authenticatee)"
                ));
            }
        }
        let jwt_key = value("jwt_secret_key").map(read_jwt_key).transpose()?;
        if executors && jwt_key.is_none() {
            return Err("--jwt_secret_key must be specified when \
                        --authenticate_http_executors is set to true"
                .into());
        }
        let names: Vec<String> = match value("http_authenticators") {
            Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
            None if executors => vec![BASIC.into(), JWT.into()],
            None => vec![BASIC.into()],
        };
        let realm = |realm: Realm| -> Result<Vec<Authenticator>, String> {
            let realm = realm.name();
            if names.iter().all(|n| n.is_empty()) {
                return Err(format!(
                    "No HTTP authenticators specified for realm '{realm}'"
                ));
            }
            names
                .iter()
                .map(|name| match name.as_str() {
                    BASIC => credentials
                        .clone()
                        .map(|c| Authenticator::Basic(HttpAuthenticator::new(c)))
                        .ok_or_else(|| {
                            format!(
                                "Failed to create HTTP authenticator module 'basic': No \
                                 credentials provided for the default 'basic' HTTP \
                                 authenticator for realm '{realm}' (see --http_credentials)"
                            )
                        }),
                    JWT => jwt_key.clone().map(Authenticator::Jwt).ok_or_else(|| {
                        format!(
                            "Failed to create HTTP authenticator module 'jwt': No secret key \
                             provided for the default 'jwt' HTTP authenticator for realm \
                             '{realm}' (see --jwt_secret_key)"
                        )
                    }),
                    other => Err(format!(
                        "HTTP authenticator '{other}' not found: remesos loads no modules; \
                         use '{BASIC}' and/or '{JWT}' (see --http_authenticators)"
                    )),
                })
                .collect()
        };
        let http = HttpAuthn {
            readonly: readonly.then(|| realm(Realm::ReadOnly)).transpose()?,
            readwrite: readwrite.then(|| realm(Realm::ReadWrite)).transpose()?,
            executor: executors.then(|| realm(Realm::Executor)).transpose()?,
        };
        Ok(Settings {
            http,
            jwt_key,
            credential,
        })
    }
}

impl HttpAuthn {
    fn authenticators(&self, realm: Realm) -> Option<&[Authenticator]> {
        match realm {
            Realm::ReadOnly => self.readonly.as_deref(),
            Realm::ReadWrite => self.readwrite.as_deref(),
            Realm::Executor => self.executor.as_deref(),
        }
    }

    /// Whether requests to `realm` must authenticate.
    pub fn guards(&self, realm: Realm) -> bool {
        self.authenticators(realm).is_some()
    }

    /// Authenticates a request to `realm`: `Ok(None)` when the realm is not guarded, the
    /// caller when an authenticator accepts, else the 401 (`now`: seconds since the epoch,
    /// for a token's `exp`).
    pub fn authenticate(
        &self,
        realm: Realm,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Option<Caller>, Refused> {
        let Some(authenticators) = self.authenticators(realm) else {
            return Ok(None);
        };
        let mut challenges = Vec::with_capacity(authenticators.len());
        for authenticator in authenticators {
            match authenticator {
                Authenticator::Basic(basic) => match basic.authenticate(realm.name(), headers) {
                    Ok(principal) => return Ok(Some(Caller::Principal(principal))),
                    Err(refused) => {
                        tracing::debug!(realm = realm.name(), reason = %refused.reason, "basic authentication refused");
                        challenges.push(refused.challenge());
                    }
                },
                Authenticator::Jwt(key) => {
                    let mut values = headers.get_all(header::AUTHORIZATION).iter();
                    let value = values.next();
                    let value = if values.next().is_some() {
                        // Two Authorization headers: neither is taken.
                        Some("")
                    } else {
                        value.map(|v| v.to_str().unwrap_or(""))
                    };
                    match jwt::authenticate_bearer(key, realm.name(), value, now) {
                        Ok(claims) => return Ok(Some(Caller::Token(claims))),
                        Err(refused) => challenges.push(refused.www_authenticate),
                    }
                }
            }
        }
        Err(Refused {
            challenges: challenges.join(","),
        })
    }
}

/// A request every authenticator of its realm refused: the `WWW-Authenticate` value of
/// the 401, each authenticator's challenge joined by commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub challenges: String,
}

/// 401 with `WWW-Authenticate: <challenges>` and an empty body, as libprocess answers.
impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&self.challenges) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Seconds since the epoch, for tokens' `exp` (read in the HTTP shell, never in the agent's
/// state machine).
pub fn now_secs() -> i64 {
    crate::common::time::now().wall as i64
}

/// Middleware: authenticates a request to its route's realm and records the caller in its
/// extensions (a [`Principal`] or the token's [`Claims`]), or answers 401.
pub async fn guard(
    axum::extract::State((authn, realm)): axum::extract::State<(Arc<HttpAuthn>, Realm)>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authn.authenticate(realm, request.headers(), now_secs()) {
        Ok(None) => {}
        Ok(Some(Caller::Principal(principal))) => {
            if let Some(slot) = request.extensions().get::<crate::api::AccessPrincipal>() {
                let _ = slot.0.set(principal.clone());
            }
            request.extensions_mut().insert(principal);
        }
        Ok(Some(Caller::Token(claims))) => {
            request.extensions_mut().insert(claims);
        }
        Err(refused) => {
            tracing::info!(realm = realm.name(), path = %request.uri().path(), "refused an unauthenticated request");
            return refused.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const KEY: &[u8] = b"an agent's key, thirty-two bytes";

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("remesos-agent-authn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn load(args: &[&str]) -> Result<Settings, String> {
        let flags = super::super::flags::flags();
        let loaded = flags
            .load(args, std::iter::empty::<(&str, &str)>())
            .map_err(|e| e.to_string())?;
        Settings::from_flags(&loaded)
    }

    /// Writes the key and a credentials file; returns their flags.
    fn files() -> (String, String) {
        let d = dir();
        std::fs::write(d.join("key"), KEY).unwrap();
        std::fs::write(
            d.join("creds"),
            r#"{"credentials":[{"principal":"ops","secret":"s3cret"}]}"#,
        )
        .unwrap();
        (
            format!("--jwt_secret_key={}", d.join("key").display()),
            format!("--http_credentials=file://{}", d.join("creds").display()),
        )
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = authorization {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    fn challenge(r: Refused) -> String {
        let r = r.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_string()
    }

    /// slave.cpp: `--authenticate_http_executors` without `--jwt_secret_key` exits.
    #[test]
    fn executor_authentication_without_a_key_stops_the_agent() {
        let err = load(&["--authenticate_http_executors"]).unwrap_err();
        assert_eq!(
            err,
            "--jwt_secret_key must be specified when --authenticate_http_executors is set to true"
        );
    }

    /// common/http.cpp `createBasicAuthenticator`: a guarded realm with `basic` and no
    /// `--http_credentials` stops the agent (here read-only, and the executor realm whose
    /// default authenticators are `basic,jwt`).
    #[test]
    fn basic_without_credentials_stops_the_agent() {
        let (key, _) = files();
        let err = load(&["--authenticate_http_readonly"]).unwrap_err();
        assert!(err.contains("No credentials provided for the default 'basic' HTTP authenticator for realm 'mesos-agent-readonly'"), "{err}");
        let err = load(&["--authenticate_http_executors", &key]).unwrap_err();
        assert!(err.contains("realm 'mesos-agent-executor'"), "{err}");
        // With only the jwt authenticator, executors need no credentials.
        let s = load(&[
            "--authenticate_http_executors",
            &key,
            "--http_authenticators=jwt",
        ])
        .unwrap();
        assert!(s.http.guards(Realm::Executor) && !s.http.guards(Realm::ReadOnly));
        let err =
            load(&["--authenticate_http_readwrite", "--http_authenticators=jwt"]).unwrap_err();
        assert!(err.contains("No secret key provided for the default 'jwt' HTTP authenticator for realm 'mesos-agent-readwrite'"), "{err}");
        let err = load(&[
            "--authenticate_http_readwrite",
            "--http_authenticators=com_acme_Auth",
        ])
        .unwrap_err();
        assert!(
            err.contains("HTTP authenticator 'com_acme_Auth' not found"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_or_empty_keys_stop_the_agent() {
        let d = dir();
        let err = load(&[&format!("--jwt_secret_key={}", d.join("none").display())]).unwrap_err();
        assert!(
            err.starts_with("Failed to read the file specified by --jwt_secret_key"),
            "{err}"
        );
        std::fs::write(d.join("empty"), b"").unwrap();
        let err = load(&[&format!("--jwt_secret_key={}", d.join("empty").display())]).unwrap_err();
        assert!(err.contains("empty"), "{err}");
        // The older name is Mesos's deprecated alias of the flag.
        std::fs::write(d.join("key"), KEY).unwrap();
        let s = load(&[&format!(
            "--executor_secret_key={}",
            d.join("key").display()
        )])
        .unwrap();
        assert!(s.jwt_key.is_some() && !s.http.guards(Realm::Executor));
    }

    /// Nothing is guarded unless its flag is on.
    #[test]
    fn realms_are_open_by_default() {
        let s = load(&[]).unwrap();
        for realm in [Realm::ReadOnly, Realm::ReadWrite, Realm::Executor] {
            assert_eq!(
                s.http.authenticate(realm, &headers(None), 0).ok(),
                Some(None)
            );
        }
        assert!(s.jwt_key.is_none());
    }

    /// combined_authenticator.cpp: with `basic,jwt`, either scheme passes; when both refuse
    /// the 401 carries both challenges.
    #[test]
    fn basic_and_bearer_combine_as_mesos_does() {
        let (key, creds) = files();
        let s = load(&[
            "--authenticate_http_executors",
            "--authenticate_http_readonly",
            &key,
            &creds,
        ])
        .unwrap();
        let jwt = s.jwt_key.clone().unwrap();
        let claims: Claims = [("fid", "f"), ("eid", "e"), ("cid", "c")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let token = jwt::create(&jwt, &claims);
        let bearer = format!("Bearer {token}");
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:s3cret")
        );
        for realm in [Realm::Executor, Realm::ReadOnly] {
            assert_eq!(
                s.http.authenticate(realm, &headers(Some(&bearer)), 0).ok(),
                Some(Some(Caller::Token(claims.clone())))
            );
            assert_eq!(
                s.http.authenticate(realm, &headers(Some(&basic)), 0).ok(),
                Some(Some(Caller::Principal(Principal::new("ops").unwrap())))
            );
        }
        let refused = s
            .http
            .authenticate(Realm::Executor, &headers(None), 0)
            .unwrap_err();
        assert_eq!(
            challenge(refused),
            r#"Basic realm="mesos-agent-executor",Bearer realm="mesos-agent-executor""#
        );
        // Read-write is not guarded: open.
        assert_eq!(
            s.http
                .authenticate(Realm::ReadWrite, &headers(None), 0)
                .ok(),
            Some(None)
        );
    }

    #[test]
    fn forged_and_unsigned_tokens_are_refused() {
        let (key, _) = files();
        let s = load(&[
            "--authenticate_http_executors",
            &key,
            "--http_authenticators=jwt",
        ])
        .unwrap();
        let other = JwtKey::new(b"not the agent's key, but as long").unwrap();
        let claims: Claims = [("fid".to_string(), "f".to_string())].into_iter().collect();
        let forged = format!("Bearer {}", jwt::create(&other, &claims));
        let c = challenge(
            s.http
                .authenticate(Realm::Executor, &headers(Some(&forged)), 0)
                .unwrap_err(),
        );
        assert!(c.contains("Token signature does not match"), "{c}");
        let b64 = |t: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
        let none = format!(
            "Bearer {}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(r#"{"fid":"f"}"#)
        );
        let c = challenge(
            s.http
                .authenticate(Realm::Executor, &headers(Some(&none)), 0)
                .unwrap_err(),
        );
        assert!(
            c.contains("Invalid JWT: Token 'alg' value 'none' does not match"),
            "{c}"
        );
        // Two Authorization headers are not an authentication.
        let mut h = HeaderMap::new();
        let good = format!(
            "Bearer {}",
            jwt::create(s.jwt_key.as_ref().unwrap(), &claims)
        );
        h.append(header::AUTHORIZATION, HeaderValue::from_str(&good).unwrap());
        h.append(header::AUTHORIZATION, HeaderValue::from_str(&good).unwrap());
        assert!(s.http.authenticate(Realm::Executor, &h, 0).is_err());
    }

    /// credentials.hpp `readCredential`: one JSON credential; an empty file, bad JSON or no
    /// principal stops the agent; the secret never shows.
    #[test]
    fn the_agent_credential_is_read_as_mesos_reads_it() {
        let d = dir();
        let path = d.join("cred");
        std::fs::write(&path, r#"{"principal": "agent", "secret": "hunter2"}"#).unwrap();
        let s = load(&[&format!("--credential=file://{}", path.display())]).unwrap();
        let c = s.credential.unwrap();
        assert_eq!(c.principal.as_str(), "agent");
        assert_eq!(
            c.basic(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("agent:hunter2")
            )
        );
        assert!(!format!("{c:?}").contains("hunter2"));
        for (text, want) in [
            ("", "Empty credential file"),
            ("principal secret", "Invalid json format"),
            (r#"{"secret": "x"}"#, "missing required field 'principal'"),
            (r#"{"principal": 7}"#, "'principal' is not a string"),
            (r#"{"principal": "a:b", "secret": "x"}"#, "':'"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = load(&[&format!("--credential={}", path.display())]).unwrap_err();
            assert!(
                err.contains(want) && err.ends_with("(see --credential flag)"),
                "{text}: {err}"
            );
        }
        let err = load(&["--authenticatee=com_acme_Authenticatee"]).unwrap_err();
        assert!(
            err.contains("Authenticatee 'com_acme_Authenticatee' not found"),
            "{err}"
        );
    }
}
