package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.zip.Deflater;
import java.util.zip.CRC32;
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

  private JobPackage() {}

  /**
   * job.yaml's content: the whole job (internal fields, {@code job2sh} and secrets left out) with
   * the hand-out's {@code job_token}, and where to report and upload: {@code services},
   * {@code LKP_SERVER}, {@code LKP_CGI_PORT}, {@code RESULT_WEBDAV_PORT}, {@code SCHED_HOST} and
   * {@code SCHED_PORT}, all naming {@code at}.
   */
  public static ObjectNode jobYaml(ObjectNode job, String token, Endpoint at) {
    return jobYamlInPlace(job.deepCopy(), token, at);
  }

  private static ObjectNode jobYamlInPlace(ObjectNode out, String token, Endpoint at) {
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
    return buildOwned(job.deepCopy(), token, at, secrets, mtimeSeconds);
  }

  /** The same, for a document the caller hands over: it is changed into job.yaml's content. */
  public static byte[] buildOwned(ObjectNode job, String token, Endpoint at, JsonNode secrets, long mtimeSeconds) {
    JsonNode job2sh = job.get("job2sh");
    ObjectNode yaml = jobYamlInPlace(job, token, at);
    String script = JobScript.render(yaml, job2sh);
    byte[] secretsYaml = secrets == null || secrets.isNull() ? null
        : secrets.isObject() ? JobYaml.write((ObjectNode) secrets) : null;
    return pack(JobYaml.write(yaml), script.getBytes(StandardCharsets.UTF_8), secretsYaml, mtimeSeconds);
  }

  /** The archive itself: cpio newc in memory, then gzip (fastest level: the files are a few KB). */
  static byte[] pack(byte[] jobYaml, byte[] jobSh, byte[] secretsYaml, long mtimeSeconds) {
    ByteArrayOutputStream raw = new ByteArrayOutputStream(1024 + jobYaml.length + jobSh.length
        + (secretsYaml == null ? 0 : secretsYaml.length + 128));
    try (CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(raw, CpioConstants.FORMAT_NEW,
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
    return gzip(raw.toByteArray());
  }

  /** One deflater per thread, reset for each package: making one costs more than a package's deflating. */
  private static final ThreadLocal<Deflater> DEFLATER =
      ThreadLocal.withInitial(() -> new Deflater(Deflater.BEST_SPEED, true));

  /** RFC 1952: header, raw deflate, CRC-32 and length. */
  static byte[] gzip(byte[] data) {
    Deflater d = DEFLATER.get();
    d.reset();
    d.setInput(data);
    d.finish();
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length / 2 + 64);
    out.write(GZIP_HEADER, 0, GZIP_HEADER.length);
    byte[] buf = new byte[4096];
    while (!d.finished()) {
      int n = d.deflate(buf);
      out.write(buf, 0, n);
    }
    CRC32 crc = new CRC32();
    crc.update(data);
    writeIntLE(out, (int) crc.getValue());
    writeIntLE(out, data.length);
    return out.toByteArray();
  }

  /** Magic, deflate, no flags, no time, fastest, Unix. */
  private static final byte[] GZIP_HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 4, 3};

  private static void writeIntLE(ByteArrayOutputStream out, int v) {
    out.write(v & 0xff);
    out.write((v >>> 8) & 0xff);
    out.write((v >>> 16) & 0xff);
    out.write((v >>> 24) & 0xff);
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
