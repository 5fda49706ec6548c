//! Role names (reference/mesos-contract.md §8.8, Mesos `src/common/roles.cpp`).

use super::{Error, Result};

/// Characters no role component may contain: tab, LF, VT, FF, CR, space and DEL.
const INVALID_CHARACTERS: &[char] = &['\x09', '\x0a', '\x0b', '\x0c', '\x0d', '\x20', '\x7f'];

/// Checks a role name: `*`, or a `/`-separated path whose components are not empty, `.`,
/// `..` or `*`, do not start with `-` and contain no whitespace or backspace.
pub fn validate_role(role: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::InvalidRole {
            role: role.to_string(),
            reason: reason.to_string(),
        })
    };
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() {
        return invalid("role names cannot be the empty string");
    }
    if role.starts_with('/') {
        return invalid("cannot start with a slash");
    }
    if role.ends_with('/') {
        return invalid("cannot end with a slash");
    }
    if role.contains("//") {
        return invalid("cannot contain two adjacent slashes");
    }
    for component in role.split('/') {
        match component {
            "." => return invalid("cannot include '.' as a component"),
            ".." => return invalid("cannot include '..' as a component"),
            "*" => return invalid("cannot include '*' as a component"),
            c if c.starts_with('-') => {
                return invalid(&format!("component '{c}' starts with a dash"));
            }
            c if c.contains(INVALID_CHARACTERS) => {
                return invalid(&format!("component '{c}' contains backspace or whitespace"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `role` is `ancestor` itself or lies below it (`a/b/c` is below `a` and `a/b`,
/// not below `a/bc`).
pub fn is_ancestor_or_self(ancestor: &str, role: &str) -> bool {
    role == ancestor || is_strict_subrole(role, ancestor)
}

/// Whether `role` lies strictly below `ancestor`.
pub fn is_strict_subrole(role: &str, ancestor: &str) -> bool {
    role.len() > ancestor.len()
        && role.starts_with(ancestor)
        && role.as_bytes()[ancestor.len()] == b'/'
}

/// The strict ancestors of a role, nearest first: `a/b/c` -> `a/b`, `a`.
pub fn ancestors(role: &str) -> impl Iterator<Item = &str> {
    let mut end = role.len();
    std::iter::from_fn(move || {
        let i = role[..end].rfind('/')?;
        end = i;
        Some(&role[..i])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // reference/mesos-contract.md §8.8: the rules of `roles::validate`.
    #[test]
    fn role_names() {
        for ok in ["*", "a", "a/b", "a/b/c", "dev.team", "a-b", "a/.b", "a*"] {
            assert!(validate_role(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", ".", "a/..", "a/*", "-a", "a/-b", "a b", "a\tb", "a\x7f",
        ] {
            assert!(validate_role(bad).is_err(), "{bad:?}");
        }
        let msg = validate_role("a//b").unwrap_err().to_string();
        assert!(
            msg.contains("'a//b'") && msg.contains("adjacent slashes"),
            "{msg}"
        );
    }

    #[test]
    fn hierarchy() {
        assert!(is_ancestor_or_self("a", "a"));
        assert!(is_ancestor_or_self("a", "a/b/c"));
        assert!(!is_ancestor_or_self("a", "ab"));
        assert!(!is_ancestor_or_self("a/b", "a"));
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), vec!["a/b", "a"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
