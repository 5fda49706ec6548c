package org.apache.mesos;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Loads libmesos.so: from {@code MESOS_NATIVE_JAVA_LIBRARY} (or the deprecated
 * {@code MESOS_NATIVE_LIBRARY}) when set, else the copy this jar carries, else
 * {@code mesos} from {@code java.library.path}.
 */
public class MesosNativeLibrary {
  /** The Mesos API version of these bindings. */
  public static final String VERSION = "1.11.0";

  /** Set to true by the library's JNI_OnLoad. */
  private static boolean loaded = false;

  private static Version version = null;

  /** A Mesos version number. */
  public static class Version implements Comparable<Version> {
    public final long major;
    public final long minor;
    public final long patch;

    public Version(long major, long minor, long patch) {
      if (major < 0 || minor < 0 || patch < 0) {
        throw new IllegalArgumentException(
            "Version numbers must be non-negative: " + major + "." + minor + "." + patch);
      }
      this.major = major;
      this.minor = minor;
      this.patch = patch;
    }

    public Version(long major, long minor) {
      this(major, minor, 0);
    }

    public Version(long major) {
      this(major, 0, 0);
    }

    public boolean equals(Version other) {
      return other != null && compareTo(other) == 0;
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Version && equals((Version) other);
    }

    @Override
    public int hashCode() {
      return (int) (major * 1000003 + minor * 1009 + patch);
    }

    public int compareTo(Version other) {
      if (major != other.major) {
        return major < other.major ? -1 : 1;
      }
      if (minor != other.minor) {
        return minor < other.minor ? -1 : 1;
      }
      if (patch != other.patch) {
        return patch < other.patch ? -1 : 1;
      }
      return 0;
    }

    public boolean before(Version other) {
      return compareTo(other) < 0;
    }

    public boolean after(Version other) {
      return compareTo(other) > 0;
    }

    @Override
    public String toString() {
      return major + "." + minor + "." + patch;
    }
  }

  public static synchronized void load(String path) {
    if (loaded) {
      return;
    }
    // JNI_OnLoad captures the thread's context class loader to find Mesos classes from
    // native threads: make it the loader of these classes.
    Thread thread = Thread.currentThread();
    ClassLoader previous = thread.getContextClassLoader();
    thread.setContextClassLoader(MesosNativeLibrary.class.getClassLoader());
    try {
      if (path != null) {
        System.load(path);
      } else {
        String bundled = extractBundled();
        if (bundled != null) {
          System.load(bundled);
        } else {
          System.loadLibrary("mesos");
        }
      }
    } catch (UnsatisfiedLinkError e) {
      System.err.println("Failed to load native Mesos library from "
          + (path != null ? path : System.getProperty("java.library.path")));
      throw e;
    } finally {
      thread.setContextClassLoader(previous);
    }
  }

  public static void load() {
    String path = System.getenv("MESOS_NATIVE_JAVA_LIBRARY");
    if (path == null) {
      path = System.getenv("MESOS_NATIVE_LIBRARY");
      if (path != null) {
        System.out.println("Warning: MESOS_NATIVE_LIBRARY is deprecated, "
            + "use MESOS_NATIVE_JAVA_LIBRARY instead. Future releases will "
            + "not support JNI bindings via MESOS_NATIVE_LIBRARY.");
      }
    }
    load(path);
  }

  public static synchronized Version version() {
    if (!loaded) {
      throw new RuntimeException("'libmesos' not loaded");
    }
    if (version == null) {
      try {
        version = _version();
      } catch (UnsatisfiedLinkError e) {
        System.err.println("WARNING: using an old libmesos without version information");
        version = new Version(0, 0, 0);
      }
    }
    return version;
  }

  private static native Version _version();

  /** The platform directory name the build uses (os-maven-plugin's classifier). */
  private static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase();
    String arch = System.getProperty("os.arch", "").toLowerCase();
    if (os.startsWith("linux")) {
      os = "linux";
    } else if (os.startsWith("mac")) {
      os = "osx";
    }
    if (arch.equals("amd64") || arch.equals("x86_64")) {
      arch = "x86_64";
    } else if (arch.equals("aarch64") || arch.equals("arm64")) {
      arch = "aarch_64";
    }
    return os + "-" + arch;
  }

  /** Copies the libmesos.so inside this jar to a temporary file; null when there is none. */
  private static String extractBundled() {
    String resource = "native/" + platform() + "/libmesos.so";
    InputStream in = MesosNativeLibrary.class.getResourceAsStream(resource);
    if (in == null) {
      return null;
    }
    try {
      File file = File.createTempFile("libmesos-", ".so");
      file.deleteOnExit();
      OutputStream out = new FileOutputStream(file);
      try {
        byte[] buffer = new byte[1 << 16];
        int n;
        while ((n = in.read(buffer)) > 0) {
          out.write(buffer, 0, n);
        }
      } finally {
        out.close();
      }
      return file.getAbsolutePath();
    } catch (IOException e) {
      System.err.println("Failed to extract the bundled libmesos.so: " + e);
      return null;
    } finally {
      try {
        in.close();
      } catch (IOException e) {
        // nothing to do
      }
    }
  }
}
