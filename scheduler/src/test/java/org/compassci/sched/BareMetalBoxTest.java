package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.compassci.sched.fixtures.HttpCalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance (a): a test plays a bare-metal box with Debian's own tools. It is known from a lab
 * hosts folder, fetches boot.ipxe by MAC with curl, downloads the job.cgz the script names and
 * unpacks it with cpio, sources job.sh in sh (both export_top_env and read_job_vars), reports as
 * lkp-tests does, uploads two files by WebDAV PUT and one by POST, and calls lkp-post-run: the job
 * ends finish with its data complete and the uploaded stats extracted.
 */
class BareMetalBoxTest {

  static final String V1 = "/scheduler/v1";
  static final String MAC = "52:54:00:ab:cd:01";
  /** A value a careless job.sh would run on the box. */
  static final String NASTY = "it's $(touch PWNED) `touch PWNED2` \"$HOME\"";

  @TempDir Path dir;

  @Test
  void aBareMetalBoxBootsRunsUploadsAndFinishes() throws Exception {
    Tools.require("cpio curl gzip", "cpio", "curl", "gzip", "sh");
    Path lab = Files.createDirectories(dir.resolve("lab/hosts"));
    Files.writeString(lab.resolve("taishan200-2s48p-256g--a66"),
        "mac_addr:\n  - " + MAC.toUpperCase() + "\narch: aarch64\nmemory: 256G\nnr_cpu: 96\n");
    try (TestServer server = TestServer.start(dir, Map.of("scheduler.lab.hosts-dir", lab.toString()))) {
      HttpCalls http = server.http;
      for (int i = 0; i < 100 && http.get(V1 + "/hosts/taishan200-2s48p-256g--a66").status() != 200; i++) {
        Thread.sleep(50);
      }
      String job = "{\"suite\":\"hackbench\",\"testbox\":\"taishan200-2s48p-256g\",\"arch\":\"aarch64\","
          + "\"my_account\":\"alice\",\"os\":\"openeuler\",\"os_version\":\"20.03\",\"memory\":\"128G\","
          + "\"nr_threads\":8,\"comment\":" + com.fasterxml.jackson.databind.node.TextNode.valueOf(NASTY)
          + ",\"secrets\":{\"api_key\":\"k-42\"},\"program\":{\"hackbench\":{\"mode\":\"threads\"}}}";
      JsonNode submitted = http.post(V1 + "/jobs/submit", job).json().get(0);
      String id = submitted.path("job_id").asText();
      assertEquals("", submitted.path("message").asText(), submitted.toString());
      Path box = Files.createDirectories(dir.resolve("box"));
      String base = "http://127.0.0.1:" + server.port();
      Map<String, String> env = Map.of("S", base, "MAC", MAC.replace(':', '-'), "PORT", Integer.toString(server.port()));

      // iPXE's chain, by curl: the MAC as ${mac:hexhyp} spells it
      Tools.Run script = Tools.sh(box, "curl -sS -o boot.ipxe -w '%{http_code}' "
          + "\"$S/boot.ipxe/mac/$MAC?arch=arm64&hostname=x&ip=10.0.0.9&sched_host=127.0.0.1&sched_port=$PORT\"", env, 60);
      assertEquals("200", script.output(), script.toString());
      String ipxe = Files.readString(box.resolve("boot.ipxe"));
      assertTrue(ipxe.contains("kernel http://127.0.0.1:" + server.port() + "/srv/os/openeuler/aarch64/20.03/boot/vmlinuz"), ipxe);
      assertTrue(ipxe.contains("console=ttyAMA0,115200"), ipxe);
      Matcher m = Pattern.compile("initrd (\\S+/job\\.cgz)\n").matcher(ipxe);
      assertTrue(m.find(), ipxe);

      Tools.Run unpack = Tools.sh(box, "curl -sSf -o job.cgz '" + m.group(1) + "' && gzip -dc job.cgz | cpio -idm 2>&1"
          + " && ls -l lkp/scheduled", env, 60);
      assertEquals(0, unpack.exit(), unpack.output());
      assertEquals("rwxrwxr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(box.resolve("lkp/scheduled/job.sh"))));
      assertTrue(Files.readString(box.resolve("lkp/scheduled/secrets.yaml")).contains("k-42"));
      assertEquals("boot", http.get(V1 + "/jobs/" + id).json().path("job_stage").asText());

      Tools.Run top = Tools.sh(box, ". ./lkp/scheduled/job.sh; export_top_env; "
          + "printf '%s|%s|%s|%s\\n' \"$id\" \"$job_token\" \"$result_root\" \"$LKP_SRC\"; printf '%s' \"$comment\" > comment", env, 30);
      assertEquals(0, top.exit(), top.output());
      String[] vars = top.output().trim().split("\\|");
      assertEquals(id, vars[0]);
      assertEquals(32, vars[1].length());
      assertEquals(submitted.path("result_root").asText(), vars[2]);
      assertEquals("/lkp/lkp/src", vars[3]);
      assertEquals(NASTY, Files.readString(box.resolve("comment")));
      Tools.Run read = Tools.sh(box, ". ./lkp/scheduled/job.sh; read_job_vars; "
          + "printf '%s|%s|%s\\n' \"$id\" \"$job_token\" \"$result_root\"", env, 30);
      assertEquals(String.join("|", vars[0], vars[1], vars[2]), read.output().trim(), read.toString());
      assertFalse(Files.exists(box.resolve("PWNED")) || Files.exists(box.resolve("PWNED2")), "no value ran on the box");

      // lkp-tests on the box: reports with curl, uploads by WebDAV (lib/upload.sh) and by POST (compact)
      Files.writeString(box.resolve("stats"), "hackbench.throughput: 52012\nhackbench.workload: 1600\n");
      Files.createDirectories(box.resolve("out"));
      Files.writeString(box.resolve("out/output"), "Time: 1.5\n");
      Files.writeString(box.resolve("dmesg"), "[    0.000000] Linux version 6.1\n");
      Tools.Run run = Tools.sh(box, "set -e; . ./lkp/scheduled/job.sh; export_top_env\n"
          + "cgi=\"http://$LKP_SERVER:${LKP_CGI_PORT:-3000}/~lkp/cgi-bin\"\n"
          + "curl -sSf \"$cgi/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id=$id&job_state=running\"\n"
          + "host=\"http://$LKP_SERVER:${RESULT_WEBDAV_PORT:-3080}\"\n"
          + "curl -sSf -X MKCOL \"$host$result_root/out/\" --cookie \"JOBID=$id\" >/dev/null\n"
          + "curl -sSf -T stats \"$host$result_root/\" --cookie \"JOBID=$id\"\n"
          + "curl -sSf -T out/output \"$host$result_root/out/\" --cookie \"JOBID=$id\"\n"
          + "curl -sSf --data-binary @dmesg \"$host$result_root/dmesg?job_id=$id&job_token=$job_token\"\n"
          + "curl -sSf \"$cgi/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id=$id&job_state=finished\"\n"
          + "curl -sSf \"$cgi/lkp-post-run?job_file=/lkp/scheduled/job.yaml&job_id=$id\"\n", env, 60);
      assertEquals(0, run.exit(), run.output());

      JsonNode done = Tools.awaitDataComplete(http, id);
      assertEquals("finish", done.path("job_stage").asText(), done.toString());
      assertEquals("complete", done.path("job_data_readiness").asText(), done.toString());
      assertEquals("success", done.path("job_health").asText());
      assertEquals(52012, done.path("stats").path("hackbench.throughput").asInt());
      for (String stage : new String[] {"dispatch_time", "boot_time", "running_time", "finish_time"}) {
        assertFalse(done.path(stage).asText().isEmpty(), stage + " in " + done);
      }
      Path results = dir.resolve("results").resolve(vars[2].substring("/result/".length()));
      assertEquals("Time: 1.5\n", Files.readString(results.resolve("out/output")));
      assertTrue(Files.readString(results.resolve("dmesg")).contains("Linux version"));
      assertFalse(done.toString().contains("k-42"), "secrets never in an answer");
    }
  }
}
