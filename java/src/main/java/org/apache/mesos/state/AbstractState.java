package org.apache.mesos.state;

import java.util.Iterator;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.mesos.MesosNativeLibrary;

/**
 * A {@link State} held by libmesos: subclasses ({@link ZooKeeperState}, {@link LevelDBState},
 * {@link LogState}) choose the storage in their native {@code initialize}. Every operation
 * returns a future backed by libmesos; {@code get} blocks, {@code get(timeout, unit)} throws
 * {@link TimeoutException} when the operation has not finished in time, and a failed
 * operation throws {@link ExecutionException}.
 */
public abstract class AbstractState implements State {
  static {
    MesosNativeLibrary.load();
  }

  // Set and read by libmesos only.
  private long __storage;
  private long __state;

  @Override
  public Future<Variable> fetch(String name) {
    return new FetchFuture(name);
  }

  @Override
  public Future<Variable> store(Variable variable) {
    return new StoreFuture(variable);
  }

  @Override
  public Future<Boolean> expunge(Variable variable) {
    return new ExpungeFuture(variable);
  }

  @Override
  public Future<Iterator<String>> names() {
    return new NamesFuture();
  }

  protected native void finalize();

  // Each operation: start it (the future's id), then the id's cancel/isCancelled/isDone/
  // get/get with timeout/finalize.
  private native long __fetch(String name);
  private native boolean __fetch_cancel(long future);
  private native boolean __fetch_is_cancelled(long future);
  private native boolean __fetch_is_done(long future);
  private native Variable __fetch_get(long future);
  private native Variable __fetch_get_timeout(long future, long timeout, TimeUnit unit);
  private native void __fetch_finalize(long future);

  private native long __store(Variable variable);
  private native boolean __store_cancel(long future);
  private native boolean __store_is_cancelled(long future);
  private native boolean __store_is_done(long future);
  private native Variable __store_get(long future);
  private native Variable __store_get_timeout(long future, long timeout, TimeUnit unit);
  private native void __store_finalize(long future);

  private native long __expunge(Variable variable);
  private native boolean __expunge_cancel(long future);
  private native boolean __expunge_is_cancelled(long future);
  private native boolean __expunge_is_done(long future);
  private native Boolean __expunge_get(long future);
  private native Boolean __expunge_get_timeout(long future, long timeout, TimeUnit unit);
  private native void __expunge_finalize(long future);

  private native long __names();
  private native boolean __names_cancel(long future);
  private native boolean __names_is_cancelled(long future);
  private native boolean __names_is_done(long future);
  private native Iterator<String> __names_get(long future);
  private native Iterator<String> __names_get_timeout(long future, long timeout, TimeUnit unit);
  private native void __names_finalize(long future);

  // The futures: libmesos reads the operation's id from the field `future`.

  class FetchFuture implements Future<Variable> {
    private long future;

    public FetchFuture(String name) {
      future = __fetch(name);
    }

    public native boolean cancel(boolean mayInterruptIfRunning);
    public native boolean isCancelled();
    public native boolean isDone();
    public native Variable get() throws InterruptedException, ExecutionException;
    public native Variable get(long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException;
    protected native void finalize();
  }

  class StoreFuture implements Future<Variable> {
    private long future;

    public StoreFuture(Variable variable) {
      future = __store(variable);
    }

    public native boolean cancel(boolean mayInterruptIfRunning);
    public native boolean isCancelled();
    public native boolean isDone();
    public native Variable get() throws InterruptedException, ExecutionException;
    public native Variable get(long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException;
    protected native void finalize();
  }

  class ExpungeFuture implements Future<Boolean> {
    private long future;

    public ExpungeFuture(Variable variable) {
      future = __expunge(variable);
    }

    public native boolean cancel(boolean mayInterruptIfRunning);
    public native boolean isCancelled();
    public native boolean isDone();
    public native Boolean get() throws InterruptedException, ExecutionException;
    public native Boolean get(long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException;
    protected native void finalize();
  }

  class NamesFuture implements Future<Iterator<String>> {
    private long future;

    public NamesFuture() {
      future = __names();
    }

    public native boolean cancel(boolean mayInterruptIfRunning);
    public native boolean isCancelled();
    public native boolean isDone();
    public native Iterator<String> get() throws InterruptedException, ExecutionException;
    public native Iterator<String> get(long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException;
    protected native void finalize();
  }
}
