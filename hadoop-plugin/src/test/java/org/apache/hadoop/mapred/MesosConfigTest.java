package org.apache.hadoop.mapred;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.mesos.Protos.FrameworkInfo;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The mapred.mesos.* keys as users of the old mesos/hadoop plugin set them (its
 * configuration.md, and its roll_back branch's MesosScheduler.start for the framework keys).
 */
public class MesosConfigTest {
  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  private static MesosConfig config(String... kv) {
    Configuration conf = new Configuration(false);
    for (int i = 0; i < kv.length; i += 2) {
      conf.set(kv[i], kv[i + 1]);
    }
    return new MesosConfig(conf);
  }

  /** Runs `<enter> && pwd` with sh in {@code sandbox}; returns {exit code, stdout, stderr}. */
  private static String[] enter(MesosConfig config, File sandbox) throws Exception {
    Process p = new ProcessBuilder("sh", "-c", config.enterDirectoryCommand() + " && pwd")
        .directory(sandbox).start();
    String out = read(p.getInputStream());
    String err = read(p.getErrorStream());
    return new String[] {Integer.toString(p.waitFor()), out.trim(), err.trim()};
  }

  private static String read(InputStream in) throws IOException {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    for (int n; (n = in.read(buf)) > 0; ) {
      b.write(buf, 0, n);
    }
    return new String(b.toByteArray(), StandardCharsets.UTF_8);
  }

  /** A sandbox as the fetcher leaves it: the archive and what it extracted to. */
  private File sandbox(String archive, String topDirectory) throws IOException {
    File sandbox = tmp.newFolder();
    Files.write(new File(sandbox, archive).toPath(), new byte[] {1});
    if (topDirectory != null) {
      assertTrue(new File(sandbox, topDirectory + "/bin").mkdirs());
    }
    new File(sandbox, "stdout").createNewFile();
    return sandbox;
  }

  @Test
  public void theOldDocumentedTarballHadoopTarGzHoldingHadoop121IsFoundByTheGlob() throws Exception {
    // mesos/hadoop ResourcePolicy: directory = the URI's name up to its first dot + "*".
    MesosConfig c = config("mapred.mesos.executor.uri", "hdfs://nn:9000/hadoop.tar.gz");
    File sandbox = sandbox("hadoop.tar.gz", "hadoop-1.2.1");
    String[] r = enter(c, sandbox);
    assertEquals(r[2], "0", r[0]);
    assertEquals(new File(sandbox, "hadoop-1.2.1").getCanonicalPath(), r[1]);
  }

  @Test
  public void aTarballNamedAfterItsTopDirectoryIsEnteredByName() throws Exception {
    MesosConfig c = config("mapred.mesos.executor.uri", "http://h/dist/hadoop-1.2.1.tar.gz");
    File sandbox = sandbox("hadoop-1.2.1.tar.gz", "hadoop-1.2.1");
    // A sibling the glob would also match: the exact name wins.
    assertTrue(new File(sandbox, "hadoop-1.2.1-old").mkdirs());
    String[] r = enter(c, sandbox);
    assertEquals(r[2], "0", r[0]);
    assertEquals(new File(sandbox, "hadoop-1.2.1").getCanonicalPath(), r[1]);
  }

  @Test
  public void anArchiveWithoutAMatchingDirectoryFailsSayingWhatWasLookedFor() throws Exception {
    MesosConfig c = config("mapred.mesos.executor.uri", "file:///dist/hadoop.tgz");
    File sandbox = sandbox("hadoop.tgz", "something-else");
    String[] r = enter(c, sandbox);
    assertEquals("1", r[0]);
    assertTrue(r[2], r[2].contains("no Hadoop directory hadoop nor one matching hadoop*"));
    assertTrue(r[2], r[2].contains("mapred.mesos.executor.uri"));
  }

  @Test
  public void aConfiguredDirectoryIsEnteredAsIsQuoted() {
    MesosConfig c = config(
        "mapred.mesos.executor.uri", "http://h/hadoop.tar.gz",
        "mapred.mesos.executor.directory", "/opt/it's hadoop");
    assertEquals("cd '/opt/it'\\''s hadoop'", c.enterDirectoryCommand());
  }

  @Test
  public void frameworkNameUserAndPrincipalMapToFrameworkInfo() {
    MesosConfig c = config(
        "mapred.mesos.framework.name", "hadoop-prod",
        "mapred.mesos.framework.user", "mapred",
        "mapred.mesos.framework.principal", "hadoop",
        "mapred.mesos.role", "batch",
        "mapred.mesos.checkpoint", "true");
    FrameworkInfo f = c.frameworkInfo("Hadoop: (RPC port: 1, WebUI port: 2)");
    assertEquals("hadoop-prod", f.getName());
    assertEquals("mapred", f.getUser());
    assertEquals("hadoop", f.getPrincipal());
    assertEquals("batch", f.getRole());
    assertTrue(f.getCheckpoint());

    FrameworkInfo d = config().frameworkInfo("Hadoop: (RPC port: 1, WebUI port: 2)");
    assertEquals("Hadoop: (RPC port: 1, WebUI port: 2)", d.getName());
    assertEquals("empty: the driver fills in the current user", "", d.getUser());
    assertFalse(d.hasPrincipal());
  }

  @Test
  public void everyIgnoredKeyOfTheOldPluginIsWarnedAboutByName() {
    Configuration conf = new Configuration(false);
    conf.set("mapred.mesos.docker.image", "mesos/hadoop");
    conf.set("mapred.mesos.container.image", "x");
    conf.set("mapred.mesos.metrics.enabled", "true");
    conf.set("mapred.mesos.metrics.graphite.host", "g");
    conf.set("mapred.mesos.state.file", "/tmp/state");
    conf.set("mapred.mesos.framework.secretfile", "/etc/secret");
    conf.set("mapred.mesos.role", "batch"); // implemented: not warned about
    List<String> w = MesosConfig.warnings(conf);
    assertEquals(w.toString(), 6, w.size());
    for (String key : new String[] {"mapred.mesos.container.image", "mapred.mesos.docker.image",
        "mapred.mesos.metrics.enabled", "mapred.mesos.metrics.graphite.host",
        "mapred.mesos.state.file"}) {
      boolean found = false;
      for (String line : w) {
        found |= line.startsWith(key + " ") && line.endsWith("ignored");
      }
      assertTrue(key + " in " + w, found);
    }
    String secret = w.get(w.size() - 1);
    assertTrue(secret, secret.startsWith(
        "mapred.mesos.framework.secretfile is set without mapred.mesos.framework.principal"));
    assertTrue(MesosConfig.warnings(new Configuration(false)).isEmpty());
    // With its principal the secret file is used: nothing to warn about.
    conf.set("mapred.mesos.framework.principal", "hadoop");
    assertEquals(5, MesosConfig.warnings(conf).size());
  }

  /** The roll_back branch's MesosScheduler.start: principal + secretfile make the Credential. */
  @Test
  public void principalAndSecretFileMakeTheCredential() throws Exception {
    File file = tmp.newFile("secret");
    // An editor's trailing line break is not part of the secret.
    Files.write(file.toPath(), "s3cret:x\n".getBytes(StandardCharsets.UTF_8));
    MesosConfig c = config(
        "mapred.mesos.framework.principal", "hadoop",
        "mapred.mesos.framework.secretfile", file.getPath());
    org.apache.mesos.Protos.Credential credential = c.credential();
    assertEquals("hadoop", credential.getPrincipal());
    assertEquals("s3cret:x", credential.getSecret());
    assertEquals("hadoop", c.frameworkInfo("d").getPrincipal());

    // Either key alone: no credential (the principal still names the framework).
    assertEquals(null, config("mapred.mesos.framework.principal", "hadoop").credential());
    assertEquals(null, config("mapred.mesos.framework.secretfile", file.getPath()).credential());
  }

  @Test
  public void anUnreadableSecretFileStopsTheSchedulerNamingTheKey() {
    MesosConfig c = config(
        "mapred.mesos.framework.principal", "hadoop",
        "mapred.mesos.framework.secretfile", new File(tmp.getRoot(), "missing").getPath());
    try {
      c.credential();
      throw new AssertionError("a missing secret file must be refused");
    } catch (IOException e) {
      assertTrue(e.getMessage(), e.getMessage().startsWith("mapred.mesos.framework.secretfile: "));
    }
  }

  @Test
  public void backoffKeysHaveDocumentedDefaultsAndAreValidated() {
    MesosConfig c = config("mapred.mesos.executor.directory", "/opt/hadoop");
    assertEquals(5.0, c.failureBackoffSecs, 1e-9);
    assertEquals(300.0, c.failureBackoffMaxSecs, 1e-9);
    assertEquals(5, c.failureMax);
    c.validate();
    try {
      config("mapred.mesos.executor.directory", "/opt/hadoop",
          "mapred.mesos.tracker.failure.backoff.seconds", "10",
          "mapred.mesos.tracker.failure.backoff.max.seconds", "5").validate();
      throw new AssertionError("a cap below the base must be refused");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("mapred.mesos.tracker.failure.backoff.max.seconds"));
    }
  }
}
