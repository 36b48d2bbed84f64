package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.persistence.ListenPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance: a token shows in the answer that makes it (and the admin's in its 0600 file) and
 * nowhere else: not in any other answer, not in the log, not in any file of the data folder,
 * whatever the server was asked. The jar runs as its own process, its log is its real output.
 */
class TokenSecrecyIT {

  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;
  private Process process;

  @AfterEach
  void kill() {
    if (process != null) {
      process.destroyForcibly();
    }
  }


  @Test
  void aTokenIsInItsCreatingAnswerAndNowhereElse() throws Exception {
    int port = ListenPorts.one();
    Path data = dir.resolve("data");
    Path log = dir.resolve("scheduler.log");
    String jar = System.getProperty("scheduler.jar", "target/scheduler.jar");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx384m", "-jar", jar).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("SCHED_"));
    pb.environment().put("SCHED_HOST", "127.0.0.1");
    pb.environment().put("SCHED_PORT", Integer.toString(port));
    pb.environment().put("SCHED_DATA_DIR", data.toString());
    pb.environment().put("SCHED_RESULTS_DIR", dir.resolve("results").toString());
    process = pb.start();
    HttpCalls anyone = new HttpCalls("127.0.0.1", port);
    assertTrue(anyone.awaitHealthy(Duration.ofSeconds(60)), Files.readString(log));

    // the first start made the admin: its token is in admin.token, readable by this user only
    Path file = data.resolve("admin.token");
    String adminToken = Files.readString(file).strip();
    assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
        Files.getPosixFilePermissions(file));
    String startLog = Files.readString(log);
    assertTrue(startLog.contains("auth mode=tokens accounts=1") && startLog.contains(file.toString()), startLog);
    HttpCalls admin = anyone.withToken(adminToken);

    List<String> tokens = new ArrayList<>(List.of(adminToken));
    List<String> answers = new ArrayList<>();
    Answer made = admin.post(V1 + "/accounts", "{\"name\":\"alice\",\"email\":\"alice@example.org\"}");
    assertEquals(201, made.status(), made.body());
    tokens.add(made.json().path("token").asText());
    Answer rotated = admin.post(V1 + "/accounts/alice/token", "");
    assertEquals(201, rotated.status());
    String alice = rotated.json().path("token").asText();
    tokens.add(alice);

    // everything else that can be asked, each answer kept to be searched
    HttpCalls asAlice = anyone.withToken(alice);
    Answer submitted = asAlice.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"sec\"}");
    answers.add(submitted.body());
    Answer cci = anyone.post("/submit_job", "{\"suite\":\"s\",\"testbox\":\"sec\",\"my_account\":\"alice\","
        + "\"my_token\":\"" + alice + "\",\"my_email\":\"alice@example.org\"}");
    assertEquals(200, cci.status(), cci.body());
    answers.add(cci.body());
    answers.add(anyone.withToken(tokens.get(1)).post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"sec\"}").body());
    answers.add(anyone.post("/submit_job", "{\"suite\":\"s\",\"testbox\":\"sec\",\"my_account\":\"alice\","
        + "\"my_token\":\"" + tokens.get(1) + "\"}").body());
    String id = submitted.json().get(0).path("job_id").asText();
    Answer handed = anyone.get(V1 + "/jobs/dispatch?hostname=sec--1&tbox_type=hw&tbox_group=sec");
    String jobToken = handed.json().path("job_token").asText();
    answers.add(anyone.post(V1 + "/jobs/" + id + "/update?job_stage=running&job_token=" + jobToken, "").body());
    answers.add(anyone.post(V1 + "/jobs/" + id + "/update?job_stage=running&job_token=" + alice, "").body());
    for (String path : List.of(V1 + "/jobs/" + id, V1 + "/accounts", V1 + "/accounts/alice", V1 + "/accounts/admin",
        V1 + "/manage/actors", V1 + "/dashboard/summary", V1 + "/dashboard/jobs/running", "/metrics",
        V1 + "/jobs?submit_id=x")) {
      answers.add(admin.get(path).body());
    }
    answers.add(asAlice.get(V1 + "/manage/actors").body());
    answers.add(anyone.withToken(adminToken + "x").get(V1 + "/manage/actors").body());
    // malformed headers carrying a token: Pekko logs a malformed header with its value
    answers.add(anyone.send("GET", V1 + "/manage/actors", null, "Authorization", "Bearer " + alice + "%00").body());
    answers.add(anyone.send("GET", V1 + "/manage/actors", null, "Authorization", "Bearer " + adminToken + " ,").body());
    answers.add(anyone.send("GET", V1 + "/health", null, "Cookie", "JOBID=\"" + jobToken + "; JOB_TOKEN=" + alice).body());
    answers.add(admin.send("POST", V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"sec\",\"my_token\":\"" + alice
        + "\"}", "Content-Type", "application/json", "Idempotency-Key", "k1").body());
    answers.add(admin.send("POST", V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"sec\",\"my_token\":\"" + alice
        + "\"}", "Content-Type", "application/json", "Idempotency-Key", "k1").body());
    tokens.add(jobToken);

    // SIGTERM: the store is written out whole; then every file and the log are searched
    process.destroy();
    assertTrue(process.waitFor(30, TimeUnit.SECONDS));
    for (String token : tokens) {
      for (String a : answers) {
        assertFalse(a.contains(token), "a token in an answer: " + a);
      }
      assertFalse(Files.readString(log).contains(token), "a token in the log");
      byte[] needle = token.getBytes(StandardCharsets.UTF_8);
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path f : files.filter(Files::isRegularFile).toList()) {
          if (f.equals(file) && token.equals(adminToken)) {
            continue; // where the admin's token is given, at its creation
          }
          assertFalse(contains(Files.readAllBytes(f), needle) || contains(Files.readAllBytes(f),
              token.getBytes(StandardCharsets.UTF_16LE)), "a token in " + f);
        }
      }
    }
    JsonNode shown = made.json();
    assertEquals("alice", shown.path("name").asText());
  }

  private static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
