//! ZooKeeper: leader election and detection exactly as Mesos lays them out
//! (ephemeral sequential `json.info_NNNNNNNNNN` znodes holding MasterInfo JSON under the
//! `--zk` path; the lowest sequence leads), and the registry's ZooKeeper store.
