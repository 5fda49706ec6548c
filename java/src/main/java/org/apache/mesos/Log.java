package org.apache.mesos;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A replicated log (binary-compatible with Apache's {@code org.apache.mesos.Log}). remesos's
 * libmesos.so keeps it in ZooKeeper (see core/src/zk/log.rs): totally ordered positions, one
 * elected writer at a time (a newer writer makes the older one's appends fail with
 * {@link WriterFailedException}), truncation and readers. {@code quorum} and {@code path}
 * are accepted for compatibility; the ensemble's quorum applies and nothing is kept under
 * {@code path}. The constructor taking replica pids is not supported.
 */
public class Log {
  static {
    MesosNativeLibrary.load();
  }

  /** A position in the log: comparable, and convertible to and from its 8-byte identity. */
  public static class Position implements Comparable<Position> {
    private final long value; // read by the native side by name

    public Position(long value) {
      this.value = value;
    }

    public int compareTo(Position that) {
      return Long.signum(value - that.value);
    }

    public boolean equals(Object that) {
      return that instanceof Position && value == ((Position) that).value;
    }

    public int hashCode() {
      return Long.hashCode(value);
    }

    public String toString() {
      return "Position " + value;
    }

    /** The position's value as 8 big-endian bytes. */
    public byte[] identity() {
      byte[] bytes = new byte[8];
      for (int i = 0; i < 8; i++) {
        bytes[i] = (byte) (0xff & (value >> (56 - 8 * i)));
      }
      return bytes;
    }
  }

  /** An appended entry: its position and data. */
  public static class Entry {
    public final Position position;
    public final byte[] data;

    public Entry(Position position, byte[] data) {
      this.position = position;
      this.data = data;
    }
  }

  /** A reader or truncation failed. */
  public static class OperationFailedException extends Exception {
    public OperationFailedException(String message) {
      super(message);
    }

    public OperationFailedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The writer failed: another writer was elected, or it never was. */
  public static class WriterFailedException extends Exception {
    public WriterFailedException(String message) {
      super(message);
    }

    public WriterFailedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Reads the log. */
  public static class Reader {
    private Log log;
    private long __log;
    private long __reader;

    public Reader(Log log) {
      this.log = log;
      initialize(log);
    }

    /** The appended entries in [from, to], in order. */
    public native List<Entry> read(Position from, Position to, long timeout, TimeUnit unit)
        throws TimeoutException, OperationFailedException;

    /** The first position not truncated. */
    public native Position beginning();

    /** The last position written. */
    public native Position ending();

    /** Catches up with the log and returns its ending. */
    public native Position catchup(long timeout, TimeUnit unit)
        throws TimeoutException, OperationFailedException;

    protected native void initialize(Log log);

    protected native void finalize();
  }

  /** Writes the log; constructing one elects it (retrying up to {@code retries} times). */
  public static class Writer {
    private Log log;
    private long __log;
    private long __writer;

    public Writer(Log log, long timeout, TimeUnit unit, int retries) {
      this.log = log;
      initialize(log, timeout, unit, retries);
    }

    public native Position append(byte[] data, long timeout, TimeUnit unit)
        throws TimeoutException, WriterFailedException;

    /** Drops the entries before {@code to}; returns the truncation's own position. */
    public native Position truncate(Position to, long timeout, TimeUnit unit)
        throws TimeoutException, WriterFailedException;

    protected native void initialize(Log log, long timeout, TimeUnit unit, int retries);

    protected native void finalize();
  }

  private long __log;

  public Log(int quorum, String path, Set<String> pids) {
    initialize(quorum, path, pids);
  }

  public Log(int quorum, String path, String servers, long timeout, TimeUnit unit, String znode) {
    initialize(quorum, path, servers, timeout, unit, znode);
  }

  public Log(int quorum, String path, String servers, long timeout, TimeUnit unit, String znode,
      String scheme, byte[] credentials) {
    initialize(quorum, path, servers, timeout, unit, znode, scheme, credentials);
  }

  /** The position whose identity is {@code identity} (8 big-endian bytes). */
  public Position position(byte[] identity) {
    long value = 0;
    for (int i = 0; i < 8; i++) {
      value = (value << 8) | (identity[i] & 0xff);
    }
    return new Position(value);
  }

  protected native void initialize(int quorum, String path, Set<String> pids);

  protected native void initialize(int quorum, String path, String servers, long timeout,
      TimeUnit unit, String znode);

  protected native void initialize(int quorum, String path, String servers, long timeout,
      TimeUnit unit, String znode, String scheme, byte[] credentials);

  protected native void finalize();
}
