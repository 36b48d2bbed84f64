package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.compassci.sched.boot.ResultPaths;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.fixtures.RawHttp;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bare-metal boxes over real HTTP: boot by MAC, the package, uploads and the lkp-tests calls. */
class BootRoutesTest {

  static final String V1 = "/scheduler/v1";
  static final String MAC = "52:54:00:12:34:56";
  static final String HEXHYP = "52-54-00-12-34-56";
  static final Pattern PACKAGE = Pattern.compile("initrd (http://127\\.0\\.0\\.1:\\d+(/scheduler/v1/packages/[^/]+/job\\.cgz))");

  @TempDir Path dir;
  Path lab;
  TestServer server;
  HttpCalls http;
  RawHttp raw;

  @BeforeEach
  void start() throws Exception {
    lab = Files.createDirectories(dir.resolve("lab/hosts"));
    Files.writeString(lab.resolve("bm1--a1"), "mac_addr: " + MAC + "\narch: x86_64\nmemory: 8G\nnr_cpu: 2\n");
    server = TestServer.start(dir, Map.of("scheduler.lab.hosts-dir", lab.toString(),
        "scheduler.results.max-file-size", "64KiB", "scheduler.results.max-job-size", "100KiB"));
    http = server.http;
    raw = new RawHttp(server.port());
    // the lab folder is read as the hosts actor starts: wait until the box is known
    for (int i = 0; i < 100 && http.get(V1 + "/hosts/bm1--a1").status() != 200; i++) {
      Thread.sleep(50);
    }
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
  }

  String submit(String extra) {
    Answer a = http.post(V1 + "/jobs/submit", "{\"suite\":\"boot-test\",\"testbox\":\"bm1--a1\",\"arch\":\"x86_64\","
        + "\"my_account\":\"alice\"" + extra + "}");
    assertEquals(200, a.status(), a.body());
    return a.json().get(0).path("job_id").asText();
  }

  static final String KERNEL = ",\"kernel_uri\":\"http://10.0.2.2:8000/vmlinuz\"";

  String boot(String query) {
    return "/boot.ipxe/mac/" + HEXHYP + "?arch=x86_64&sched_host=127.0.0.1&sched_port=" + server.port() + query;
  }

  JsonNode job(String id) {
    return http.get(V1 + "/jobs/" + id).json();
  }

  static Map<String, byte[]> unpack(byte[] cgz) throws Exception {
    Map<String, byte[]> out = new HashMap<>();
    try (CpioArchiveInputStream in = new CpioArchiveInputStream(new GZIPInputStream(new ByteArrayInputStream(cgz)))) {
      CpioArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.put(e.getName(), in.readAllBytes());
      }
    }
    return out;
  }

  /**
   * Two legacy calls without a token, the first moving the job to running before its box has its
   * package, the second overwriting what the job exports: the package is made from what the job
   * was submitted with all the same.
   */
  @Test
  void aJobMovedOnBeforeItsPackageIsFetchedStillGetsItsOwnPackage() throws Exception {
    String id = submit(KERNEL + ",\"http_proxy\":\"http://proxy.lab:3128\"");
    RawHttp.Reply script = raw.get(boot(""));
    assertEquals(200, script.status(), script.text());
    assertEquals(200, http.get("/~lkp/cgi-bin/set-job-stage?job_id=" + id + "&job_stage=running").status());
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_id=" + id
        + "&http_proxy=http://evil.example:3128").status());
    assertEquals("http://evil.example:3128", job(id).path("http_proxy").asText(), "recorded, as reports are");
    Matcher m = PACKAGE.matcher(script.text());
    assertTrue(m.find(), script.text());
    RawHttp.Reply pkg = raw.get(m.group(2));
    assertEquals(200, pkg.status(), pkg.text());
    Map<String, byte[]> files = unpack(pkg.body());
    String sh = new String(files.get("lkp/scheduled/job.sh"), StandardCharsets.UTF_8);
    assertFalse(sh.contains("evil.example"), sh);
    assertTrue(sh.contains("proxy.lab:3128"), sh);
    assertFalse(new String(files.get("lkp/scheduled/job.yaml"), StandardCharsets.UTF_8).contains("evil.example"));
  }

  @Test
  void aBoxBootsByMacGetsItsPackageOnceAndTheJobMovesToBoot() throws Exception {
    String id = submit(KERNEL + ",\"secrets\":{\"api_key\":\"k-123\"},\"program\":{\"hackbench\":{\"nr_threads\":2}}");
    assertFalse(http.get(V1 + "/jobs/" + id).body().contains("k-123"), "secrets are never answered");

    RawHttp.Reply script = raw.get(boot(""));
    assertEquals(200, script.status(), script.text());
    String text = script.text();
    assertTrue(text.startsWith("#!ipxe\n\n"), text);
    assertTrue(text.contains("kernel http://10.0.2.2:8000/vmlinuz user=lkp job=/lkp/scheduled/job.yaml"), text);
    assertTrue(text.contains("console=ttyS0,115200 initrd=job.cgz\n"), text);
    assertTrue(text.contains("echo ipxe will boot job id=" + id), text);
    assertEquals("dispatch", job(id).path("job_stage").asText());
    assertEquals("bm1--a1", job(id).path("host_machine").asText());
    // a call without the job's token, before its box has its package: nothing of it gets there
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_id=" + id
        + "&http_proxy=http://evil.example:3128&program=evil&LKP_SERVER=evil.example").status());

    // the box boots again before it fetched its job (the kernel's download broke off, say): one
    // box, one job, so that hand-out goes back to the queue at once (not after the dispatch-ack
    // timeout), counted as lost, and comes back to the box, the only job, in this very answer
    Matcher first = PACKAGE.matcher(text);
    assertTrue(first.find(), text);
    awaitHeld(id);
    RawHttp.Reply again = raw.get("/boot.ipxe/mac/52:54:00:12:34:56?sched_host=127.0.0.1&sched_port=" + server.port());
    assertEquals(200, again.status(), again.text());
    assertTrue(again.text().contains("echo ipxe will boot job id=" + id), again.text());
    assertEquals("dispatch", job(id).path("job_stage").asText());
    assertTrue(job(id).path("last_requeue_reason").asText().contains("booted again"), job(id).toString());
    assertEquals(410, raw.get(first.group(2)).status(), "the hand-out taken back serves nothing");
    text = again.text();

    Matcher m = PACKAGE.matcher(text);
    assertTrue(m.find(), text);
    RawHttp.Reply pkg = raw.get(m.group(2));
    assertEquals(200, pkg.status(), pkg.text());
    assertEquals("application/gzip", pkg.raw().headers().firstValue("Content-Type").orElse(""));
    assertEquals("boot", job(id).path("job_stage").asText(), "the first download moves the job to boot");
    Map<String, byte[]> files = unpack(pkg.body());
    JsonNode yaml = new YAMLMapper().readTree(files.get("lkp/scheduled/job.yaml"));
    assertEquals(id, yaml.path("id").asText());
    String token = yaml.path("job_token").asText();
    assertEquals(32, token.length());
    assertEquals("127.0.0.1", yaml.path("LKP_SERVER").asText());
    assertEquals(Integer.toString(server.port()), yaml.path("RESULT_WEBDAV_PORT").asText());
    assertTrue(new String(files.get("lkp/scheduled/job.sh"), StandardCharsets.UTF_8).contains("nr_threads=2 run_program hackbench"));
    for (String f : List.of("lkp/scheduled/job.yaml", "lkp/scheduled/job.sh")) {
      assertFalse(new String(files.get(f), StandardCharsets.UTF_8).contains("evil"), f);
    }
    assertEquals("k-123", new YAMLMapper().readTree(files.get("lkp/scheduled/secrets.yaml")).path("api_key").asText());
    assertEquals(200, raw.get(m.group(2)).status(), "a retry while booting is served again");
    // a box that booted its job and asks again may have crashed on the job's own kernel: that
    // job stays, for its boot timeout to report, and nothing else is queued
    assertEquals(404, raw.get(boot("")).status());
    assertEquals("boot", job(id).path("job_stage").asText());

    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id=" + id
        + "&job_state=running").status());
    RawHttp.Reply late = raw.get(m.group(2));
    assertEquals(410, late.status(), late.text());
    assertEquals(404, raw.get(V1 + "/packages/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/job.cgz").status());
    assertFalse(http.get(V1 + "/jobs/" + id).body().contains("k-123"));
    assertFalse(http.get(V1 + "/jobs/" + id).body().contains("_secrets"));
  }

  @Test
  void everyBootTypeAndDispatchByMac() throws Exception {
    String native1 = submit(KERNEL + ",\"initrds_uri\":[\"http://10.0.2.2:8000/base.cgz\"]");
    RawHttp.Reply n = raw.get(V1 + "/jobs/dispatch?mac=" + MAC.toUpperCase() + "&boot_type=native&sched_host=10.0.2.2&sched_port=3000");
    assertEquals(200, n.status(), n.text());
    JsonNode initrds = Json.parse(Json.parse(n.body()).path("initrds").asText());
    assertEquals("http://10.0.2.2:8000/base.cgz", initrds.get(0).asText());
    assertTrue(initrds.get(1).asText().startsWith("http://10.0.2.2:3000/scheduler/v1/packages/"));
    // done with it (a box that asks again while it holds a job in dispatch is given that job again)
    finished(native1);
    assertEquals("{\"job_id\":\"0\"}", raw.get(V1 + "/jobs/dispatch?mac=" + MAC + "&boot_type=native").text());

    String libvirt1 = submit(KERNEL);
    RawHttp.Reply l = raw.get("/boot.libvirt/mac/" + HEXHYP);
    assertEquals(200, l.status(), l.text());
    assertEquals("http://10.0.2.2:8000/vmlinuz", Json.parse(l.body()).path("kernel_uri").asText());
    assertEquals("127.0.0.1", Json.parse(l.body()).path("LKP_SERVER").asText(), "the Host header when sched_host is not sent");
    // libvirt's host fetches the package; its guest uploads from an address of its own
    Matcher pm = Pattern.compile("(/scheduler/v1/packages/[^/\"]+/job\\.cgz)").matcher(l.text());
    assertTrue(pm.find(), l.text());
    assertEquals(200, raw.get(pm.group(1)).status());
    assertEquals("*", job(libvirt1).path("box_address").asText(), "fetched by the guest's host");
    assertEquals(201, putFrom("127.0.0.2", job(libvirt1).path("result_root").asText() + "/guest.log",
        "Cookie: JOBID=" + libvirt1));
    finished(libvirt1);
    assertEquals(404, raw.get("/boot.libvirt/mac/" + HEXHYP).status());

    submit(KERNEL);
    RawHttp.Reply g = raw.get("/boot.grub/mac/" + HEXHYP + "?sched_host=h&sched_port=1");
    assertEquals(200, g.status());
    assertTrue(g.text().startsWith("#!grub\n\nlinux (http,10.0.2.2:8000)/vmlinuz user=lkp"), g.text());
    assertTrue(g.text().contains("initrd (http,h:1)/scheduler/v1/packages/"), g.text());
  }

  /**
   * A box that keeps booting again before it fetches its job spends the job's requeues
   * (scheduler.requeue.max, 2): then the job stays, for the dispatch-ack timeout to end it
   * abort_provider, and the box hears "No job now" at once. A job whose own files no box can
   * fetch before its package went round and round.
   */
  @Test
  void aBoxThatKeepsBootingAgainSpendsTheJobsRequeuesOnly() throws Exception {
    String id = submit(KERNEL);
    for (int boot = 0; boot < 3; boot++) {
      RawHttp.Reply r = raw.get(boot(""));
      assertEquals(200, r.status(), "boot " + boot + ": " + r.text());
      assertTrue(r.text().contains("job id=" + id), r.text());
      assertEquals(boot, job(id).path("requeue_count").asInt(), job(id).toString());
      awaitHeld(id);
    }
    long t0 = System.nanoTime();
    RawHttp.Reply last = raw.get(boot(""));
    assertEquals(404, last.status(), last.text());
    assertTrue(System.nanoTime() - t0 < 4_000_000_000L, "nothing goes back: no wait");
    assertEquals("dispatch", job(id).path("job_stage").asText());
    assertEquals(2, job(id).path("requeue_count").asInt());
  }

  /** Until the host registry lists the job as the box's (it hears of a hand-out after the box does). */
  void awaitHeld(String id) throws InterruptedException {
    job(id);
    for (int i = 0; i < 100 && !http.get(V1 + "/hosts/bm1--a1").body().contains("\"" + id + "\""); i++) {
      Thread.sleep(50);
    }
  }

  /** The job's box reports it finished, as lkp-tests does. */
  void finished(String id) {
    for (String call : List.of("lkp-jobfile-append-var?job_state=running", "lkp-jobfile-append-var?job_state=finished",
        "lkp-post-run?job_file=/lkp/scheduled/job.yaml")) {
      assertEquals(200, http.get("/~lkp/cgi-bin/" + call + "&job_id=" + id).status(), call);
    }
    assertEquals("finish", job(id).path("job_stage").asText());
  }

  @Test
  void unknownMacsBadMacsAndBadTypes() {
    RawHttp.Reply unknown = raw.get("/boot.ipxe/mac/02-00-00-00-00-01?sched_host=10.0.2.2&sched_port=3000");
    assertEquals(404, unknown.status());
    assertTrue(unknown.text().contains("chain http://10.0.2.2:3000/boot.ipxe/mac/${mac:hexhyp}"), unknown.text());
    for (String bad : List.of("/boot.ipxe/mac/52-54-00", "/boot.ipxe/mac/zz-54-00-12-34-56", "/boot.pxe/mac/" + HEXHYP,
        "/boot.ipxe/mac/" + HEXHYP + "?wait=99", "/boot.ipxe/mac/" + HEXHYP + "?sched_port=0",
        "/boot.ipxe/mac/" + HEXHYP + "?sched_host=a%0Achain", V1 + "/jobs/dispatch?mac=1&boot_type=ipxe",
        V1 + "/jobs/dispatch?mac=" + MAC + "&boot_type=efi")) {
      RawHttp.Reply r = raw.get(bad);
      assertEquals(400, r.status(), bad + ": " + r.text());
      assertEquals(1, r.text().strip().lines().count(), r.text());
    }
  }

  @Test
  void aJobThatCannotBootEndsAbortInvalidOnce() throws Exception {
    String id = submit("");
    RawHttp.Reply r = raw.get(boot(""));
    assertEquals(404, r.status(), r.text());
    JsonNode j = job(id);
    assertEquals("abort_invalid", j.path("job_stage").asText());
    assertTrue(j.path("abort_reason").asText().contains("no kernel"), j.toString());
    assertEquals(404, raw.get(boot("")).status(), "never handed out again");
    String ok = submit(KERNEL);
    assertEquals(200, raw.get(boot("")).status());
    assertEquals("dispatch", job(ok).path("job_stage").asText());
  }

  @Test
  void waitParksTheBoxUntilAJobComes() throws Exception {
    CompletableFuture<RawHttp.Reply> parked = CompletableFuture.supplyAsync(() -> raw.get(boot("&wait=20")));
    // the box is parked in the matcher: a job submitted now goes to it
    for (int i = 0; i < 100 && http.get(V1 + "/manage/matcher").json().path("parked").asInt() == 0; i++) {
      Thread.sleep(50);
    }
    String id = submit(KERNEL);
    RawHttp.Reply r = parked.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(200, r.status(), r.text());
    assertTrue(r.text().contains("job id=" + id));
  }

  @Test
  void registeredAndReloadedMacs() throws Exception {
    assertEquals(200, http.post(V1 + "/hosts/bm2--b1?arch=x86_64&mac_addr=AA-BB-CC-00-11-22&memory=4096", "").status());
    assertEquals(400, http.post(V1 + "/hosts/bm3?mac_addr=nope", "").status());
    String id = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"bm2\"" + KERNEL + "}").json().get(0).path("job_id").asText();
    RawHttp.Reply r = raw.get("/boot.ipxe/mac/aa:bb:cc:00:11:22");
    assertEquals(200, r.status(), r.text());
    assertTrue(r.text().contains("job id=" + id));

    Files.writeString(lab.resolve("bm9--z"), "mac_addr: [\"02:00:00:00:00:09\"]\narch: x86_64\n");
    Files.delete(lab.resolve("bm1--a1"));
    Answer reload = http.post(V1 + "/manage/hosts/reload", "");
    assertEquals(200, reload.status(), reload.body());
    assertEquals(1, reload.json().path("hosts").asInt());
    assertEquals(404, http.get(V1 + "/hosts/bm1--a1").status(), "gone from the folder, gone from the lab");
    String id9 = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"bm9\"" + KERNEL + "}").json().get(0).path("job_id").asText();
    assertTrue(raw.get("/boot.ipxe/mac/02-00-00-00-00-09").text().contains("job id=" + id9));
    assertEquals(404, raw.get(boot("")).status(), "the old MAC is unknown now");
  }

  /** Boots the job and downloads its package; answers its job.yaml. */
  JsonNode booted(String id) throws Exception {
    RawHttp.Reply script = raw.get(boot(""));
    assertEquals(200, script.status(), script.text());
    Matcher m = PACKAGE.matcher(script.text());
    assertTrue(m.find());
    return new YAMLMapper().readTree(unpack(raw.get(m.group(2)).body()).get("lkp/scheduled/job.yaml"));
  }

  @Test
  void uploadsInBothShapesWithEveryRefusal() throws Exception {
    String id = submit(KERNEL);
    JsonNode yaml = booted(id);
    String root = yaml.path("result_root").asText();
    String token = yaml.path("job_token").asText();
    String cookie = "JOBID=" + id;
    byte[] one = "hello\n".getBytes();

    assertEquals(201, raw.send("MKCOL", root + "/sub/", null, "Cookie", cookie).status());
    assertEquals(409, raw.send("MKCOL", root + "/sub/", null, "Cookie", cookie).status(), "it exists");
    assertEquals(201, raw.send("PUT", root + "/sub/a.log", one, "Cookie", cookie).status());
    assertEquals(201, raw.send("PUT", root + "/deep/er/b.log", one, "Cookie", cookie).status());
    assertEquals(200, raw.send("POST", root + "/stats.json?job_id=" + id + "&job_token=" + token,
        "{\"x\":1}".getBytes()).status());
    Path folder = dir.resolve("results").resolve(root.substring("/result/".length()));
    assertEquals("hello\n", Files.readString(folder.resolve("sub/a.log")));
    // as a folder is: the results' web server and tools run as other users (it used to be 0600,
    // the staging file's mode, which the link into place keeps)
    // (rw-r--r-- less the umask, which a file made here shows)
    java.util.Set<java.nio.file.attribute.PosixFilePermission> expected =
        Files.getPosixFilePermissions(Files.createFile(dir.resolve("umask-probe")));
    expected.retainAll(java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    for (String stored : List.of("sub/a.log", "stats.json")) {
      assertEquals(expected, Files.getPosixFilePermissions(folder.resolve(stored)), stored);
    }

    assertEquals(409, raw.send("PUT", root + "/sub/a.log", "other".getBytes(), "Cookie", cookie).status());
    assertEquals("hello\n", Files.readString(folder.resolve("sub/a.log")), "never overwritten");
    assertEquals(401, raw.send("PUT", root + "/x", one).status());
    assertEquals(401, raw.send("POST", root + "/x?job_id=" + id, one).status());
    assertEquals(401, raw.send("PUT", root + "/x", one, "Cookie", "JOBID=99999").status());
    assertEquals(403, raw.send("POST", root + "/x?job_id=" + id + "&job_token=0000", one).status());
    for (String p : List.of("/../x", "/%2e%2e/x", "//etc/passwd", "/a%00b", "/a%2Fb")) {
      RawHttp.Reply r = raw.send("PUT", root + p, one, "Cookie", cookie);
      assertTrue(r.status() == 403 || r.status() == 400, p + " -> " + r.status() + " " + r.text());
    }
    String other = root.substring(0, root.lastIndexOf('/') + 1) + "1";
    assertEquals(403, raw.send("PUT", other + "/x", one, "Cookie", cookie).status());
    Files.createSymbolicLink(folder.resolve("link"), dir);
    assertEquals(403, raw.send("PUT", root + "/link/x", one, "Cookie", cookie).status());
    assertFalse(Files.exists(dir.resolve("x")));
    assertEquals(413, raw.send("PUT", root + "/big", new byte[70 * 1024], "Cookie", cookie).status());
    assertEquals(201, raw.send("PUT", root + "/c1", new byte[60 * 1024], "Cookie", cookie).status());
    assertEquals(413, raw.send("PUT", root + "/c2", new byte[60 * 1024], "Cookie", cookie).status(), "the job's limit");
    assertFalse(Files.exists(folder.resolve("big")) || Files.exists(folder.resolve("c2")));
    // a path too deep or too long is refused before any folder of it is made
    String tooDeep = "/d".repeat(ResultPaths.MAX_DEPTH) + "/";
    assertEquals(403, raw.send("MKCOL", root + tooDeep, null, "Cookie", cookie).status());
    String tooLong = ("/" + "n".repeat(250)).repeat(7);
    assertEquals(403, raw.send("PUT", root + tooLong, one, "Cookie", cookie).status());
    assertFalse(Files.exists(folder.resolve("d")) || Files.exists(folder.resolve("n".repeat(250))));
    // each file and folder counts a block against the job's limit: empty ones are not free
    int made = 0;
    int status = 201;
    for (int i = 0; i < 100 && status == 201; i++) {
      status = raw.send(i % 2 == 0 ? "PUT" : "MKCOL", root + "/e" + i + (i % 2 == 0 ? "" : "/"),
          i % 2 == 0 ? new byte[0] : null, "Cookie", cookie).status();
      made += status == 201 ? 1 : 0;
    }
    assertEquals(413, status, "the job's limit, reached with empty files and folders");
    assertTrue(made < 10, made + " made");

    JsonNode done = postRunUntilComplete(id);
    assertEquals(1, done.path("stats").path("x").asInt());
    assertEquals(423, raw.send("PUT", root + "/late", one, "Cookie", cookie).status());
    assertEquals(423, raw.send("POST", root + "/late?job_id=" + id + "&job_token=" + token, one).status());
    try (var left = Files.list(dir.resolve("results/.incoming"))) {
      assertEquals(0, left.count(), "no staging file left");
    }
  }

  /**
   * The folders an upload makes on the way count against the job's limit as the file does: deep
   * paths of empty files are no way round it (each request would otherwise make dozens of folders
   * for the price of one entry).
   */
  @Test
  void foldersMadeOnTheWayCountAgainstTheJobsLimit() throws Exception {
    String id = submit(KERNEL);
    JsonNode yaml = booted(id);
    String root = yaml.path("result_root").asText();
    String cookie = "JOBID=" + id;
    String deep = "/a/b/c/d/e/f/g/h/i/j";
    int made = 0;
    int status = 201;
    for (int i = 0; i < 50 && status == 201; i++) {
      status = raw.send("PUT", root + "/x" + i + deep + "/f", new byte[0], "Cookie", cookie).status();
      made += status == 201 ? 1 : 0;
    }
    assertEquals(413, status, "the job's limit (100 KiB), reached with empty files 11 folders deep");
    assertTrue(made <= 3, made + " made");
  }

  /**
   * An upload whose job's data is complete before its body is in is refused (423) and not
   * stored: its permit was only checked as it began, and the file landed (201) in a folder whose
   * statistics were already taken, after the rule that complete data takes no more.
   */
  @Test
  void anUploadUnderWayWhenTheJobsDataIsCompleteIsNotStored() throws Exception {
    String id = submit(KERNEL);
    String root = booted(id).path("result_root").asText();
    String cookie = "JOBID=" + id;
    Path folder = dir.resolve("results").resolve(root.substring("/result/".length()));
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("stats.json"), "{\"x\": 1}");
    Path incoming = dir.resolve("results/.incoming");
    try (java.net.Socket late = new java.net.Socket("127.0.0.1", server.port())) {
      java.io.OutputStream out = beginPut(late, root + "/late.log", cookie, "Content-Length: 2048");
      out.write(new byte[1024]);
      out.flush();
      for (int i = 0; i < 200 && (!Files.isDirectory(incoming) || isEmpty(incoming)); i++) {
        Thread.sleep(20);
      }
      assertFalse(isEmpty(incoming), "the upload is under way");
      postRunUntilComplete(id);
      out.write(new byte[1024]);
      out.flush();
      assertEquals("HTTP/1.1 423", statusLine(late));
    }
    assertFalse(Files.exists(folder.resolve("late.log")), "not stored after the data was complete");
  }

  /**
   * Uploads of one job at once: the bytes one declares are set aside as it starts, so a second
   * that would take the job past its limit with it is refused before a byte of its body is read
   * (before, each streamed its whole body to the disk, and the later to finish got the 413).
   */
  @Test
  void anUploadUnderWaySetsItsDeclaredBytesAside() throws Exception {
    String id = submit(KERNEL);
    String root = booted(id).path("result_root").asText();
    String cookie = "JOBID=" + id;
    Path incoming = dir.resolve("results/.incoming");
    try (java.net.Socket first = new java.net.Socket("127.0.0.1", server.port())) {
      java.io.OutputStream out = beginPut(first, root + "/first", cookie, "Content-Length: " + 60 * 1024);
      out.write(new byte[1024]);
      out.flush();
      for (int i = 0; i < 200 && (!Files.isDirectory(incoming) || isEmpty(incoming)); i++) {
        Thread.sleep(20);
      }
      assertFalse(isEmpty(incoming), "the first upload is under way");
      Thread.sleep(200);

      RawHttp.Reply second = raw.send("PUT", root + "/second", new byte[60 * 1024], "Cookie", cookie);
      assertEquals(413, second.status(), second.text());
      assertTrue(second.text().contains("set aside"), second.text());

      out.write(new byte[59 * 1024]);
      out.flush();
      String head = statusLine(first);
      assertEquals("HTTP/1.1 201", head);
    }
    Path folder = dir.resolve("results").resolve(root.substring("/result/".length()));
    assertEquals(60 * 1024, Files.size(folder.resolve("first")));
    assertFalse(Files.exists(folder.resolve("second")));
    assertEquals(201, raw.send("PUT", root + "/third", new byte[30 * 1024], "Cookie", cookie).status(),
        "what is left after the first");
  }

  /**
   * A body in chunks declares no length, so its bytes are set aside as they come: while one such
   * upload is under way, a second upload cannot take what the first has received. Before, the
   * first held nothing, the second (54 KiB) was stored, and the first was refused at its end.
   */
  @Test
  void anUploadInChunksSetsItsBytesAsideAsTheyCome() throws Exception {
    String id = submit(KERNEL);
    String root = booted(id).path("result_root").asText();
    String cookie = "JOBID=" + id;
    Path incoming = dir.resolve("results/.incoming");
    try (java.net.Socket first = new java.net.Socket("127.0.0.1", server.port())) {
      java.io.OutputStream out = beginPut(first, root + "/first", cookie, "Transfer-Encoding: chunked");
      chunk(out, 40 * 1024);
      for (int i = 0; i < 200 && staged(incoming) < 40 * 1024; i++) {
        Thread.sleep(20);
      }
      assertEquals(40 * 1024, staged(incoming), "the first upload's 40 KiB are on the disk");

      // 100 KiB a job: the first holds 40 KiB or more, and 4 KiB for each entry
      RawHttp.Reply second = raw.send("PUT", root + "/second", new byte[54 * 1024], "Cookie", cookie);
      assertEquals(413, second.status(), second.text());
      assertTrue(second.text().contains("set aside"), second.text());

      chunk(out, 20 * 1024);
      out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String head = statusLine(first);
      assertEquals("HTTP/1.1 201", head);
    }
    Path folder = dir.resolve("results").resolve(root.substring("/result/".length()));
    assertEquals(60 * 1024, Files.size(folder.resolve("first")));
    assertFalse(Files.exists(folder.resolve("second")));
    assertEquals(201, raw.send("PUT", root + "/third", new byte[30 * 1024], "Cookie", cookie).status(),
        "what is left after the first");
  }

  /**
   * A body in chunks that comes to pass what the job has left (a declared upload took the rest
   * after it began) is cut off with 413 before its bytes reach the disk: nothing of it is stored
   * or left staged, what it held comes back, and the declared upload lands.
   */
  @Test
  void anUploadInChunksPastTheJobsRoomIsCutOff() throws Exception {
    String id = submit(KERNEL);
    String root = booted(id).path("result_root").asText();
    String cookie = "JOBID=" + id;
    Path incoming = dir.resolve("results/.incoming");
    try (java.net.Socket chunked = new java.net.Socket("127.0.0.1", server.port());
        java.net.Socket declared = new java.net.Socket("127.0.0.1", server.port())) {
      java.io.OutputStream body = beginPut(chunked, root + "/chunked", cookie, "Transfer-Encoding: chunked");
      chunk(body, 1024);
      for (int i = 0; i < 200 && staged(incoming) < 1024; i++) {
        Thread.sleep(20);
      }
      java.io.OutputStream out = beginPut(declared, root + "/declared", cookie, "Content-Length: " + 60 * 1024);
      out.write(new byte[1024]);
      out.flush();
      for (int i = 0; i < 200 && staged(incoming) < 2048; i++) {
        Thread.sleep(20);
      }
      assertEquals(2048, staged(incoming), "both uploads are under way");

      // 100 KiB a job: 64 KiB held by the declared upload, 4 + 1 or 2 by this one: 40 more do not fit
      chunk(body, 40 * 1024);
      body.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      body.flush();
      String head;
      try {
        head = statusLine(chunked);
      } catch (java.net.SocketException reset) {
        head = "reset"; // the server closed a connection whose body it stopped reading
      }
      assertTrue(head.equals("HTTP/1.1 413") || head.equals("reset"), head);

      out.write(new byte[59 * 1024]);
      out.flush();
      assertEquals("HTTP/1.1 201", statusLine(declared));
    }
    Path folder = dir.resolve("results").resolve(root.substring("/result/".length()));
    assertFalse(Files.exists(folder.resolve("chunked")));
    assertEquals(60 * 1024, Files.size(folder.resolve("declared")));
    for (int i = 0; i < 100 && staged(incoming) > 0; i++) {
      Thread.sleep(20);
    }
    assertEquals(0, staged(incoming), "nothing of it is left staged");
    assertEquals(201, raw.send("PUT", root + "/third", new byte[30 * 1024], "Cookie", cookie).status(),
        "what it held came back");
  }

  /** The box's lkp-post-run, then the job read until its data is complete (10 s at most). */
  private JsonNode postRunUntilComplete(String id) throws InterruptedException {
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-post-run?job_file=/lkp/scheduled/job.yaml&job_id=" + id).status());
    JsonNode done = null;
    for (int i = 0; i < 200; i++) {
      done = job(id);
      if (done.path("job_data_readiness").asText().equals("complete")) {
        break;
      }
      Thread.sleep(50);
    }
    assertEquals("complete", done.path("job_data_readiness").asText(), done.toString());
    return done;
  }

  /** A PUT to {@code path} begun on {@code socket}: its head sent with {@code framing}, its body to come. */
  private static java.io.OutputStream beginPut(java.net.Socket socket, String path, String cookie, String framing)
      throws java.io.IOException {
    socket.setSoTimeout(10_000);
    java.io.OutputStream out = socket.getOutputStream();
    out.write(("PUT " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + cookie + "\r\n" + framing
        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    return out;
  }

  /** The answer's status line on {@code socket}, e.g. "HTTP/1.1 201". */
  private static String statusLine(java.net.Socket socket) throws java.io.IOException {
    return new String(socket.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
  }

  private static void chunk(java.io.OutputStream out, int size) throws java.io.IOException {
    out.write((Integer.toHexString(size) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(new byte[size]);
    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  /** The bytes of the staging folder's files. */
  private static long staged(Path incoming) throws java.io.IOException {
    if (!Files.isDirectory(incoming)) {
      return 0;
    }
    long total = 0;
    try (java.util.stream.Stream<Path> files = Files.list(incoming)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        total += Files.size(f);
      }
    }
    return total;
  }

  /**
   * The disk fills during an upload: 507, which says the fault is here, not 400 ("the upload broke
   * off"), which tells the box its file was bad; the partial file goes, and its space with it.
   * The staging folder is a tmpfs of 16 KiB, mounted here (root only: skipped without it).
   */
  @Test
  void aFullDiskAnswers507() throws Exception {
    String id = submit(KERNEL);
    String root = booted(id).path("result_root").asText();
    String cookie = "JOBID=" + id;
    Path incoming = Files.createDirectories(dir.resolve("results/.incoming"));
    boolean mounted;
    try {
      Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", incoming.toString())
          .redirectErrorStream(true).start();
      mounted = mount.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) && mount.exitValue() == 0;
    } catch (java.io.IOException noMount) {
      mounted = false;
    }
    try {
      org.junit.jupiter.api.Assumptions.assumeTrue(mounted, "mounting a tmpfs needs root and mount(8)");
      RawHttp.Reply full = raw.send("PUT", root + "/big", new byte[40 * 1024], "Cookie", cookie);
      assertEquals(507, full.status(), full.text());
      assertTrue(full.text().contains("No space left"), full.text());
      for (int i = 0; i < 100 && !isEmpty(incoming); i++) {
        Thread.sleep(20);
      }
      assertTrue(isEmpty(incoming), "the partial file is gone");
      // in chunks: the write after the disk filled fails outright
      java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL(
          "http://127.0.0.1:" + server.port() + root + "/chunked").openConnection();
      c.setRequestMethod("PUT");
      c.setRequestProperty("Cookie", cookie);
      c.setDoOutput(true);
      c.setChunkedStreamingMode(1024);
      try (java.io.OutputStream out = c.getOutputStream()) {
        for (int i = 0; i < 40; i++) {
          out.write(new byte[1024]);
        }
      }
      assertEquals(507, c.getResponseCode());
      for (int i = 0; i < 100 && !isEmpty(incoming); i++) {
        Thread.sleep(20);
      }
      assertTrue(isEmpty(incoming), "the partial file is gone");
      assertEquals(201, raw.send("PUT", root + "/small", new byte[4 * 1024], "Cookie", cookie).status(),
          "its space came back");
    } finally {
      // also after a mount that came late (the folder is then a mount point all the same)
      Process umount = new ProcessBuilder("umount", "-l", incoming.toString()).redirectErrorStream(true).start();
      umount.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
      if (mounted) {
        assertEquals(0, umount.exitValue(), new String(umount.getInputStream().readAllBytes()));
      }
    }
  }

  /**
   * An upload with only the cookie JOBID (lkp-tests 2022's WebDAV) comes from the address the
   * job's package went to (scheduler.auth.tokenless-webdav = from-box, the default), and not
   * before the package went out: knowing a job's id is not enough to write into its results.
   * With the cookie JOB_TOKEN it comes from anywhere.
   */
  @Test
  void anUploadWithoutTheTokenComesFromTheBoxThatFetchedThePackage() throws Exception {
    String id = submit(KERNEL);
    RawHttp.Reply script = raw.get(boot(""));
    assertEquals(200, script.status(), script.text());
    Matcher m = PACKAGE.matcher(script.text());
    assertTrue(m.find());
    String root = job(id).path("result_root").asText();
    String cookie = "JOBID=" + id;
    assertEquals(403, putFrom("127.0.0.1", root + "/early", "Cookie: " + cookie),
        "before the package went out, even from the box's own address");
    // anyone's legacy call moves the job on before its box fetched the package: still unbound
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id="
        + id + "&job_state=booting").status());
    assertEquals("boot", job(id).path("job_stage").asText());
    assertEquals(403, putFrom("127.0.0.2", root + "/early", "Cookie: " + cookie), "in boot, not fetched yet");

    JsonNode yaml = new YAMLMapper().readTree(unpack(raw.get(m.group(2)).body()).get("lkp/scheduled/job.yaml"));
    assertEquals(root, yaml.path("result_root").asText());
    String token = yaml.path("job_token").asText();
    assertEquals(403, putFrom("127.0.0.2", root + "/other", "Cookie: " + cookie), "another address");
    assertEquals(201, putFrom("127.0.0.1", root + "/mine", "Cookie: " + cookie), "the box's address");
    assertEquals(201, putFrom("127.0.0.2", root + "/tokened", "Cookie: " + cookie + "; JOB_TOKEN=" + token),
        "with its token, from anywhere");
    Path folder = dir.resolve("results").resolve(root.substring("/result/".length()));
    assertFalse(Files.exists(folder.resolve("other")));
    assertTrue(Files.exists(folder.resolve("mine")) && Files.exists(folder.resolve("tokened")));
    assertEquals("127.0.0.1", job(id).path("box_address").asText(), "kept with the job");
  }

  /**
   * Anyone's legacy call may move a job on before its box fetched the package (the calls carry
   * no token): the package is still served to the box that holds its link, once, and the job
   * stays where the call put it. Before, the package answered 410 and the box could never boot.
   */
  @Test
  void aPackageNeverFetchedIsServedAfterALegacyCallMovedTheJobOn() throws Exception {
    String id = submit(KERNEL);
    RawHttp.Reply script = raw.get(boot(""));
    Matcher m = PACKAGE.matcher(script.text());
    assertTrue(m.find(), script.text());
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id="
        + id + "&job_state=running").status());
    assertEquals("running", job(id).path("job_stage").asText());

    RawHttp.Reply pkg = raw.get(m.group(2));
    assertEquals(200, pkg.status(), pkg.text());
    assertTrue(unpack(pkg.body()).containsKey("lkp/scheduled/job.yaml"));
    assertEquals("running", job(id).path("job_stage").asText(), "never moved back");
    assertEquals("127.0.0.1", job(id).path("box_address").asText());
    assertEquals(410, raw.get(m.group(2)).status(), "fetched, and the job runs: served no more");
  }

  /** A PUT of "x" from {@code local} (one of loopback's addresses): its status. */
  int putFrom(String local, String path, String cookieHeader) throws Exception {
    try (java.net.Socket s = new java.net.Socket()) {
      s.bind(new java.net.InetSocketAddress(local, 0));
      s.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()), 10_000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("PUT " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + cookieHeader
          + "\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx").getBytes(StandardCharsets.US_ASCII));
      String head = statusLine(s);
      return Integer.parseInt(head.substring(9, 12));
    }
  }

  static boolean isEmpty(Path folder) throws java.io.IOException {
    try (var files = Files.list(folder)) {
      return files.findAny().isEmpty();
    }
  }

  /** lkp-tests sends both; a MAC nobody registered (a replaced NIC) must not hide the box's name. */
  @Test
  void gpxelinuxFindsTheBoxByItsNameWhenItsMacIsUnknown() {
    String id = submit(KERNEL);
    RawHttp.Reply next = raw.get("/~lkp/cgi-bin/gpxelinux.cgi?hostname=bm1--a1&mac=0a-00-00-00-00-99&last_kernel=x");
    assertEquals(200, next.status(), next.text());
    assertTrue(next.text().lines().anyMatch(l -> l.startsWith("kernel ")), next.text());
    assertEquals("dispatch", job(id).path("job_stage").asText());
    assertEquals(404, raw.get("/~lkp/cgi-bin/gpxelinux.cgi?mac=0a-00-00-00-00-99").status(), "a MAC alone stays unknown");
  }

  @Test
  void aQueuedJobUploadsNothing() {
    String id = submit(KERNEL);
    String root = job(id).path("result_root").asText();
    assertEquals(403, raw.send("PUT", root + "/x", "x".getBytes(), "Cookie", "JOBID=" + id).status());
  }

  @Test
  void sshReportsDeadlinesNextJobAndLkpSubmit() throws Exception {
    Answer lkp = http.post("/submit_job", "{\"suite\":\"s\",\"testbox\":\"bm1--a1\",\"#! jobs/s.yaml\":null" + KERNEL
        + ",\"job2sh\":{\"run_job\":[\"run_job()\",\"{\",null,\"\\texport_top_env\",\"}\"]}}");
    assertEquals(200, lkp.status(), lkp.body());
    String id = lkp.json().get(0).path("job_id").asText();
    assertEquals("", lkp.json().get(0).path("message").asText());
    assertNotNull(lkp.json().get(0).get("result_root"));

    RawHttp.Reply next = raw.get("/~lkp/cgi-bin/gpxelinux.cgi?hostname=bm1--a1&mac=" + MAC + "&last_kernel=x");
    assertEquals(200, next.status(), next.text());
    assertTrue(next.text().lines().anyMatch(l -> l.startsWith("kernel ")), next.text());

    assertEquals(200, http.get("/~lkp/cgi-bin/report_ssh_port?tbox_name=bm1--a1&job_id=" + id + "&ssh_port=20022").status());
    assertEquals("20022", job(id).path("ssh_port").asText());
    Answer info = http.post("/~lkp/cgi-bin/report_ssh_info", "{\"tbox_name\":\"bm1--a1\",\"job_id\":\"" + id
        + "\",\"ssh_port\":\"20023\",\"message\":\"sshd up\"}");
    assertEquals(200, info.status(), info.body());
    assertEquals("20023", job(id).path("ssh_port").asText());
    assertEquals("sshd up", job(id).path("ssh_message").asText());
    assertEquals(400, http.post("/~lkp/cgi-bin/report_ssh_info", "{not json").status());
    assertEquals(404, http.get("/~lkp/cgi-bin/report_ssh_port?job_id=123&ssh_port=1").status());

    Answer renewed = http.get("/renew_deadline?job_id=" + id + "&time=86400");
    assertEquals(200, renewed.status(), renewed.body());
    assertTrue(renewed.body().trim().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+0000"), renewed.body());
    Answer deadline = http.get("/get_deadline?testbox=bm1--a1");
    assertEquals(200, deadline.status(), deadline.body());
    assertEquals(renewed.body(), deadline.body());
    assertEquals(400, http.get("/renew_deadline?job_id=" + id + "&time=soon").status());
    assertEquals(404, http.get("/get_deadline?testbox=nobody").status());
  }
}
