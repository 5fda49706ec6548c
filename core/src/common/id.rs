//! Ids that cross a trust boundary, validated once where they enter.
//!
//! Framework, agent, executor and task ids become directory names under the agent's
//! `--work_dir` (`slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>`
//! and the same under `meta/`, with `tasks/<task>` below). A string from the network that
//! reaches such a path unchecked is a path traversal: `../../..` or `/etc` as a task id
//! once made the agent write `task.updates` wherever the caller liked. So the types here
//! are the only way to name a directory component: each is built only by [`validate_id`]
//! (or [`validate_container_id`]), and `agent::paths` takes nothing else.
//!
//! The rules are Mesos's:
//! - every id: `src/common/validation.cpp` `validateID` — non-empty, at most `NAME_MAX`
//!   (255) bytes, not `.` or `..`, no control character, no `/` or `\`;
//! - container ids additionally: `src/slave/validation.cpp` `validateContainerId` — at most
//!   `MAX_CONTAINER_ID_LENGTH` (242, `src/slave/constants.hpp`) bytes, no `.` and no space,
//!   with the parent (nested containers) checked the same way, recursively.
//!
//! The error texts are Mesos's, so a caller sees what Mesos would have said.
//!
//! Where the ids are typed:
//! - the agent: every path component under `--work_dir` (`agent::paths`);
//! - the master: every map and field of its state that holds a framework, agent, task,
//!   executor or offer id (`Master`, `master::Framework`, `master::Agent`; see
//!   `master/mod.rs`). Those ids come from validation (`master::validation`: scheduler
//!   calls, LAUNCH and LAUNCH_GROUP, an agent's reregistration; `master::operator`:
//!   TEARDOWN, MARK_AGENT_GONE), from the registry (re-validated on recovery), or from the
//!   master's own generators ([`IdPrefix`] with `FrameworkId::generated`,
//!   `AgentId::generated`, `OfferId::generated`, which cannot fail).
//!
//! An id type hashes, compares and orders as its text and borrows as `str`, so a typed map
//! is looked up with whatever `&str` arrived (a lookup needs no validation: an invalid id
//! is simply not there); it derefs to `str` for reading. Nothing but `new` and the
//! generators builds one. Ids the master only looks up or passes on (a KILL's task id, an
//! operator query's filter) and the registry's persisted records stay text.

use std::fmt;

/// `NAME_MAX` on Linux: the longest directory entry an id may become.
pub const MAX_ID_LENGTH: usize = 255;

/// `MAX_CONTAINER_ID_LENGTH` in Mesos's `src/slave/constants.hpp`.
pub const MAX_CONTAINER_ID_LENGTH: usize = 242;

/// Why an id was refused, in Mesos's words (`validateID`, `validateContainerId`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("ID must not be empty")]
    Empty,
    #[error("ID must not be greater than {MAX_ID_LENGTH} characters")]
    TooLong,
    #[error("'{0}' is disallowed")]
    Disallowed(String),
    #[error("'{0}' contains invalid characters")]
    InvalidCharacters(String),
    #[error("'ContainerID.value' '{0}' exceeds the maximum length ({MAX_CONTAINER_ID_LENGTH})")]
    ContainerTooLong(String),
    #[error("'ContainerID.value' '{0}' contains invalid characters")]
    ContainerInvalidCharacters(String),
    #[error("'ContainerID.parent' is invalid: {0}")]
    ContainerParent(Box<IdError>),
}

/// Mesos's `common::validation::validateID`.
///
/// Mesos counts bytes (`std::string::length`) and tests each byte with `iscntrl`; on UTF-8
/// text that is the same as testing for ASCII control characters, plus the C1 controls
/// (U+0080..U+009F) that Rust's `char::is_control` also reports — those are refused too, as
/// they never belong in a directory name shown to an operator.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(IdError::TooLong);
    }
    if id == "." || id == ".." {
        return Err(IdError::Disallowed(id.to_string()));
    }
    if id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(IdError::InvalidCharacters(printable(id)));
    }
    Ok(())
}

/// Mesos's `slave::validation::container::validateContainerId` for one level; `parents`
/// are the enclosing containers' values, innermost first.
pub fn validate_container_id(id: &str, parents: &[&str]) -> Result<(), IdError> {
    validate_id(id)?;
    if id.len() > MAX_CONTAINER_ID_LENGTH {
        return Err(IdError::ContainerTooLong(id.to_string()));
    }
    if id.chars().any(|c| c == '.' || c == ' ') {
        return Err(IdError::ContainerInvalidCharacters(id.to_string()));
    }
    match parents.split_first() {
        Some((parent, rest)) => {
            validate_container_id(parent, rest).map_err(|e| IdError::ContainerParent(Box::new(e)))
        }
        None => Ok(()),
    }
}

/// An id as it may appear in an error message: control characters escaped, so a refused
/// id cannot forge log lines or terminal sequences.
fn printable(id: &str) -> String {
    id.chars().flat_map(char::escape_default).collect()
}

macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident, $proto:ident) => {
        $(#[$doc])*
        ///
        /// `Hash`, `Eq` and `Ord` are those of the id's text (the derives hash and compare
        /// the one field), so a map keyed by this type is looked up with a `&str`
        /// ([`Borrow<str>`](std::borrow::Borrow)) and iterates in the same order as one keyed
        /// by `String`. It reads as a `str` ([`Deref`](std::ops::Deref)); only
        /// [`new`](Self::new) (validation) and the master's generators build one.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `id` by Mesos's rules ([`validate_id`]).
            pub fn new(id: impl Into<String>) -> Result<$name, IdError> {
                let id = id.into();
                validate_id(&id)?;
                Ok($name(id))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as its protobuf message, for what the master sends.
            pub fn to_proto(&self) -> remesos_proto::v1::$proto {
                remesos_proto::v1::$proto {
                    value: self.0.clone(),
                }
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        /// Lookups with a `&String` key, as with `&str`.
        impl std::borrow::Borrow<String> for $name {
            fn borrow(&self) -> &String {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<std::path::Path> for $name {
            fn as_ref(&self) -> &std::path::Path {
                std::path::Path::new(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(id: &str) -> Result<$name, IdError> {
                $name::new(id)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

validated_id!(
    /// A framework's id: a directory under `frameworks/`.
    FrameworkId,
    FrameworkId
);
validated_id!(
    /// An agent's id: a directory under `slaves/`.
    AgentId,
    AgentId
);
validated_id!(
    /// An executor's id: a directory under `executors/`.
    ExecutorId,
    ExecutorId
);
validated_id!(
    /// A task's id: a directory under `tasks/` in the agent's `meta/`.
    TaskId,
    TaskId
);
validated_id!(
    /// An offer's id: made by the master ([`OfferId::generated`]); what a framework sends
    /// back in ACCEPT or DECLINE is only looked up, never stored.
    OfferId,
    OfferId
);

/// The text before the sequence number of the ids the master makes: its own id, made
/// safe once so that every generated id passes [`validate_id`] without a check that could
/// fail.
///
/// Mesos names frameworks `<master id>-<nnnn>`, agents `<master id>-S<n>` and offers
/// `<master id>-O<n>` (`Master::newFrameworkId`, `newSlaveId`, `newOfferId` in
/// src/master/master.cpp). The master's id is a UUID it makes itself, which is already
/// safe; anything else (a test's "M") is kept as it is when valid, and otherwise has each
/// character `validate_id` refuses replaced by `_` and is cut to leave room for the
/// longest suffix (`-S` and twenty digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPrefix(String);

/// Room a generated id keeps for its suffix: `-S` or `-O` and a `u64` in decimal.
const GENERATED_SUFFIX_MAX: usize = 2 + 20;

impl IdPrefix {
    pub fn new(master_id: &str) -> IdPrefix {
        let mut prefix: String = master_id
            .chars()
            .map(|c| {
                if c.is_control() || c == '/' || c == '\\' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let mut end = prefix.len().min(MAX_ID_LENGTH - GENERATED_SUFFIX_MAX);
        while !prefix.is_char_boundary(end) {
            end -= 1;
        }
        prefix.truncate(end);
        IdPrefix(prefix)
    }

    /// Joins the prefix and a suffix that holds no character `validate_id` refuses; the
    /// result is never empty, `.` or `..` (the suffix starts with `-`).
    fn join(&self, suffix: fmt::Arguments<'_>) -> String {
        let id = format!("{}-{suffix}", self.0);
        debug_assert_eq!(validate_id(&id), Ok(()), "{id:?}");
        id
    }
}

impl FrameworkId {
    /// The master's `n`th framework id, `<master id>-<nnnn>` (Mesos's `newFrameworkId`).
    pub fn generated(prefix: &IdPrefix, n: u64) -> FrameworkId {
        FrameworkId(prefix.join(format_args!("{n:04}")))
    }
}

impl AgentId {
    /// The master's `n`th agent id, `<master id>-S<n>` (Mesos's `newSlaveId`).
    pub fn generated(prefix: &IdPrefix, n: u64) -> AgentId {
        AgentId(prefix.join(format_args!("S{n}")))
    }
}

impl OfferId {
    /// The master's `n`th offer id, `<master id>-O<n>` (Mesos's `newOfferId`).
    pub fn generated(prefix: &IdPrefix, n: u64) -> OfferId {
        OfferId(prefix.join(format_args!("O{n}")))
    }
}

/// A container's id (top-level: the agent's containers are not nested yet): a directory
/// under `runs/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    /// Validates `id` by Mesos's container rules ([`validate_container_id`]).
    pub fn new(id: impl Into<String>) -> Result<ContainerId, IdError> {
        let id = id.into();
        validate_container_id(&id, &[])?;
        Ok(ContainerId(id))
    }

    /// A fresh id, as the agent makes one for each executor run.
    pub fn random() -> ContainerId {
        ContainerId(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for ContainerId {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of Mesos's `ValidationTest` for ids (src/tests/common_validation_tests.cpp).
    #[test]
    fn ids_follow_mesos_validate_id() {
        for good in [
            "a",
            "task-1",
            "spark.executor.1",
            "名前",
            "a b",
            &"x".repeat(255),
        ] {
            assert_eq!(validate_id(good), Ok(()), "{good:?}");
        }
        assert_eq!(validate_id(""), Err(IdError::Empty));
        assert_eq!(validate_id(&"x".repeat(256)), Err(IdError::TooLong));
        assert_eq!(validate_id("."), Err(IdError::Disallowed(".".into())));
        assert_eq!(validate_id(".."), Err(IdError::Disallowed("..".into())));
        for bad in [
            "../../etc",
            "/etc",
            "a/b",
            "a\\b",
            "a\nb",
            "a\0b",
            "\u{1b}[2J",
            "a\u{85}",
        ] {
            assert!(
                matches!(validate_id(bad), Err(IdError::InvalidCharacters(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            IdError::Disallowed("..".into()).to_string(),
            "'..' is disallowed"
        );
        assert_eq!(
            IdError::TooLong.to_string(),
            "ID must not be greater than 255 characters"
        );
    }

    #[test]
    fn refused_ids_are_escaped_in_messages() {
        let e = validate_id("a\nFAKE LOG LINE").unwrap_err();
        assert_eq!(
            e.to_string(),
            "'a\\nFAKE LOG LINE' contains invalid characters"
        );
    }

    #[test]
    fn container_ids_follow_mesos_validate_container_id() {
        assert!(ContainerId::new(uuid::Uuid::new_v4().to_string()).is_ok());
        assert!(ContainerId::random().as_str().len() == 36);
        assert_eq!(
            validate_container_id(&"c".repeat(243), &[]),
            Err(IdError::ContainerTooLong("c".repeat(243)))
        );
        assert!(validate_container_id(&"c".repeat(242), &[]).is_ok());
        for bad in ["a.b", "a b"] {
            assert_eq!(
                validate_container_id(bad, &[]),
                Err(IdError::ContainerInvalidCharacters(bad.into()))
            );
        }
        assert_eq!(
            validate_container_id("child", &["par.ent"]),
            Err(IdError::ContainerParent(Box::new(
                IdError::ContainerInvalidCharacters("par.ent".into())
            )))
        );
        assert_eq!(
            validate_container_id("..", &[]),
            Err(IdError::Disallowed("..".into()))
        );
    }

    #[test]
    fn typed_ids_are_built_only_by_validation() {
        assert!(TaskId::new("../../../tmp").is_err());
        assert!(FrameworkId::try_from("/").is_err());
        assert_eq!(ExecutorId::new("e1").unwrap().as_str(), "e1");
        assert_eq!(AgentId::new("S0").unwrap().to_string(), "S0");
    }

    /// A map keyed by a typed id answers a `&str` lookup as one keyed by `String` would:
    /// `Hash` and `Eq` of the newtype are those of its text (what `Borrow<str>` requires).
    #[test]
    fn typed_keys_are_looked_up_by_their_text() {
        use std::collections::{BTreeSet, HashMap};
        let id = FrameworkId::new("f1").unwrap();
        let map = HashMap::from([(id.clone(), 1)]);
        assert_eq!(map.get("f1"), Some(&1));
        assert_eq!(map.get("f2"), None);
        let set = BTreeSet::from([TaskId::new("b").unwrap(), TaskId::new("a").unwrap()]);
        assert!(set.contains("a"));
        let order: Vec<&str> = set.iter().map(|t| t.as_str()).collect();
        assert_eq!(order, ["a", "b"]);
        let text = String::from("f1");
        assert_eq!(id, "f1");
        assert_eq!("f1", id);
        assert_eq!(id, text);
        assert_eq!(text, id);
        assert_eq!(id.to_proto().value, "f1");
    }

    #[test]
    fn generated_ids_are_mesos_shaped_and_always_valid() {
        let prefix = IdPrefix::new("0b9e5c1a-4f1e-4e8a-9a55-3c2f1d0e7b6a");
        assert_eq!(
            FrameworkId::generated(&prefix, 7).as_str(),
            "0b9e5c1a-4f1e-4e8a-9a55-3c2f1d0e7b6a-0007"
        );
        assert_eq!(
            AgentId::generated(&prefix, 3).as_str(),
            "0b9e5c1a-4f1e-4e8a-9a55-3c2f1d0e7b6a-S3"
        );
        assert_eq!(
            OfferId::generated(&prefix, 12).as_str(),
            "0b9e5c1a-4f1e-4e8a-9a55-3c2f1d0e7b6a-O12"
        );
        // A master id validate_id would refuse still yields valid ids, at the largest n.
        for bad in ["", ".", "..", "a/b\\c\n", &"é".repeat(200)] {
            let prefix = IdPrefix::new(bad);
            for id in [
                FrameworkId::generated(&prefix, u64::MAX).0,
                AgentId::generated(&prefix, u64::MAX).0,
                OfferId::generated(&prefix, u64::MAX).0,
            ] {
                assert_eq!(validate_id(&id), Ok(()), "{id:?}");
            }
        }
        assert_eq!(IdPrefix::new("a/b").0, "a_b");
    }
}
