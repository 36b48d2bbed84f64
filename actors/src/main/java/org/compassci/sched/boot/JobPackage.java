package org.compassci.sched.boot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * The job package a box boots with, {@code job.cgz}: gzip of a cpio {@code newc} archive holding
 * {@code lkp/}, {@code lkp/scheduled/}, {@code lkp/scheduled/job.yaml},
 * {@code lkp/scheduled/job.sh} (0775) and, when the job has secrets,
 * {@code lkp/scheduled/secrets.yaml}. Built in memory in this process: nothing is forked and
 * nothing is written to disk.
 */
public final class JobPackage {

  /** Where the box's lkp-tests reaches the scheduler, for reports and uploads. */
  public record Endpoint(String host, int port) {

    private static final java.util.regex.Pattern HOST =
        java.util.regex.Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\\[[0-9A-Fa-f:.]{2,45}\\]");

    /**
     * A box's {@code sched_host} and {@code sched_port}: a host name or address (IPv6 in
     * brackets) and a port; they are written into scripts, so nothing else is taken. Throws
     * {@link org.compassci.sched.model.InvalidJobException} naming the parameter.
     */
    public static Endpoint of(String host, String port) {
      if (host == null || !HOST.matcher(host).matches()) {
        throw new org.compassci.sched.model.InvalidJobException("sched_host: '"
            + String.valueOf(host).replaceAll("\\p{Cntrl}", "?") + "' is not a host name or address");
      }
      int p;
      try {
        p = Integer.parseInt(port.trim());
      } catch (RuntimeException e) {
        p = -1;
      }
      if (p < 1 || p > 65535) {
        throw new org.compassci.sched.model.InvalidJobException("sched_port: '"
            + String.valueOf(port).replaceAll("\\p{Cntrl}", "?") + "' is not a port");
      }
      return new Endpoint(host, p);
    }
  }

  private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder().build());

  private JobPackage() {}

  /**
   * job.yaml's content: the whole job (internal fields, {@code job2sh} and secrets left out) with
   * the hand-out's {@code job_token}, and where to report and upload: {@code services},
   * {@code LKP_SERVER}, {@code LKP_CGI_PORT}, {@code RESULT_WEBDAV_PORT}, {@code SCHED_HOST} and
   * {@code SCHED_PORT}, all naming {@code at}.
   */
  public static ObjectNode jobYaml(ObjectNode job, String token, Endpoint at) {
    ObjectNode out = job.deepCopy();
    for (Iterator<String> it = out.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (k.startsWith("_") || k.equals("job2sh") || k.equals("secrets")) {
        it.remove();
      }
    }
    out.put("job_token", token);
    String port = Integer.toString(at.port());
    ObjectNode services = out.has("services") && out.get("services").isObject()
        ? (ObjectNode) out.get("services") : out.putObject("services");
    services.put("sched_host", at.host()).put("sched_port", port)
        .put("result_host", at.host()).put("result_port", port)
        .put("LKP_SERVER", at.host()).put("LKP_CGI_PORT", port).put("RESULT_WEBDAV_PORT", port);
    out.put("LKP_SERVER", at.host());
    out.put("LKP_CGI_PORT", port);
    out.put("RESULT_WEBDAV_PORT", port);
    out.put("SCHED_HOST", at.host());
    out.put("SCHED_PORT", port);
    return out;
  }

  /**
   * The package of {@code job} (the stored document) for the hand-out holding {@code token};
   * {@code secrets} (already decrypted) or null. Throws IllegalArgumentException when the job's
   * script cannot be written.
   */
  public static byte[] build(ObjectNode job, String token, Endpoint at, JsonNode secrets, long mtimeSeconds) {
    ObjectNode yaml = jobYaml(job, token, at);
    String script = JobScript.render(yaml, job.get("job2sh"));
    try {
      byte[] secretsYaml = secrets == null || secrets.isNull() ? null : YAML.writeValueAsBytes(secrets);
      return pack(YAML.writeValueAsBytes(yaml), script.getBytes(StandardCharsets.UTF_8), secretsYaml, mtimeSeconds);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("the job cannot be written as YAML: " + e.getOriginalMessage());
    }
  }

  /** The archive itself: gzip (fastest level: the files are a few KB) of cpio newc. */
  static byte[] pack(byte[] jobYaml, byte[] jobSh, byte[] secretsYaml, long mtimeSeconds) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(2048 + (jobYaml.length + jobSh.length) / 3);
    try (GZIPOutputStream gz = new GZIPOutputStream(out, 8192) {
          {
            def.setLevel(Deflater.BEST_SPEED);
          }
        };
        CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(gz, CpioConstants.FORMAT_NEW,
            CpioConstants.BLOCK_SIZE, "US-ASCII")) {
      directory(cpio, "lkp", 1, mtimeSeconds);
      directory(cpio, "lkp/scheduled", 2, mtimeSeconds);
      file(cpio, "lkp/scheduled/job.yaml", 3, 0644, jobYaml, mtimeSeconds);
      file(cpio, "lkp/scheduled/job.sh", 4, 0775, jobSh, mtimeSeconds);
      if (secretsYaml != null) {
        file(cpio, "lkp/scheduled/secrets.yaml", 5, 0600, secretsYaml, mtimeSeconds);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("writing to memory failed", e);
    }
    return out.toByteArray();
  }

  private static void directory(CpioArchiveOutputStream cpio, String name, long inode, long mtime) throws IOException {
    CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, name, 0);
    e.setMode(CpioConstants.C_ISDIR | 0755);
    e.setNumberOfLinks(2);
    e.setInode(inode);
    e.setTime(mtime);
    cpio.putArchiveEntry(e);
    cpio.closeArchiveEntry();
  }

  private static void file(CpioArchiveOutputStream cpio, String name, long inode, int mode, byte[] data,
      long mtime) throws IOException {
    CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, name, data.length);
    e.setMode(CpioConstants.C_ISREG | mode);
    e.setNumberOfLinks(1);
    e.setInode(inode);
    e.setTime(mtime);
    cpio.putArchiveEntry(e);
    cpio.write(data);
    cpio.closeArchiveEntry();
  }
}
