package org.apache.mesos.state;

/** A {@link State} in an embedded store in the directory {@code path} (one process at a time). */
public class LevelDBState extends AbstractState {
  public LevelDBState(String path) {
    initialize(path);
  }

  protected native void initialize(String path);
}
