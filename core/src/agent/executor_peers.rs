//! Who may call the executor API: this host's own addresses, and the IPs of the agent's live
//! executor containers that have a network of their own (a docker container on a BRIDGE or
//! USER network, whose calls come from the container's IP).
//!
//! Mesos's agent serves the executor API to any address and relies on executor tokens when
//! `--authenticate_http_executors` is on. remesos also refuses, before decoding, calls from
//! any address that is neither this host nor one of its containers: an executor runs here,
//! so a call from elsewhere is forged. The agent actor publishes the containers' addresses
//! ([`ContainerPeers`], from the IPs the docker containerizer learned from dockerd for
//! `container_status.network_infos`) on a watch channel after each command; the HTTP
//! handler decides with [`decide`] and never asks dockerd itself.
//!
//! A bridged container's executor may call before dockerd has told the agent its IP (the
//! containerizer asks once the container runs): while such a container is `pending`, an
//! unknown peer waits up to [`PENDING_NETWORK_WAIT`] for the address to be published. A
//! peer that is none of these is refused at once, so a remote caller cannot hold requests
//! open unless a container is starting.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use remesos_proto::v1;

use super::{Agent, ExecutorState};

/// How long a call from an unknown address waits for a starting container's IP.
pub const PENDING_NETWORK_WAIT: Duration = Duration::from_secs(5);

/// The executor containers' own addresses, as the agent knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerPeers {
    /// IPs of live (not terminated) executors' containers, IPv4-mapped addresses unmapped.
    pub ips: BTreeSet<IpAddr>,
    /// Registering executors in containers with their own network whose IP is not known yet.
    pub pending: usize,
}

/// What to do with an executor-API call from a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// An unknown remote peer while a container's IP is still to come: wait for it.
    Wait,
    Refuse,
}

/// `::ffff:a.b.c.d` as `a.b.c.d`, so that an IPv4 container matches a dual-stack listener.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The decision for a call from `peer` (`None`: served without peer addresses, refused);
/// `is_local` says whether an address is this host's own.
pub fn decide(
    peer: Option<IpAddr>,
    is_local: impl Fn(IpAddr) -> bool,
    containers: &ContainerPeers,
) -> Decision {
    let Some(ip) = peer.map(unmapped) else {
        return Decision::Refuse;
    };
    if containers.ips.contains(&ip) || is_local(ip) {
        Decision::Accept
    } else if containers.pending > 0 {
        Decision::Wait
    } else {
        Decision::Refuse
    }
}

/// Whether an executor's container has a network of its own: DOCKER on BRIDGE or USER
/// (HOST is the default network of a DockerInfo, as in Mesos).
fn own_network(info: &v1::ExecutorInfo) -> bool {
    use v1::container_info::{Type, docker_info::Network};
    info.container.as_ref().is_some_and(|c| {
        c.r#type == Type::Docker as i32
            && c.docker.as_ref().is_some_and(|d| {
                matches!(
                    Network::try_from(d.network.unwrap_or(Network::Host as i32)),
                    Ok(Network::Bridge | Network::User)
                )
            })
    })
}

impl Agent {
    /// The live executor containers' addresses and how many are still to be learned.
    pub fn container_peers(&self) -> ContainerPeers {
        let mut peers = ContainerPeers::default();
        for executor in self.frameworks.values().flat_map(|f| f.executors.values()) {
            if executor.state == ExecutorState::Terminated {
                continue;
            }
            peers.ips.extend(
                executor
                    .ip_addresses
                    .iter()
                    .filter_map(|ip| ip.parse::<IpAddr>().ok())
                    .map(unmapped),
            );
            if executor.state == ExecutorState::Registering
                && executor.ip_addresses.is_empty()
                && !executor.command_executor
                && own_network(&executor.info)
            {
                peers.pending += 1;
            }
        }
        peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn local(ip: IpAddr) -> bool {
        ip == "10.0.0.1".parse::<IpAddr>().unwrap() || ip.is_loopback()
    }

    fn containers(ips: &[&str], pending: usize) -> ContainerPeers {
        ContainerPeers {
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            pending,
        }
    }

    #[test]
    fn a_bridged_containers_ip_is_accepted_like_the_hosts_own() {
        let c = containers(&["172.31.254.2"], 0);
        assert_eq!(decide(ip("172.31.254.2"), local, &c), Decision::Accept);
        // Through a dual-stack listener.
        assert_eq!(
            decide(ip("::ffff:172.31.254.2"), local, &c),
            Decision::Accept
        );
        assert_eq!(decide(ip("127.0.0.1"), local, &c), Decision::Accept);
        assert_eq!(decide(ip("10.0.0.1"), local, &c), Decision::Accept);
    }

    #[test]
    fn a_remote_peer_that_is_no_container_is_refused() {
        let c = containers(&["172.31.254.2"], 0);
        assert_eq!(decide(ip("172.31.254.3"), local, &c), Decision::Refuse);
        assert_eq!(decide(ip("192.0.2.7"), local, &c), Decision::Refuse);
        assert_eq!(decide(ip("2001:db8::1"), local, &c), Decision::Refuse);
        assert_eq!(decide(None, local, &c), Decision::Refuse);
        // No container at all: only the host.
        let none = ContainerPeers::default();
        assert_eq!(decide(ip("172.31.254.2"), local, &none), Decision::Refuse);
    }

    #[test]
    fn an_unknown_peer_waits_only_while_a_containers_ip_is_pending() {
        let c = containers(&[], 1);
        assert_eq!(decide(ip("172.31.254.9"), local, &c), Decision::Wait);
        // Local callers never wait.
        assert_eq!(decide(ip("127.0.0.1"), local, &c), Decision::Accept);
        assert_eq!(decide(None, local, &c), Decision::Refuse);
    }

    fn executor_info(
        network: Option<v1::container_info::docker_info::Network>,
    ) -> v1::ExecutorInfo {
        v1::ExecutorInfo {
            container: Some(v1::ContainerInfo {
                r#type: v1::container_info::Type::Docker as i32,
                docker: Some(v1::container_info::DockerInfo {
                    image: "busybox".into(),
                    network: network.map(|n| n as i32),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_docker_bridge_and_user_networks_are_networks_of_their_own() {
        use v1::container_info::docker_info::Network;
        assert!(own_network(&executor_info(Some(Network::Bridge))));
        assert!(own_network(&executor_info(Some(Network::User))));
        assert!(!own_network(&executor_info(Some(Network::Host))));
        assert!(!own_network(&executor_info(None)));
        assert!(!own_network(&v1::ExecutorInfo::default()));
    }
}
