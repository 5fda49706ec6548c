//! HS256 JSON Web Tokens as libprocess makes and checks them (3rdparty/libprocess/src/jwt.cpp,
//! `JWT::create(payload, secret)` and `JWT::parse(token, secret)`), and the Bearer
//! authentication of a request with one (3rdparty/libprocess/src/jwt_authenticator.cpp).
//!
//! The agent signs one token per executor with its `--jwt_secret_key` (Mesos's
//! `JWTSecretGenerator`, src/authentication/executor/jwt_secret_generator.cpp: the claims
//! `fid`, `eid`, `cid`, no expiry) and checks the `Authorization: Bearer <token>` of executor
//! calls with the same key. A token is three base64url parts without padding,
//! `header.payload.signature`: the header is `{"alg":"HS256","typ":"JWT"}`, the payload a
//! JSON object of claims with its keys in order (stout's `JSON::Object` is a `std::map`), the
//! signature the HMAC-SHA256 of `header.payload` under the key.
//!
//! Checking refuses, with libprocess's messages: a token that is not three parts, a header
//! that is not a JSON object or names no `alg`, any `alg` but `HS256` (`none` and `RS256`
//! included: this key signs only HS256), a `crit` header, a payload that is not a JSON
//! object, an `exp` claim in the past (`now` comes in: no clock read here), a signature that
//! does not match (compared in constant time, `ring::hmac::verify`). Beyond libprocess, a
//! token longer than [`MAX_TOKEN_BYTES`] is refused before it is decoded.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use ring::hmac;
use serde_json::{Map, Value};

/// Tokens longer than this are refused before decoding: an executor token (three ids of at
/// most 255 bytes each, Mesos's id limit) is well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A JWT secret key shorter than this is warned about (RFC 7518 §3.2: an HS256 key should be
/// at least as long as the hash, 256 bits; a short one can be guessed offline from any
/// token). Mesos accepts any non-empty key, so a short one is not refused.
pub const MIN_KEY_BYTES: usize = 32;

/// base64url as stout decodes it: padding may be present or not.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a token was refused. The messages are libprocess's (`JWTError`, INVALID_TOKEN), so
/// a 401 says what Mesos's would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("Token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("Expected 3 components in token, got {0}")]
    Components(usize),
    #[error("Failed to decode token header: {0}")]
    Header(String),
    #[error("Failed to locate 'alg' in token JSON header")]
    NoAlg,
    #[error("Token 'alg' field is not a string")]
    AlgNotString,
    #[error("Token 'typ' is not a string")]
    TypNotString,
    #[error("Unsupported token algorithm: {0}")]
    UnsupportedAlg(String),
    #[error("Token 'crit' field is unsupported")]
    Crit,
    #[error("Token 'alg' value \"{0}\" does not match, expected \"HS256\"")]
    WrongAlg(String),
    #[error("Failed to decode token payload: {0}")]
    Payload(String),
    #[error("JSON payload 'exp' field is not a number")]
    ExpNotNumber,
    #[error("Token has expired: exp({exp}) < now({now})")]
    Expired { exp: i64, now: i64 },
    #[error("Failed to base64url-decode token signature")]
    Signature,
    #[error("Token signature does not match")]
    SignatureMismatch,
}

/// An HS256 key (the content of `--jwt_secret_key`). Its bytes are never shown: `Debug`
/// prints nothing of them.
#[derive(Clone)]
pub struct JwtKey(hmac::Key);

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(..)")
    }
}

/// A key that cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the JWT secret key is empty")]
    Empty,
}

impl JwtKey {
    /// A key from the secret's bytes (the file's whole content, as Mesos's `os::read`
    /// takes it: a trailing newline is part of the key). An empty key signs nothing anyone
    /// could not sign: refused.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(JwtKey(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }
}

/// A token's claims as libprocess's `Principal` keeps them: strings as they are, any other
/// JSON value as its JSON text.
pub type Claims = BTreeMap<String, String>;

/// The compact JSON header libprocess writes for HS256 (its keys in order).
const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs `claims` (string values, written with their keys in order, as stout does).
pub fn create(key: &JwtKey, claims: &Claims) -> String {
    let payload: Map<String, Value> = claims
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let payload = Value::Object(payload).to_string();
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HS256_HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let tag = hmac::sign(&key.0, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Checks `token` against `key` at `now` (seconds since the epoch, for `exp`) and returns its
/// claims.
pub fn verify(key: &JwtKey, token: &str, now: i64) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLong);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(JwtError::Components(parts.len()));
    };
    check_header(header)?;
    let claims = decode_payload(payload, now)?;
    let signature = URL_SAFE_LENIENT
        .decode(signature)
        .map_err(|_| JwtError::Signature)?;
    let signed = &token[..header.len() + 1 + payload.len()];
    hmac::verify(&key.0, signed.as_bytes(), &signature).map_err(|_| JwtError::SignatureMismatch)?;
    Ok(claims)
}

fn decode_object(part: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_LENIENT
        .decode(part)
        .map_err(|e| format!("Failed to base64url-decode: {e}"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err("Failed to parse into JSON: not a JSON object".into()),
        Err(e) => Err(format!("Failed to parse into JSON: {e}")),
    }
}

/// libprocess's `parse_header`, then its check that the algorithm is the key's.
fn check_header(part: &str) -> Result<(), JwtError> {
    let header = decode_object(part).map_err(JwtError::Header)?;
    if header.get("typ").is_some_and(|t| !t.is_string()) {
        return Err(JwtError::TypNotString);
    }
    let alg = match header.get("alg") {
        None => return Err(JwtError::NoAlg),
        Some(Value::String(alg)) => alg.as_str(),
        Some(_) => return Err(JwtError::AlgNotString),
    };
    if !matches!(alg, "none" | "HS256" | "RS256") {
        return Err(JwtError::UnsupportedAlg(alg.to_string()));
    }
    if header.contains_key("crit") {
        return Err(JwtError::Crit);
    }
    if alg != "HS256" {
        return Err(JwtError::WrongAlg(alg.to_string()));
    }
    Ok(())
}

/// libprocess's `parse_payload` (`exp` checked when present), then the claims as its JWT
/// authenticator makes them.
fn decode_payload(part: &str, now: i64) -> Result<Claims, JwtError> {
    let payload = decode_object(part).map_err(JwtError::Payload)?;
    if let Some(exp) = payload.get("exp") {
        let exp = match exp {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or(JwtError::ExpNotNumber)?,
            _ => return Err(JwtError::ExpNotNumber),
        };
        if exp < now {
            return Err(JwtError::Expired { exp, now });
        }
    }
    Ok(payload
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}

/// A request the Bearer authenticator refused: the `WWW-Authenticate` value of its 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthorized {
    pub www_authenticate: String,
}

/// libprocess's `JWTAuthenticator::authenticate` for `realm`: the claims of the request's
/// `Authorization: Bearer <token>`, or the 401 it gets. No header: a bare challenge (RFC
/// 6750 §3.1); a header that is not two words, another scheme, a refused token or one
/// without claims: `error="invalid_token"` with libprocess's description. `authorization`
/// is the header's value (`None` when absent or not text).
pub fn authenticate_bearer(
    key: &JwtKey,
    realm: &str,
    authorization: Option<&str>,
    now: i64,
) -> Result<Claims, Unauthorized> {
    let invalid = |description: &str| Unauthorized {
        www_authenticate: format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        ),
    };
    let Some(header) = authorization else {
        return Err(Unauthorized {
            www_authenticate: format!("Bearer realm=\"{realm}\""),
        });
    };
    let words: Vec<&str> = header.split(' ').collect();
    let [scheme, token] = words[..] else {
        return Err(invalid("Malformed 'Authorization' header"));
    };
    if scheme != "Bearer" {
        // The scheme is echoed as libprocess does, cut short: it came from the network.
        let scheme: String = scheme.chars().take(32).collect();
        return Err(invalid(&format!("Scheme '{scheme}' unsupported")));
    }
    let claims = verify(key, token, now).map_err(|e| invalid(&format!("Invalid JWT: {e}")))?;
    if claims.is_empty() {
        return Err(invalid("JWT claims missing"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE64URL: GeneralPurpose = URL_SAFE_NO_PAD;
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key() -> JwtKey {
        JwtKey::new(SECRET).unwrap()
    }

    fn claims() -> Claims {
        [("fid", "f-1"), ("eid", "e-1"), ("cid", "c-1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn b64(s: &str) -> String {
        BASE64URL.encode(s)
    }

    /// A token signed with `key` over exactly these header and payload texts.
    fn sign(header: &str, payload: &str) -> String {
        let signed = format!("{}.{}", b64(header), b64(payload));
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, SECRET),
            signed.as_bytes(),
        );
        format!("{signed}.{}", BASE64URL.encode(tag.as_ref()))
    }

    #[test]
    fn a_token_round_trips_with_its_claims() {
        let token = create(&key(), &claims());
        assert_eq!(verify(&key(), &token, 0), Ok(claims()));
    }

    /// jwt.cpp: the header is `{"alg":"HS256","typ":"JWT"}` and the payload stout's compact
    /// JSON with keys in order, each base64url without padding; so a token libprocess made
    /// for the same claims and key is byte for byte this one.
    #[test]
    fn a_token_is_written_as_libprocess_writes_it() {
        let token = create(&key(), &claims());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        let payload = BASE64URL.decode(parts[1]).unwrap();
        assert_eq!(payload, br#"{"cid":"c-1","eid":"e-1","fid":"f-1"}"#);
        assert!(!token.contains('='));
        assert_eq!(
            token,
            sign(HS256_HEADER, r#"{"cid":"c-1","eid":"e-1","fid":"f-1"}"#)
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = JwtKey::new(b"another key, also thirty-two bytes!").unwrap();
        let token = create(&other, &claims());
        assert_eq!(verify(&key(), &token, 0), Err(JwtError::SignatureMismatch));
    }

    #[test]
    fn a_token_whose_claims_were_changed_is_refused() {
        let token = create(&key(), &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(r#"{"cid":"c-2","eid":"e-1","fid":"f-1"}"#),
            parts[2]
        );
        assert_eq!(verify(&key(), &forged, 0), Err(JwtError::SignatureMismatch));
        // A signature cut short or lengthened does not match either.
        let short = &token[..token.len() - 2];
        assert!(verify(&key(), short, 0).is_err());
        let long = format!("{token}AA");
        assert!(verify(&key(), &long, 0).is_err());
    }

    /// An unsecured token (`alg: none`, empty signature) is what libprocess's
    /// `JWT::parse(token)` without a key accepts; with a key it is refused.
    #[test]
    fn an_alg_none_token_is_refused() {
        let token = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(r#"{"cid":"c-1","eid":"e-1","fid":"f-1"}"#)
        );
        assert_eq!(
            verify(&key(), &token, 0),
            Err(JwtError::WrongAlg("none".into()))
        );
        assert_eq!(
            JwtError::WrongAlg("none".into()).to_string(),
            "Token 'alg' value \"none\" does not match, expected \"HS256\""
        );
        // Also with a signature made with the key: the header decides.
        let signed = sign(
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"cid":"c-1","eid":"e-1","fid":"f-1"}"#,
        );
        assert!(matches!(
            verify(&key(), &signed, 0),
            Err(JwtError::WrongAlg(_))
        ));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let payload = r#"{"fid":"f"}"#;
        for (alg, want) in [
            ("RS256", JwtError::WrongAlg("RS256".into())),
            ("HS512", JwtError::UnsupportedAlg("HS512".into())),
            ("hs256", JwtError::UnsupportedAlg("hs256".into())),
            ("", JwtError::UnsupportedAlg(String::new())),
        ] {
            let token = sign(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), payload);
            assert_eq!(verify(&key(), &token, 0), Err(want), "{alg}");
        }
        let token = sign(r#"{"alg":256}"#, payload);
        assert_eq!(verify(&key(), &token, 0), Err(JwtError::AlgNotString));
        let token = sign(r#"{"typ":"JWT"}"#, payload);
        assert_eq!(verify(&key(), &token, 0), Err(JwtError::NoAlg));
        let token = sign(r#"{"alg":"HS256","typ":1}"#, payload);
        assert_eq!(verify(&key(), &token, 0), Err(JwtError::TypNotString));
        let token = sign(r#"{"alg":"HS256","crit":["x"]}"#, payload);
        assert_eq!(verify(&key(), &token, 0), Err(JwtError::Crit));
        // `typ` is optional.
        let token = sign(r#"{"alg":"HS256"}"#, payload);
        assert!(verify(&key(), &token, 0).is_ok());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = create(&key(), &claims());
        let parts: Vec<&str> = good.split('.').collect();
        for (token, what) in [
            (String::new(), "empty"),
            ("abc".to_string(), "one part"),
            (format!("{}.{}", parts[0], parts[1]), "two parts"),
            (format!("{good}.x"), "four parts"),
            (
                format!("!!!.{}.{}", parts[1], parts[2]),
                "header not base64",
            ),
            (
                format!("{}.{}.{}", b64("not json"), parts[1], parts[2]),
                "header not json",
            ),
            (
                format!("{}.{}.{}", b64("[1]"), parts[1], parts[2]),
                "header not an object",
            ),
            (
                format!("{}.!!!.{}", parts[0], parts[2]),
                "payload not base64",
            ),
            (
                format!("{}.{}.{}", parts[0], b64("\"x\""), parts[2]),
                "payload not an object",
            ),
            (
                format!("{}.{}.***", parts[0], parts[1]),
                "signature not base64",
            ),
            (format!("{}.{}.", parts[0], parts[1]), "no signature"),
        ] {
            assert!(verify(&key(), &token, 0).is_err(), "{what}");
        }
        assert_eq!(verify(&key(), "a.b", 0), Err(JwtError::Components(2)));
    }

    #[test]
    fn oversized_tokens_are_refused_before_decoding() {
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(verify(&key(), &big, 0), Err(JwtError::TooLong));
    }

    /// jwt.cpp `parse_payload`: an `exp` claim in the past is refused; Mesos's executor
    /// tokens carry none, so they never expire.
    #[test]
    fn an_expired_token_is_refused_and_one_without_exp_never_expires() {
        let token = sign(HS256_HEADER, r#"{"exp":100,"fid":"f"}"#);
        assert_eq!(
            verify(&key(), &token, 101),
            Err(JwtError::Expired { exp: 100, now: 101 })
        );
        let read = verify(&key(), &token, 100).unwrap();
        assert_eq!(read.get("exp").map(String::as_str), Some("100"));
        let token = sign(HS256_HEADER, r#"{"exp":"soon"}"#);
        assert_eq!(verify(&key(), &token, 0), Err(JwtError::ExpNotNumber));
        let token = create(&key(), &claims());
        assert!(verify(&key(), &token, i64::MAX).is_ok());
    }

    #[test]
    fn padded_base64url_is_accepted_as_stout_decodes_it() {
        let token = sign(HS256_HEADER, r#"{"fid":"f-1"}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let padded = |p: &str| {
            let mut p = p.to_string();
            while !p.len().is_multiple_of(4) {
                p.push('=');
            }
            p
        };
        // Only the signature can be padded without changing what was signed.
        let token = format!("{}.{}.{}", parts[0], parts[1], padded(parts[2]));
        assert!(verify(&key(), &token, 0).is_ok());
    }

    #[test]
    fn an_empty_key_is_refused_and_a_key_is_never_shown() {
        assert_eq!(JwtKey::new(b"").unwrap_err(), KeyError::Empty);
        assert!(JwtKey::new(b"short").is_ok());
        assert!(!format!("{:?}", key()).contains("0123"));
    }

    /// jwt_authenticator.cpp: the 401 challenges for each way a Bearer header fails.
    #[test]
    fn bearer_authentication_answers_as_libprocess_does() {
        let realm = "mesos-agent-executor";
        let token = create(&key(), &claims());
        assert_eq!(
            authenticate_bearer(&key(), realm, Some(&format!("Bearer {token}")), 0),
            Ok(claims())
        );
        let challenge = |h: Option<&str>| {
            authenticate_bearer(&key(), realm, h, 0)
                .unwrap_err()
                .www_authenticate
        };
        assert_eq!(challenge(None), r#"Bearer realm="mesos-agent-executor""#);
        assert_eq!(
            challenge(Some(&format!("Bearer  {token}"))),
            r#"Bearer realm="mesos-agent-executor", error="invalid_token", error_description="Malformed 'Authorization' header""#
        );
        assert_eq!(
            challenge(Some(&format!("Basic {token}"))),
            r#"Bearer realm="mesos-agent-executor", error="invalid_token", error_description="Scheme 'Basic' unsupported""#
        );
        assert_eq!(
            challenge(Some("Bearer a.b")),
            r#"Bearer realm="mesos-agent-executor", error="invalid_token", error_description="Invalid JWT: Expected 3 components in token, got 2""#
        );
        let empty = sign(HS256_HEADER, "{}");
        assert_eq!(
            challenge(Some(&format!("Bearer {empty}"))),
            r#"Bearer realm="mesos-agent-executor", error="invalid_token", error_description="JWT claims missing""#
        );
        // A quote from the network cannot break out of the quoted description.
        let c = challenge(Some("Bea\"rer x"));
        assert_eq!(c.matches('"').count(), 6, "{c}");
    }
}
