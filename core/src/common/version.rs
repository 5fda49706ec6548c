//! Version facts both daemons report: the Mesos version remesos speaks and the
//! `VersionInfo` of `/version` and the operator API's GET_VERSION. Mesos keeps them in
//! `include/mesos/version.hpp` (`MESOS_VERSION`) and `src/common/build.hpp` (build date,
//! user, git sha), read by the master's and the agent's `/version` alike
//! (`src/version/version.cpp`).

use remesos_proto::v1;

/// The Mesos version remesos reports (`/version`, MasterInfo.version, the agent's
/// `/state`): the API level it speaks.
pub const MESOS_VERSION: &str = "1.11.0";

/// The `VersionInfo` of `/version` and GET_VERSION, the same for master and agent.
pub fn version_info() -> v1::VersionInfo {
    v1::VersionInfo {
        version: MESOS_VERSION.to_string(),
        build_date: Some(String::new()),
        build_time: Some(0.0),
        build_user: Some("remesos".to_string()),
        git_sha: Some(format!("remesos-{}", env!("CARGO_PKG_VERSION"))),
        git_branch: None,
        git_tag: None,
    }
}
