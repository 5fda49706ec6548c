//! HTTP authentication as Mesos does it: principals, the credentials file, HTTP Basic, the
//! realms and their `401` challenge. The master and the agent both use it; each decides which
//! of its endpoints are in which realm and whether that realm is protected (its
//! `--authenticate_http_*` flags), then asks an [`HttpAuthenticator`] built over its
//! credentials (`--credentials` for the master, `--http_credentials` for the agent).
//!
//! # What follows Mesos (1.11)
//!
//! - **Credentials file** (`src/credentials/credentials.hpp` `credentials::read`): JSON
//!   `{"credentials": [{"principal": "..", "secret": ".."}]}` (`Credentials` in
//!   `include/mesos/mesos.proto`: `principal` required, `secret` an optional *string*, not
//!   base64), from a path or a `file://` URL. An empty file holds no credentials. Fields the
//!   proto does not have are ignored, as stout's JSON-to-protobuf parsing ignores them. The
//!   older text format (`principal secret` per line) was removed from Mesos before 1.10
//!   (commit 3f9544390 "Remove credential text format support"), so it is refused here too.
//!   A principal listed twice keeps its last secret, as the basic authenticator's map does
//!   (`basic_authenticator_factory.cpp`); a warning names it. Permissions open to others are
//!   warned about as Mesos warns. The file is bounded ([`MAX_CREDENTIALS_BYTES`]).
//! - **HTTP Basic** (libprocess `src/authenticator.cpp`,
//!   `BasicAuthenticatorProcess::authenticate`): `Authorization: Basic base64(principal:secret)`;
//!   anything else — no header, another scheme, bad base64, no `:`, an unknown principal, a
//!   wrong secret — is `401 Unauthorized` with `WWW-Authenticate: Basic realm="<realm>"` and
//!   an empty body. Only the realms a daemon protects authenticate; a request to an
//!   unprotected realm is anonymous and its `Authorization` header is ignored (libprocess
//!   installs no authenticator for such a realm, `process.cpp` `ProcessManager::handle`).
//! - **Realms** (`src/master/constants.hpp`, `src/slave/constants.hpp`): the constants below.
//!
//! # Where we differ, and why
//!
//! - The decoded `principal:secret` splits at the *first* `:` (RFC 7617), so a secret may hold
//!   `:`; Mesos splits at every `:` and refuses such a secret. The scheme name is matched
//!   without regard to case (RFC 7235); Mesos wants `Basic` exactly.
//! - Bounds where network input enters: an `Authorization` value longer than
//!   [`MAX_AUTHORIZATION_BYTES`], a header sent twice, a principal that is empty, longer than
//!   [`Principal::MAX_BYTES`] or holds a control character, and a decoded value that is not
//!   UTF-8 are all `401`, never a panic.
//! - Secrets are compared in constant time and never kept in clear: the file's secrets are
//!   stored as HMAC-SHA256 tags under a key drawn at start, and a presented secret is checked
//!   with `ring::hmac::verify` (constant-time, independent of the secret's length). An unknown
//!   principal is checked against a dummy tag, so the time taken does not tell which
//!   principals exist. No secret is logged or shown in `Debug`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ring::hmac;

/// `src/master/constants.hpp` `READONLY_HTTP_AUTHENTICATION_REALM`.
pub const MASTER_READONLY_REALM: &str = "mesos-master-readonly";
/// `src/master/constants.hpp` `READWRITE_HTTP_AUTHENTICATION_REALM`.
pub const MASTER_READWRITE_REALM: &str = "mesos-master-readwrite";
/// `src/master/constants.hpp` `DEFAULT_HTTP_FRAMEWORK_AUTHENTICATION_REALM`.
pub const MASTER_SCHEDULER_REALM: &str = "mesos-master-scheduler";
/// `src/slave/constants.hpp` `READONLY_HTTP_AUTHENTICATION_REALM`.
pub const AGENT_READONLY_REALM: &str = "mesos-agent-readonly";
/// `src/slave/constants.hpp` `READWRITE_HTTP_AUTHENTICATION_REALM`.
pub const AGENT_READWRITE_REALM: &str = "mesos-agent-readwrite";
/// `src/slave/constants.hpp` `EXECUTOR_HTTP_AUTHENTICATION_REALM` (a `Bearer` realm: the
/// executors' JWTs, security/jwt.rs).
pub const AGENT_EXECUTOR_REALM: &str = "mesos-agent-executor";

/// The only HTTP authenticator remesos has: Mesos's default `--http_authenticators`.
pub const BASIC_HTTP_AUTHENTICATOR: &str = "basic";

/// A credentials file larger than this is refused (it is read whole, at start).
pub const MAX_CREDENTIALS_BYTES: u64 = 4 * 1024 * 1024;
/// An `Authorization` header longer than this is refused with `401` before it is decoded.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// What went wrong with a principal, a credentials file or an `Authorization` header.
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error("principal is empty")]
    EmptyPrincipal,
    #[error("principal is longer than {max} bytes", max = Principal::MAX_BYTES)]
    PrincipalTooLong,
    #[error("principal contains a control character")]
    PrincipalControlCharacter,
    #[error("Failed to read credentials file '{path}': {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("credentials file '{path}' is larger than {max} bytes", max = MAX_CREDENTIALS_BYTES)]
    FileTooLarge { path: String },
    #[error("Invalid json format: {0}")]
    Json(String),
    #[error("Failed to parse credentials: {0}")]
    Parse(String),
    #[error("Failed to parse credentials: credential {index}: {source}")]
    BadPrincipal {
        index: usize,
        source: Box<AuthnError>,
    },
    #[error("no Authorization header")]
    MissingHeader,
    #[error("more than one Authorization header")]
    RepeatedHeader,
    #[error("Authorization header is longer than {max} bytes", max = MAX_AUTHORIZATION_BYTES)]
    HeaderTooLarge,
    #[error("Authorization header is not of the form '<scheme> <credentials>'")]
    MalformedHeader,
    #[error("Authorization scheme is not 'Basic'")]
    WrongScheme,
    #[error("Authorization credentials are not valid base64")]
    BadBase64,
    #[error("Authorization credentials are not UTF-8")]
    NotUtf8,
    #[error("Authorization credentials have no ':' between principal and secret")]
    NoColon,
    #[error("Authorization principal is invalid: {0}")]
    HeaderPrincipal(Box<AuthnError>),
    #[error("unknown principal or wrong secret")]
    BadCredentials,
}

/// An authenticated (or configured) principal's name: non-empty, at most
/// [`Principal::MAX_BYTES`] bytes, no control characters. Only [`Principal::new`] builds
/// one, so a `Principal` in a request's extensions or on a framework is always valid.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal(String);

impl Principal {
    /// Mesos sets no bound; one is needed where network input enters. Far above any
    /// principal seen in practice.
    pub const MAX_BYTES: usize = 1024;

    pub fn new(name: impl Into<String>) -> Result<Principal, AuthnError> {
        let name = name.into();
        if name.is_empty() {
            return Err(AuthnError::EmptyPrincipal);
        }
        if name.len() > Self::MAX_BYTES {
            return Err(AuthnError::PrincipalTooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(AuthnError::PrincipalControlCharacter);
        }
        Ok(Principal(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({:?})", self.0)
    }
}

impl AsRef<str> for Principal {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The principals and secrets of a credentials file. Secrets are held as HMAC tags only
/// (module doc); `Debug` shows the principals.
pub struct Credentials {
    key: hmac::Key,
    tags: HashMap<Principal, hmac::Tag>,
    /// Checked for an unknown principal, so that it costs what a known one costs.
    dummy: hmac::Tag,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut principals: Vec<&str> = self.tags.keys().map(Principal::as_str).collect();
        principals.sort_unstable();
        f.debug_struct("Credentials")
            .field("principals", &principals)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from `(principal, secret)` pairs; a principal given twice keeps its last
    /// secret.
    pub fn new<S: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (Principal, S)>,
    ) -> Result<Credentials, AuthnError> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| AuthnError::Parse("no randomness for the secrets' key".to_string()))?;
        let dummy = hmac::sign(&key, b"");
        let mut tags = HashMap::new();
        for (principal, secret) in pairs {
            let tag = hmac::sign(&key, secret.as_ref());
            if tags.insert(principal.clone(), tag).is_some() {
                tracing::warn!(%principal, "principal is listed twice in the credentials; the last secret is used");
            }
        }
        Ok(Credentials { key, tags, dummy })
    }

    /// Parses the credentials file's JSON (module doc).
    pub fn parse(text: &str) -> Result<Credentials, AuthnError> {
        if text.trim().is_empty() {
            return Credentials::new(std::iter::empty::<(Principal, &str)>());
        }
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| AuthnError::Json(e.to_string()))?;
        let serde_json::Value::Object(object) = json else {
            return Err(AuthnError::Json("expected a JSON object".to_string()));
        };
        let list = match object.get("credentials") {
            None | Some(serde_json::Value::Null) => &Vec::new(),
            Some(serde_json::Value::Array(list)) => list,
            Some(_) => {
                return Err(AuthnError::Parse(
                    "'credentials' is not a JSON array".to_string(),
                ));
            }
        };
        let mut pairs = Vec::with_capacity(list.len());
        for (index, entry) in list.iter().enumerate() {
            let serde_json::Value::Object(entry) = entry else {
                return Err(AuthnError::Parse(format!(
                    "credential {index} is not a JSON object"
                )));
            };
            let principal = match entry.get("principal") {
                Some(serde_json::Value::String(p)) => p,
                Some(_) => {
                    return Err(AuthnError::Parse(format!(
                        "credential {index}: 'principal' is not a string"
                    )));
                }
                None => {
                    return Err(AuthnError::Parse(format!(
                        "credential {index}: missing required field 'principal'"
                    )));
                }
            };
            let secret = match entry.get("secret") {
                None | Some(serde_json::Value::Null) => "",
                Some(serde_json::Value::String(s)) => s.as_str(),
                Some(_) => {
                    return Err(AuthnError::Parse(format!(
                        "credential {index}: 'secret' is not a string"
                    )));
                }
            };
            let principal =
                Principal::new(principal.as_str()).map_err(|e| AuthnError::BadPrincipal {
                    index,
                    source: Box::new(e),
                })?;
            if principal.as_str().contains(':') {
                tracing::warn!(%principal, "principal contains ':' and cannot authenticate with HTTP Basic");
            }
            pairs.push((principal, secret.as_bytes().to_vec()));
        }
        Credentials::new(pairs)
    }

    /// Reads the credentials file named by a `--credentials` (or `--http_credentials`) value:
    /// a path or a `file://` URL. The error names the path, never the contents.
    pub fn read(value: &str) -> Result<Credentials, AuthnError> {
        let path = value.strip_prefix("file://").unwrap_or(value);
        let read_error = |source| AuthnError::Read {
            path: path.to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if meta.len() > MAX_CREDENTIALS_BYTES {
            return Err(AuthnError::FileTooLarge {
                path: path.to_string(),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o007 != 0 {
                tracing::warn!(
                    path,
                    "Permissions on credentials file are too open; it is recommended that \
                     your credentials file is NOT accessible by others"
                );
            }
        }
        let mut text = String::new();
        // Bounded again while reading: the file may grow between stat and read.
        std::io::Read::read_to_string(
            &mut std::io::Read::take(file, MAX_CREDENTIALS_BYTES + 1),
            &mut text,
        )
        .map_err(read_error)?;
        if text.len() as u64 > MAX_CREDENTIALS_BYTES {
            return Err(AuthnError::FileTooLarge {
                path: path.to_string(),
            });
        }
        tracing::info!(path = %Path::new(path).display(), "loaded credentials for authentication");
        Credentials::parse(&text)
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether `secret` is `principal`'s secret, in constant time (module doc).
    pub fn verify(&self, principal: &Principal, secret: &[u8]) -> bool {
        let (tag, known) = match self.tags.get(principal) {
            Some(tag) => (tag, true),
            None => (&self.dummy, false),
        };
        let matches = hmac::verify(&self.key, secret, tag.as_ref()).is_ok();
        known && matches
    }
}

/// The principal and secret of an `Authorization: Basic` header.
pub struct BasicCredentials {
    pub principal: Principal,
    pub secret: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Parses the value of an `Authorization` header as HTTP Basic (module doc).
pub fn parse_basic(value: &[u8]) -> Result<BasicCredentials, AuthnError> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(AuthnError::HeaderTooLarge);
    }
    let value = std::str::from_utf8(value).map_err(|_| AuthnError::MalformedHeader)?;
    let (scheme, encoded) = value.split_once(' ').ok_or(AuthnError::MalformedHeader)?;
    if encoded.is_empty() || encoded.contains(' ') {
        return Err(AuthnError::MalformedHeader);
    }
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(AuthnError::WrongScheme);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| AuthnError::BadBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthnError::NotUtf8)?;
    let (principal, secret) = decoded.split_once(':').ok_or(AuthnError::NoColon)?;
    let principal =
        Principal::new(principal).map_err(|e| AuthnError::HeaderPrincipal(Box::new(e)))?;
    Ok(BasicCredentials {
        principal,
        secret: secret.to_string(),
    })
}

/// A request refused by authentication: answered `401` with the realm's challenge.
#[derive(Debug)]
pub struct Unauthorized {
    pub realm: &'static str,
    /// Why (for the daemon's log; never sent, and never holds a secret).
    pub reason: AuthnError,
}

impl Unauthorized {
    /// `WWW-Authenticate: Basic realm="<realm>"` (libprocess `Unauthorized({"Basic
    /// realm=\"...\""})`), empty body.
    pub fn challenge(&self) -> String {
        format!("Basic realm=\"{}\"", self.realm)
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&self.challenge()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Mesos's `basic` HTTP authenticator over a daemon's credentials. Cheap to clone; the
/// caller decides which realms it guards (a realm that is off is never passed here).
#[derive(Clone, Debug)]
pub struct HttpAuthenticator {
    credentials: std::sync::Arc<Credentials>,
}

impl HttpAuthenticator {
    pub fn new(credentials: std::sync::Arc<Credentials>) -> HttpAuthenticator {
        HttpAuthenticator { credentials }
    }

    /// Authenticates a request to a protected `realm` from its headers: its principal, or
    /// the `401` to answer.
    pub fn authenticate(
        &self,
        realm: &'static str,
        headers: &HeaderMap,
    ) -> Result<Principal, Unauthorized> {
        let refuse = |reason| Unauthorized { realm, reason };
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = values
            .next()
            .ok_or_else(|| refuse(AuthnError::MissingHeader))?;
        if values.next().is_some() {
            return Err(refuse(AuthnError::RepeatedHeader));
        }
        let basic = parse_basic(value.as_bytes()).map_err(refuse)?;
        if !self
            .credentials
            .verify(&basic.principal, basic.secret.as_bytes())
        {
            return Err(refuse(AuthnError::BadCredentials));
        }
        Ok(basic.principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::parse(
            r#"{"credentials": [
                {"principal": "sherman", "secret": "kitesurf"},
                {"principal": "ops", "secret": "pa:ss"},
                {"principal": "nobody"}
            ]}"#,
        )
        .unwrap()
    }

    fn basic(text: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn authn() -> HttpAuthenticator {
        HttpAuthenticator::new(std::sync::Arc::new(creds()))
    }

    #[test]
    fn a_principal_is_non_empty_bounded_and_free_of_control_characters() {
        assert_eq!(Principal::new("sherman").unwrap().as_str(), "sherman");
        assert!(matches!(
            Principal::new(""),
            Err(AuthnError::EmptyPrincipal)
        ));
        assert!(matches!(
            Principal::new("a".repeat(Principal::MAX_BYTES + 1)),
            Err(AuthnError::PrincipalTooLong)
        ));
        Principal::new("a".repeat(Principal::MAX_BYTES)).unwrap();
        for bad in ["a\nb", "a\0", "\u{7f}x", "tab\there"] {
            assert!(
                matches!(
                    Principal::new(bad),
                    Err(AuthnError::PrincipalControlCharacter)
                ),
                "{bad:?}"
            );
        }
        // Spaces, unicode and ':' are names Mesos accepts.
        Principal::new("jörg the admin").unwrap();
    }

    /// `credentials.hpp`: the JSON form; `secret` is a plain string; unknown fields are
    /// ignored; a missing secret is empty; an empty file holds nothing.
    #[test]
    fn the_credentials_file_is_mesos_json() {
        let c = creds();
        assert_eq!(c.len(), 3);
        let p = |s: &str| Principal::new(s).unwrap();
        assert!(c.verify(&p("sherman"), b"kitesurf"));
        assert!(!c.verify(&p("sherman"), b"kitesurF"));
        assert!(!c.verify(&p("sherman"), b"kitesurfx"));
        assert!(!c.verify(&p("sherman"), b""));
        assert!(c.verify(&p("ops"), b"pa:ss"));
        assert!(c.verify(&p("nobody"), b""));
        assert!(!c.verify(&p("unknown"), b""));
        let extra =
            Credentials::parse(r#"{"credentials":[{"principal":"a","secret":"b","x":1}],"y":2}"#)
                .unwrap();
        assert!(extra.verify(&p("a"), b"b"));
        assert!(Credentials::parse("").unwrap().is_empty());
        assert!(Credentials::parse("{}").unwrap().is_empty());
        // Last secret wins, as in the basic authenticator's map.
        let twice = Credentials::parse(
            r#"{"credentials":[{"principal":"a","secret":"1"},{"principal":"a","secret":"2"}]}"#,
        )
        .unwrap();
        assert!(twice.verify(&p("a"), b"2"));
        assert!(!twice.verify(&p("a"), b"1"));
    }

    #[test]
    fn malformed_credentials_files_are_refused_without_echoing_secrets() {
        for bad in [
            "sherman kitesurf\n",
            "[]",
            r#"{"credentials": {"principal": "a"}}"#,
            r#"{"credentials": [{"secret": "s3cr3t"}]}"#,
            r#"{"credentials": [{"principal": "", "secret": "s3cr3t"}]}"#,
            r#"{"credentials": [{"principal": 1, "secret": "s3cr3t"}]}"#,
            r#"{"credentials": [{"principal": "a", "secret": 5}]}"#,
            r#"{"credentials": [{"principal": "a\n", "secret": "s3cr3t"}]}"#,
            r#"{"credentials": ["a"]}"#,
        ] {
            let err = Credentials::parse(bad).expect_err(bad).to_string();
            assert!(!err.contains("s3cr3t"), "{err}");
        }
        let debug = format!("{:?}", creds());
        assert!(
            debug.contains("sherman") && !debug.contains("kitesurf"),
            "{debug}"
        );
    }

    #[test]
    fn the_credentials_file_is_read_from_a_path_or_a_file_url_and_bounded() {
        let dir = std::env::temp_dir().join(format!("authn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("creds.json");
        std::fs::write(&file, r#"{"credentials":[{"principal":"a","secret":"b"}]}"#).unwrap();
        let a = Principal::new("a").unwrap();
        assert!(
            Credentials::read(file.to_str().unwrap())
                .unwrap()
                .verify(&a, b"b")
        );
        assert!(
            Credentials::read(&format!("file://{}", file.display()))
                .unwrap()
                .verify(&a, b"b")
        );
        let missing = Credentials::read("/nonexistent/creds.json").unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("Failed to read credentials file '/nonexistent/creds.json'"),
            "{missing}"
        );
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; MAX_CREDENTIALS_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            Credentials::read(big.to_str().unwrap()),
            Err(AuthnError::FileTooLarge { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let c = parse_basic(basic("sherman:kitesurf").as_bytes()).unwrap();
        assert_eq!(c.principal.as_str(), "sherman");
        assert_eq!(c.secret, "kitesurf");
        let c = parse_basic(basic("ops:pa:ss").as_bytes()).unwrap();
        assert_eq!((c.principal.as_str(), c.secret.as_str()), ("ops", "pa:ss"));
        let c = parse_basic(basic("a:").as_bytes()).unwrap();
        assert_eq!(c.secret, "");
        // The scheme's case does not matter (RFC 7235).
        parse_basic(basic("a:b").replace("Basic", "bAsIc").as_bytes()).unwrap();
    }

    /// libprocess `BasicAuthenticatorProcess::authenticate`: every malformed header is a
    /// `401` (here: an error), never a panic.
    #[test]
    fn bad_authorization_headers_are_refused() {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        type Expected = fn(&AuthnError) -> bool;
        let cases: Vec<(Vec<u8>, Expected)> = vec![
            (b"Bearer abc".to_vec(), |e| {
                matches!(e, AuthnError::WrongScheme)
            }),
            (format!("Digest {}", b64(b"a:b")).into_bytes(), |e| {
                matches!(e, AuthnError::WrongScheme)
            }),
            (b"Basic".to_vec(), |e| {
                matches!(e, AuthnError::MalformedHeader)
            }),
            (b"Basic ".to_vec(), |e| {
                matches!(e, AuthnError::MalformedHeader)
            }),
            (format!("Basic  {}", b64(b"a:b")).into_bytes(), |e| {
                matches!(e, AuthnError::MalformedHeader)
            }),
            (format!("Basic {} x", b64(b"a:b")).into_bytes(), |e| {
                matches!(e, AuthnError::MalformedHeader)
            }),
            (b"Basic !!!notbase64".to_vec(), |e| {
                matches!(e, AuthnError::BadBase64)
            }),
            (format!("Basic {}", b64(b"nocolon")).into_bytes(), |e| {
                matches!(e, AuthnError::NoColon)
            }),
            (format!("Basic {}", b64(b":secret")).into_bytes(), |e| {
                matches!(e, AuthnError::HeaderPrincipal(_))
            }),
            (format!("Basic {}", b64(b"a\x01:b")).into_bytes(), |e| {
                matches!(e, AuthnError::HeaderPrincipal(_))
            }),
            (format!("Basic {}", b64(b"\xff\xfe:b")).into_bytes(), |e| {
                matches!(e, AuthnError::NotUtf8)
            }),
            (b"Basic \xc3\x28".to_vec(), |e| {
                matches!(e, AuthnError::MalformedHeader)
            }),
            (
                format!("Basic {}", "A".repeat(MAX_AUTHORIZATION_BYTES)).into_bytes(),
                |e| matches!(e, AuthnError::HeaderTooLarge),
            ),
        ];
        for (value, expected) in cases {
            let err = parse_basic(&value).expect_err(&String::from_utf8_lossy(&value));
            assert!(
                expected(&err),
                "{:?}: {err:?}",
                String::from_utf8_lossy(&value)
            );
        }
    }

    #[test]
    fn only_a_known_principal_with_its_secret_authenticates() {
        let a = authn();
        let realm = MASTER_READONLY_REALM;
        let ok = a
            .authenticate(realm, &headers(&[basic("sherman:kitesurf").as_bytes()]))
            .unwrap();
        assert_eq!(ok.as_str(), "sherman");
        for (h, why) in [
            (headers(&[]), "missing"),
            (
                headers(&[basic("sherman:wrong").as_bytes()]),
                "wrong secret",
            ),
            (headers(&[basic("stranger:kitesurf").as_bytes()]), "unknown"),
            (headers(&[basic(":kitesurf").as_bytes()]), "empty principal"),
            (headers(&[b"Bearer x"]), "scheme"),
            (
                headers(&[
                    basic("sherman:kitesurf").as_bytes(),
                    basic("sherman:kitesurf").as_bytes(),
                ]),
                "twice",
            ),
        ] {
            let refused = a.authenticate(realm, &h).expect_err(why);
            assert_eq!(refused.realm, realm);
        }
    }

    /// libprocess answers `Unauthorized({"Basic realm=\"<realm>\""})`: 401, the challenge,
    /// no body.
    #[test]
    fn a_refusal_is_a_401_with_the_realms_basic_challenge() {
        let refused = authn()
            .authenticate(MASTER_SCHEDULER_REALM, &headers(&[]))
            .unwrap_err();
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"mesos-master-scheduler\""
        );
    }
}
