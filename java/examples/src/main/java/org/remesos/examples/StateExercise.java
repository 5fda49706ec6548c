package org.remesos.examples;

import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.mesos.state.LevelDBState;
import org.apache.mesos.state.LogState;
import org.apache.mesos.state.State;
import org.apache.mesos.state.Variable;
import org.apache.mesos.state.ZooKeeperState;

/**
 * Drives org.apache.mesos.state through libmesos and prints one line per observation for
 * jni-driver/tests/java_state.rs. Usage: StateExercise MODE ARGS...
 *
 * <ul>
 *   <li>zk SERVERS ZNODE: fetch/store/names/expunge, stale stores, limits, bad input
 *   <li>race SERVERS ZNODE NAME WRITERS: WRITERS states store one fetched version at once
 *   <li>write SERVERS ZNODE NAME VALUE / read SERVERS ZNODE NAME
 *   <li>digest SERVERS ZNODE: a state with digest credentials, and one with others
 *   <li>unavailable SERVERS: no ZooKeeper there
 *   <li>leveldb-write PATH NAME VALUE / leveldb-read PATH NAME
 *   <li>log SERVERS ZNODE: LogState's fetch/store/names/expunge, diffs, bad input, finalize
 *   <li>log-race, log-write, log-read: race, write and read on a LogState at ZNODE
 * </ul>
 */
public class StateExercise {
  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  static ZooKeeperState zk(String servers, String znode) {
    return new ZooKeeperState(servers, 10, TimeUnit.SECONDS, znode);
  }

  /** Set by the log- modes: race, write and read use a LogState instead. */
  static boolean useLog = false;

  static LogState log(String servers, String znode, int diffs) {
    return new LogState(servers, 10, TimeUnit.SECONDS, znode, 1, "/unused/replica", diffs);
  }

  static State open(String servers, String znode) {
    return useLog ? log(servers, znode, 0) : zk(servers, znode);
  }

  static String names(State state) throws Exception {
    List<String> names = new ArrayList<String>();
    Iterator<String> it = state.names().get(10, TimeUnit.SECONDS);
    while (it.hasNext()) {
      names.add(it.next());
    }
    java.util.Collections.sort(names);
    return String.join(",", names);
  }

  /** Calls an object's own (protected) finalize, as the JVM's finalizer would. */
  static void finalizeNow(Object o) throws Exception {
    Class<?> c = o.getClass();
    while (true) {
      try {
        Method m = c.getDeclaredMethod("finalize");
        m.setAccessible(true);
        m.invoke(o);
        return;
      } catch (NoSuchMethodException e) {
        c = c.getSuperclass();
      }
    }
  }

  /** The class of what `action` throws (unwrapping reflection), or "none". */
  static String thrown(Action action) {
    try {
      action.run();
      return "none";
    } catch (java.lang.reflect.InvocationTargetException e) {
      return e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage();
    } catch (Throwable t) {
      return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
  }

  interface Action {
    void run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    if (mode.startsWith("log-")) {
      useLog = true;
      mode = mode.substring(4);
    }
    switch (mode) {
      case "log":
        logExercise(args[1], args[2]);
        break;
      case "zk":
        exercise(args[1], args[2]);
        break;
      case "race":
        race(args[1], args[2], args[3], Integer.parseInt(args[4]));
        break;
      case "write":
        {
          State state = open(args[1], args[2]);
          Variable v = state.fetch(args[3]).get(10, TimeUnit.SECONDS);
          Variable stored = state.store(v.mutate(bytes(args[4]))).get(10, TimeUnit.SECONDS);
          System.out.println("WRITE " + args[3] + " " + (stored != null));
          break;
        }
      case "read":
        {
          State state = open(args[1], args[2]);
          Variable v = state.fetch(args[3]).get(10, TimeUnit.SECONDS);
          System.out.println("READ " + args[3] + " " + text(v.value()));
          System.out.println("NAMES " + names(state));
          break;
        }
      case "digest":
        digest(args[1], args[2]);
        break;
      case "unavailable":
        unavailable(args[1]);
        break;
      case "leveldb-write":
        {
          State state = new LevelDBState(args[1]);
          Variable v = state.fetch(args[2]).get();
          Variable stored = state.store(v.mutate(bytes(args[3]))).get();
          System.out.println("WRITE " + args[2] + " " + (stored != null));
          System.out.println("STALE " + (state.store(v.mutate(bytes("x"))).get() == null));
          break;
        }
      case "leveldb-read":
        {
          State state = new LevelDBState(args[1]);
          Variable v = state.fetch(args[2]).get();
          System.out.println("READ " + args[2] + " " + text(v.value()));
          System.out.println("NAMES " + names(state));
          System.out.println("EXPUNGE " + state.expunge(v).get());
          System.out.println("NAMES_AFTER " + names(state));
          break;
        }
      default:
        throw new IllegalArgumentException("unknown mode " + mode);
    }
    System.out.println("DONE " + args[0]);
    System.out.flush();
    // Finalizers of the natives run at exit too: give them a chance under -Xcheck:jni.
    System.gc();
    System.runFinalization();
  }

  static void exercise(String servers, final String znode) throws Exception {
    final State state = zk(servers, znode);
    Future<Variable> first = state.fetch("alpha");
    Variable v = first.get(10, TimeUnit.SECONDS);
    System.out.println("FETCH_NEW alpha " + v.value().length + " done=" + first.isDone()
        + " cancelled=" + first.isCancelled());
    Variable stored = state.store(v.mutate(bytes("one"))).get(10, TimeUnit.SECONDS);
    System.out.println("STORED " + (stored != null) + " " + text(stored.value()));
    System.out.println("STALE_STORE_NULL " + (state.store(v.mutate(bytes("two"))).get() == null));
    System.out.println("VALUE alpha " + text(state.fetch("alpha").get().value()));
    Variable beta = state.fetch("beta").get();
    state.store(beta.mutate(bytes("b"))).get();
    System.out.println("NAMES " + names(state));
    System.out.println("EXPUNGE_STALE " + state.expunge(v).get());
    Variable current = state.fetch("alpha").get();
    System.out.println("EXPUNGE_CURRENT " + state.expunge(current).get(10, TimeUnit.SECONDS));
    System.out.println("NAMES_AFTER " + names(state));

    // Limits: ZooKeeperStorage refuses a serialized Entry over 1 MB; just under it is stored.
    Variable big = state.fetch("big").get();
    Variable under = state.store(big.mutate(new byte[1000 * 1024])).get(30, TimeUnit.SECONDS);
    System.out.println("UNDER_LIMIT_STORED " + (under != null));
    System.out.println("UNDER_LIMIT_READ " + state.fetch("big").get().value().length);
    final Variable over = state.fetch("big").get().mutate(new byte[1024 * 1024]);
    System.out.println("OVER_LIMIT " + thrown(() -> state.store(over).get(30, TimeUnit.SECONDS)));
    System.out.println("OVER_LIMIT_UNCHANGED " + state.fetch("big").get().value().length);
    StringBuilder longName = new StringBuilder();
    for (int i = 0; i < 4096; i++) {
      longName.append('n');
    }
    Variable named = state.fetch(longName.toString()).get();
    System.out.println("LONG_NAME_STORED " + (state.store(named.mutate(bytes("v"))).get() != null));

    // Bad names: ZooKeeper paths refuse them; the future fails, nothing is written.
    System.out.println("EMPTY_NAME " + thrown(() -> state.store(state.fetch("").get().mutate(bytes("x"))).get()));
    System.out.println("SLASH_NAME " + thrown(() -> state.store(state.fetch("a/b").get().mutate(bytes("x"))).get()));
    System.out.println("NULL_NAME " + thrown(() -> state.fetch(null)));
    System.out.println("NULL_VARIABLE " + thrown(() -> state.store(null)));
    System.out.println("NAMES_AFTER_BAD " + names(state).replace(longName.toString(), "LONG"));

    // A znode that is not an Entry (the test wrote it): an ExecutionException.
    System.out.println("NOT_ENTRY " + thrown(() -> state.fetch("garbage").get(10, TimeUnit.SECONDS)));

    // Timeouts and cancel on a finished future.
    Future<Variable> f = state.fetch("beta");
    System.out.println("GET_ZERO_TIMEOUT " + thrown(() -> {
      // Either answered already or a TimeoutException; never a hang.
      try {
        f.get(0, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        // fine
      }
    }));
    String before = text(f.get().value());
    // Cancelling a finished future changes nothing (Mesos answers false and keeps the value).
    System.out.println("CANCEL " + f.cancel(true) + " " + before + " " + text(f.get().value()));

    // Finalized objects used again: exceptions, never a crash.
    final Variable doomed = state.fetch("beta").get();
    finalizeNow(doomed);
    finalizeNow(doomed);
    System.out.println("FINALIZED_VALUE " + thrown(() -> doomed.value()));
    System.out.println("FINALIZED_MUTATE " + thrown(() -> doomed.mutate(bytes("x"))));
    System.out.println("FINALIZED_STORE " + thrown(() -> state.store(doomed)));
    final Future<Variable> done = state.fetch("beta");
    done.get();
    finalizeNow(done);
    System.out.println("FINALIZED_FUTURE " + thrown(() -> done.get()));
    System.out.println("FINALIZED_FUTURE_DONE " + thrown(() -> done.isDone()));
    final State gone = zk(servers, znode);
    finalizeNow(gone);
    finalizeNow(gone);
    System.out.println("FINALIZED_STATE " + thrown(() -> gone.fetch("alpha")));
  }

  static void race(String servers, String znode, String name, int writers) throws Exception {
    // Every writer fetches the same version first, then all store at once.
    final List<State> states = new ArrayList<State>();
    final List<Variable> fetched = new ArrayList<Variable>();
    for (int i = 0; i < writers; i++) {
      State s = open(servers, znode);
      states.add(s);
      fetched.add(s.fetch(name).get(10, TimeUnit.SECONDS));
    }
    final CountDownLatch go = new CountDownLatch(1);
    final AtomicInteger winners = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();
    List<Thread> threads = new ArrayList<Thread>();
    for (int i = 0; i < writers; i++) {
      final int n = i;
      Thread t = new Thread(() -> {
        try {
          go.await();
          Variable r = states.get(n).store(fetched.get(n).mutate(bytes("writer-" + n))).get(30, TimeUnit.SECONDS);
          if (r != null) {
            winners.incrementAndGet();
            System.out.println("WINNER writer-" + n);
          }
        } catch (Exception e) {
          failures.incrementAndGet();
          System.out.println("RACE_ERROR " + e);
        }
      });
      t.start();
      threads.add(t);
    }
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    System.out.println("RACE_WINNERS " + winners.get() + " errors=" + failures.get());
    System.out.println("RACE_VALUE " + text(states.get(0).fetch(name).get().value()));
  }

  static void logExercise(String servers, final String znode) throws Exception {
    final State state = log(servers, znode, 3);
    Variable v = state.fetch("alpha").get(10, TimeUnit.SECONDS);
    System.out.println("LOG_FETCH_NEW alpha " + v.value().length);
    Variable stored = state.store(v.mutate(bytes("one"))).get(10, TimeUnit.SECONDS);
    System.out.println("LOG_STORED " + (stored != null) + " " + text(stored.value()));
    System.out.println("LOG_STALE_STORE_NULL " + (state.store(v.mutate(bytes("two"))).get() == null));
    System.out.println("LOG_VALUE alpha " + text(state.fetch("alpha").get().value()));
    Variable beta = state.fetch("beta").get();
    state.store(beta.mutate(bytes("b"))).get();
    System.out.println("LOG_NAMES " + names(state));
    System.out.println("LOG_EXPUNGE_STALE " + state.expunge(v).get());
    Variable current = state.fetch("alpha").get();
    System.out.println("LOG_EXPUNGE_CURRENT " + state.expunge(current).get(10, TimeUnit.SECONDS));
    System.out.println("LOG_NAMES_AFTER " + names(state));

    // A 200 KB value changed in one byte, five times: diffs between snapshots (3 at most).
    byte[] big = new byte[200 * 1024];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) ('a' + i % 26);
    }
    Variable b = state.store(state.fetch("big").get().mutate(big)).get(10, TimeUnit.SECONDS);
    for (int round = 0; round < 5; round++) {
      big[1000 + round] = (byte) '#';
      b = state.store(b.mutate(big)).get(10, TimeUnit.SECONDS);
    }
    // A second LogState replays the log (snapshot + diffs) to the same value.
    State replayed = log(servers, znode, 3);
    byte[] seen = replayed.fetch("big").get(10, TimeUnit.SECONDS).value();
    System.out.println("LOG_REPLAYED_BIG " + java.util.Arrays.equals(seen, big) + " " + seen.length);
    System.out.println("LOG_REPLAYED_NAMES " + names(replayed));
    // The first state's writer was deposed by the second: its next store answers null
    // (Mesos: not atomic), the one after replays and succeeds.
    Variable beforeDeposed = state.fetch("beta").get();
    System.out.println("LOG_DEPOSED_STORE_NULL " + (state.store(beforeDeposed.mutate(bytes("c"))).get() == null));
    Variable again = state.fetch("beta").get();
    System.out.println("LOG_AFTER_REPLAY_STORE " + (state.store(again.mutate(bytes("c"))).get() != null));

    // Bad input: a negative diffsBetweenSnapshots, a relative znode, null arguments.
    System.out.println("LOG_NEGATIVE_DIFFS " + thrown(() -> log(servers, znode, -1)));
    System.out.println("LOG_BAD_ZNODE " + thrown(() -> log(servers, "relative", 0)));
    System.out.println("LOG_NULL_SERVERS " + thrown(() -> log(null, znode, 0)));
    System.out.println("LOG_NULL_NAME " + thrown(() -> state.fetch(null)));

    // Finalized twice, then used: exceptions, never a crash.
    final State gone = log(servers, znode, 0);
    gone.fetch("alpha").get(10, TimeUnit.SECONDS);
    finalizeNow(gone);
    finalizeNow(gone);
    System.out.println("LOG_FINALIZED_FETCH " + thrown(() -> gone.fetch("alpha")));
    System.out.println("LOG_FINALIZED_NAMES " + thrown(() -> gone.names()));
  }

  static void digest(String servers, String znode) throws Exception {
    State owner = new ZooKeeperState(servers, 10, TimeUnit.SECONDS, znode, "digest", bytes("alice:secret"));
    Variable v = owner.fetch("guarded").get(10, TimeUnit.SECONDS);
    Variable stored = owner.store(v.mutate(bytes("mine"))).get(10, TimeUnit.SECONDS);
    System.out.println("DIGEST_STORED " + (stored != null));
    final State other = new ZooKeeperState(servers, 10, TimeUnit.SECONDS, znode, "digest", bytes("mallory:guess"));
    final Variable seen = other.fetch("guarded").get(10, TimeUnit.SECONDS);
    System.out.println("DIGEST_OTHER_READ " + text(seen.value()));
    System.out.println("DIGEST_OTHER_STORE " + thrown(() -> other.store(seen.mutate(bytes("theirs"))).get(10, TimeUnit.SECONDS)));
    System.out.println("DIGEST_OWNER_STORE " + (owner.store(stored.mutate(bytes("again"))).get() != null));
  }

  static void unavailable(String servers) throws Exception {
    final State state = useLog
        ? new LogState(servers, 1, TimeUnit.SECONDS, "/nowhere", 1, "/unused")
        : new ZooKeeperState(servers, 1, TimeUnit.SECONDS, "/nowhere");
    long start = System.nanoTime();
    System.out.println("UNAVAILABLE_TIMEOUT " + thrown(() -> state.fetch("x").get(200, TimeUnit.MILLISECONDS)));
    System.out.println("UNAVAILABLE_GET " + thrown(() -> state.fetch("x").get()));
    System.out.println("UNAVAILABLE_NAMES " + thrown(() -> state.names().get(30, TimeUnit.SECONDS)));
    System.out.println("UNAVAILABLE_MS " + (System.nanoTime() - start) / 1000000);
  }
}
