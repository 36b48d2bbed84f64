package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;
import org.compassci.sched.fixtures.HttpCalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance (b): a real firmware boot. QEMU's iPXE (ipxe-qemu) boots from QEMU's user-mode
 * network; its TFTP script is the lab's loop that chains to the scheduler by MAC (the guest
 * reaches the host's loopback as 10.0.2.2). The boot answer has the guest fetch Debian's
 * kernel and an initrd made here from busybox-static, plus the job.cgz. The initrd's init sources
 * /lkp/scheduled/job.sh, reports running, uploads its results with busybox wget, reports
 * finished and lkp-post-run, and powers off. KVM is used when it works here, TCG otherwise.
 */
class QemuBootTest {

  static final String V1 = "/scheduler/v1";
  static final String MAC = "52:54:00:12:34:56";

  @TempDir Path dir;

  /** The box's init: what lkp-tests would do, with busybox alone. */
  static final String INIT = """
      #!/bin/busybox sh
      /bin/busybox --install -s /bin
      export PATH=/bin
      mount -t proc proc /proc
      mount -t sysfs sys /sys
      mount -t devtmpfs dev /dev 2>/dev/null
      echo "box: init up, kernel $(uname -r)"
      insmod /e1000.ko
      ip link set lo up
      ip link set eth0 up
      ip addr add 10.0.2.15/24 dev eth0
      ip route add default via 10.0.2.2
      # the kernel hands its unknown parameters (rootovl, ro) to init as arguments: not to job.sh's "$@"
      set --
      . /lkp/scheduled/job.sh
      export_top_env
      echo "box: job $id reports to $LKP_SERVER:$LKP_CGI_PORT"
      cgi="http://$LKP_SERVER:$LKP_CGI_PORT/~lkp/cgi-bin"
      up="http://$LKP_SERVER:$RESULT_WEBDAV_PORT$result_root"
      wget -q -O - "$cgi/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id=$id&job_state=running"
      echo "booted $(uname -r) as job $id" > /tmp/boot.log
      printf '{"boot.seconds": %s}' "$(cut -d' ' -f1 /proc/uptime)" > /tmp/stats.json
      wget -q -O - --post-file /tmp/boot.log "$up/boot.log?job_id=$id&job_token=$job_token"
      wget -q -O - --post-file /tmp/stats.json "$up/stats.json?job_id=$id&job_token=$job_token"
      wget -q -O - "$cgi/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id=$id&job_state=finished"
      wget -q -O - "$cgi/lkp-post-run?job_file=/lkp/scheduled/job.yaml&job_id=$id"
      echo "box: done, powering off"
      poweroff -f
      """;

  /** The lab's TFTP script (DOMAIN.md), pointing at this scheduler. */
  static String tftpScript(int port) {
    return "#!ipxe\n"
        + "set scheduler 10.0.2.2\n"
        + "set port " + port + "\n"
        + ":retry_boot\n"
        + "chain http://${scheduler}:${port}/boot.ipxe/mac/${mac:hexhyp}?arch=${buildarch}&hostname=${hostname}"
        + "&ip=${net0/ip}&sched_host=${scheduler}&sched_port=${port} || goto failed\n"
        + ":failed\n"
        + "echo get job failed...\n"
        + "sleep 3\n"
        + "goto retry_boot\n";
  }

  @Test
  void aQemuBoxBootsByIpxeRunsTheJobAndUploads() throws Exception {
    Tools.require("qemu-system-x86 ipxe-qemu linux-image-amd64 busybox-static",
        "qemu-system-x86_64", "/usr/lib/ipxe/qemu/efi-e1000.rom", "/bin/busybox", "/usr/share/seabios/bios-256k.bin");
    Path kernel = debianKernel();
    String version = kernel.getFileName().toString().substring("vmlinuz-".length());
    Path e1000 = Path.of("/lib/modules", version, "kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
    Tools.require("linux-image-amd64", e1000.toString());

    long started = System.nanoTime();
    Path files = Files.createDirectories(dir.resolve("files"));
    Files.copy(kernel, files.resolve("vmlinuz"));
    Files.write(files.resolve("initrd.cgz"), initrd(Files.readAllBytes(Path.of("/bin/busybox")), Files.readAllBytes(e1000)));
    HttpServer fileServer = serve(files);
    Path lab = Files.createDirectories(dir.resolve("hosts"));
    Files.writeString(lab.resolve("qemu-box--1"), "mac_addr: " + MAC + "\narch: x86_64\nmemory: 2G\n");
    Path tftp = Files.createDirectories(dir.resolve("tftp"));
    Path console = dir.resolve("console.log");
    try (TestServer server = TestServer.start(dir.resolve("server"), Map.of("scheduler.lab.hosts-dir", lab.toString(),
        "scheduler.extract.results-dir", dir.resolve("results").toString()))) {
      HttpCalls http = server.http;
      for (int i = 0; i < 100 && http.get(V1 + "/hosts/qemu-box--1").status() != 200; i++) {
        Thread.sleep(50);
      }
      int fs = fileServer.getAddress().getPort();
      JsonNode submitted = http.post(V1 + "/jobs/submit", "{\"suite\":\"qemu-boot\",\"testbox\":\"qemu-box--1\","
          + "\"arch\":\"x86_64\",\"my_account\":\"ci\",\"kernel_uri\":\"http://10.0.2.2:" + fs + "/vmlinuz\","
          + "\"initrds_uri\":[\"http://10.0.2.2:" + fs + "/initrd.cgz\"],\"kernel_custom_params\":\"panic=-1\"}").json().get(0);
      String id = submitted.path("job_id").asText();
      Files.writeString(tftp.resolve("boot.ipxe"), tftpScript(server.port()));

      boolean kvm = kvmUsable();
      int exit = qemu(kvm, tftp, console);
      if (kvm && !Files.readString(console).contains("box: done")) {
        // /dev/kvm opens, but the guest does not get through on it here (nested virtualisation can
        // stop QEMU, or fault the firmware into a reset, which -no-reboot ends): TCG then
        System.out.println("QemuBootTest: no boot on KVM (exit " + exit + "), again with TCG");
        kvm = false;
        exit = qemu(false, tftp, console);
      }
      String log = Files.readString(console).replaceAll("\u001b\\[[0-9;]*[A-Za-z]", "");
      String tail = log.substring(Math.max(0, log.length() - 3000));
      assertEquals(0, exit, "QEMU exit code; the console ends with:\n" + tail);
      assertTrue(log.contains("iPXE"), "booted through iPXE:\n" + tail);
      assertTrue(log.contains("box: done, powering off"), tail);
      assertFalse(log.contains("not found"), "job.sh ran cleanly:\n" + tail);

      JsonNode done = Tools.awaitDataComplete(http, id);
      assertEquals("finish", done.path("job_stage").asText(), done.toString());
      assertEquals("success", done.path("job_health").asText(), done.toString());
      assertEquals("complete", done.path("job_data_readiness").asText(), done.toString());
      assertEquals("qemu-box--1", done.path("host_machine").asText());
      Instant last = Instant.EPOCH;
      for (String stage : List.of("submit_time", "dispatch_time", "boot_time", "running_time", "finish_time")) {
        Instant at = Instant.parse(done.path(stage).asText());
        assertFalse(at.isBefore(last), stage + " after the stage before it: " + done);
        last = at;
      }
      assertTrue(done.path("stats").path("boot.seconds").asDouble() > 0, done.toString());
      Path folder = dir.resolve("results").resolve(submitted.path("result_root").asText().substring("/result/".length()));
      String uploaded = Files.readString(folder.resolve("boot.log"));
      assertTrue(uploaded.startsWith("booted " + version + " as job " + id), uploaded);
      System.out.printf("QemuBootTest: %s, firmware to power-off and checks in %.1f s%n",
          kvm ? "KVM" : "TCG", (System.nanoTime() - started) / 1e9);
      Tools.awaitQuiet(dir.resolve("server"));
    } finally {
      fileServer.stop(0);
    }
  }

  /** Debian's newest amd64 kernel in /boot. */
  static Path debianKernel() throws IOException {
    try (Stream<Path> boot = Files.list(Path.of("/boot"))) {
      List<Path> kernels = new ArrayList<>(boot.filter(p -> p.getFileName().toString().matches("vmlinuz-.*-amd64"))
          .filter(Files::isReadable).toList());
      Tools.require("linux-image-amd64", kernels.isEmpty() ? "/boot/vmlinuz-*-amd64" : kernels.get(0).toString());
      kernels.sort(Comparator.comparing(Path::toString));
      return kernels.get(kernels.size() - 1);
    }
  }

  /** /dev/kvm can be opened for reading and writing. */
  static boolean kvmUsable() {
    Path kvm = Path.of("/dev/kvm");
    return Files.isReadable(kvm) && Files.isWritable(kvm);
  }

  /** Runs QEMU to its end (the guest powers off), at most 5 minutes; its exit code. */
  int qemu(boolean kvm, Path tftp, Path console) throws Exception {
    Files.deleteIfExists(console);
    List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64"));
    if (kvm) {
      cmd.add("-enable-kvm");
    }
    cmd.addAll(List.of("-machine", "pc,graphics=off", "-m", "512", "-display", "none", "-no-reboot",
        "-boot", "n", "-nic", "user,model=e1000,mac=" + MAC + ",tftp=" + tftp + ",bootfile=boot.ipxe",
        "-serial", "file:" + console, "-monitor", "none"));
    Process q = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("qemu.out").toFile()).start();
    try {
      if (!q.waitFor(300, TimeUnit.SECONDS)) {
        throw new AssertionError("QEMU ran for 5 minutes; the console ends with:\n" + tailOf(console));
      }
      return q.exitValue();
    } finally {
      q.destroyForcibly();
      q.waitFor(10, TimeUnit.SECONDS);
    }
  }

  static String tailOf(Path f) throws IOException {
    String s = Files.exists(f) ? Files.readString(f) : "";
    return s.substring(Math.max(0, s.length() - 3000));
  }

  /** gzip of a newc cpio: /init, /bin/busybox, /e1000.ko, /dev/console and the folders init mounts on. */
  static byte[] initrd(byte[] busybox, byte[] e1000) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(new GZIPOutputStream(out), CpioConstants.FORMAT_NEW)) {
      long ino = 1;
      for (String d : List.of("bin", "dev", "proc", "sys", "tmp")) {
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, d, 0);
        e.setMode(CpioConstants.C_ISDIR | 0755);
        e.setNumberOfLinks(2);
        e.setInode(ino++);
        cpio.putArchiveEntry(e);
        cpio.closeArchiveEntry();
      }
      CpioArchiveEntry c = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, "dev/console", 0);
      c.setMode(CpioConstants.C_ISCHR | 0600);
      c.setRemoteDeviceMaj(5);
      c.setRemoteDeviceMin(1);
      c.setNumberOfLinks(1);
      c.setInode(ino++);
      cpio.putArchiveEntry(c);
      cpio.closeArchiveEntry();
      for (Object[] f : new Object[][] {{"init", INIT.getBytes(StandardCharsets.UTF_8)}, {"bin/busybox", busybox},
          {"e1000.ko", e1000}}) {
        byte[] data = (byte[]) f[1];
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, (String) f[0], data.length);
        e.setMode(CpioConstants.C_ISREG | 0755);
        e.setNumberOfLinks(1);
        e.setInode(ino++);
        cpio.putArchiveEntry(e);
        cpio.write(data);
        cpio.closeArchiveEntry();
      }
    }
    return out.toByteArray();
  }

  /** The lab's file server for the kernel and the initrd, on the host's loopback (10.0.2.2 in the guest). */
  static HttpServer serve(Path files) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    s.createContext("/", exchange -> {
      Path f = files.resolve(exchange.getRequestURI().getPath().substring(1)).normalize();
      if (!f.startsWith(files) || !Files.isRegularFile(f)) {
        exchange.sendResponseHeaders(404, -1);
        exchange.close();
        return;
      }
      exchange.sendResponseHeaders(200, Files.size(f));
      try (OutputStream o = exchange.getResponseBody()) {
        Files.copy(f, o);
      }
    });
    s.start();
    return s;
  }
}
