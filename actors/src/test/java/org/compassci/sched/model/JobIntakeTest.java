package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class JobIntakeTest {

  @Test
  void credentialsAreRemovedAtAnyDepthAndUnknownFieldsKept() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\","
        + "\"my_token\":\"s3cret\",\"my_email\":\"a@b\",\"my_name\":\"A\",\"secrets\":{\"k\":\"v\"},"
        + "\"job_token\":\"t\",\"pp\":{\"x\":{\"secrets\":\"deep\",\"nr\":4}},\"custom\":[1,2]}"));
    String text = Json.write(d.doc());
    for (String gone : new String[] {"s3cret", "a@b", "my_name", "secrets", "job_token", "deep"}) {
      assertFalse(text.contains(gone), gone + " left in " + text);
    }
    assertEquals(4, d.doc().path("pp").path("x").path("nr").asInt());
    assertEquals(2, d.doc().path("custom").size());
  }

  @Test
  void serverFieldsFromTheSubmitterAreDropped() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\","
        + "\"id\":\"1\",\"job_stage\":\"finish\",\"result_root\":\"/etc\",\"_job_token_sha256\":\"x\","
        + "\"box_address\":\"10.6.6.6\"}"));
    assertFalse(d.doc().has("box_address"));
    assertFalse(d.doc().has("id"));
    assertFalse(d.doc().has("job_stage"));
    assertFalse(d.doc().has("result_root"));
    assertFalse(d.doc().has("_job_token_sha256"));
  }

  @Test
  void derivedFieldsAndTenant() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"taishan200--a61\",\"my_account\":\"bob\",\"priority\":\"5\"}"));
    assertEquals("hw", d.doc().path("tbox_type").asText());
    assertEquals("taishan200", d.doc().path("tbox_group").asText());
    assertEquals("bob", d.tenant());
    assertEquals(5, d.priority());
    assertEquals("bisect", JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"x\",\"my_account\":\"bob\",\"queue\":\"bisect\"}")).tenant());
    assertEquals("bob", JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"x\",\"my_account\":\"bob\",\"queue\":\"vip\"}")).tenant());
  }

  @Test
  void invalidJobsSayWhatIsWrong() {
    assertMessage("a job must be a JSON object", "[1]");
    assertMessage("suite: required", "{\"testbox\":\"x\"}");
    assertMessage("testbox: required", "{\"suite\":\"s\"}");
    assertMessage("suite: must be a string", "{\"suite\":3,\"testbox\":\"x\"}");
    assertMessage("tbox_type: 'xx' is not hw, vm or dc", "{\"suite\":\"s\",\"testbox\":\"x\",\"tbox_type\":\"xx\"}");
    assertMessage("priority: must be an integer", "{\"suite\":\"s\",\"testbox\":\"x\",\"priority\":\"high\"}");
    assertMessage("timeout: must be a non-negative", "{\"suite\":\"s\",\"testbox\":\"x\",\"timeout\":-1}");
    // lkp-tests' units are whole numbers: 1.5h would be 1 h there (to_i), so it is refused, not read otherwise
    assertMessage("runtime: must be a number of seconds, or a whole number with a unit", "{\"suite\":\"s\",\"testbox\":\"x\",\"runtime\":\"1.5h\"}");
    assertMessage("timeout: must be a number of seconds, or a whole number with a unit", "{\"suite\":\"s\",\"testbox\":\"x\",\"timeout\":\"5x\"}");
    assertMessage("tags: 'nokey' is not k=v", "{\"suite\":\"s\",\"testbox\":\"x\",\"tags\":[\"nokey\"]}");
    assertMessage("tags: ' =v' is not k=v", "{\"suite\":\"s\",\"testbox\":\"x\",\"tags\":[\" =v\"]}");
    assertMessage("target_machines: must be", "{\"suite\":\"s\",\"testbox\":\"x\",\"target_machines\":5}");
    // a shape's memory past a long: refused, not a NumberFormatException (a 500), and not wrapped
    // round to a negative need that every box would fit
    assertMessage("submit_id: at most 255 characters", "{\"suite\":\"s\",\"testbox\":\"x\",\"submit_id\":\"" + "u".repeat(256) + "\"}");
    assertMessage("testbox: 'vm-99999999999999999999g' is more memory", "{\"suite\":\"s\",\"testbox\":\"vm-99999999999999999999g\"}");
    assertMessage("testbox: 'dc-9999999999999999g' is more memory", "{\"suite\":\"s\",\"testbox\":\"dc-9999999999999999g\"}");
    assertEquals(9_007_199_254_740_991L * 1024,
        JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p9007199254740991g\"}")).requirements().memoryMb());
  }

  @Test
  void lkpTestsTimesWithUnitsAreAccepted() {
    // lkp-tests' own job files: jobs/trinity.yaml (runtime: 300s), jobs/borrow-1d.yaml (timeout: 1d)
    for (String t : new String[] {"300s", "10m", "2h", "1d", "1w", "1y", " 600 ", "1e3"}) {
      JobIntake.Draft d = JobIntake.prepare(Json.parse(
          "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"runtime\":\"" + t + "\",\"timeout\":\"" + t + "\"}"));
      assertEquals(t, d.doc().path("runtime").asText(), "kept as written: the testbox's lkp-tests reads it too");
    }
  }

  @Test
  void namesAreStoredAsTheyWereChecked() {
    // checked trimmed but kept as sent, "alice " was an account of its own for the queue limit
    // and for cancel, a suite with a trailing newline a result path that could not boot, and a
    // submit_id of 300 spaces and an x failed the store's whole group commit
    JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"hackbench\\n\",\"testbox\":\" vm-2p8g\","
        + "\"my_account\":\"alice \",\"queue\":\"\\tbisect\",\"os_version\":\"20.03 \",\"submit_id\":\""
        + " ".repeat(300) + "x\"}"));
    assertEquals("hackbench", d.field("suite"));
    assertEquals("vm-2p8g", d.field("testbox"));
    assertEquals("alice", d.field("my_account"));
    assertEquals("bisect", d.field("queue"));
    assertEquals("bisect", d.tenant());
    assertEquals("20.03", d.field("os_version"));
    assertEquals("x", d.field("submit_id"));
  }

  @Test
  void tagsAreWrittenWithoutSpacesAroundKeyAndValueOnBothSides() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"tags\":[\" nic = mlx5 \"],\"arch\":\"x86_64\"}"));
    assertTrue(d.requirements().tags().contains("nic=mlx5"), d.requirements().tags().toString());
    Testbox box = Testbox.fromQuery(java.util.Map.of("hostname", "vm-2p8g--1", "arch", "x86_64", "tbox_type", "vm",
        "freemem", "8192", "tags", "nic = mlx5"));
    assertTrue(box.tags().containsAll(d.requirements().tags()), box.tags() + " offers " + d.requirements().tags());
    // what one box may offer is bounded: anyone may ask, and every box that asked is remembered
    StringBuilder many = new StringBuilder();
    for (int i = 0; i <= Testbox.MAX_TAGS; i++) {
      many.append(i > 0 ? "," : "").append("t").append(i).append("=1");
    }
    org.junit.jupiter.api.Assertions.assertThrows(InvalidJobException.class, () -> Testbox.fromQuery(
        java.util.Map.of("hostname", "h1", "tags", many.toString())));
    org.junit.jupiter.api.Assertions.assertThrows(InvalidJobException.class, () -> Testbox.fromQuery(
        java.util.Map.of("hostname", "h1", "tags", "k=" + "v".repeat(Testbox.MAX_TAG_LENGTH))));
    assertEquals(Testbox.MAX_TAGS + 3, Testbox.fromQuery(java.util.Map.of("hostname", "h1",
        "tags", many.substring(0, many.lastIndexOf(","))))
        .tags().size(), "the most it may offer, and its own three (hostname, tbox_type, tbox_group)");
    assertEquals(Testbox.MAX_TAGS + 3, Testbox.fromQuery(java.util.Map.of("hostname", "h1",
        "tags", many.substring(0, many.lastIndexOf(",")) + ",t0=1, t1 = 1"))
        .tags().size(), "a tag given twice counts once");
  }

  /** DOMAIN: a job aimed at a named VM still goes only to that name, never to a provider's host. */
  @Test
  void aJobForANamedVmOrContainerFitsThatBoxAlone() {
    for (String[] named : new String[][] {{"vm-2p8g--3", "vm"}, {"dc-8g--web", "dc"}}) {
      JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"" + named[0] + "\"}"));
      assertTrue(d.requirements().tags().contains("hostname=" + named[0]), d.requirements().tags().toString());
      Testbox provider = Testbox.fromQuery(java.util.Map.of("hostname", "taishan-provider-1", "tbox_type", "vm,dc",
          "freemem", "65536"));
      assertFalse(d.requirements().fits(provider), named[0] + " went to a provider");
      Testbox itself = Testbox.fromQuery(java.util.Map.of("hostname", named[0], "tbox_type", named[1], "freemem", "65536"));
      assertTrue(d.requirements().fits(itself), named[0] + " did not fit the box of its name");
    }
    // a shape alone is any VM of that size, wherever it starts
    JobIntake.Draft shape = JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"));
    assertTrue(shape.requirements().fits(Testbox.fromQuery(java.util.Map.of("hostname", "taishan-provider-1",
        "tbox_type", "vm,dc", "freemem", "65536"))));
  }

  /**
   * A box's own tags cannot name another box, group, type or arch: {@code tags=hostname=X} made
   * box Y offer X's name too, and Y took the jobs aimed at X alone. Refused, naming the parameter
   * to use; the same in a lab's hosts file.
   */
  @Test
  void aBoxsTagsCannotNameAnotherBox() {
    JobIntake.Draft forX = JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"lab-x\"}"));
    for (String tag : java.util.List.of("hostname=lab-x", " tbox_group = lab", "tbox_type=hw", "arch=aarch64")) {
      InvalidJobException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidJobException.class,
          () -> forX.requirements().fits(Testbox.fromQuery(java.util.Map.of("hostname", "lab-y", "tags", tag))),
          tag + " was taken");
      assertTrue(e.getMessage().startsWith("tags: '" + tag.strip().replace(" ", "") + "'"), e.getMessage());
      org.junit.jupiter.api.Assertions.assertThrows(InvalidJobException.class,
          () -> org.compassci.sched.boot.LabHosts.registration("lab-y",
              Json.parse("{\"tags\":[\"" + tag + "\"]}")), tag + " in a hosts file was taken");
    }
    // a key that only starts like one is the box's own
    assertTrue(Testbox.fromQuery(java.util.Map.of("hostname", "lab-y", "tags", "hostname_alias=x"))
        .tags().contains("hostname_alias=x"));
  }

  /** DOMAIN: a VM's or container's memory comes from its group's name, whatever the testbox is called. */
  @Test
  void aVmsMemoryComesFromItsGroupsShape() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"myvm-01\",\"tbox_group\":\"vm-2p8g\",\"tbox_type\":\"vm\"}"));
    assertEquals(8192, d.requirements().memoryMb());
    JobIntake.Draft bigger = JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"dc-16g--1\",\"memory\":\"32G\"}"));
    assertEquals(32768, bigger.requirements().memoryMb(), "the largest given counts");
    JobIntake.Draft shapeName = JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"vm-4p16g\",\"tbox_group\":\"lab-vms\",\"tbox_type\":\"vm\"}"));
    assertEquals(16384, shapeName.requirements().memoryMb(), "a group that is no shape: the testbox's shape");
    assertTrue(shapeName.requirements().tags().stream().noneMatch(t -> t.startsWith("hostname=")),
        "a shape names no box: " + shapeName.requirements().tags());
    JobIntake.Draft ownName = JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"myvm-01\",\"tbox_group\":\"vm-2p8g\",\"tbox_type\":\"vm\"}"));
    assertTrue(ownName.requirements().tags().contains("hostname=myvm-01"), ownName.requirements().tags().toString());
  }

  private static void assertMessage(String start, String json) {
    InvalidJobException e = assertThrows(InvalidJobException.class,
        () -> JobIntake.prepare(Json.parse(json)));
    assertTrue(e.getMessage().startsWith(start), e.getMessage());
  }

  @Test
  void aSubmittedJobHasIdResultRootAndState() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\"}"));
    Job job = Job.submitted(d, 25112816270001201L, Instant.parse("2025-11-28T08:27:00Z"), "/result");
    assertEquals("25112816270001201", job.view().path("id").asText());
    assertTrue(job.resultRoot().matches("/result/hackbench/2025-11-2\\d/vm-2p8g/25112816270001201"), job.resultRoot());
    assertEquals("submit", job.view().path("job_stage").asText());
    Job back = Job.fromRecord(job.toRecord());
    assertEquals(job.requirements(), back.requirements());
    assertEquals(job.view(), back.view());
  }

  @Test
  void theTokenIsKeptOnlyAsAHashAndNeverShown() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"));
    Job job = Job.submitted(d, 1, Instant.now(), "/result");
    job.handOut("h1", "tok123", Instant.now());
    assertTrue(job.tokenMatches("tok123"));
    assertFalse(job.tokenMatches("other"));
    assertFalse(Json.write(job.view()).contains("sha256"));
    assertFalse(job.toRecord().document().contains("tok123"));
  }

  /**
   * A restart queues stored jobs from the fields matching reads only: for every shape of those
   * fields, what it derives is what the whole document gives, and the rest is never looked at.
   */
  @Test
  void aStoredJobIsQueuedAsItsWholeDocumentWouldBe() {
    String[] jobs = {
        "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\",\"my_account\":\"bob\"}",
        "{\"suite\":\"s\",\"testbox\":\"taishan200--a61\",\"tags\":{\"nic\":\"mlx5\",\"disk\":4},"
            + "\"priority\":\"5\",\"queue\":\"kernel\",\"my_account\":\"ann\"}",
        "{\"pp\":{\"tags\":[\"x=y\"],\"memory\":\"999g\"},\"suite\":\"s\",\"tbox_group\":\"taishan200\","
            + "\"tags\":[\"nic=mlx5\"],\"target_machines\":\"a61, a62\",\"os_arch\":\"x86_64\",\"queue\":\"vip\"}",
        "{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"memory\":\"16G\",\"hw\":{\"memory\":\"32g\",\"nr_cpu\":4},"
            + "\"job2sh\":{\"run_job\":[\"echo 1\",null]},\"runtime\":300,\"timeout\":\"600\"}",
        "{\"suite\":\"s\",\"testbox\":\"vm-2p16g\",\"tbox_type\":\"VM\",\"need_memory\":\"4G\","
            + "\"memory_minimum\":\"8G\",\"target_machines\":[\"h1\",\"h2\"],\"queue\":\"idle\","
            + "\"params\":{\"nested\":[[1,{\"arch\":\"x\"}],\"z\"]},\"priority\":-2}",
        "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\",\"arch\":\"x86_64\"}",
    };
    for (String raw : jobs) {
      // as stored: checked and completed at submit, with what the server adds
      ObjectNode stored = JobIntake.prepare(Json.parse(raw)).doc();
      stored.put("id", "1");
      stored.put("result_root", "/result/s/1");
      JobIntake.Draft whole = JobIntake.prepare(stored);
      JobIntake.Draft read = JobIntake.prepareStored(Json.write(stored));
      assertEquals(whole.requirements(), read.requirements(), raw);
      assertEquals(whole.tenant(), read.tenant(), raw);
      assertEquals(whole.queue(), read.queue(), raw);
      assertEquals(whole.priority(), read.priority(), raw);
      assertEquals(whole.field("my_account"), read.field("my_account"), raw);
      assertEquals(whole.field("tbox_group"), read.field("tbox_group"), raw);
      assertFalse(read.doc().has("job2sh") || read.doc().has("params") || read.doc().has("pp"), raw);
    }
    assertThrows(InvalidJobException.class, () -> JobIntake.prepareStored("[1]"));
    assertThrows(InvalidJobException.class, () -> JobIntake.prepareStored("{\"suite\":"));
  }
}
