package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.compassci.sched.model.Json;

/**
 * The data of {@code scripts/bench.sh boot}; wrk and curl do the HTTP.
 *
 * <pre>
 *   BootBenchDriver DIR   DIR/hosts/bmb--NNNN   1,000 lab files (one MAC each, x86_64, 512G)
 *                         DIR/macs.lua          their MACs as iPXE's ${mac:hexhyp} spells them
 *                         DIR/fill/NNN.json     200 JSON arrays of 500 hardware jobs of ~1 KB
 *                                               (any box of group bmb fits any of them)
 * </pre>
 */
public final class BootBenchDriver {

  static final int BOXES = 1_000;
  static final int BATCH = 500;
  static final int FILL_BATCHES = 200;
  static final int TENANTS = 40;

  private BootBenchDriver() {}

  static String mac(int i) {
    return String.format("02-00-00-00-%02x-%02x", i >> 8, i & 0xff);
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: BootBenchDriver DIR");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    Path hosts = Files.createDirectories(dir.resolve("hosts"));
    StringBuilder lua = new StringBuilder("return {\n");
    for (int i = 0; i < BOXES; i++) {
      Files.writeString(hosts.resolve(String.format("bmb--%04d", i)),
          "mac_addr: " + mac(i).replace('-', ':') + "\narch: x86_64\nmemory: 512G\nnr_cpu: 64\ntags: [rack=r0]\n");
      lua.append("  \"").append(mac(i)).append("\",\n");
    }
    Files.writeString(dir.resolve("macs.lua"), lua.append("}\n"));

    Path fill = Files.createDirectories(dir.resolve("fill"));
    Random r = new Random(1);
    long bytes = 0;
    for (int b = 0; b < FILL_BATCHES; b++) {
      ArrayNode batch = Json.MAPPER.createArrayNode();
      for (int i = 0; i < BATCH; i++) {
        ObjectNode j = batch.addObject();
        j.put("suite", "hackbench").put("category", "benchmark").put("testbox", "bmb").put("arch", "x86_64")
            .put("my_account", "user" + (int) Math.floor(Math.pow(r.nextDouble(), 2) * TENANTS))
            .put("os", "openeuler").put("os_arch", "x86_64").put("os_version", "22.03-LTS")
            .put("os_mount", "initramfs").put("kernel_custom_params", "rdinit=/sbin/init prompt_ramdisk=0")
            .put("memory", (8 << r.nextInt(4)) + "G").put("runtime", 300).put("nr_threads", 1 + r.nextInt(64))
            .put("commit", Long.toHexString(r.nextLong()) + Long.toHexString(r.nextLong()))
            .put("comment", "bench job " + b + "/" + i + " with a value that must stay quoted: it's $HOME");
        j.putObject("program").putObject("hackbench").put("mode", r.nextBoolean() ? "threads" : "process")
            .put("ipc", r.nextBoolean() ? "pipe" : "socket").put("loops", 10_000);
        j.putObject("monitor").putNull("vmstat").putNull("meminfo");
        j.putObject("setup").putObject("cpufreq_governor").put("governor", "performance");
        j.putArray("tags").add("rack=r" + r.nextInt(1));
        // about 1 KB in all, as Compass-CI jobs are
        j.put("kconfig", "x86_64-rhel-8.3").put("compiler", "gcc-12").put("rootfs", "openeuler-22.03-LTS-x86_64")
            .put("description", "hackbench on a bare-metal box; ".repeat(8 + r.nextInt(4)));
      }
      byte[] out = Json.bytes(batch);
      bytes += out.length;
      Files.write(fill.resolve(String.format("%03d.json", b)), out);
    }
    try (Writer w = Files.newBufferedWriter(dir.resolve("README"), StandardCharsets.UTF_8)) {
      w.write(BOXES + " lab hosts, " + FILL_BATCHES * BATCH + " jobs of about "
          + bytes / (FILL_BATCHES * BATCH) + " bytes\n");
    }
    System.err.println("bench: " + BOXES + " lab hosts, " + FILL_BATCHES * BATCH + " hardware jobs of about "
        + bytes / (FILL_BATCHES * BATCH) + " bytes in " + dir);
  }
}
