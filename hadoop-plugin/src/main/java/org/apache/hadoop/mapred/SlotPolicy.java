package org.apache.hadoop.mapred;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.Resource;
import org.apache.mesos.Protos.Value;

/**
 * How many map and reduce slots one offer can host, and which resources of the offer a
 * TaskTracker takes. Pure: no Hadoop or driver state, so the numbers are unit-tested.
 *
 * <p>One TaskTracker is one Mesos task with a custom executor. The executor holds the
 * TaskTracker's own share ({@code mapred.mesos.tasktracker.*}); the task holds the slots
 * ({@code slots × mapred.mesos.slot.*}) and two ports (HTTP/shuffle and the child JVMs' RPC).
 */
final class SlotPolicy {
  /** Map and reduce slots for one TaskTracker. */
  static final class Slots {
    final int maps;
    final int reduces;

    Slots(int maps, int reduces) {
      this.maps = maps;
      this.reduces = reduces;
    }

    int total() {
      return maps + reduces;
    }

    @Override
    public String toString() {
      return maps + " map + " + reduces + " reduce slots";
    }
  }

  private final MesosConfig config;

  SlotPolicy(MesosConfig config) {
    this.config = config;
  }

  /** Resources of the offer this framework may use (only its role's when role.strict). */
  List<Resource> usable(Offer offer) {
    List<Resource> out = new ArrayList<Resource>();
    for (Resource r : offer.getResourcesList()) {
      String role = r.hasRole() ? r.getRole() : "*";
      if (config.roleStrict && !role.equals(config.role)) {
        continue;
      }
      if (r.hasRevocable()) {
        continue; // a TaskTracker must not be preempted under a running job
      }
      out.add(r);
    }
    return out;
  }

  static double scalar(Collection<Resource> resources, String name) {
    double sum = 0;
    for (Resource r : resources) {
      if (r.getName().equals(name) && r.getType() == Value.Type.SCALAR) {
        sum += r.getScalar().getValue();
      }
    }
    return sum;
  }

  /** How many slots fit beside the TaskTracker itself; 0 when not even the tracker fits. */
  int slotsThatFit(Collection<Resource> resources) {
    double cpus = scalar(resources, "cpus") - config.ttCpus;
    double mem = scalar(resources, "mem") - config.ttMem;
    double disk = scalar(resources, "disk") - config.ttDisk;
    if (cpus < 0 || mem < 0 || disk < 0) {
      return 0;
    }
    double fit = Math.min(cpus / config.slotCpus, mem / config.slotMem);
    if (config.slotDisk > 0) {
      fit = Math.min(fit, disk / config.slotDisk);
    }
    // A tiny epsilon so that 3.0000000001 cpus / 1.0 still counts as 3.
    return (int) Math.floor(fit + 1e-9);
  }

  /**
   * The slots to launch for the given need, or null when the offer is too small or nothing is
   * needed. Variable policy: take what is needed up to the per-tracker maxima and what fits,
   * splitting a short offer between maps and reduces in proportion to the need but giving
   * each side at least one slot when both are needed and two fit (a tracker with only map
   * slots can starve a job of reducers: hadoop-mesos #32, #46). Fixed policy: exactly the
   * maxima, or nothing.
   */
  Slots plan(int fit, int neededMaps, int neededReduces) {
    if (neededMaps <= 0 && neededReduces <= 0) {
      return null;
    }
    if (config.fixedPolicy) {
      int want = config.mapSlotsMax + config.reduceSlotsMax;
      return fit >= want ? new Slots(config.mapSlotsMax, config.reduceSlotsMax) : null;
    }
    int capacity = Math.min(fit, config.mapSlotsMax + config.reduceSlotsMax);
    int maps = Math.min(Math.max(neededMaps, 0), config.mapSlotsMax);
    int reduces = Math.min(Math.max(neededReduces, 0), config.reduceSlotsMax);
    if (capacity <= 0 || maps + reduces == 0) {
      return null;
    }
    if (maps + reduces > capacity) {
      if (maps > 0 && reduces > 0 && capacity >= 2) {
        int share = (int) Math.round(capacity * (double) maps / (maps + reduces));
        int m = Math.min(maps, Math.max(1, Math.min(capacity - 1, share)));
        int r = Math.min(reduces, capacity - m);
        m = Math.min(maps, capacity - r); // hand back what reduces could not use
        maps = m;
        reduces = r;
      } else if (maps > 0) {
        maps = Math.min(maps, capacity);
        reduces = Math.max(0, Math.min(reduces, capacity - maps));
      } else {
        reduces = Math.min(reduces, capacity);
      }
    }
    return new Slots(maps, reduces);
  }

  /**
   * Takes {@code amount} of the named scalar from {@code resources}, preferring the
   * configured role's reservation over unreserved ones; copies each source Resource so role,
   * reservation and allocation info stay as offered. Decrements what it took.
   */
  List<Resource> take(List<Resource> resources, String name, double amount) {
    List<Resource> taken = new ArrayList<Resource>();
    double left = amount;
    for (int pass = 0; pass < 2 && left > 1e-9; pass++) {
      for (int i = 0; i < resources.size() && left > 1e-9; i++) {
        Resource r = resources.get(i);
        if (!r.getName().equals(name) || r.getType() != Value.Type.SCALAR) {
          continue;
        }
        boolean ours = r.hasRole() && r.getRole().equals(config.role) && !"*".equals(config.role);
        if ((pass == 0) != ours) {
          continue;
        }
        double have = r.getScalar().getValue();
        double use = Math.min(have, left);
        if (use <= 0) {
          continue;
        }
        taken.add(r.toBuilder().setScalar(Value.Scalar.newBuilder().setValue(use)).build());
        resources.set(i, r.toBuilder().setScalar(Value.Scalar.newBuilder().setValue(have - use)).build());
        left -= use;
      }
    }
    if (left > 1e-6) {
      throw new IllegalStateException("offer lacks " + left + " " + name);
    }
    return taken;
  }

  /**
   * Picks {@code count} distinct ports from the offer's port ranges, avoiding {@code inUse}
   * (ports of trackers already on that host). Random within the ranges, so two trackers
   * launched from stale offers rarely collide. Returns null when not enough are free. Each
   * port becomes a Resource of the role its range was offered under.
   */
  static List<Resource> pickPorts(
      List<Resource> resources, int count, Set<Long> inUse, Random random, List<Long> chosen) {
    List<long[]> candidates = new ArrayList<long[]>(); // {port, index of source resource}
    for (int i = 0; i < resources.size(); i++) {
      Resource r = resources.get(i);
      if (!r.getName().equals("ports") || r.getType() != Value.Type.RANGES) {
        continue;
      }
      for (Value.Range range : r.getRanges().getRangeList()) {
        long begin = range.getBegin();
        long end = Math.min(range.getEnd(), begin + 10000); // bounded work per offer
        for (long p = begin; p <= end; p++) {
          if (!inUse.contains(p)) {
            candidates.add(new long[] {p, i});
          }
        }
      }
    }
    if (candidates.size() < count) {
      return null;
    }
    List<Resource> out = new ArrayList<Resource>();
    for (int k = 0; k < count; k++) {
      long[] c = candidates.remove(random.nextInt(candidates.size()));
      Resource source = resources.get((int) c[1]);
      chosen.add(c[0]);
      out.add(
          source.toBuilder()
              .setRanges(
                  Value.Ranges.newBuilder()
                      .addRange(Value.Range.newBuilder().setBegin(c[0]).setEnd(c[0])))
              .build());
    }
    return out;
  }
}
