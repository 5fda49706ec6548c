//! Inverse offers for maintenance (Mesos's docs/maintenance.md "Inverse offers"): a
//! framework that uses, or is offered, resources of an agent whose machine is in the
//! maintenance schedule is asked to give the agent back before its unavailability.
//!
//! Mesos keeps this in the allocator (src/master/allocator/mesos/hierarchical.cpp
//! `generateInverseOffers`, `updateInverseOffer`, `updateUnavailability`) and the master
//! (src/master/master.cpp `inverseOffer`, `acceptInverseOffers`, `declineInverseOffers`,
//! `updateUnavailability`, `removeInverseOffer`). Here it lives beside the master's
//! maintenance state: the inverse offers are whole-agent (no resources), so they need
//! nothing from the resource arithmetic of the allocator.
//!
//! ```text
//!   each allocation round: for every active agent with an unavailability, every active
//!   framework with tasks, executors or offers there, no inverse offer outstanding for
//!   that agent and no refusal filter --> INVERSE_OFFERS (one event per framework)
//!   ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS --> the response is the agent's status
//!       for that framework (GET_MAINTENANCE_STATUS); `filters.refuse_seconds` holds the
//!       next inverse offer back (no filters: the next round asks again, as in Mesos)
//!   the agent's unavailability changes, the agent is removed or deactivated
//!       --> RESCIND_INVERSE_OFFER; with a changed unavailability statuses and filters reset
//! ```
//!
//! The v0 JNI driver (Apache's `Scheduler` has no inverse offer callback) ignores these
//! events, as Apache's driver does. Not done: `--offer_timeout` does not expire inverse
//! offers.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use remesos_proto::v1;
use v1::allocator::{InverseOfferStatus, inverse_offer_status::Status};
use v1::scheduler as sched;

use super::{DEFAULT_REFUSE, MAX_REFUSE, Master, Time};
use crate::common::id::{AgentId, FrameworkId, OfferId};

/// An inverse offer the framework has not answered.
#[derive(Debug)]
pub struct Outstanding {
    pub offer: v1::InverseOffer,
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
}

/// The master's inverse offers and the frameworks' answers.
#[derive(Debug, Default)]
pub struct InverseOffers {
    /// Outstanding inverse offers by id; at most one per (agent, framework). Changed only
    /// through [`InverseOffers::add`] and [`InverseOffers::take`], which keep `index`.
    outstanding: HashMap<OfferId, Outstanding>,
    /// The outstanding inverse offer of each (framework, agent): each allocation round asks
    /// it for every framework on every scheduled agent, so it must not scan `outstanding`.
    /// Invariant: it maps exactly the (framework, agent) pairs of `outstanding` to their ids.
    index: HashMap<(FrameworkId, AgentId), OfferId>,
    /// Each framework's last answer about each agent (Mesos's
    /// `Slave::Maintenance::statuses`); reset when the agent's unavailability changes.
    statuses: HashMap<AgentId, BTreeMap<FrameworkId, InverseOfferStatus>>,
    /// Until when a framework gets no inverse offer for an agent (a refusal filter).
    filters: HashMap<(FrameworkId, AgentId), Instant>,
}

impl InverseOffers {
    fn has_outstanding(&self, framework_id: &FrameworkId, agent_id: &AgentId) -> bool {
        self.index
            .contains_key(&(framework_id.clone(), agent_id.clone()))
    }

    fn add(&mut self, id: OfferId, offer: Outstanding) {
        let key = (offer.framework_id.clone(), offer.agent_id.clone());
        if let Some(old) = self.index.insert(key, id.clone()) {
            // At most one per pair: a replaced offer leaves both maps.
            self.outstanding.remove(&old);
        }
        self.outstanding.insert(id, offer);
        self.debug_check();
    }

    fn take(&mut self, id: &str) -> Option<Outstanding> {
        let offer = self.outstanding.remove(id)?;
        let key = (offer.framework_id.clone(), offer.agent_id.clone());
        if self.index.get(&key).is_some_and(|i| i.as_str() == id) {
            self.index.remove(&key);
        }
        self.debug_check();
        Some(offer)
    }

    /// The outstanding inverse offer `id`.
    pub fn get(&self, id: &str) -> Option<&Outstanding> {
        self.outstanding.get(id)
    }

    /// Every outstanding inverse offer, by id.
    pub fn outstanding(&self) -> impl Iterator<Item = (&OfferId, &Outstanding)> {
        self.outstanding.iter()
    }

    fn debug_check(&self) {
        debug_assert!(self.is_consistent());
    }

    /// The invariant of `index`: it names exactly the outstanding inverse offers, each
    /// under its own (framework, agent).
    pub fn is_consistent(&self) -> bool {
        self.index.len() == self.outstanding.len()
            && self.index.iter().all(|((f, a), id)| {
                self.outstanding
                    .get(id)
                    .is_some_and(|o| &o.framework_id == f && &o.agent_id == a)
            })
    }

    pub fn len(&self) -> usize {
        self.outstanding.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outstanding.is_empty()
    }

    /// The statuses frameworks gave for `agent_id`.
    pub fn statuses(&self, agent_id: &str) -> impl Iterator<Item = &InverseOfferStatus> {
        self.statuses
            .get(agent_id)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// The outstanding inverse offers of a framework (GET_FRAMEWORKS).
    pub fn of_framework(&self, framework_id: &str) -> Vec<v1::InverseOffer> {
        let mut offers: Vec<v1::InverseOffer> = self
            .outstanding
            .values()
            .filter(|o| o.framework_id == framework_id)
            .map(|o| o.offer.clone())
            .collect();
        offers.sort_by(|a, b| a.id.value.cmp(&b.id.value));
        offers
    }
}

/// `Filters.refuse_seconds` as an inverse offer filter (hierarchical.cpp
/// `updateInverseOffer`): negative or not a number → the default, above a year → a year,
/// zero → no filter.
fn refusal(filters: Option<&v1::Filters>) -> Option<Duration> {
    let filters = filters?;
    let secs = filters
        .refuse_seconds
        .unwrap_or(DEFAULT_REFUSE.as_secs_f64());
    let d = if secs.is_nan() || secs < 0.0 {
        DEFAULT_REFUSE
    } else if secs > MAX_REFUSE.as_secs_f64() {
        MAX_REFUSE
    } else {
        Duration::from_secs_f64(secs)
    };
    (!d.is_zero()).then_some(d)
}

impl Master {
    /// Makes the inverse offers due (Mesos's `generateInverseOffers`, run with each
    /// allocation).
    pub(super) fn generate_inverse_offers(&mut self, now: Time) {
        if self.maintenance.machines.is_empty() {
            return; // the common case
        }
        let mut due: BTreeMap<FrameworkId, Vec<(AgentId, v1::Unavailability)>> = BTreeMap::new();
        for agent in self.agents.values().filter(|a| a.active) {
            let Some(unavailability) = self.maintenance.unavailability(agent) else {
                continue;
            };
            let mut users: Vec<&FrameworkId> = agent.used.keys().collect();
            users.extend(
                agent
                    .offers
                    .iter()
                    .filter_map(|id| self.offers.get(id))
                    .filter_map(|o| self.frameworks.get_key_value(&o.offer.framework_id.value))
                    .map(|(k, _)| k),
            );
            users.sort();
            users.dedup();
            for fid in users {
                let active = self
                    .frameworks
                    .get(fid)
                    .is_some_and(|f| f.active && f.connected());
                if !active || self.inverse.has_outstanding(fid, &agent.id) {
                    continue;
                }
                let key = (fid.clone(), agent.id.clone());
                match self.inverse.filters.get(&key) {
                    Some(until) if *until > now.mono => continue,
                    Some(_) => {
                        self.inverse.filters.remove(&key);
                    }
                    None => {}
                }
                due.entry(fid.clone())
                    .or_default()
                    .push((agent.id.clone(), unavailability));
            }
        }
        for (fid, agents) in due {
            let mut offers = Vec::new();
            for (agent_id, unavailability) in agents {
                let id = self.new_offer_id();
                let url = self.agents[&agent_id].url(self.config.https_only);
                let offer = v1::InverseOffer {
                    id: id.to_proto(),
                    url: Some(url),
                    framework_id: fid.to_proto(),
                    agent_id: Some(agent_id.to_proto()),
                    unavailability,
                    resources: vec![],
                };
                tracing::info!(framework_id = %fid, %agent_id, inverse_offer_id = %id, "sending an inverse offer");
                self.inverse.add(
                    id,
                    Outstanding {
                        offer: offer.clone(),
                        framework_id: fid.clone(),
                        agent_id,
                    },
                );
                offers.push(offer);
            }
            let event = sched::Event {
                r#type: Some(sched::event::Type::InverseOffers as i32),
                inverse_offers: Some(sched::event::InverseOffers {
                    inverse_offers: offers,
                }),
                ..Default::default()
            };
            self.send_to_framework(&fid, event);
        }
    }

    /// ACCEPT_INVERSE_OFFERS (`accept`) or DECLINE_INVERSE_OFFERS of `framework_id`: each
    /// inverse offer it holds becomes its status for the agent, with a refusal filter
    /// from `filters`. Ids it does not hold are ignored, as Mesos logs and drops them.
    pub(super) fn answer_inverse_offers(
        &mut self,
        now: Time,
        framework_id: &str,
        ids: &[v1::OfferId],
        filters: Option<&v1::Filters>,
        accept: bool,
    ) {
        let refuse = refusal(filters);
        for id in ids {
            let held = self
                .inverse
                .get(id.value.as_str())
                .is_some_and(|o| o.framework_id == framework_id);
            if !held {
                tracing::warn!(framework_id, inverse_offer_id = %id.value, "ignoring an answer to an inverse offer that is not outstanding");
                continue;
            }
            let Some(o) = self.inverse.take(id.value.as_str()) else {
                continue;
            };
            let status = InverseOfferStatus {
                status: if accept {
                    Status::Accept
                } else {
                    Status::Decline
                } as i32,
                framework_id: o.framework_id.to_proto(),
                timestamp: v1::TimeInfo {
                    nanoseconds: (now.wall * 1e9) as i64,
                },
            };
            self.inverse
                .statuses
                .entry(o.agent_id.clone())
                .or_default()
                .insert(o.framework_id.clone(), status);
            if let Some(d) = refuse
                && let Some(until) = now.mono.checked_add(d)
            {
                self.inverse
                    .filters
                    .insert((o.framework_id, o.agent_id), until);
            }
        }
        if refuse.is_none() {
            self.request_allocation();
        }
    }

    /// Withdraws the outstanding inverse offers `which` selects, telling each connected
    /// framework (RESCIND_INVERSE_OFFER) when `tell`.
    fn rescind_inverse_offers(&mut self, tell: bool, which: impl Fn(&Outstanding) -> bool) {
        let ids: Vec<OfferId> = self
            .inverse
            .outstanding()
            .filter(|(_, o)| which(o))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let Some(o) = self.inverse.take(id.as_str()) else {
                continue;
            };
            if tell {
                let event = sched::Event {
                    r#type: Some(sched::event::Type::RescindInverseOffer as i32),
                    rescind_inverse_offer: Some(sched::event::RescindInverseOffer {
                        inverse_offer_id: id.to_proto(),
                    }),
                    ..Default::default()
                };
                self.send_to_framework(&o.framework_id, event);
            }
        }
    }

    /// The agent's unavailability changed (Mesos's `updateUnavailability`): its inverse
    /// offers are rescinded, and the answers and filters about it are forgotten.
    pub(super) fn reset_inverse_offers(&mut self, agent_id: &str) {
        self.rescind_inverse_offers(true, |o| o.agent_id == agent_id);
        self.inverse.statuses.remove(agent_id);
        self.inverse.filters.retain(|(_, a), _| a != agent_id);
        self.request_allocation();
    }

    /// The agent was removed or deactivated: its inverse offers are rescinded.
    pub(super) fn rescind_inverse_offers_of_agent(&mut self, agent_id: &str, forget: bool) {
        self.rescind_inverse_offers(true, |o| o.agent_id == agent_id);
        if forget {
            self.inverse.statuses.remove(agent_id);
            self.inverse.filters.retain(|(_, a), _| a != agent_id);
        }
    }

    /// The framework was removed or disconnected: its inverse offers go (Mesos rescinds
    /// them on deactivation; the framework cannot hear it).
    pub(super) fn drop_inverse_offers_of_framework(&mut self, framework_id: &str, forget: bool) {
        self.rescind_inverse_offers(false, |o| o.framework_id == framework_id);
        if forget {
            for statuses in self.inverse.statuses.values_mut() {
                statuses.remove(framework_id);
            }
            self.inverse.filters.retain(|(f, _), _| f != framework_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_follows_update_inverse_offer() {
        let f = |s: Option<f64>| refusal(Some(&v1::Filters { refuse_seconds: s }));
        assert_eq!(refusal(None), None, "no filters: no filter");
        assert_eq!(f(None), Some(DEFAULT_REFUSE));
        assert_eq!(f(Some(-1.0)), Some(DEFAULT_REFUSE));
        assert_eq!(f(Some(f64::NAN)), Some(DEFAULT_REFUSE));
        assert_eq!(f(Some(0.0)), None);
        assert_eq!(f(Some(1e12)), Some(MAX_REFUSE));
        assert_eq!(f(Some(30.0)), Some(Duration::from_secs(30)));
    }
}
