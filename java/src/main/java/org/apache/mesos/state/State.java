package org.apache.mesos.state;

import java.util.Iterator;
import java.util.concurrent.Future;

/**
 * Versioned key/value state shared between processes. A {@link Variable} is fetched, then
 * mutated, then stored: the store succeeds only if nobody stored the variable since it was
 * fetched (its future then yields the new variable), otherwise its future yields null.
 */
public interface State {
  /** The variable named {@code name}; a new, empty one if none is stored. */
  Future<Variable> fetch(String name);

  /** Stores the variable if it is still current; the new variable, or null if it was not. */
  Future<Variable> store(Variable variable);

  /** Removes the variable if it is still current; whether it was removed. */
  Future<Boolean> expunge(Variable variable);

  /** The names of the stored variables. */
  Future<Iterator<String>> names();
}
