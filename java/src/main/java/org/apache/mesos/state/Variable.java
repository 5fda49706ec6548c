package org.apache.mesos.state;

/** An immutable, versioned value of a {@link State}; held by libmesos behind {@code __variable}. */
public class Variable {
  private long __variable;

  protected Variable() {}

  /** The value (a copy). */
  public native byte[] value();

  /** A new variable with {@code value} and this variable's version. */
  public native Variable mutate(byte[] value);

  protected native void finalize();
}
