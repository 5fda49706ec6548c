//! The principal rules of the scheduler API, through [`Master`] without sockets
//! (master/scheduler.rs `subscribe_as`, `call_as`): Mesos's `validation::scheduler::call::
//! validate`, `Master::Http::scheduler` and `validation::framework::validateUpdate`, and the
//! rule beyond Mesos that a framework which subscribed authenticated stays its principal's.

use super::*;
use crate::security::Principal;

fn p(name: &str) -> Option<Principal> {
    Some(Principal::new(name).unwrap())
}

fn with_principal(name: &str, principal: Option<&str>) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        principal: principal.map(str::to_string),
        ..framework(name)
    }
}

fn resubscribe_call(fw: &Fw, info: v1::FrameworkInfo) -> sched::Call {
    let id = v1::FrameworkId {
        value: fw.id.clone(),
    };
    let mut call = subscribe_call(v1::FrameworkInfo {
        id: Some(id.clone()),
        ..info
    });
    call.framework_id = Some(id);
    call
}

fn revive() -> sched::Call {
    sched::Call {
        r#type: Some(CallType::Revive as i32),
        ..Default::default()
    }
}

impl Harness {
    /// SUBSCRIBE as `principal`; the framework, or the error the request got.
    fn subscribe_as(
        &mut self,
        info: v1::FrameworkInfo,
        principal: Option<Principal>,
    ) -> Result<Fw, CallError> {
        let conn = self.conn();
        let now = self.now();
        let subscribed = self
            .master
            .subscribe_as(now, conn, subscribe_call(info), principal)?;
        self.pump();
        let id = subscribed.framework_id.expect("subscribed");
        self.events(conn);
        Ok(Fw {
            id,
            conn,
            stream: subscribed.stream_id,
        })
    }

    /// Resubscribes `fw` on a new connection as `principal`: the new connection and the
    /// events it got.
    fn resubscribe_as(
        &mut self,
        fw: &Fw,
        info: v1::FrameworkInfo,
        principal: Option<Principal>,
    ) -> Result<(ConnId, Vec<sched::Event>), CallError> {
        let conn = self.conn();
        let now = self.now();
        self.master
            .subscribe_as(now, conn, resubscribe_call(fw, info), principal)?;
        self.pump();
        Ok((conn, self.events(conn)))
    }

    fn call_as(
        &mut self,
        fw: &Fw,
        mut call: sched::Call,
        principal: Option<Principal>,
    ) -> Result<CallOk, CallError> {
        call.framework_id = Some(v1::FrameworkId {
            value: fw.id.clone(),
        });
        let now = self.now();
        let r = self.master.call_as(now, Some(&fw.stream), call, principal);
        self.pump();
        r
    }

    /// The only framework's connection and recorded principals.
    fn only_framework(&self) -> (Option<ConnId>, Option<String>, Option<Principal>) {
        assert_eq!(self.master.frameworks.len(), 1);
        let f = self.master.frameworks.values().next().unwrap();
        (
            f.connection.as_ref().map(|c| c.conn),
            f.info.principal.clone(),
            f.principal.clone(),
        )
    }
}

fn error_of(events: &[sched::Event]) -> Option<String> {
    events
        .iter()
        .find_map(|e| e.error.as_ref().map(|e| e.message.clone()))
}

/// `validation::scheduler::call::validate`: an authenticated principal must equal
/// `FrameworkInfo.principal` when that is set; nothing is registered otherwise.
#[test]
fn an_authenticated_subscribe_must_match_the_framework_info_principal() {
    let mut h = Harness::new();
    let err = h
        .subscribe_as(with_principal("fw", Some("bob")), p("alice"))
        .err()
        .expect("refused");
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.to_string(),
        "Authenticated principal 'alice' does not match principal 'bob' set in `FrameworkInfo`"
    );
    assert!(h.master.frameworks.is_empty());
}

/// `Master::Http::scheduler`: an authenticated framework that sets no principal gets the
/// authenticated one.
#[test]
fn an_authenticated_subscribe_without_a_principal_is_given_the_authenticated_one() {
    let mut h = Harness::new();
    h.subscribe_as(with_principal("fw", None), p("alice"))
        .unwrap();
    let (_, info_principal, principal) = h.only_framework();
    assert_eq!(info_principal.as_deref(), Some("alice"));
    assert_eq!(principal, p("alice"));
}

/// `validation::framework::validateUpdate`: even without authentication a resubscription
/// cannot change `FrameworkInfo.principal`; the new stream gets an ERROR and is closed,
/// the framework keeps its connection.
#[test]
fn a_resubscription_cannot_change_the_principal_even_without_authentication() {
    let mut h = Harness::new();
    let fw = h
        .subscribe_as(with_principal("fw", Some("alice")), None)
        .unwrap();
    let (conn, events) = h
        .resubscribe_as(&fw, with_principal("fw", Some("mallory")), None)
        .unwrap();
    assert_eq!(
        error_of(&events).as_deref(),
        Some("Changing framework's principal is not allowed.")
    );
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::CloseFramework { conn: c } if *c == conn))
    );
    assert_eq!(h.only_framework().0, Some(fw.conn));
    // Dropping the principal is a change too.
    let (_, events) = h
        .resubscribe_as(&fw, with_principal("fw", None), None)
        .unwrap();
    assert!(error_of(&events).is_some());
    assert_eq!(h.only_framework().0, Some(fw.conn));
    // The same claim resubscribes: without authentication it is all Mesos checks.
    let (conn, events) = h
        .resubscribe_as(&fw, with_principal("fw", Some("alice")), None)
        .unwrap();
    assert!(error_of(&events).is_none(), "{events:?}");
    assert_eq!(h.only_framework().0, Some(conn));
}

/// Issue 14: "today any client can take over another framework by its id". A framework
/// that subscribed authenticated is resubscribed only by its principal: an unauthenticated
/// request naming the right principal, or another principal, gets nothing.
#[test]
fn a_framework_that_subscribed_authenticated_cannot_be_taken_over_by_another_principal() {
    let mut h = Harness::new();
    let fw = h
        .subscribe_as(with_principal("fw", Some("alice")), p("alice"))
        .unwrap();
    // Unauthenticated (e.g. through a kind of client the flags leave open), claiming alice.
    let (_, events) = h
        .resubscribe_as(&fw, with_principal("fw", Some("alice")), None)
        .unwrap();
    assert_eq!(
        error_of(&events).as_deref(),
        Some(
            "Framework subscribed with an authenticated principal; it can only be \
             resubscribed by that principal"
        )
    );
    assert_eq!(
        h.only_framework(),
        (Some(fw.conn), Some("alice".into()), p("alice"))
    );
    // Authenticated as mallory, claiming alice: refused before anything else.
    let err = h
        .resubscribe_as(&fw, with_principal("fw", Some("alice")), p("mallory"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Authenticated principal 'mallory' does not match principal 'alice' set in `FrameworkInfo`"
    );
    // Authenticated as mallory, claiming nothing (filled with mallory): a principal change.
    let (_, events) = h
        .resubscribe_as(&fw, with_principal("fw", None), p("mallory"))
        .unwrap();
    assert_eq!(
        error_of(&events).as_deref(),
        Some("Changing framework's principal is not allowed.")
    );
    assert_eq!(
        h.only_framework(),
        (Some(fw.conn), Some("alice".into()), p("alice"))
    );
    // alice herself fails over to a new connection.
    let (conn, events) = h
        .resubscribe_as(&fw, with_principal("fw", None), p("alice"))
        .unwrap();
    assert!(error_of(&events).is_none(), "{events:?}");
    assert_eq!(
        h.only_framework(),
        (Some(conn), Some("alice".into()), p("alice"))
    );
}

/// `Master::Http::scheduler`: a call authenticated as another principal than the
/// framework's is `400`; beyond Mesos, an unauthenticated call to a framework that
/// subscribed authenticated is `403`. Neither changes anything.
#[test]
fn calls_must_come_from_the_frameworks_principal() {
    let mut h = Harness::new();
    let fw = h
        .subscribe_as(with_principal("fw", Some("alice")), p("alice"))
        .unwrap();
    let err = h.call_as(&fw, teardown(), p("mallory")).unwrap_err();
    assert_eq!(
        (err.status(), err.to_string()),
        (
            400,
            "Authenticated principal 'mallory' does not match principal 'alice' set in \
             `FrameworkInfo`"
                .to_string()
        )
    );
    let err = h.call_as(&fw, teardown(), None).unwrap_err();
    assert_eq!(err.status(), 403, "{err}");
    assert_eq!(h.master.frameworks.len(), 1, "nothing torn down");
    assert_eq!(h.call_as(&fw, revive(), p("alice")), Ok(CallOk::Accepted));
    assert_eq!(h.call_as(&fw, teardown(), p("alice")), Ok(CallOk::Accepted));
    assert!(h.master.frameworks.is_empty());
}

/// Without authentication a framework's calls are checked as before (the stream id).
#[test]
fn unauthenticated_frameworks_take_unauthenticated_calls() {
    let mut h = Harness::new();
    let fw = h
        .subscribe_as(with_principal("fw", Some("alice")), None)
        .unwrap();
    assert_eq!(h.call_as(&fw, revive(), None), Ok(CallOk::Accepted));
    // An authenticated call must still match the claimed principal (Mesos).
    assert_eq!(
        h.call_as(&fw, revive(), p("bob")).unwrap_err().status(),
        400
    );
    assert_eq!(h.call_as(&fw, revive(), p("alice")), Ok(CallOk::Accepted));
}

fn teardown() -> sched::Call {
    sched::Call {
        r#type: Some(CallType::Teardown as i32),
        ..Default::default()
    }
}
