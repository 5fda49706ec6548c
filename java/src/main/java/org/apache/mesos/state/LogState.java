package org.apache.mesos.state;

import java.util.concurrent.TimeUnit;

/**
 * A {@link State} kept in the replicated log ({@code org.apache.mesos.Log}) at {@code znode}:
 * each store appends a snapshot of the variable (or, up to {@code diffsBetweenSnapshots}
 * times in a row, a diff against the last snapshot); the log is replayed when the state
 * starts. remesos keeps the log itself in ZooKeeper, so {@code quorum} and {@code path} (the
 * local replica of Mesos's log) are accepted and not used.
 */
public class LogState extends AbstractState {
  /**
   * @param servers ZooKeeper servers, {@code host1:port1,host2:port2}
   * @param timeout the session timeout
   * @param unit the unit of {@code timeout}
   * @param znode the znode of the log
   * @param quorum replicas needed to persist a write (the ensemble's quorum applies)
   * @param path the local replica's directory (not used)
   */
  public LogState(
      String servers, long timeout, TimeUnit unit, String znode, long quorum, String path) {
    initialize(servers, timeout, unit, znode, quorum, path, 0);
  }

  /** As above, writing up to {@code diffsBetweenSnapshots} diffs between two snapshots. */
  public LogState(
      String servers,
      long timeout,
      TimeUnit unit,
      String znode,
      long quorum,
      String path,
      int diffsBetweenSnapshots) {
    initialize(servers, timeout, unit, znode, quorum, path, diffsBetweenSnapshots);
  }

  protected native void initialize(
      String servers,
      long timeout,
      TimeUnit unit,
      String znode,
      long quorum,
      String path,
      int diffsBetweenSnapshots);

  protected native void finalize();

  // Set and read by libmesos only.
  private long __log;
}
