package org.apache.mesos.v1.scheduler;

import org.apache.mesos.v1.scheduler.Protos.Event;

/** What a v1 framework implements; callbacks arrive on one thread, in order. */
public interface Scheduler {
  /** A master was detected: send SUBSCRIBE now. */
  void connected(Mesos mesos);

  /** The connection to the master is gone; connected follows once one is detected again. */
  void disconnected(Mesos mesos);

  void received(Mesos mesos, Event event);
}
