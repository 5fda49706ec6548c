//! ZooKeeper: leader election and detection exactly as Mesos lays them out
//! (reference/mesos-contract.md §5), and the session the registry's ZooKeeper store
//! (`crate::registry::zk`) shares with the election.
//!
//! # Znodes
//!
//! ```text
//! <path>/json.info_0000000007   ephemeral sequential, MasterInfo as JSON (stout rules,
//!                               `ip` in network byte order); one per running master
//! <path>/json.info_0000000009   the lowest sequence leads
//! <path>_registry/...           the registrar's state (see `registry/zk.rs`); a sibling of
//!                               <path> so that detectors that take the smallest child
//!                               name (pymesos) never read it as a master
//! ```
//!
//! # Data flow
//!
//! ```text
//!  remesos master --zk            contender (election.rs): creates its json.info_ node,
//!                                 follows the children; lowest = leader
//!  agent / execute / clients /    detector (detector.rs): one ZooKeeper session per
//!  JNI driver                     process, publishes the leader's MasterInfo on a
//!                                 `tokio::sync::watch` channel; `MasterDetector`
//!                                 wraps it with the non-ZooKeeper forms of --master
//! ```
//!
//! The replicated log behind `org.apache.mesos.Log` lives in [`log`] (its own znode, given
//! by the Java side).
//!
//! A master whose ZooKeeper session expires exits (as Mesos's does): its znode is gone, so
//! another master may lead already.

mod detector;
pub mod election;
pub mod log;

use std::net::Ipv4Addr;
use std::time::Duration;

use remesos_proto::v1;
use zookeeper_client as zkc;

pub use detector::{MasterDetector, ZkDetector};

/// Mesos's default `--zk_session_timeout`.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The label of the znodes Mesos's contender creates (`json.info_<seq>`).
pub const LABEL: &str = "json.info";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid ZooKeeper URL '{url}': {reason}")]
    Url { url: String, reason: String },
    #[error("zookeeper: {0}")]
    Zk(#[from] zkc::Error),
    #[error("malformed MasterInfo in {path}: {reason}")]
    MasterInfo { path: String, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// `zk://[user:pass@]host1:port1,host2:port2/path` (Mesos's `zookeeper::URL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host1:port1,host2:port2`
    pub servers: String,
    /// The znode path, absolute, without a trailing `/`; never `/`.
    pub path: String,
    /// `digest` credentials (`user`, `password`).
    pub credentials: Option<(String, String)>,
}

impl ZkUrl {
    pub fn parse(text: &str) -> Result<ZkUrl> {
        let err = |reason: &str| Error::Url {
            url: redact(text),
            reason: reason.to_string(),
        };
        let rest = text
            .trim()
            .strip_prefix("zk://")
            .ok_or_else(|| err("expected zk://"))?;
        // Mesos takes the credentials as the text before the *last* '@'.
        let (credentials, rest) = match rest.rfind('@') {
            Some(at) => {
                let (user, pass) = rest[..at]
                    .split_once(':')
                    .ok_or_else(|| err("credentials must be user:password"))?;
                (Some((user.to_string(), pass.to_string())), &rest[at + 1..])
            }
            None => (None, rest),
        };
        let slash = rest
            .find('/')
            .ok_or_else(|| err("missing the znode path"))?;
        let servers = &rest[..slash];
        let path = rest[slash..].trim_end_matches('/');
        if servers.is_empty() {
            return Err(err("missing the servers"));
        }
        if path.is_empty() {
            return Err(err("the znode path must not be '/'"));
        }
        if path.contains("//") {
            return Err(err("empty path segment"));
        }
        Ok(ZkUrl {
            servers: servers.to_string(),
            path: path.to_string(),
            credentials,
        })
    }

    /// Where the registrar keeps its znodes: a sibling of the election path.
    pub fn registry_path(&self) -> String {
        format!("{}_registry", self.path)
    }

    /// Opens a session; with credentials, adds `digest` auth before anything else is sent.
    pub async fn connect(&self, session_timeout: Duration) -> Result<zkc::Client> {
        let mut connector = zkc::Client::connector().with_session_timeout(session_timeout);
        if let Some((user, pass)) = &self.credentials {
            connector = connector.with_auth("digest", format!("{user}:{pass}").as_bytes());
        }
        Ok(connector.connect(&self.servers).await?)
    }

    /// The ACLs Mesos gives the znodes it creates: with credentials, everyone may read and
    /// the creator may do anything; without, anyone may do anything.
    pub fn acls(&self) -> zkc::Acls<'static> {
        acls(self.credentials.is_some())
    }
}

/// Mesos's ACLs for the znodes it creates: `EVERYONE_READ_CREATOR_ALL` for an authenticated
/// session, `OPEN_ACL_UNSAFE` otherwise.
pub fn acls(authenticated: bool) -> zkc::Acls<'static> {
    if authenticated {
        zkc::Acls::new(&AUTHENTICATED_ACLS)
    } else {
        zkc::Acls::anyone_all()
    }
}

static AUTHENTICATED_ACLS: [zkc::Acl; 2] = [
    zkc::Acl::new_const(zkc::Permission::READ, "world", "anyone"),
    zkc::Acl::new_const(zkc::Permission::ALL, "auth", ""),
];

/// The URL with its password hidden, for messages and logs.
pub fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &text[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &text[..scheme + 3], &text[at..])
        }
        _ => text.to_string(),
    }
}

/// The sequence number of a contender's znode name (`json.info_0000000012` -> 12) and its
/// label; names without a numeric `_<seq>` suffix (`log_replicas`) are not contenders.
pub fn parse_member(name: &str) -> Option<(&str, u64)> {
    let (label, seq) = name.rsplit_once('_')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((label, seq.parse().ok()?))
}

/// The leading member among `children`: the smallest sequence (Mesos's detector).
pub fn leader_of(children: &[String]) -> Option<&str> {
    children
        .iter()
        .filter_map(|c| parse_member(c).map(|(_, seq)| (seq, c.as_str())))
        .min()
        .map(|(_, c)| c)
}

/// Reads a member's data as Mesos's detector does: `json.info` is MasterInfo JSON; other
/// labels are refused (the binary `info` form is deprecated since Mesos 0.24).
pub fn decode_member(name: &str, data: &[u8]) -> Result<v1::MasterInfo> {
    let bad = |reason: String| Error::MasterInfo {
        path: name.to_string(),
        reason,
    };
    match parse_member(name) {
        Some((LABEL, _)) => remesos_proto::json::from_slice(data).map_err(|e| bad(e.to_string())),
        Some((label, _)) => Err(bad(format!("unsupported label '{label}'"))),
        None => Err(bad("not a contender".to_string())),
    }
}

/// `host:port` to reach a master from its MasterInfo (`address` first, then `ip`, which is
/// in network byte order).
pub fn master_address(info: &v1::MasterInfo) -> String {
    if let Some(address) = &info.address
        && let Some(ip) = address.ip.as_deref().filter(|ip| !ip.is_empty())
    {
        let port = if address.port > 0 {
            address.port as u32
        } else {
            info.port
        };
        return format!("{ip}:{port}");
    }
    let ip = Ipv4Addr::from(info.ip.to_le_bytes());
    format!("{ip}:{}", info.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mesos_urls() {
        let u = ZkUrl::parse("zk://h1:2181,h2:2181/mesos").unwrap();
        assert_eq!(u.servers, "h1:2181,h2:2181");
        assert_eq!(u.path, "/mesos");
        assert_eq!(u.credentials, None);
        let u = ZkUrl::parse("zk://bob:s3@cr@et@h1:2181/a/b/").unwrap();
        assert_eq!(u.credentials, Some(("bob".into(), "s3@cr@et".into())));
        assert_eq!(u.path, "/a/b");
        assert_eq!(u.registry_path(), "/a/b_registry");
        // Reference §5: the detector rejects the root path.
        assert!(ZkUrl::parse("zk://h1:2181/").is_err());
        assert!(ZkUrl::parse("zk://h1:2181").is_err());
        assert!(ZkUrl::parse("h1:2181/mesos").is_err());
        assert_eq!(
            redact("zk://bob:pw@h:1/m"),
            "zk://bob:***@h:1/m".to_string()
        );
    }

    #[test]
    fn lowest_sequence_leads_and_other_children_are_skipped() {
        let children: Vec<String> = [
            "log_replicas",
            "json.info_0000000012",
            "json.info_0000000003",
            "registry",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(leader_of(&children), Some("json.info_0000000003"));
        assert_eq!(leader_of(&children[..1]), None);
    }

    #[test]
    fn member_data_round_trips_with_network_order_ip() {
        // What a master at 10.0.0.7:5050 publishes (master::master_info fills it so;
        // master/tests.rs checks that side): `ip` in network byte order, and `address`.
        let info = v1::MasterInfo {
            id: "id-1".to_string(),
            ip: u32::from_le_bytes(Ipv4Addr::new(10, 0, 0, 7).octets()),
            port: 5050,
            pid: Some("master@10.0.0.7:5050".to_string()),
            hostname: Some("localhost".to_string()),
            address: Some(v1::Address {
                hostname: Some("localhost".to_string()),
                ip: Some("10.0.0.7".to_string()),
                port: 5050,
            }),
            ..Default::default()
        };
        let json = remesos_proto::json::to_vec(&info);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        // 10.0.0.7 in network byte order read as a little-endian u32.
        assert_eq!(value["ip"], serde_json::json!(0x0700000a));
        let back = decode_member("json.info_0000000001", &json).unwrap();
        assert_eq!(back.id, "id-1");
        assert_eq!(master_address(&back), "10.0.0.7:5050");
        assert!(decode_member("info_0000000001", &json).is_err());
        assert!(decode_member("json.info_0000000001", b"{").is_err());
    }
}
