package org.apache.mesos.state;

import java.util.concurrent.TimeUnit;

/**
 * A {@link State} in ZooKeeper: one znode per variable under {@code znode}, laid out as
 * Apache Mesos lays it out.
 */
public class ZooKeeperState extends AbstractState {
  /**
   * @param servers ZooKeeper servers, {@code host1:port1,host2:port2}
   * @param timeout the session timeout
   * @param unit the unit of {@code timeout}
   * @param znode the znode that holds the variables
   */
  public ZooKeeperState(String servers, long timeout, TimeUnit unit, String znode) {
    initialize(servers, timeout, unit, znode);
  }

  /**
   * As above, authenticating with {@code scheme} (e.g. "digest") and {@code credentials}
   * (e.g. "user:password").
   */
  public ZooKeeperState(
      String servers,
      long timeout,
      TimeUnit unit,
      String znode,
      String scheme,
      byte[] credentials) {
    initialize(servers, timeout, unit, znode, scheme, credentials);
  }

  protected native void initialize(String servers, long timeout, TimeUnit unit, String znode);

  protected native void initialize(
      String servers,
      long timeout,
      TimeUnit unit,
      String znode,
      String scheme,
      byte[] credentials);
}
