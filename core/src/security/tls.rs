//! TLS as libprocess configures it: the `LIBPROCESS_SSL_*` environment, read once into a
//! [`TlsConfig`] (a pure parse, [`TlsConfig::parse`]), then loaded into the rustls server and
//! client configurations every remesos process uses ([`Tls`]): the daemons' ports
//! (`api::serve`), the agent's gRPC link to the master, the scheduler and executor clients
//! (the JNI `libmesos.so`, `remesos execute`, the built-in executors).
//!
//! Follows Mesos 1.11's 3rdparty/libprocess/src/openssl.cpp (`Flags`, `reinitialize`,
//! `verify`, `configure_socket`) and docs/ssl.md. Where OpenSSL offers what rustls does not,
//! the setting is mapped as below or refused at start, naming it — never a silent
//! downgrade:
//!
//! | variable | default | remesos |
//! |---|---|---|
//! | `LIBPROCESS_SSL_ENABLED` | false | every port serves TLS only; every client connects with TLS (`https`) |
//! | `LIBPROCESS_SSL_SUPPORT_DOWNGRADE` | false | a port also serves plain HTTP: the first byte decides (0x16, a TLS handshake record, → TLS), as libprocess peeks |
//! | `LIBPROCESS_SSL_CERT_FILE`, `LIBPROCESS_SSL_KEY_FILE` | — | required when enabled (PEM chain; PEM key: PKCS#8, PKCS#1 or SEC1); also the client certificate every client presents |
//! | `LIBPROCESS_SSL_CA_FILE`, `LIBPROCESS_SSL_CA_DIR` | system roots | trusted CAs (a PEM bundle; every PEM certificate of the directory's files); without either, the system's roots (rustls-native-certs) |
//! | `LIBPROCESS_SSL_VERIFY_SERVER_CERT` (deprecated `LIBPROCESS_SSL_VERIFY_CERT`) | false | clients verify the server's chain and name; off, a client accepts any server certificate, as libprocess does (warned at start) |
//! | `LIBPROCESS_SSL_REQUIRE_CLIENT_CERT` (deprecated `LIBPROCESS_SSL_REQUIRE_CERT`) | false | mutual TLS: servers refuse a client without a certificate from a trusted CA; implies server verification |
//! | `LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME` | `legacy` | see below; anything else is refused |
//! | `LIBPROCESS_SSL_VERIFY_IPADD` | false | an IP address SAN may name the peer |
//! | `LIBPROCESS_SSL_VERIFICATION_DEPTH` | 4 | the most intermediate CA certificates a verified chain may hold, on both sides (see below) |
//! | `LIBPROCESS_SSL_CIPHERS` | see below | OpenSSL names of the suites rustls offers, else refused |
//! | `LIBPROCESS_SSL_ECDH_CURVES` | `auto` | `auto` (X25519, P-256, P-384), or a list of `X25519`, `P-256`/`prime256v1`/`secp256r1`, `P-384`/`secp384r1`; others refused |
//! | `LIBPROCESS_SSL_ENABLE_TLS_V1_2` | true | TLS 1.2 |
//! | `LIBPROCESS_SSL_ENABLE_TLS_V1_3` | false | TLS 1.3 |
//! | `LIBPROCESS_SSL_ENABLE_SSL_V3`, `..._TLS_V1_0`, `..._TLS_V1_1` | false | `true` is refused: rustls does not speak them |
//!
//! As in libprocess, each variable may also be spelt with the older `SSL_` prefix
//! (`SSL_ENABLED`, ...); the `LIBPROCESS_SSL_` spelling wins when both are set. The
//! deprecated `VERIFY_CERT`/`REQUIRE_CERT` turn their new names on (they cannot turn them
//! off). A boolean is `true`/`1` or `false`/`0` (any case); an empty value is the default.
//!
//! **Ciphers.** libprocess's default list (`AES128-SHA:AES256-SHA:RC4-SHA:DHE-...`) names
//! only CBC, RC4 and finite-field DHE suites, none of which rustls offers; unset, remesos
//! offers rustls's TLS 1.2 suites (ECDHE with AES-GCM or ChaCha20-Poly1305). A value is a
//! list separated by `:` (or `,`/space) of OpenSSL names: `ECDHE-ECDSA-AES128-GCM-SHA256`,
//! `ECDHE-ECDSA-AES256-GCM-SHA384`, `ECDHE-ECDSA-CHACHA20-POLY1305`,
//! `ECDHE-RSA-AES128-GCM-SHA256`, `ECDHE-RSA-AES256-GCM-SHA384`,
//! `ECDHE-RSA-CHACHA20-POLY1305`, and the TLS 1.3 names `TLS_AES_128_GCM_SHA256`,
//! `TLS_AES_256_GCM_SHA384`, `TLS_CHACHA20_POLY1305_SHA256` (which restrict TLS 1.3 when
//! listed; OpenSSL sets those apart, so an unlisted TLS 1.3 keeps all three). Any other
//! name, keyword (`HIGH`, `DEFAULT`) or operator (`!aNULL`) is refused at start, named. The
//! list's order is the server's preference (libprocess sets `SSL_OP_CIPHER_SERVER_PREFERENCE`).
//!
//! **Verification depth.** libprocess hands the value to OpenSSL's
//! `SSL_CTX_set_verify_depth`: the levels of a chain are 0 (the peer's certificate), 1, 2,
//! ... (the CA certificates above it), and a depth `d` allows levels 0 to `d + 1`, that is
//! at most `d` intermediate CA certificates between the peer's certificate and the trust
//! anchor (a CA of `CA_FILE`/`CA_DIR`); a longer chain fails verification. remesos checks
//! the same bound wherever a chain is verified: a client verifying a server
//! (`VERIFY_SERVER_CERT`) and a server verifying a client certificate
//! (`REQUIRE_CLIENT_CERT`). rustls (webpki) verifies the chain as before; then, when the
//! peer sent more intermediates than the depth allows, webpki's path builder is asked for a
//! path to a trusted root with at most `d` intermediates and the connection is refused when
//! none exists (so a peer that sends extra, unneeded certificates still connects, as with
//! OpenSSL, which builds the shortest chain it can). Without verification (neither
//! variable) no chain is checked and the depth has nothing to bound, as in libprocess.
//! webpki never builds a path with more than 6 intermediates ([`WEBPKI_MAX_INTERMEDIATES`]),
//! so a depth above 6 is accepted but acts as 6 — stricter, never looser (warned at start).
//!
//! **Hostname validation.** rustls (webpki) matches subject alternative names only, never
//! the subject's common name, which OpenSSL's `legacy` check falls back to: certificates
//! must carry their names as SANs.
//! - `openssl`: a client checks the name it dialled — a DNS name against the DNS SANs; an IP
//!   address against the IP SANs only with `VERIFY_IPADD` (without it the connection is
//!   refused, as libprocess refuses "no DNS name given and IP address verification is
//!   disabled"). A server checks a client certificate's chain only.
//! - `legacy`: libprocess looks the peer's IP address up in reverse DNS and matches that
//!   name (or, with `VERIFY_IPADD`, the address). A client dialling a DNS name checks that
//!   name (the dialled name, not its reverse lookup); dialling an IP address, it checks the
//!   address's reverse-DNS name, or the address with `VERIFY_IPADD`; when neither exists
//!   the chain alone is checked, as libprocess does in client mode. A server requiring
//!   client certificates checks, after the handshake, that the certificate names the
//!   client's reverse-DNS name (or its address with `VERIFY_IPADD`), and refuses the
//!   connection when neither can be found ("peer hostname unknown").

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme, SupportedCipherSuite};

/// The prefix of libprocess's TLS variables, and the older one it still reads (MESOS-5863).
pub const PREFIX: &str = "LIBPROCESS_SSL_";

/// libprocess's default `VERIFICATION_DEPTH` (openssl.cpp `Flags`).
pub const DEFAULT_VERIFICATION_DEPTH: u32 = 4;

/// The most intermediates webpki puts in a path (`MAX_SUB_CA_COUNT` in rustls-webpki's
/// verify_cert.rs): a longer chain never verifies, whatever the depth.
pub const WEBPKI_MAX_INTERMEDIATES: usize = 6;
const OLD_PREFIX: &str = "SSL_";

/// The names libprocess's `openssl::Flags` declares (without prefix).
const KNOWN: &[&str] = &[
    "ENABLED",
    "SUPPORT_DOWNGRADE",
    "CERT_FILE",
    "KEY_FILE",
    "VERIFY_CERT",
    "VERIFY_SERVER_CERT",
    "REQUIRE_CERT",
    "REQUIRE_CLIENT_CERT",
    "VERIFY_IPADD",
    "VERIFICATION_DEPTH",
    "CA_DIR",
    "CA_FILE",
    "CIPHERS",
    "ECDH_CURVES",
    "HOSTNAME_VALIDATION_SCHEME",
    "ENABLE_SSL_V3",
    "ENABLE_TLS_V1_0",
    "ENABLE_TLS_V1_1",
    "ENABLE_TLS_V1_2",
    "ENABLE_TLS_V1_3",
];

/// Why a TLS configuration cannot be honoured (the process stops with it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlsError {
    #[error("{variable} must be a boolean ('true', 'false', '1' or '0'), got '{value}'")]
    NotABoolean { variable: String, value: String },
    #[error("{variable} must be a number, got '{value}'")]
    NotANumber { variable: String, value: String },
    #[error("{0}=true, but remesos (rustls) does not speak that protocol version; unset it")]
    ProtocolVersion(String),
    #[error(
        "LIBPROCESS_SSL_ENABLE_TLS_V1_2 and LIBPROCESS_SSL_ENABLE_TLS_V1_3 are both off: no protocol version is left"
    )]
    NoProtocolVersion,
    #[error(
        "unknown value for LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME: '{0}' (expected 'legacy' or 'openssl')"
    )]
    HostnameScheme(String),
    #[error(
        "LIBPROCESS_SSL_CIPHERS names '{0}', which remesos (rustls) does not offer; supported: {SUPPORTED_CIPHERS}"
    )]
    Cipher(String),
    #[error("LIBPROCESS_SSL_CIPHERS leaves no TLS 1.2 cipher suite while TLS 1.2 is enabled")]
    NoCipher,
    #[error(
        "LIBPROCESS_SSL_ECDH_CURVES names '{0}', which remesos (rustls) does not offer; supported: auto, X25519, P-256 (prime256v1, secp256r1), P-384 (secp384r1)"
    )]
    Curve(String),
    #[error("SSL requires {what}! NOTE: Set path with {variable}")]
    Missing {
        what: &'static str,
        variable: &'static str,
    },
    #[error("could not load {what} '{path}': {reason}")]
    Load {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("no trusted CA certificate found ({0})")]
    NoRoots(String),
    #[error("peer certificate: {0}")]
    Peer(String),
}

const SUPPORTED_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES256-GCM-SHA384, \
     ECDHE-ECDSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384, \
     ECDHE-RSA-CHACHA20-POLY1305, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, \
     TLS_CHACHA20_POLY1305_SHA256";

/// OpenSSL's names of the suites rustls offers (ring provider).
fn cipher_by_name(name: &str) -> Option<SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as cs;
    Some(match name {
        "ECDHE-ECDSA-AES128-GCM-SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES256-GCM-SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-CHACHA20-POLY1305" => cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES256-GCM-SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-CHACHA20-POLY1305" => cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_AES_128_GCM_SHA256" => cs::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_256_GCM_SHA384" => cs::TLS13_AES_256_GCM_SHA384,
        "TLS_CHACHA20_POLY1305_SHA256" => cs::TLS13_CHACHA20_POLY1305_SHA256,
        _ => return None,
    })
}

fn curve_by_name(name: &str) -> Option<&'static dyn SupportedKxGroup> {
    use rustls::crypto::ring::kx_group as kx;
    Some(match name.to_ascii_lowercase().as_str() {
        "x25519" => kx::X25519,
        "p-256" | "prime256v1" | "secp256r1" => kx::SECP256R1,
        "p-384" | "secp384r1" => kx::SECP384R1,
        _ => return None,
    })
}

/// How certificate names are checked (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostnameValidation {
    Legacy,
    OpenSsl,
}

/// libprocess's TLS settings, parsed and checked but not yet loaded from files.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub enabled: bool,
    pub support_downgrade: bool,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub ca_dir: Option<PathBuf>,
    /// Clients verify servers (also set by `VERIFY_CERT` and by `require_client_cert`).
    pub verify_server_cert: bool,
    /// Servers require and verify client certificates (also set by `REQUIRE_CERT`).
    pub require_client_cert: bool,
    pub verify_ipadd: bool,
    /// `VERIFICATION_DEPTH`: the most intermediate CA certificates a verified chain may
    /// hold (module doc).
    pub verification_depth: u32,
    pub hostname_validation: HostnameValidation,
    /// The offered suites, in preference order (TLS 1.3 ones first).
    pub cipher_suites: Vec<SupportedCipherSuite>,
    /// The key-exchange groups, in preference order.
    pub kx_groups: Vec<&'static dyn SupportedKxGroup>,
    pub tls12: bool,
    pub tls13: bool,
    /// What libprocess would log at start (deprecated names, weakened settings).
    pub warnings: Vec<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig::parse(std::iter::empty::<(&str, &str)>()).expect("the defaults parse")
    }
}

fn parse_bool(variable: &str, value: Option<&str>, default: bool) -> Result<bool, TlsError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(TlsError::NotABoolean {
            variable: variable.to_string(),
            value: value.to_string(),
        }),
    }
}

impl TlsConfig {
    /// Parses libprocess's TLS variables from `env` (the process environment, or a test's
    /// pairs). Errors name the variable; nothing is read from disk here.
    pub fn parse<K: AsRef<str>, V: AsRef<str>>(
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<TlsConfig, TlsError> {
        let mut new: Vec<(String, String)> = Vec::new();
        let mut old: Vec<(String, String)> = Vec::new();
        let mut warnings = Vec::new();
        for (key, value) in env {
            let (key, value) = (key.as_ref(), value.as_ref());
            if let Some(name) = key.strip_prefix(PREFIX) {
                if KNOWN.contains(&name) {
                    new.push((name.to_string(), value.to_string()));
                } else {
                    warnings.push(format!(
                        "ignoring {key}: libprocess has no such TLS setting"
                    ));
                }
            } else if let Some(name) = key.strip_prefix(OLD_PREFIX)
                && KNOWN.contains(&name)
            {
                old.push((name.to_string(), value.to_string()));
            }
        }
        for (name, value) in &old {
            match new.iter().find(|(n, _)| n == name) {
                Some((_, v)) if v != value => warnings.push(format!(
                    "Mismatched values for SSL environment variables {OLD_PREFIX}{name} and \
                     {PREFIX}{name}"
                )),
                _ => {}
            }
        }
        let get = |name: &str| -> Option<&str> {
            new.iter()
                .chain(old.iter())
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let boolean =
            |name: &str, default: bool| parse_bool(&format!("{PREFIX}{name}"), get(name), default);
        let path = |name: &str| {
            get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };

        let enabled = boolean("ENABLED", false)?;
        let support_downgrade = boolean("SUPPORT_DOWNGRADE", false)?;
        let verify_cert = boolean("VERIFY_CERT", false)?;
        let require_cert = boolean("REQUIRE_CERT", false)?;
        let mut verify_server_cert = boolean("VERIFY_SERVER_CERT", false)?;
        let mut require_client_cert = boolean("REQUIRE_CLIENT_CERT", false)?;
        let verify_ipadd = boolean("VERIFY_IPADD", false)?;
        if verify_cert {
            warnings.push(
                "Usage of LIBPROCESS_SSL_VERIFY_CERT is deprecated; it was renamed to \
                 LIBPROCESS_SSL_VERIFY_SERVER_CERT"
                    .into(),
            );
            verify_server_cert = true;
        }
        if require_cert {
            warnings.push(
                "Usage of LIBPROCESS_SSL_REQUIRE_CERT is deprecated; it was renamed to \
                 LIBPROCESS_SSL_REQUIRE_CLIENT_CERT"
                    .into(),
            );
            require_client_cert = true;
        }
        // libprocess: "require_cert implies verify_cert".
        verify_server_cert |= require_client_cert;
        let verification_depth = match get("VERIFICATION_DEPTH")
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => DEFAULT_VERIFICATION_DEPTH,
            Some(depth) => depth.parse::<u32>().map_err(|_| TlsError::NotANumber {
                variable: format!("{PREFIX}VERIFICATION_DEPTH"),
                value: depth.to_string(),
            })?,
        };
        if verification_depth as usize > WEBPKI_MAX_INTERMEDIATES {
            warnings.push(format!(
                "{PREFIX}VERIFICATION_DEPTH={verification_depth} allows longer chains than \
                 rustls verifies: a chain with more than {WEBPKI_MAX_INTERMEDIATES} intermediate \
                 certificates is refused"
            ));
        }

        for old_version in ["ENABLE_SSL_V3", "ENABLE_TLS_V1_0", "ENABLE_TLS_V1_1"] {
            if boolean(old_version, false)? {
                return Err(TlsError::ProtocolVersion(format!("{PREFIX}{old_version}")));
            }
        }
        let tls12 = boolean("ENABLE_TLS_V1_2", true)?;
        let tls13 = boolean("ENABLE_TLS_V1_3", false)?;
        if !tls12 && !tls13 {
            return Err(TlsError::NoProtocolVersion);
        }

        let hostname_validation = match get("HOSTNAME_VALIDATION_SCHEME").map(str::trim) {
            None | Some("") | Some("legacy") => HostnameValidation::Legacy,
            Some("openssl") => HostnameValidation::OpenSsl,
            Some(other) => return Err(TlsError::HostnameScheme(other.to_string())),
        };

        let cipher_suites = match get("CIPHERS").map(str::trim).filter(|v| !v.is_empty()) {
            None => rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec(),
            Some(list) => {
                let mut tls12_suites = Vec::new();
                let mut tls13_suites = Vec::new();
                for name in list.split([':', ',', ' ']).filter(|n| !n.is_empty()) {
                    let suite =
                        cipher_by_name(name).ok_or_else(|| TlsError::Cipher(name.to_string()))?;
                    let into = match suite {
                        SupportedCipherSuite::Tls13(_) => &mut tls13_suites,
                        _ => &mut tls12_suites,
                    };
                    if !into.contains(&suite) {
                        into.push(suite);
                    }
                }
                if tls12 && tls12_suites.is_empty() {
                    return Err(TlsError::NoCipher);
                }
                if tls13_suites.is_empty() {
                    tls13_suites = rustls::crypto::ring::DEFAULT_CIPHER_SUITES
                        .iter()
                        .copied()
                        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
                        .collect();
                }
                tls13_suites.extend(tls12_suites);
                tls13_suites
            }
        };

        let kx_groups = match get("ECDH_CURVES").map(str::trim).filter(|v| !v.is_empty()) {
            None | Some("auto") => rustls::crypto::ring::DEFAULT_KX_GROUPS.to_vec(),
            Some(list) => {
                let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
                for name in list.split(':').filter(|n| !n.is_empty()) {
                    let group = curve_by_name(name.trim())
                        .ok_or_else(|| TlsError::Curve(name.to_string()))?;
                    if !groups.iter().any(|g| g.name() == group.name()) {
                        groups.push(group);
                    }
                }
                groups
            }
        };

        if enabled {
            if support_downgrade {
                warnings
                    .push("Failed SSL connections will be downgraded to a non-SSL socket".into());
                if verify_server_cert || require_client_cert {
                    warnings.push(
                        "TLS certificate verification was enabled, but can be bypassed \
                         because TLS downgrades are enabled"
                            .into(),
                    );
                }
            }
            if !verify_server_cert {
                warnings.push(
                    "Will not verify server certificates! NOTE: Set \
                     LIBPROCESS_SSL_VERIFY_SERVER_CERT=1 to enable peer certificate \
                     verification"
                        .into(),
                );
            }
        }

        Ok(TlsConfig {
            enabled,
            support_downgrade,
            cert_file: path("CERT_FILE"),
            key_file: path("KEY_FILE"),
            ca_file: path("CA_FILE"),
            ca_dir: path("CA_DIR"),
            verify_server_cert,
            require_client_cert,
            verify_ipadd,
            verification_depth,
            hostname_validation,
            cipher_suites,
            kx_groups,
            tls12,
            tls13,
            warnings,
        })
    }

    /// The crypto provider: ring, restricted to the configured suites and groups.
    fn provider(&self) -> Arc<CryptoProvider> {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = self.cipher_suites.clone();
        provider.kx_groups = self.kx_groups.clone();
        Arc::new(provider)
    }

    fn versions(&self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let mut versions = Vec::new();
        if self.tls13 {
            versions.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            versions.push(&rustls::version::TLS12);
        }
        versions
    }

    /// Loads the files and builds the rustls configurations; `None` when TLS is off.
    pub fn load(self) -> Result<Option<Arc<Tls>>, TlsError> {
        if !self.enabled {
            return Ok(None);
        }
        Tls::load(self).map(|tls| Some(Arc::new(tls)))
    }
}

/// The loaded TLS configuration of this process: rustls's server and client
/// configurations built from a [`TlsConfig`].
pub struct Tls {
    pub config: TlsConfig,
    /// For the daemons' ports: ALPN `h2` and `http/1.1`.
    pub server: Arc<rustls::ServerConfig>,
    /// For HTTP/1.1 clients (no ALPN, as hyper-rustls wants it).
    pub client: Arc<rustls::ClientConfig>,
    /// For gRPC (h2) clients: ALPN `h2`.
    pub client_h2: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("config", &self.config).finish()
    }
}

fn load_err(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Load {
        what,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| load_err(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| load_err(what, path, e))?;
    if certs.is_empty() {
        return Err(load_err(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The trusted roots: the CA file and directory, or the system's roots without either.
fn load_roots(config: &TlsConfig) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let add = |roots: &mut rustls::RootCertStore, path: &Path, certs| {
        let (_, ignored) = roots.add_parsable_certificates(certs);
        if ignored > 0 {
            tracing::warn!(path = %path.display(), ignored, "ignored unparsable CA certificates");
        }
    };
    if let Some(file) = &config.ca_file {
        let certs = load_certs("CA file", file)?;
        add(&mut roots, file, certs);
    }
    if let Some(dir) = &config.ca_dir {
        let entries = std::fs::read_dir(dir).map_err(|e| load_err("CA dir", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| load_err("CA dir", dir, e))?;
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            // OpenSSL's CA directories hold one PEM per hashed name (c_rehash), often
            // beside other files: a file without certificates is skipped.
            if let Ok(certs) = load_certs("CA dir", &path) {
                add(&mut roots, &path, certs);
            }
        }
    }
    if config.ca_file.is_none() && config.ca_dir.is_none() {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!(error = %e, "loading the system's CA certificates");
        }
        roots.add_parsable_certificates(native.certs);
    }
    if roots.is_empty() {
        let from = match (&config.ca_file, &config.ca_dir) {
            (None, None) => "the system's roots".to_string(),
            (file, dir) => [file, dir]
                .into_iter()
                .flatten()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        return Err(TlsError::NoRoots(from));
    }
    Ok(roots)
}

impl Tls {
    fn load(config: TlsConfig) -> Result<Tls, TlsError> {
        // libprocess checks the key first.
        let key_file = config.key_file.as_deref().ok_or(TlsError::Missing {
            what: "key",
            variable: "LIBPROCESS_SSL_KEY_FILE",
        })?;
        let cert_file = config.cert_file.as_deref().ok_or(TlsError::Missing {
            what: "certificate",
            variable: "LIBPROCESS_SSL_CERT_FILE",
        })?;
        let chain = load_certs("cert file", cert_file)?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| load_err("key file", key_file, e))?;
        let provider = config.provider();
        let versions = config.versions();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| load_err("key file", key_file, e))?;
        let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
        certified.keys_match().map_err(|e| {
            load_err(
                "key file",
                key_file,
                format!("the private key does not match the certificate's public key: {e}"),
            )
        })?;
        let roots = if config.verify_server_cert || config.require_client_cert {
            Some(Arc::new(load_roots(&config)?))
        } else {
            None
        };

        let bad = |e: rustls::Error| load_err("TLS configuration", cert_file, e);
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(bad)?;
        let server = match (&roots, config.require_client_cert) {
            (Some(roots), true) => {
                let inner =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                        .build()
                        .map_err(|e| load_err("CA", cert_file, e))?;
                server.with_client_cert_verifier(Arc::new(DepthClientVerifier {
                    inner,
                    depth: ChainDepth::new(roots.clone(), &provider, config.verification_depth),
                }))
            }
            _ => server.with_no_client_auth(),
        };
        let mut server = server
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(bad)?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // libprocess: SSL_OP_CIPHER_SERVER_PREFERENCE.
        server.ignore_client_order = true;

        let verifier: Arc<dyn ServerCertVerifier> = match &roots {
            Some(roots) if config.verify_server_cert => {
                let inner =
                    WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                        .build()
                        .map_err(|e| load_err("CA", cert_file, e))?;
                Arc::new(LibprocessVerifier {
                    inner,
                    scheme: config.hostname_validation,
                    verify_ipadd: config.verify_ipadd,
                    depth: ChainDepth::new(roots.clone(), &provider, config.verification_depth),
                })
            }
            _ => Arc::new(NoServerVerification(provider.clone())),
        };
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(bad)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            // libprocess's clients share the server's context: they present its certificate.
            .with_client_auth_cert(chain, key)
            .map_err(bad)?;
        let mut client_h2 = client.clone();
        client_h2.alpn_protocols = vec![b"h2".to_vec()];
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        Ok(Tls {
            config,
            server: Arc::new(server),
            client: Arc::new(client),
            client_h2: Arc::new(client_h2),
        })
    }

    /// The URL scheme of this process's connections.
    pub fn scheme(tls: Option<&Tls>) -> &'static str {
        if tls.is_some() { "https" } else { "http" }
    }

    /// After a server's handshake: the `legacy` scheme's check that a required client
    /// certificate names the peer (its reverse-DNS name, or its address with
    /// `VERIFY_IPADD`). Nothing to check otherwise. Blocks on a reverse DNS lookup, so it
    /// runs on the blocking pool.
    pub async fn verify_client_name(
        self: &Arc<Self>,
        certificate: Option<CertificateDer<'static>>,
        peer: IpAddr,
    ) -> Result<(), TlsError> {
        if !self.config.require_client_cert
            || self.config.hostname_validation != HostnameValidation::Legacy
        {
            return Ok(());
        }
        let certificate =
            certificate.ok_or_else(|| TlsError::Peer("peer did not provide certificate".into()))?;
        let verify_ipadd = self.config.verify_ipadd;
        tokio::task::spawn_blocking(move || {
            let hostname = reverse_dns(peer);
            let candidates = candidates(hostname, peer, verify_ipadd);
            if candidates.is_empty() {
                return Err(TlsError::Peer(
                    "Cannot verify peer certificate: peer hostname unknown".into(),
                ));
            }
            let parsed = rustls::server::ParsedCertificate::try_from(&certificate)
                .map_err(|e| TlsError::Peer(e.to_string()))?;
            if candidates
                .iter()
                .any(|name| rustls::client::verify_server_name(&parsed, name).is_ok())
            {
                Ok(())
            } else {
                Err(TlsError::Peer(format!(
                    "presented certificate does not match {}",
                    candidates
                        .iter()
                        .map(|n| n.to_str().into_owned())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )))
            }
        })
        .await
        .map_err(|e| TlsError::Peer(e.to_string()))?
    }
}

/// The names a `legacy` check accepts for a peer at `ip`.
fn candidates(
    hostname: Option<String>,
    ip: IpAddr,
    verify_ipadd: bool,
) -> Vec<ServerName<'static>> {
    let mut names: Vec<ServerName<'static>> = hostname
        .and_then(|h| ServerName::try_from(h).ok())
        .into_iter()
        .collect();
    if verify_ipadd {
        names.push(ServerName::IpAddress(ip.into()));
    }
    names
}

/// The name reverse DNS gives `ip`, if any (getnameinfo with `NI_NAMEREQD`; blocks).
fn reverse_dns(ip: IpAddr) -> Option<String> {
    let addr: std::net::SocketAddr = (ip, 0).into();
    let storage = socket2_like(addr);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `storage` is a valid sockaddr of the length passed; `host` is a writable
    // buffer of the length passed; the service buffer is null with length 0.
    let rc = unsafe {
        libc::getnameinfo(
            &storage.0 as *const libc::sockaddr_storage as *const libc::sockaddr,
            storage.1,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_string)
}

/// `addr` as a `sockaddr_storage` and its length.
fn socket2_like(addr: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        std::net::SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                std::ptr::write(
                    &mut storage as *mut libc::sockaddr_storage as *mut libc::sockaddr_in,
                    sin,
                )
            };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    &mut storage as *mut libc::sockaddr_storage as *mut libc::sockaddr_in6,
                    sin6,
                )
            };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn is_name_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// The handshake-signature methods of a verifier that only adds checks on the chain: they
/// are its `inner` verifier's (both verifier traits spell them the same).
macro_rules! delegate_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// A chain longer than `LIBPROCESS_SSL_VERIFICATION_DEPTH` allows (module doc). Its
/// `Debug` is its message: rustls shows a `CertificateError::Other` with `Debug`, and the
/// message is what the operator needs to read in the log.
#[derive(thiserror::Error)]
#[error(
    "certificate chain is too long: no path to a trusted CA with at most {depth} intermediate \
     certificates (LIBPROCESS_SSL_VERIFICATION_DEPTH={depth})"
)]
struct ChainTooLong {
    depth: u32,
}

impl std::fmt::Debug for ChainTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// OpenSSL's verify depth over a chain rustls has verified (module doc).
#[derive(Debug, Clone)]
struct ChainDepth {
    roots: Arc<rustls::RootCertStore>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
    depth: u32,
}

impl ChainDepth {
    fn new(roots: Arc<rustls::RootCertStore>, provider: &CryptoProvider, depth: u32) -> ChainDepth {
        ChainDepth {
            roots,
            algorithms: provider.signature_verification_algorithms,
            depth,
        }
    }

    /// Whether `end_entity` has a path to a trusted root through at most `depth` of
    /// `intermediates`, for `usage` (server or client authentication). Called after rustls
    /// verified the chain, so any failure here is the depth's.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: webpki::KeyUsage,
    ) -> Result<(), rustls::Error> {
        let depth = self.depth as usize;
        // A path uses only the intermediates the peer sent: none can be longer.
        if intermediates.len() <= depth {
            return Ok(());
        }
        let too_long = || {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(ChainTooLong { depth: self.depth }),
            )))
        };
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| too_long())?;
        let within = |path: &webpki::VerifiedPath<'_>| {
            if path.intermediate_certificates().count() > depth {
                // Path building goes on with the other candidates.
                Err(webpki::Error::MaximumPathDepthExceeded)
            } else {
                Ok(())
            }
        };
        cert.verify_for_usage(
            self.algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            usage,
            None,
            Some(&within),
        )
        .map(|_| ())
        .map_err(|_| too_long())
    }
}

/// Client-certificate verification (`REQUIRE_CLIENT_CERT`): rustls's, then the depth.
#[derive(Debug)]
struct DepthClientVerifier {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    depth: ChainDepth,
}

impl rustls::server::danger::ClientCertVerifier for DepthClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        self.depth.check(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
        )?;
        Ok(verified)
    }

    delegate_signatures!();
}

/// Server-certificate verification with libprocess's hostname schemes and verification
/// depth (module doc).
#[derive(Debug)]
struct LibprocessVerifier {
    inner: Arc<WebPkiServerVerifier>,
    scheme: HostnameValidation,
    verify_ipadd: bool,
    depth: ChainDepth,
}

impl ServerCertVerifier for LibprocessVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.verify_chain_and_name(end_entity, intermediates, server_name, ocsp_response, now)?;
        self.depth.check(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
        )?;
        Ok(verified)
    }

    delegate_signatures!();
}

impl LibprocessVerifier {
    /// rustls's chain verification with the name the hostname scheme asks for.
    fn verify_chain_and_name(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verify = |name: &ServerName<'_>| {
            self.inner
                .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
        };
        let ip = match server_name {
            ServerName::IpAddress(ip) => IpAddr::from(*ip),
            // A DNS name: both schemes check the name dialled.
            _ => return verify(server_name),
        };
        match self.scheme {
            HostnameValidation::OpenSsl if self.verify_ipadd => verify(server_name),
            HostnameValidation::OpenSsl => Err(rustls::Error::General(
                "No DNS name given and IP address verification is disabled \
                 (LIBPROCESS_SSL_VERIFY_IPADD)"
                    .into(),
            )),
            HostnameValidation::Legacy => {
                let candidates = candidates(reverse_dns(ip), ip, self.verify_ipadd);
                if candidates.is_empty() {
                    // libprocess's client mode: no name to check, the chain alone.
                    return match verify(server_name) {
                        Err(e) if is_name_error(&e) => Ok(ServerCertVerified::assertion()),
                        other => other,
                    };
                }
                let mut last = None;
                for name in &candidates {
                    match verify(name) {
                        Ok(ok) => return Ok(ok),
                        Err(e) if is_name_error(&e) => last = Some(e),
                        Err(e) => return Err(e),
                    }
                }
                Err(last.unwrap_or(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName,
                )))
            }
        }
    }
}

/// libprocess without `VERIFY_SERVER_CERT`: any server certificate is accepted (the
/// handshake's signatures are still checked, so the peer holds the certificate's key).
#[derive(Debug)]
struct NoServerVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration that accepts any server certificate (the handshake's signatures
/// are still checked) and presents none: curl's `-k`, which Mesos's HTTP checks and health
/// checks pass when they probe a task's own `https` endpoint on the loopback
/// (`src/checks/checker_process.cpp`). Used for nothing else.
pub fn unverified_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoServerVerification(provider)))
            .with_no_client_auth(),
    )
}

/// A client configuration that trusts no certificate: for a process without
/// `LIBPROCESS_SSL_ENABLED`, whose clients must never complete an `https` handshake (no CA
/// is configured to check it against).
pub fn no_trust_client_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| unreachable!("ring offers the default protocol versions"))
}

/// This process's TLS, from its environment, read and loaded once: the daemons check it
/// at start (and stop on an error); clients (the JNI driver, executors, `remesos execute`)
/// take it when they build their connections.
pub fn process() -> &'static Result<Option<Arc<Tls>>, TlsError> {
    static TLS: std::sync::OnceLock<Result<Option<Arc<Tls>>, TlsError>> =
        std::sync::OnceLock::new();
    TLS.get_or_init(|| TlsConfig::parse(utf8_env()).and_then(TlsConfig::load))
}

/// The process environment's UTF-8 variables (`std::env::vars` panics on the others; a
/// libprocess variable is never one of them).
pub fn utf8_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// A connector for tonic's `Endpoint::connect_with_connector`: TCP to the URI's host and
/// port, then TLS with ALPN `h2` (the agent's gRPC link to the master).
pub fn h2_connector(
    tls: Arc<Tls>,
) -> impl tower::Service<
    http::Uri,
    Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    Error = std::io::Error,
    Future: Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |uri: http::Uri| {
        let tls = tls.clone();
        async move {
            let invalid =
                |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
            let host = uri
                .host()
                .ok_or_else(|| invalid(format!("no host in {uri}")))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri
                .port_u16()
                .ok_or_else(|| invalid(format!("no port in {uri}")))?;
            let name =
                ServerName::try_from(host.clone()).map_err(|e| invalid(format!("{host}: {e}")))?;
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            let stream = tokio_rustls::TlsConnector::from(tls.client_h2.clone())
                .connect(name, tcp)
                .await?;
            Ok(hyper_util::rt::TokioIo::new(stream))
        }
    })
}

/// [`process`], for a caller that stops on the error: this process's TLS or why it cannot
/// be honoured.
pub fn current() -> Result<Option<Arc<Tls>>, String> {
    match process() {
        Ok(tls) => Ok(tls.clone()),
        Err(e) => Err(format!("TLS (LIBPROCESS_SSL_*): {e}")),
    }
}

/// The first byte of a TLS connection: a handshake record (libprocess's downgrade test).
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(env: &[(&str, &str)]) -> Result<TlsConfig, TlsError> {
        TlsConfig::parse(env.iter().copied())
    }

    fn names(config: &TlsConfig) -> Vec<String> {
        config
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect()
    }

    /// openssl.cpp `Flags::Flags`: off by default, TLS 1.2 only, legacy names, no
    /// verification either way.
    #[test]
    fn the_defaults_are_libprocess_defaults() {
        let c = parse(&[]).unwrap();
        assert!(!c.enabled && !c.support_downgrade);
        assert!(!c.verify_server_cert && !c.require_client_cert && !c.verify_ipadd);
        assert_eq!(c.hostname_validation, HostnameValidation::Legacy);
        assert!(c.tls12 && !c.tls13);
        assert_eq!(c.cipher_suites.len(), 9);
        assert_eq!(c.kx_groups.len(), 3);
        assert!(c.cert_file.is_none() && c.ca_file.is_none() && c.ca_dir.is_none());
    }

    #[test]
    fn every_variable_is_read() {
        let c = parse(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "1"),
            ("LIBPROCESS_SSL_CERT_FILE", "/c.pem"),
            ("LIBPROCESS_SSL_KEY_FILE", "/k.pem"),
            ("LIBPROCESS_SSL_CA_FILE", "/ca.pem"),
            ("LIBPROCESS_SSL_CA_DIR", "/cas"),
            ("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "TRUE"),
            ("LIBPROCESS_SSL_VERIFY_IPADD", "true"),
            ("LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME", "openssl"),
            ("LIBPROCESS_SSL_VERIFICATION_DEPTH", "9"),
            ("LIBPROCESS_SSL_ENABLE_TLS_V1_3", "true"),
            ("LIBPROCESS_SSL_ENABLE_TLS_V1_2", "false"),
            ("LIBPROCESS_SSL_ECDH_CURVES", "P-384:prime256v1"),
            ("LIBPROCESS_SSL_CIPHERS", "TLS_AES_256_GCM_SHA384"),
        ])
        .unwrap();
        assert!(c.enabled && c.support_downgrade && c.verify_server_cert && c.verify_ipadd);
        assert!(!c.require_client_cert);
        assert_eq!(c.cert_file.as_deref(), Some(Path::new("/c.pem")));
        assert_eq!(c.key_file.as_deref(), Some(Path::new("/k.pem")));
        assert_eq!(c.ca_file.as_deref(), Some(Path::new("/ca.pem")));
        assert_eq!(c.ca_dir.as_deref(), Some(Path::new("/cas")));
        assert_eq!(c.hostname_validation, HostnameValidation::OpenSsl);
        assert!(c.tls13 && !c.tls12);
        assert_eq!(names(&c), vec!["TLS13_AES_256_GCM_SHA384"]);
        let groups: Vec<_> = c
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect();
        assert_eq!(groups, vec!["secp384r1", "secp256r1"]);
    }

    /// openssl.cpp: "require_cert implies verify_cert", under either name.
    #[test]
    fn requiring_client_certificates_implies_verifying_servers() {
        for name in [
            "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT",
            "LIBPROCESS_SSL_REQUIRE_CERT",
        ] {
            let c = parse(&[(name, "true")]).unwrap();
            assert!(c.require_client_cert && c.verify_server_cert, "{name}");
        }
    }

    /// openssl.cpp `reinitialize`: the deprecated names turn the new ones on (with a
    /// warning) and cannot turn them off.
    #[test]
    fn deprecated_names_are_honoured_and_win_only_towards_true() {
        let c = parse(&[("LIBPROCESS_SSL_VERIFY_CERT", "1")]).unwrap();
        assert!(c.verify_server_cert);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("VERIFY_CERT is deprecated"))
        );
        let c = parse(&[
            ("LIBPROCESS_SSL_VERIFY_CERT", "false"),
            ("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true"),
        ])
        .unwrap();
        assert!(c.verify_server_cert);
        let c = parse(&[
            ("LIBPROCESS_SSL_REQUIRE_CERT", "true"),
            ("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "false"),
        ])
        .unwrap();
        assert!(c.require_client_cert);
    }

    /// MESOS-5863: `SSL_*` is still read; `LIBPROCESS_SSL_*` wins.
    #[test]
    fn the_old_ssl_prefix_is_read_and_the_new_one_wins() {
        let c = parse(&[("SSL_ENABLED", "true"), ("SSL_CERT_FILE", "/old.pem")]).unwrap();
        assert!(c.enabled);
        assert_eq!(c.cert_file.as_deref(), Some(Path::new("/old.pem")));
        let c = parse(&[("SSL_ENABLED", "true"), ("LIBPROCESS_SSL_ENABLED", "false")]).unwrap();
        assert!(!c.enabled);
        assert!(c.warnings.iter().any(|w| w.contains("Mismatched")));
    }

    #[test]
    fn protocol_versions_rustls_lacks_are_refused() {
        for name in [
            "LIBPROCESS_SSL_ENABLE_SSL_V3",
            "LIBPROCESS_SSL_ENABLE_TLS_V1_0",
            "LIBPROCESS_SSL_ENABLE_TLS_V1_1",
        ] {
            assert_eq!(
                parse(&[(name, "true")]).unwrap_err(),
                TlsError::ProtocolVersion(name.to_string())
            );
            parse(&[(name, "false")]).unwrap();
        }
        assert_eq!(
            parse(&[("LIBPROCESS_SSL_ENABLE_TLS_V1_2", "0")]).unwrap_err(),
            TlsError::NoProtocolVersion
        );
    }

    #[test]
    fn openssl_cipher_names_map_to_rustls_suites_and_others_are_refused() {
        let c = parse(&[(
            "LIBPROCESS_SSL_CIPHERS",
            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305",
        )])
        .unwrap();
        // The TLS 1.3 suites stay (OpenSSL sets them apart); the list keeps its order.
        assert_eq!(
            names(&c),
            vec![
                "TLS13_AES_256_GCM_SHA384",
                "TLS13_AES_128_GCM_SHA256",
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            ]
        );
        // libprocess's own default list names no suite rustls offers.
        for refused in [
            "AES128-SHA",
            "RC4-SHA",
            "HIGH",
            "!aNULL",
            "DHE-RSA-AES128-SHA",
        ] {
            let list = format!("ECDHE-RSA-AES128-GCM-SHA256:{refused}");
            let err = parse(&[("LIBPROCESS_SSL_CIPHERS", &list)]).unwrap_err();
            assert_eq!(err, TlsError::Cipher(refused.to_string()));
            assert!(err.to_string().contains(&format!("'{refused}'")), "{err}");
        }
        // Only TLS 1.3 names while TLS 1.2 is on: nothing to offer a TLS 1.2 client.
        assert_eq!(
            parse(&[("LIBPROCESS_SSL_CIPHERS", "TLS_AES_128_GCM_SHA256")]).unwrap_err(),
            TlsError::NoCipher
        );
    }

    #[test]
    fn curves_rustls_lacks_are_refused() {
        assert_eq!(
            parse(&[("LIBPROCESS_SSL_ECDH_CURVES", "auto")])
                .unwrap()
                .kx_groups
                .len(),
            3
        );
        assert_eq!(
            parse(&[("LIBPROCESS_SSL_ECDH_CURVES", "X25519:P-521")]).unwrap_err(),
            TlsError::Curve("P-521".into())
        );
    }

    #[test]
    fn malformed_values_are_refused_naming_the_variable() {
        let err = parse(&[("LIBPROCESS_SSL_ENABLED", "yes")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "LIBPROCESS_SSL_ENABLED must be a boolean ('true', 'false', '1' or '0'), got 'yes'"
        );
        assert_eq!(
            parse(&[("LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME", "strict")]).unwrap_err(),
            TlsError::HostnameScheme("strict".into())
        );
        assert!(matches!(
            parse(&[("LIBPROCESS_SSL_VERIFICATION_DEPTH", "deep")]).unwrap_err(),
            TlsError::NotANumber { .. }
        ));
        // An empty value is the default (as the refusal it replaces treated it).
        assert!(!parse(&[("LIBPROCESS_SSL_ENABLED", "")]).unwrap().enabled);
    }

    /// openssl.cpp: "SSL requires key!" / "SSL requires certificate!".
    #[test]
    fn enabled_without_a_certificate_or_key_stops() {
        let err = parse(&[("LIBPROCESS_SSL_ENABLED", "true")])
            .unwrap()
            .load()
            .unwrap_err();
        assert!(matches!(err, TlsError::Missing { .. }), "{err}");
        // Off, nothing is loaded.
        assert!(parse(&[]).unwrap().load().unwrap().is_none());
    }

    #[test]
    fn warnings_name_weakened_settings() {
        let c = parse(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "true"),
            ("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true"),
        ])
        .unwrap();
        assert!(c.warnings.iter().any(|w| w.contains("downgraded")));
        assert!(c.warnings.iter().any(|w| w.contains("can be bypassed")));
    }

    /// Certificates made here: a CA, a leaf it signed for `sans`, and one it did not sign.
    struct TestPki {
        ca: rcgen::Certificate,
        ca_key: rcgen::KeyPair,
    }

    impl TestPki {
        fn new() -> TestPki {
            use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
            let ca_key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = params.self_signed(&ca_key).unwrap();
            TestPki { ca, ca_key }
        }

        fn leaf(&self, sans: &[&str]) -> (rcgen::Certificate, rcgen::KeyPair) {
            let key = rcgen::KeyPair::generate().unwrap();
            let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
            let cert = rcgen::CertificateParams::new(sans)
                .unwrap()
                .signed_by(&key, &self.ca, &self.ca_key)
                .unwrap();
            (cert, key)
        }

        fn verifier(&self, scheme: HostnameValidation, verify_ipadd: bool) -> LibprocessVerifier {
            self.verifier_with_depth(scheme, verify_ipadd, DEFAULT_VERIFICATION_DEPTH)
        }

        fn verifier_with_depth(
            &self,
            scheme: HostnameValidation,
            verify_ipadd: bool,
            depth: u32,
        ) -> LibprocessVerifier {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca.der().clone()).unwrap();
            let roots = Arc::new(roots);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            LibprocessVerifier {
                inner: WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .unwrap(),
                scheme,
                verify_ipadd,
                depth: ChainDepth::new(roots, &provider, depth),
            }
        }

        /// `n` intermediate CAs below this CA, each signed by the one above (the first by
        /// the CA), nearest the CA first; and a leaf for `sans` signed by the last (by the
        /// CA itself when `n` is 0).
        fn chain(
            &self,
            n: usize,
            sans: &[&str],
        ) -> (Vec<rcgen::Certificate>, rcgen::Certificate, rcgen::KeyPair) {
            use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
            let mut intermediates: Vec<(rcgen::Certificate, KeyPair)> = Vec::new();
            for i in 0..n {
                let key = KeyPair::generate().unwrap();
                let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params
                    .distinguished_name
                    .push(DnType::CommonName, format!("intermediate {i}"));
                let cert = match intermediates.last() {
                    Some((issuer, issuer_key)) => params.signed_by(&key, issuer, issuer_key),
                    None => params.signed_by(&key, &self.ca, &self.ca_key),
                }
                .unwrap();
                intermediates.push((cert, key));
            }
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, "leaf".to_string());
            let leaf = match intermediates.last() {
                Some((issuer, issuer_key)) => params.signed_by(&key, issuer, issuer_key),
                None => params.signed_by(&key, &self.ca, &self.ca_key),
            }
            .unwrap();
            (
                intermediates.into_iter().map(|(c, _)| c).collect(),
                leaf,
                key,
            )
        }
    }

    /// What a peer sends: its certificate, then the intermediates nearest it first.
    fn presented(intermediates: &[rcgen::Certificate]) -> Vec<CertificateDer<'static>> {
        intermediates
            .iter()
            .rev()
            .map(|c| c.der().clone())
            .collect()
    }

    fn is_too_long(e: &rustls::Error) -> bool {
        e.to_string().contains("certificate chain is too long")
    }

    /// OpenSSL's verify depth (`SSL_CTX_set_verify_depth`, libprocess's default 4): at most
    /// `depth` intermediates between the peer's certificate and the trusted CA; a longer
    /// chain is refused, naming the variable. rustls alone accepted it.
    #[test]
    fn a_server_chain_longer_than_the_verification_depth_is_refused() {
        let pki = TestPki::new();
        let name = ServerName::try_from("node.example").unwrap();
        let verify = |depth: u32, n: usize| {
            let (intermediates, leaf, _) = pki.chain(n, &["node.example"]);
            let verifier = pki.verifier_with_depth(HostnameValidation::OpenSsl, false, depth);
            verifier
                .verify_server_cert(
                    leaf.der(),
                    &presented(&intermediates),
                    &name,
                    &[],
                    UnixTime::now(),
                )
                .map(|_| ())
        };
        for (depth, n) in [(4, 0), (4, 4), (0, 0), (1, 1), (6, 6)] {
            verify(depth, n).unwrap_or_else(|e| panic!("depth {depth}, {n} intermediates: {e}"));
        }
        for (depth, n) in [(4, 5), (0, 1), (1, 2), (3, 6)] {
            let err = verify(depth, n).unwrap_err();
            assert!(is_too_long(&err), "depth {depth}, {n} intermediates: {err}");
            assert!(
                err.to_string()
                    .contains(&format!("LIBPROCESS_SSL_VERIFICATION_DEPTH={depth}")),
                "{err}"
            );
        }
        // Beyond webpki's own bound every depth refuses (stricter, never looser).
        assert!(verify(10, 7).is_err());
    }

    /// OpenSSL builds the chain it can from what the peer sends: extra certificates that
    /// are not needed to reach the CA do not count against the depth.
    #[test]
    fn unneeded_extra_certificates_do_not_count_against_the_depth() {
        let pki = TestPki::new();
        let (_, leaf, _) = pki.chain(0, &["node.example"]);
        let (unrelated, _, _) = pki.chain(3, &["other.example"]);
        let verifier = pki.verifier_with_depth(HostnameValidation::OpenSsl, false, 0);
        let name = ServerName::try_from("node.example").unwrap();
        verifier
            .verify_server_cert(
                leaf.der(),
                &presented(&unrelated),
                &name,
                &[],
                UnixTime::now(),
            )
            .unwrap();
    }

    #[test]
    fn the_verification_depth_defaults_to_four_and_a_deep_one_is_warned() {
        assert_eq!(parse(&[]).unwrap().verification_depth, 4);
        let c = parse(&[("LIBPROCESS_SSL_VERIFICATION_DEPTH", "1")]).unwrap();
        assert_eq!(c.verification_depth, 1);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = parse(&[("LIBPROCESS_SSL_VERIFICATION_DEPTH", "9")]).unwrap();
        assert_eq!(c.verification_depth, 9);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("more than 6 intermediate")),
            "{:?}",
            c.warnings
        );
    }

    /// A real handshake over each side's loaded configuration: a server with
    /// REQUIRE_CLIENT_CERT refuses a client whose chain is deeper than its depth, and a
    /// client with VERIFY_SERVER_CERT refuses such a server; within the depth both connect.
    #[tokio::test]
    async fn both_sides_refuse_a_chain_deeper_than_their_verification_depth() {
        let dir = temp("depth");
        let pki = TestPki::new();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), pki.ca.pem()).unwrap();
        // Two intermediates; the file holds the chain, the daemon's certificate first.
        let (intermediates, leaf, key) = pki.chain(2, &["localhost"]);
        let mut pem = leaf.pem();
        for c in intermediates.iter().rev() {
            pem.push_str(&c.pem());
        }
        std::fs::write(dir.join("daemon.pem"), pem).unwrap();
        std::fs::write(dir.join("daemon.key"), key.serialize_pem()).unwrap();
        let tls = |extra: &[(&str, &str)]| {
            TlsConfig::parse(env_for(&dir, extra))
                .unwrap()
                .load()
                .unwrap()
                .unwrap()
        };
        let handshake = |server: Arc<Tls>, client: Arc<Tls>| async move {
            let (a, b) = tokio::io::duplex(64 * 1024);
            let acceptor = tokio_rustls::TlsAcceptor::from(server.server.clone());
            let connector = tokio_rustls::TlsConnector::from(client.client.clone());
            let name = ServerName::try_from("localhost").unwrap();
            let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
            (
                server.map(|_| ()).map_err(|e| e.to_string()),
                client.map(|_| ()).map_err(|e| e.to_string()),
            )
        };
        let mtls = |depth: &str| {
            tls(&[
                ("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true"),
                ("LIBPROCESS_SSL_VERIFICATION_DEPTH", depth),
            ])
        };
        let (server, client) = handshake(mtls("2"), mtls("2")).await;
        server.unwrap();
        client.unwrap();
        // The server allows one intermediate: it refuses the client's chain.
        let (server, client) = handshake(mtls("1"), mtls("4")).await;
        let err = server.unwrap_err();
        assert!(err.contains("certificate chain is too long"), "{err}");
        assert!(client.is_err());
        // The client allows one: it refuses the server's chain.
        let (server, client) = handshake(mtls("4"), mtls("1")).await;
        let err = client.unwrap_err();
        assert!(err.contains("certificate chain is too long"), "{err}");
        assert!(server.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn check(
        verifier: &LibprocessVerifier,
        cert: &rcgen::Certificate,
        name: &str,
    ) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier
            .verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    /// openssl.cpp `configure_socket` ('openssl' scheme): the dialled DNS name, or the IP
    /// address only with VERIFY_IPADD ("No DNS name given and IP address verification is
    /// disabled").
    #[test]
    fn the_openssl_scheme_checks_the_dialled_name_and_an_address_only_with_verify_ipadd() {
        let pki = TestPki::new();
        let (cert, _) = pki.leaf(&["node.example", "127.0.0.1"]);
        let plain = pki.verifier(HostnameValidation::OpenSsl, false);
        check(&plain, &cert, "node.example").unwrap();
        assert!(is_name_error(
            &check(&plain, &cert, "other.example").unwrap_err()
        ));
        let err = check(&plain, &cert, "127.0.0.1").unwrap_err();
        assert!(
            err.to_string()
                .contains("IP address verification is disabled"),
            "{err}"
        );
        let ipadd = pki.verifier(HostnameValidation::OpenSsl, true);
        check(&ipadd, &cert, "127.0.0.1").unwrap();
        let (other, _) = pki.leaf(&["node.example"]);
        assert!(check(&ipadd, &other, "127.0.0.1").is_err());
    }

    /// openssl.cpp `verify` ('legacy' scheme): an address SAN counts with VERIFY_IPADD; a
    /// DNS name dialled must match; an unknown CA is refused whatever the names.
    #[test]
    fn the_legacy_scheme_matches_names_and_never_skips_the_chain() {
        let pki = TestPki::new();
        let (cert, _) = pki.leaf(&["node.example", "127.0.0.1"]);
        let ipadd = pki.verifier(HostnameValidation::Legacy, true);
        check(&ipadd, &cert, "127.0.0.1").unwrap();
        check(&ipadd, &cert, "node.example").unwrap();
        assert!(check(&ipadd, &cert, "other.example").is_err());
        let rogue = TestPki::new();
        let (foreign, _) = rogue.leaf(&["node.example", "127.0.0.1"]);
        for verifier in [
            pki.verifier(HostnameValidation::Legacy, false),
            pki.verifier(HostnameValidation::Legacy, true),
        ] {
            let err = check(&verifier, &foreign, "127.0.0.1").unwrap_err();
            assert!(!is_name_error(&err), "{err}");
        }
    }

    fn write_pki(dir: &Path, pki: &TestPki, leaves: &[(&str, &[&str])]) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("ca.pem"), pki.ca.pem()).unwrap();
        for (name, sans) in leaves {
            let (cert, key) = pki.leaf(sans);
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
    }

    fn env_for(dir: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("LIBPROCESS_SSL_ENABLED".to_string(), "true".to_string()),
            (
                "LIBPROCESS_SSL_CERT_FILE".into(),
                dir.join("daemon.pem").display().to_string(),
            ),
            (
                "LIBPROCESS_SSL_KEY_FILE".into(),
                dir.join("daemon.key").display().to_string(),
            ),
            (
                "LIBPROCESS_SSL_CA_FILE".into(),
                dir.join("ca.pem").display().to_string(),
            ),
        ];
        // An environment names each variable once: `extra` replaces.
        env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("remesos-tls-unit-{tag}-{}", std::process::id()))
    }

    /// openssl.cpp: "Private key does not match the certificate public key", unreadable
    /// files and an empty CA bundle stop the process.
    #[test]
    fn files_that_cannot_be_used_stop_the_process() {
        let dir = temp("files");
        let pki = TestPki::new();
        write_pki(
            &dir,
            &pki,
            &[("daemon", &["localhost"]), ("other", &["localhost"])],
        );
        let load = |extra: &[(&str, &str)]| {
            TlsConfig::parse(env_for(&dir, extra))
                .unwrap()
                .load()
                .map(|_| ())
        };
        load(&[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")]).unwrap();
        let other_key = dir.join("other.key").display().to_string();
        let err = load(&[("LIBPROCESS_SSL_KEY_FILE", &other_key)]).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        let err = load(&[("LIBPROCESS_SSL_CERT_FILE", "/nonexistent/cert.pem")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let empty = empty.display().to_string();
        let err = load(&[
            ("LIBPROCESS_SSL_CA_FILE", &empty),
            ("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        // The CA file is not read unless something is verified (libprocess loads the
        // verify locations only then).
        load(&[("LIBPROCESS_SSL_CA_FILE", &empty)]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// openssl.cpp `verify` in server mode ('legacy', REQUIRE_CLIENT_CERT): the client's
    /// certificate must name its reverse-DNS name or, with VERIFY_IPADD, its address.
    #[tokio::test]
    async fn a_legacy_server_checks_that_the_client_certificate_names_the_peer() {
        let dir = temp("legacy-server");
        let pki = TestPki::new();
        write_pki(&dir, &pki, &[("daemon", &["localhost"])]);
        let tls = |extra: &[(&str, &str)]| {
            TlsConfig::parse(env_for(&dir, extra))
                .unwrap()
                .load()
                .unwrap()
                .unwrap()
        };
        let loopback: IpAddr = [127, 0, 0, 1].into();
        let elsewhere = pki.leaf(&["elsewhere.example"]).0.der().clone();
        let by_address = pki.leaf(&["127.0.0.1"]).0.der().clone();
        let mtls = tls(&[("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true")]);
        assert!(
            mtls.verify_client_name(Some(elsewhere.clone()), loopback)
                .await
                .is_err()
        );
        assert!(mtls.verify_client_name(None, loopback).await.is_err());
        let ipadd = tls(&[
            ("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true"),
            ("LIBPROCESS_SSL_VERIFY_IPADD", "true"),
        ]);
        ipadd
            .verify_client_name(Some(by_address), loopback)
            .await
            .unwrap();
        // The 'openssl' scheme leaves client names to the application (openssl.cpp).
        let openssl = tls(&[
            ("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true"),
            ("LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME", "openssl"),
        ]);
        openssl
            .verify_client_name(Some(elsewhere), loopback)
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
