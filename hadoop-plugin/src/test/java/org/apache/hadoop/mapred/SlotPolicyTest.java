package org.apache.hadoop.mapred;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.Resource;
import org.junit.Test;

public class SlotPolicyTest {
  private static MesosConfig config(String... kv) {
    Configuration conf = new Configuration(false);
    for (int i = 0; i < kv.length; i += 2) {
      conf.set(kv[i], kv[i + 1]);
    }
    return new MesosConfig(conf);
  }

  @Test
  public void defaultsNeedTwoCpusTwoGigabytesForOneSlot() {
    // Defaults (reference/hadoop.md §1.5): the tracker takes 1 cpu/1024 MB/1024 MB disk,
    // each slot 1 cpu/1024 MB/1024 MB disk.
    SlotPolicy policy = new SlotPolicy(config());
    assertEquals(1, policy.slotsThatFit(Offers.offer("o", "a", "h", 2, 2048, 2048).getResourcesList()));
    assertEquals(0, policy.slotsThatFit(Offers.offer("o", "a", "h", 2, 2047, 2048).getResourcesList()));
    assertEquals(0, policy.slotsThatFit(Offers.offer("o", "a", "h", 0.5, 8192, 8192).getResourcesList()));
    // The scarcest resource decides: 3 slots of cpus, 2 of mem.
    assertEquals(2, policy.slotsThatFit(Offers.offer("o", "a", "h", 4, 3072, 9999).getResourcesList()));
  }

  @Test
  public void variablePolicyTakesExactlyTheNeedWhenItFits() {
    SlotPolicy policy = new SlotPolicy(config("mapred.tasktracker.map.tasks.maximum", "4",
        "mapred.tasktracker.reduce.tasks.maximum", "2"));
    SlotPolicy.Slots s = policy.plan(6, 3, 1);
    assertEquals(3, s.maps);
    assertEquals(1, s.reduces);
    // Capped by the per-tracker maxima.
    s = policy.plan(10, 9, 9);
    assertEquals(4, s.maps);
    assertEquals(2, s.reduces);
    assertNull("nothing needed, nothing launched", policy.plan(10, 0, 0));
    assertNull("nothing fits", policy.plan(0, 3, 1));
  }

  @Test
  public void shortOfferStillGetsAReduceSlotWhenReducesArePending() {
    // hadoop-mesos #46: with a 20/1 need and 2 slots, a proportional split alone gives
    // reduces 0 and the job can starve of reducers.
    SlotPolicy policy = new SlotPolicy(config("mapred.tasktracker.map.tasks.maximum", "8",
        "mapred.tasktracker.reduce.tasks.maximum", "8"));
    SlotPolicy.Slots s = policy.plan(2, 20, 1);
    assertEquals(1, s.maps);
    assertEquals(1, s.reduces);
    s = policy.plan(4, 6, 2);
    assertEquals(3, s.maps);
    assertEquals(1, s.reduces);
    // Unused reduce capacity goes back to maps.
    s = policy.plan(5, 10, 1);
    assertEquals(4, s.maps);
    assertEquals(1, s.reduces);
    // One slot only: maps first (reduces wait for map output anyway).
    s = policy.plan(1, 3, 3);
    assertEquals(1, s.maps);
    assertEquals(0, s.reduces);
  }

  @Test
  public void fixedPolicyLaunchesTheMaximaOrNothing() {
    SlotPolicy policy = new SlotPolicy(config("mapred.mesos.scheduler.policy.fixed", "true",
        "mapred.tasktracker.map.tasks.maximum", "2", "mapred.tasktracker.reduce.tasks.maximum", "1"));
    SlotPolicy.Slots s = policy.plan(3, 1, 0);
    assertEquals(2, s.maps);
    assertEquals(1, s.reduces);
    assertNull(policy.plan(2, 5, 5));
  }

  @Test
  public void strictRoleIgnoresResourcesOfOtherRoles() {
    SlotPolicy strict = new SlotPolicy(config("mapred.mesos.role", "hadoop",
        "mapred.mesos.role.strict", "true"));
    Offer offer = Offer.newBuilder(Offers.offer("o", "a", "h", 8, 8192, 8192))
        .addResources(Offers.scalar("cpus", 2, "hadoop"))
        .build();
    List<Resource> usable = strict.usable(offer);
    assertEquals(1, usable.size());
    assertEquals(2.0, SlotPolicy.scalar(usable, "cpus"), 1e-9);
    assertEquals(0, strict.slotsThatFit(usable));
    SlotPolicy lax = new SlotPolicy(config("mapred.mesos.role", "hadoop"));
    assertEquals(10.0, SlotPolicy.scalar(lax.usable(offer), "cpus"), 1e-9);
  }

  @Test
  public void takePrefersTheFrameworksReservationAndKeepsRoles() {
    SlotPolicy policy = new SlotPolicy(config("mapred.mesos.role", "hadoop"));
    List<Resource> rs = new ArrayList<Resource>(Arrays.asList(
        Offers.scalar("cpus", 4, "*"), Offers.scalar("cpus", 1.5, "hadoop")));
    List<Resource> taken = policy.take(rs, "cpus", 2.5);
    assertEquals(2, taken.size());
    assertEquals("hadoop", taken.get(0).getRole());
    assertEquals(1.5, taken.get(0).getScalar().getValue(), 1e-9);
    assertEquals("*", taken.get(1).getRole());
    assertEquals(1.0, taken.get(1).getScalar().getValue(), 1e-9);
    assertEquals(3.0, SlotPolicy.scalar(rs, "cpus"), 1e-9);
  }

  @Test
  public void portsAreDistinctFreeAndFromTheOffer() {
    List<Resource> rs = Collections.singletonList(Offers.ports(31000, 31003, "*"));
    List<Long> chosen = new ArrayList<Long>();
    List<Resource> picked = SlotPolicy.pickPorts(rs, 2,
        new HashSet<Long>(Arrays.asList(31000L, 31001L)), new Random(7), chosen);
    assertNotNull(picked);
    assertEquals(new HashSet<Long>(Arrays.asList(31002L, 31003L)), new HashSet<Long>(chosen));
    for (int i = 0; i < 2; i++) {
      assertEquals(chosen.get(i).longValue(), picked.get(i).getRanges().getRange(0).getBegin());
      assertEquals(chosen.get(i).longValue(), picked.get(i).getRanges().getRange(0).getEnd());
    }
    assertNull("three in use of four: not enough",
        SlotPolicy.pickPorts(rs, 2, new HashSet<Long>(Arrays.asList(31000L, 31001L, 31002L)),
            new Random(7), new ArrayList<Long>()));
    assertTrue(SlotPolicy.pickPorts(Collections.<Resource>emptyList(), 2, new HashSet<Long>(),
        new Random(7), new ArrayList<Long>()) == null);
  }
}
