package org.apache.hadoop.mapred;

import org.apache.mesos.Protos.FrameworkID;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.Resource;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.Value;

/** Builds offers as the master sends them to a non-MULTI_ROLE framework. */
final class Offers {
  private Offers() {}

  static Resource scalar(String name, double value, String role) {
    return Resource.newBuilder().setName(name).setType(Value.Type.SCALAR)
        .setScalar(Value.Scalar.newBuilder().setValue(value)).setRole(role).build();
  }

  static Resource ports(long begin, long end, String role) {
    return Resource.newBuilder().setName("ports").setType(Value.Type.RANGES)
        .setRanges(Value.Ranges.newBuilder()
            .addRange(Value.Range.newBuilder().setBegin(begin).setEnd(end)))
        .setRole(role).build();
  }

  static Offer offer(String id, String agent, String host, double cpus, double mem, double disk) {
    return Offer.newBuilder()
        .setId(OfferID.newBuilder().setValue(id))
        .setFrameworkId(FrameworkID.newBuilder().setValue("fw"))
        .setSlaveId(SlaveID.newBuilder().setValue(agent))
        .setHostname(host)
        .addResources(scalar("cpus", cpus, "*"))
        .addResources(scalar("mem", mem, "*"))
        .addResources(scalar("disk", disk, "*"))
        .addResources(ports(31000, 31099, "*"))
        .build();
  }
}
