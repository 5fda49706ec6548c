package org.remesos.examples;

import java.io.File;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.mesos.Log;

/**
 * Drives org.apache.mesos.Log through libmesos.so and prints one line per fact for
 * jni-driver/tests/log.rs to check. Modes:
 *
 * <ul>
 *   <li>{@code basic <servers> <znode>}: append, read, ending, catchup, truncate, an entry
 *       larger than ZooKeeper's 1 MB request limit, bad read ranges, finalized objects;
 *   <li>{@code writer <servers> <znode> <name> <marker>}: appends "name-i" until its
 *       appends fail (another writer took over), printing ACK for each acknowledged one and
 *       creating {@code marker} after the fifth;
 *   <li>{@code takeover <servers> <znode> <name> <count>}: elects itself (deposing any
 *       writer), appends count entries, then prints every entry of the log;
 *   <li>{@code unavailable <servers> <znode>}: ZooKeeper does not answer: every call ends
 *       within its timeout;
 *   <li>{@code bench <servers> <znode> <size> <count>}: appends count entries of size bytes;
 *   <li>{@code restart <servers> <znode> <marker> <go>}: appends 5 entries, creates marker,
 *       waits for go (the test restarts ZooKeeper meanwhile), appends 5 more (retrying a
 *       timed-out append), then prints every entry of the log.
 * </ul>
 */
public class LogExercise {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    String servers = args[1];
    String znode = args[2];
    Log log = new Log(1, "/tmp/unused-replica", servers, 10, TimeUnit.SECONDS, znode);
    switch (mode) {
      case "basic":
        basic(log);
        break;
      case "writer":
        writer(log, args[3], new File(args[4]));
        break;
      case "takeover":
        takeover(log, args[3], Integer.parseInt(args[4]));
        break;
      case "unavailable":
        unavailable(log);
        break;
      case "restart":
        restart(log, new File(args[3]), new File(args[4]));
        break;
      case "bench":
        bench(log, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        break;
      default:
        throw new IllegalArgumentException(mode);
    }
    System.out.println("DONE");
    System.out.flush();
    System.exit(0);
  }

  static String text(byte[] data) {
    return new String(data, java.nio.charset.StandardCharsets.UTF_8);
  }

  static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  static void basic(Log log) throws Exception {
    Log.Writer writer = new Log.Writer(log, 10, TimeUnit.SECONDS, 3);
    Log.Reader reader = new Log.Reader(log);
    System.out.println("EMPTY " + reader.beginning() + " " + reader.ending());
    Log.Position a = writer.append(bytes("alpha"), 10, TimeUnit.SECONDS);
    Log.Position b = writer.append(bytes("beta"), 10, TimeUnit.SECONDS);
    Log.Position c = writer.append(bytes("gamma"), 10, TimeUnit.SECONDS);
    System.out.println("ORDERED " + (a.compareTo(b) < 0 && b.compareTo(c) < 0));
    System.out.println("ENDING_IS_LAST " + reader.ending().equals(c));
    System.out.println("CATCHUP_IS_LAST " + reader.catchup(10, TimeUnit.SECONDS).equals(c));
    // Position identity round trip (Log.position(byte[]) is pure Java).
    System.out.println("IDENTITY " + log.position(b.identity()).equals(b));
    for (Log.Entry e : reader.read(a, c, 10, TimeUnit.SECONDS)) {
      System.out.println("READ " + text(e.data));
    }
    // 3 MB: chunked transparently.
    byte[] big = new byte[3 * 1024 * 1024 + 17];
    new Random(42).nextBytes(big);
    Log.Position p = writer.append(big, 30, TimeUnit.SECONDS);
    List<Log.Entry> got = reader.read(p, p, 30, TimeUnit.SECONDS);
    System.out.println(
        "BIG " + (got.size() == 1 && Arrays.equals(got.get(0).data, big) && got.get(0).position.equals(p)));
    // Truncate before b: a is gone, b on remains.
    Log.Position t = writer.truncate(b, 10, TimeUnit.SECONDS);
    System.out.println("TRUNCATE_AFTER_END " + (t.compareTo(p) > 0));
    System.out.println("BEGINNING_IS_B " + reader.beginning().equals(b));
    StringBuilder rest = new StringBuilder();
    for (Log.Entry e : reader.read(b, reader.ending(), 10, TimeUnit.SECONDS)) {
      rest.append(e.data.length > 100 ? "big" : text(e.data)).append(',');
    }
    System.out.println("AFTER_TRUNCATE " + rest);
    expectReadFailure(reader, a, c, "TRUNCATED");
    expectReadFailure(reader, b, log.position(longBytes(Long.MAX_VALUE)), "PAST_END");
    expectReadFailure(reader, c, b, "REVERSED");
    // Bad input: null data.
    try {
      writer.append(null, 1, TimeUnit.SECONDS);
      System.out.println("NULL_APPEND accepted");
    } catch (NullPointerException e) {
      System.out.println("NULL_APPEND NullPointerException");
    }
    // A finalized writer and reader throw instead of crashing the JVM.
    finalize(writer);
    try {
      writer.append(bytes("after"), 1, TimeUnit.SECONDS);
      System.out.println("FINALIZED_WRITER accepted");
    } catch (IllegalStateException e) {
      System.out.println("FINALIZED_WRITER IllegalStateException");
    }
    finalize(reader);
    try {
      reader.ending();
      System.out.println("FINALIZED_READER accepted");
    } catch (IllegalStateException e) {
      System.out.println("FINALIZED_READER IllegalStateException");
    }
    finalize(writer); // twice: a no-op
    finalize(reader);
    try {
      reader.read(b, b, 1, TimeUnit.SECONDS);
      System.out.println("FINALIZED_READER_TWICE accepted");
    } catch (IllegalStateException e) {
      System.out.println("FINALIZED_READER_TWICE IllegalStateException");
    }
    // A reader outlives its log's finalize; a finalized log makes no new reader or writer.
    Log.Reader survivor = new Log.Reader(log);
    finalize(log);
    finalize(log);
    System.out.println("READER_OUTLIVES_LOG " + survivor.ending().equals(t));
    try {
      new Log.Reader(log);
      System.out.println("FINALIZED_LOG accepted");
    } catch (IllegalStateException e) {
      System.out.println("FINALIZED_LOG IllegalStateException");
    }
    try {
      new Log.Writer(log, 1, TimeUnit.SECONDS, 1);
      System.out.println("FINALIZED_LOG_WRITER accepted");
    } catch (IllegalStateException e) {
      System.out.println("FINALIZED_LOG_WRITER IllegalStateException");
    }
    // The pids constructor (Mesos's own replicas) is refused, not a crash.
    try {
      new Log(1, "/tmp/x", new java.util.HashSet<String>());
      System.out.println("PIDS accepted");
    } catch (UnsupportedOperationException e) {
      System.out.println("PIDS UnsupportedOperationException");
    }
  }

  static byte[] longBytes(long v) {
    return new Log.Position(v).identity();
  }

  static void finalize(Object o) throws Exception {
    Method m = o.getClass().getDeclaredMethod("finalize");
    m.setAccessible(true);
    m.invoke(o);
  }

  static void expectReadFailure(Log.Reader reader, Log.Position from, Log.Position to, String label)
      throws Exception {
    try {
      reader.read(from, to, 10, TimeUnit.SECONDS);
      System.out.println(label + " accepted");
    } catch (Log.OperationFailedException e) {
      System.out.println(label + " " + e.getMessage());
    }
  }

  static void writer(Log log, String name, File marker) throws Exception {
    Log.Writer writer = new Log.Writer(log, 10, TimeUnit.SECONDS, 3);
    long deadline = System.currentTimeMillis() + 90_000;
    for (int i = 0; System.currentTimeMillis() < deadline; i++) {
      String data = name + "-" + i;
      try {
        Log.Position p = writer.append(bytes(data), 10, TimeUnit.SECONDS);
        System.out.println("ACK " + p + " " + data);
        System.out.flush();
      } catch (Log.WriterFailedException e) {
        System.out.println("WRITER_FAILED " + e.getMessage());
        // Deposed for good: the next append fails too.
        try {
          writer.append(bytes("again"), 10, TimeUnit.SECONDS);
          System.out.println("STILL_WRITING");
        } catch (Log.WriterFailedException again) {
          System.out.println("STILL_FAILED");
        }
        return;
      }
      if (i == 4) {
        Files.write(marker.toPath(), bytes("ok"));
      }
      Thread.sleep(20);
    }
    System.out.println("NEVER_FAILED");
  }

  static void takeover(Log log, String name, int count) throws Exception {
    Log.Writer writer = new Log.Writer(log, 10, TimeUnit.SECONDS, 3);
    for (int i = 0; i < count; i++) {
      String data = name + "-" + i;
      Log.Position p = writer.append(bytes(data), 10, TimeUnit.SECONDS);
      System.out.println("ACK " + p + " " + data);
    }
    Log.Reader reader = new Log.Reader(log);
    Log.Position end = reader.catchup(10, TimeUnit.SECONDS);
    for (Log.Entry e : reader.read(reader.beginning(), end, 30, TimeUnit.SECONDS)) {
      System.out.println("ENTRY " + e.position + " " + text(e.data));
    }
  }

  static void restart(Log log, File marker, File go) throws Exception {
    Log.Writer writer = new Log.Writer(log, 10, TimeUnit.SECONDS, 3);
    for (int i = 0; i < 5; i++) {
      Log.Position p = writer.append(bytes("before-" + i), 10, TimeUnit.SECONDS);
      System.out.println("ACK " + p + " before-" + i);
    }
    System.out.flush();
    Files.write(marker.toPath(), bytes("ok"));
    long wait = System.currentTimeMillis() + 90_000;
    while (!go.exists() && System.currentTimeMillis() < wait) {
      Thread.sleep(50);
    }
    for (int i = 0; i < 5; i++) {
      String data = "after-" + i;
      for (int attempt = 0; ; attempt++) {
        try {
          Log.Position p = writer.append(bytes(data), 10, TimeUnit.SECONDS);
          System.out.println("ACK " + p + " " + data);
          break;
        } catch (TimeoutException e) {
          System.out.println("RETRY " + data + " " + e.getMessage());
          if (attempt == 5) {
            throw e;
          }
        }
      }
    }
    Log.Reader reader = new Log.Reader(log);
    Log.Position end = reader.catchup(10, TimeUnit.SECONDS);
    for (Log.Entry e : reader.read(reader.beginning(), end, 30, TimeUnit.SECONDS)) {
      System.out.println("ENTRY " + e.position + " " + text(e.data));
    }
  }

  static void unavailable(Log log) throws Exception {
    long start = System.nanoTime();
    // The election times out twice (1 s each); the constructor returns.
    Log.Writer writer = new Log.Writer(log, 1, TimeUnit.SECONDS, 2);
    System.out.println("WRITER_CONSTRUCTED");
    try {
      writer.append(bytes("x"), 2, TimeUnit.SECONDS);
      System.out.println("APPEND accepted");
    } catch (TimeoutException e) {
      System.out.println("APPEND TimeoutException");
    } catch (Log.WriterFailedException e) {
      System.out.println("APPEND WriterFailedException " + e.getMessage());
    }
    Log.Reader reader = new Log.Reader(log);
    try {
      reader.read(new Log.Position(0), new Log.Position(0), 1, TimeUnit.SECONDS);
      System.out.println("READ accepted");
    } catch (TimeoutException e) {
      System.out.println("READ TimeoutException");
    }
    try {
      reader.catchup(1, TimeUnit.SECONDS);
      System.out.println("CATCHUP accepted");
    } catch (TimeoutException e) {
      System.out.println("CATCHUP TimeoutException");
    }
    try {
      reader.ending();
      System.out.println("ENDING accepted");
    } catch (RuntimeException e) {
      System.out.println("ENDING " + e.getClass().getSimpleName());
    }
    System.out.println("ELAPSED_S " + (System.nanoTime() - start) / 1_000_000_000L);
  }

  static void bench(Log log, int size, int count) throws Exception {
    Log.Writer writer = new Log.Writer(log, 10, TimeUnit.SECONDS, 3);
    byte[] data = new byte[size];
    new Random(1).nextBytes(data);
    // Warm up (connection, JIT).
    for (int i = 0; i < 10; i++) {
      writer.append(data, 30, TimeUnit.SECONDS);
    }
    long start = System.nanoTime();
    for (int i = 0; i < count; i++) {
      writer.append(data, 30, TimeUnit.SECONDS);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        "BENCH size=%d count=%d seconds=%.3f appends_per_s=%.1f mb_per_s=%.2f%n",
        size, count, seconds, count / seconds, (double) size * count / seconds / 1e6);
  }
}
