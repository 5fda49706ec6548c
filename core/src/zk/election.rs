//! The master's candidacy: an ephemeral sequential `json.info_` znode holding its
//! MasterInfo; it leads while that znode has the lowest sequence under the path.

use std::time::Duration;

use tokio::sync::watch;
use zookeeper_client as zkc;

use remesos_proto::v1;

use super::{LABEL, Result, ZkUrl, detector::follow};

/// What a contending master knows about the election.
#[derive(Clone, Debug)]
pub enum Leadership {
    /// Another master leads (its MasterInfo), or nobody does yet (`None`).
    Standby(Option<Box<v1::MasterInfo>>),
    /// This master's znode has the lowest sequence.
    Elected,
    /// The session ended or this master's znode vanished: it must stop leading (Mesos's
    /// master aborts; so does ours).
    Lost(String),
}

/// A running candidacy.
pub struct Candidacy {
    /// The name of this master's znode, `json.info_NNNNNNNNNN`.
    pub member: String,
    /// Election outcomes; `Lost` is final.
    pub leadership: watch::Receiver<Leadership>,
    /// The session, shared with the registrar's ZooKeeper store (one connection per master).
    pub client: zkc::Client,
}

/// Joins the election under `url.path` with `info` and follows it in the background.
pub async fn contend(
    url: &ZkUrl,
    session_timeout: Duration,
    info: &v1::MasterInfo,
) -> Result<Candidacy> {
    let client = url.connect(session_timeout).await?;
    let dir = zkc::CreateMode::Persistent.with_acls(url.acls());
    client.mkdir(&url.path, &dir).await?;
    let data = remesos_proto::json::to_vec(info);
    let ephemeral = zkc::CreateMode::EphemeralSequential.with_acls(url.acls());
    let (_, seq) = client
        .create(&format!("{}/{LABEL}_", url.path), &data, &ephemeral)
        .await?;
    let member = format!("{LABEL}_{seq}");
    tracing::info!(%member, path = %url.path, session_timeout = ?client.session_timeout(), "contending for leadership");
    let (tx, rx) = watch::channel(Leadership::Standby(None));
    let task_client = client.clone();
    let path = url.path.clone();
    let ours = member.clone();
    tokio::spawn(async move {
        let mut elected = false;
        let ended = follow(&task_client, &path, |leader| {
            let next = match leader {
                Some((name, _)) if name == ours => {
                    elected = true;
                    Leadership::Elected
                }
                _ if elected => {
                    Leadership::Lost("this master's znode is no longer the leader".to_string())
                }
                Some((_, info)) => Leadership::Standby(Some(Box::new(info))),
                None => Leadership::Standby(None),
            };
            tx.send_if_modified(|current| {
                if matches!(current, Leadership::Lost(_)) {
                    return false;
                }
                let same = match (&*current, &next) {
                    (Leadership::Elected, Leadership::Elected) => true,
                    (Leadership::Standby(a), Leadership::Standby(b)) => {
                        a.as_ref().map(|i| &i.id) == b.as_ref().map(|i| &i.id)
                    }
                    _ => false,
                };
                if !same {
                    *current = next;
                }
                !same
            });
        })
        .await;
        let _ = tx.send(Leadership::Lost(format!(
            "ZooKeeper session ended: {ended}"
        )));
    });
    Ok(Candidacy {
        member,
        leadership: rx,
        client,
    })
}
