package org.apache.mesos.state;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** A {@link State} in this JVM's memory, for tests; pure Java (no libmesos). */
public class InMemoryState implements State {
  private final ConcurrentMap<String, Entry> entries = new ConcurrentHashMap<String, Entry>();

  @Override
  public Future<Variable> fetch(String name) {
    Entry entry = entries.get(name);
    if (entry == null) {
      entry = new Entry(name, UUID.randomUUID(), new byte[0]);
    }
    return futureFrom((Variable) new InMemoryVariable(entry));
  }

  @Override
  public Future<Variable> store(Variable variable) {
    Entry fetched = ((InMemoryVariable) variable).entry;
    Entry next = new Entry(fetched.name, UUID.randomUUID(), fetched.value);
    Entry current = entries.get(fetched.name);
    boolean stored;
    if (current == null) {
      stored = entries.putIfAbsent(fetched.name, next) == null;
    } else if (current.uuid.equals(fetched.uuid)) {
      stored = entries.replace(fetched.name, current, next);
    } else {
      stored = false;
    }
    return futureFrom(stored ? (Variable) new InMemoryVariable(next) : null);
  }

  @Override
  public Future<Boolean> expunge(Variable variable) {
    Entry fetched = ((InMemoryVariable) variable).entry;
    Entry current = entries.get(fetched.name);
    boolean removed =
        current != null && current.uuid.equals(fetched.uuid) && entries.remove(fetched.name, current);
    return futureFrom(removed);
  }

  @Override
  public Future<Iterator<String>> names() {
    return futureFrom(new ArrayList<String>(entries.keySet()).iterator());
  }

  private static <T> Future<T> futureFrom(final T value) {
    return new Future<T>() {
      public boolean cancel(boolean mayInterruptIfRunning) {
        return false;
      }

      public boolean isCancelled() {
        return false;
      }

      public boolean isDone() {
        return true;
      }

      public T get() throws InterruptedException, ExecutionException {
        return value;
      }

      public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException {
        return value;
      }
    };
  }

  private static class Entry {
    final String name;
    final UUID uuid;
    final byte[] value;

    Entry(String name, UUID uuid, byte[] value) {
      this.name = name;
      this.uuid = uuid;
      this.value = value;
    }
  }

  private static class InMemoryVariable extends Variable {
    final Entry entry;

    InMemoryVariable(Entry entry) {
      this.entry = entry;
    }

    @Override
    public byte[] value() {
      return entry.value.clone();
    }

    @Override
    public Variable mutate(byte[] value) {
      return new InMemoryVariable(new Entry(entry.name, entry.uuid, value.clone()));
    }

    @Override
    protected void finalize() {}
  }
}
