//! Persistent volumes for the tests of containers with their own root filesystem
//! (core/tests/mesos_images.rs, core/tests/docker.rs): the operator reserves disk for a
//! role and creates volumes on it (v1 `RESERVE_RESOURCES`, `CREATE_VOLUMES`), a framework of
//! that role waits for an offer holding a volume, and the agent's mount table is checked
//! for leftovers. Included with `#[path]` (not a module of `support`, which every test
//! compiles).
#![allow(dead_code, reason = "each includer uses a part")]

use std::path::Path;
use std::time::Duration;

use remesos_proto::v1;
use serde_json::{Value, json};

/// The role the volumes are reserved for.
pub const ROLE: &str = "r";

/// A framework of [`ROLE`] (Mesos's single-role `FrameworkInfo.role`).
pub async fn subscribe(master: &str, name: &str) -> super::support::TestFramework {
    #[allow(
        deprecated,
        reason = "a single-role framework, as most volume users are"
    )]
    let info = v1::FrameworkInfo {
        user: String::new(),
        name: name.into(),
        role: Some(ROLE.into()),
        checkpoint: Some(true),
        ..Default::default()
    };
    super::support::TestFramework::subscribe_info(master, info).await
}

/// A persistent volume `id` of `mb` MB of [`ROLE`] at `container_path` with `mode`.
pub fn volume(mb: f64, id: &str, container_path: &str, mode: &str) -> Value {
    json!({"name": "disk", "type": "SCALAR", "scalar": {"value": mb},
           "reservations": [{"type": "DYNAMIC", "role": ROLE}],
           "disk": {"persistence": {"id": id},
                    "volume": {"container_path": container_path, "mode": mode}}})
}

/// Reserves `mb` MB of disk on `agent_id` for [`ROLE`] and creates `volumes` on it
/// (their sizes add up to `mb`); waits until the agent made each one's directory under
/// `work_dir`.
pub async fn reserve_and_create(
    master: &str,
    agent_id: &str,
    work_dir: &Path,
    mb: f64,
    volumes: &[Value],
) {
    let reserve = json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": agent_id},
        "resources": [{"name": "disk", "type": "SCALAR", "scalar": {"value": mb},
                       "reservations": [{"type": "DYNAMIC", "role": ROLE}]}]}});
    let (status, body) = super::support::post_json(master, "/api/v1", &reserve.to_string()).await;
    assert_eq!(status, 202, "RESERVE_RESOURCES: {body}");
    let create = json!({"type": "CREATE_VOLUMES", "create_volumes": {
        "agent_id": {"value": agent_id}, "volumes": volumes}});
    let (status, body) = super::support::post_json(master, "/api/v1", &create.to_string()).await;
    assert_eq!(status, 202, "CREATE_VOLUMES: {body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for v in volumes {
        let id = v["disk"]["persistence"]["id"].as_str().unwrap();
        let dir = work_dir.join("volumes/roles").join(ROLE).join(id);
        while !dir.is_dir() {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent did not create {}",
                dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The persistent volume `id` in `offer`, if it holds it.
pub fn volume_in(offer: &v1::Offer, id: &str) -> Option<v1::Resource> {
    offer
        .resources
        .iter()
        .find(|r| {
            r.disk
                .as_ref()
                .and_then(|d| d.persistence.as_ref())
                .is_some_and(|p| p.id == id)
        })
        .cloned()
}

/// The next offer holding the volume `id` (others are declined for a tenth of a second)
/// and the volume; status updates on the way are acknowledged.
pub async fn offer_with(
    framework: &mut super::support::TestFramework,
    id: &str,
) -> (v1::Offer, v1::Resource) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, framework.sub.next_event())
            .await
            .unwrap_or_else(|_| panic!("no offer with volume {id} within 60 s"))
            .unwrap();
        if let Some(update) = event.update
            && let Some(ack) = remesos::client::scheduler::acknowledge_call(&update.status)
        {
            framework.sub.call(ack).await.unwrap();
        }
        for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
            if let Some(volume) = volume_in(&offer, id) {
                return (offer, volume);
            }
            decline(framework, &offer).await;
        }
    }
}

/// `resource` (a persistent volume of an offer) used at `container_path` instead of the
/// path it was created with: a task may give its own `Volume` (Mesos compares resources
/// without it), and the agent checks the path at launch.
pub fn used_at(mut resource: v1::Resource, container_path: &str) -> v1::Resource {
    if let Some(volume) = resource.disk.as_mut().and_then(|d| d.volume.as_mut()) {
        volume.container_path = container_path.to_string();
    }
    resource
}

/// Declines `offer` for a tenth of a second.
pub async fn decline(framework: &mut super::support::TestFramework, offer: &v1::Offer) {
    let decline = v1::scheduler::Call {
        r#type: Some(v1::scheduler::call::Type::Decline as i32),
        decline: Some(v1::scheduler::call::Decline {
            offer_ids: vec![offer.id.clone()],
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.1),
            }),
        }),
        ..Default::default()
    };
    framework.sub.call(decline).await.unwrap();
}

/// The lines of this (the agent's) mount namespace's table that mention `path`: a volume
/// is bind-mounted only inside its container, so there are none.
pub fn mounts_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(path.to_str().unwrap()))
        .map(str::to_string)
        .collect()
}
