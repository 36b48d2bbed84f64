package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.compassci.sched.config.SchedulerSettings;
import org.junit.jupiter.api.Test;

/**
 * Job files written for these tests in the lkp-tests format (not copied from lkp-tests), read by
 * the rules of conf/application.conf.
 */
class JobFileTest {

  static final JobFile.Rules RULES = SchedulerSettings.jobFileRules(ConfigFactory.load());

  private static List<ObjectNode> yaml(String text) {
    return JobFile.read(text.getBytes(StandardCharsets.UTF_8), JobFile.Format.YAML, RULES);
  }

  private static String refusal(String text) {
    return assertThrows(InvalidJobException.class, () -> yaml(text)).getMessage();
  }

  /** The values of one key path in each job, for comparing orders. */
  private static List<String> column(List<ObjectNode> jobs, String pointer) {
    List<String> values = new ArrayList<>();
    jobs.forEach(j -> values.add(j.at(pointer).asText()));
    return values;
  }

  /**
   * A dotted key sets one value inside a map, as lkp-tests' revise_hash does: a variation that
   * says {@code fsmark.test_size: 60G} changes that option and keeps the others (a variation's
   * plain key replaces the whole map). It used to be passed on as a key of its own, literally
   * "fsmark.test_size", which no box reads. Adding to or taking out of a key ({@code k+}, {@code k-})
   * is refused, naming the key.
   */
  @Test
  void aDottedKeySetsOneValueInsideItsMap() {
    List<ObjectNode> jobs = yaml("""
        suite: fsmark
        testbox: vm-2p8g
        fsmark:
          filesize: 4K
          test_size: 1G
        ---
        fsmark.test_size: 60G
        disk.nr: 2
        """);
    assertEquals(2, jobs.size());
    assertEquals("1G", jobs.get(0).at("/fsmark/test_size").asText());
    assertEquals("60G", jobs.get(1).at("/fsmark/test_size").asText());
    assertEquals("4K", jobs.get(1).at("/fsmark/filesize").asText(), "the map's other options stay");
    assertEquals(2, jobs.get(1).at("/disk/nr").asInt(), "a map made where there was none");
    assertFalse(jobs.get(1).has("fsmark.test_size"), jobs.get(1).toString());
    // the base's dotted key goes into the base: a variation's own map of the name replaces it whole
    List<ObjectNode> replaced = yaml("suite: s\ntestbox: t\nfsmark.test_size: 60G\n---\nfsmark:\n  test_size: 10G\n");
    assertEquals("60G", replaced.get(0).at("/fsmark/test_size").asText());
    assertEquals("10G", replaced.get(1).at("/fsmark/test_size").asText());
    assertTrue(refusal("suite: s\ntestbox: t\nmail_to+: a@b\n").contains("mail_to+"));
    assertTrue(refusal("suite: s\ntestbox: t\nfsmark: 4K\nfsmark.test_size: 60G\n").contains("fsmark.test_size"));
  }

  @Test
  void theDocumentedSettingsAreTheDefaults() {
    assertEquals(10_000, RULES.maxJobs());
    for (String key : List.of("mac_addr", "initrds_uri", "tags", "cache_dirs", "target_machines",
        "rootfs_disk", "need_kconfig", "need_file_store")) {
      assertTrue(RULES.listKeys().contains(key), key);
    }
  }

  @Test
  void aMatrixFileMakesEveryCombinationTheFirstListVaryingSlowest() {
    List<ObjectNode> jobs = yaml("""
        suite: pipe-bench
        category: benchmark
        testbox: vm-2p8g
        nr_task:
        - 200%
        - 1
        runtime: 60s
        pipe-bench:
          transport:
          - fifo
          - unix
          size: [4k, 64k, 1m]
        """);
    assertEquals(12, jobs.size());
    assertEquals(List.of("200%", "200%", "200%", "200%", "200%", "200%", "1", "1", "1", "1", "1", "1"),
        column(jobs, "/nr_task"));
    assertEquals(List.of("fifo", "fifo", "fifo", "unix", "unix", "unix"),
        column(jobs, "/pipe-bench/transport").subList(0, 6));
    assertEquals(List.of("4k", "64k", "1m", "4k", "64k", "1m"), column(jobs, "/pipe-bench/size").subList(0, 6));
    ObjectNode first = jobs.get(0);
    assertEquals("pipe-bench", first.path("suite").asText());
    assertEquals("60s", first.path("runtime").asText());
    assertTrue(first.path("nr_task").isTextual(), "a value, not a list: " + first);
    assertEquals(1, jobs.get(6).path("nr_task").asInt(), "YAML types kept: " + jobs.get(6));
    assertEquals(List.of("suite", "category", "testbox", "nr_task", "runtime", "pipe-bench"),
        iterable(first.fieldNames()), "the file's key order");
    // every job is a tree of its own: changing one changes no other
    first.with("pipe-bench").put("size", "changed");
    assertEquals("4k", jobs.get(3).at("/pipe-bench/size").asText());
  }

  private static List<String> iterable(java.util.Iterator<String> it) {
    List<String> l = new ArrayList<>();
    it.forEachRemaining(l::add);
    return l;
  }

  @Test
  void laterDocumentsAreVariationsOfTheFirstAndTheBaseIsAJobToo() {
    List<ObjectNode> jobs = yaml("""
        suite: syscall-loop
        testbox: dc-8g
        loops: 1000
        syscall-loop:
          duration: 5s
          call:
          - all

        ---
        syscall-loop:
          duration: 120s
          call:
          - getpid
          - gettid
          - uname
        ---
        testbox: vm-2p8g
        """);
    assertEquals(1 + 3 + 1, jobs.size(), jobs.toString());
    assertEquals(List.of("all", "getpid", "gettid", "uname", "all"), column(jobs, "/syscall-loop/call"));
    assertEquals(List.of("5s", "120s", "120s", "120s", "5s"), column(jobs, "/syscall-loop/duration"));
    assertEquals(List.of("dc-8g", "dc-8g", "dc-8g", "dc-8g", "vm-2p8g"), column(jobs, "/testbox"));
    for (ObjectNode j : jobs) {
      assertEquals("syscall-loop", j.path("suite").asText(), "kept from the base: " + j);
      assertEquals(1000, j.path("loops").asInt());
    }
  }

  @Test
  void listsThatAreListsByNatureStayLists() {
    List<ObjectNode> jobs = yaml("""
        suite: kbuild-check
        testbox: taishan200-2280-2s48p-256g
        target_machines: [taishan200-2280-2s48p-256g--a1, taishan200-2280-2s48p-256g--a2]
        need_kconfig:
        - CONFIG_KVM=y
        - CONFIG_BLK_DEV_LOOP
        tags: [nic=100g, ssd]
        hw:
          mac_addr: ["52:54:00:12:34:56", "52:54:00:12:34:57"]
        kbuild-check:
          cache_dirs: [/srv/cache/a, /srv/cache/b]
          jobs: [1, 2]
        """);
    assertEquals(2, jobs.size(), "only kbuild-check.jobs multiplies: " + jobs);
    for (ObjectNode j : jobs) {
      assertEquals(2, j.path("target_machines").size(), j.toString());
      assertEquals(2, j.path("need_kconfig").size());
      assertEquals(2, j.path("tags").size());
      assertEquals(2, j.at("/hw/mac_addr").size());
      assertEquals(2, j.at("/kbuild-check/cache_dirs").size());
    }
    assertEquals(List.of("1", "2"), column(jobs, "/kbuild-check/jobs"));
  }

  @Test
  void deeperListsAreDataExceptUnderARoleOrASection() {
    List<ObjectNode> jobs = yaml("""
        suite: rpc-pair
        testbox: vm-2p8g
        cluster: cs-localhost
        disk:
          layout:
            members: [sda, sdb]
        if role server:
          rpc-server:
            threads: [1, 4]
        program:
          rpc-client:
            payload: [64, 1500]
        """);
    assertEquals(4, jobs.size(), jobs.toString());
    assertEquals(2, jobs.get(0).at("/disk/layout/members").size(), "three levels down: data");
    assertEquals(List.of("1", "1", "4", "4"), column(jobs, "/if role server/rpc-server/threads"));
    assertEquals(List.of("64", "1500", "64", "1500"), column(jobs, "/program/rpc-client/payload"));
  }

  @Test
  void joinedKeysSetSeveralKeysPerValue() {
    List<ObjectNode> jobs = yaml("""
        suite: os-smoke
        testbox: dc-8g
        os | os_version | docker_image:
        - openeuler | 22.03 | openeuler:22.03
        - debian    | 12    | debian:12
        """);
    assertEquals(2, jobs.size());
    assertEquals(List.of("openeuler", "debian"), column(jobs, "/os"));
    assertEquals(List.of("22.03", "12"), column(jobs, "/os_version"));
    assertEquals(List.of("openeuler:22.03", "debian:12"), column(jobs, "/docker_image"));
    assertTrue(jobs.get(0).path("os | os_version | docker_image").isMissingNode());
    assertTrue(refusal("suite: a\nos | os_version: [openeuler]\n").contains("has 1 value for 2 keys"));
  }

  @Test
  void rubyExpressionsTemplatesAndIncludesAreRefusedNamingTheKey() {
    String expression = refusal("""
        suite: fs-bench
        fs-bench:
          files: 100
          load: {{
                  fs == 'xfs' ? 10 : 20
                }}
        """);
    assertTrue(expression.startsWith("fs-bench.load (line 4): '{{ … }}' is a Ruby expression"), expression);

    String inAList = refusal("suite: s\nfs-bench:\n  count:\n  - {{ fs == 'ext4' ? 1 : 2 }}\n");
    assertTrue(inAList.startsWith("fs-bench.count (line 4): "), inAList);

    String quoted = refusal("suite: s\nsecrets:\n  token: \"{{my_token}}\"\n");
    assertTrue(quoted.startsWith("secrets.token (line 3): '{{ … }}' is a Ruby expression"), quoted);

    String erb = refusal("suite: s\nssh_key: <%= File.read('/root/.ssh/id.pub') %>\n");
    assertTrue(erb.startsWith("ssh_key (line 2): '<% … %>' is an ERB template"), erb);

    String include = refusal("<< : jobs/base.yaml\nsuite: s\n");
    assertTrue(include.startsWith("line 1: '<< : jobs/base.yaml' merges in another job file"), include);
    // after a list's dash too, where lkp-tests pastes it in all the same
    String listed = refusal("suite: s\nsetup:\n  - << : common.yaml\n");
    assertTrue(listed.startsWith("line 3: '<< : common.yaml' merges in another job file"), listed);

    assertTrue(refusal("suite: s\nx: &v [1, 2]\ny: *v\n").contains("'*v' is a YAML alias"));
    // a comment may say anything
    assertEquals(1, yaml("# {{ not evaluated }} <% nor this %>\nsuite: s  # {{ x }}\n").size());
  }

  /**
   * Texts that took the old reading minutes or overflowed its stack. The time bound is a guard
   * against a hang, not a measure of speed: each runs in milliseconds now, and took from tens of
   * seconds to half an hour before.
   */
  @Test
  void textsMadeToBacktrackOrRecurseAreAnsweredAtOnce() {
    java.time.Duration guard = java.time.Duration.ofSeconds(60);
    // a plain word, a million spaces, a word: each longer try at a key scanned the spaces again
    String spaces = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(guard,
        () -> refusal("suite: s\nfs-bench:\n  load: 1\n  a" + " ".repeat(1_000_000) + "b {{ x }}\n"));
    assertTrue(spaces.startsWith("fs-bench (line 4): '{{ … }}' is a Ruby expression"), spaces);
    String include = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(guard,
        () -> refusal("<< : a" + " ".repeat(1_000_000) + "b\nsuite: s\n"));
    assertTrue(include.startsWith("line 1: '<< : a"), include.substring(0, 40));
    // 50,000 list dashes: one frame each for (?:-\s+)*, a StackOverflowError (no 4xx) before
    String dashes = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(guard,
        () -> refusal("suite: s\nx:\n" + "- ".repeat(50_000) + "y: {{ z }}\n"));
    assertTrue(dashes.startsWith("x.y (line 3): '{{ … }}' is a Ruby expression"), dashes);
    // 120,000 escaped braces, braces only once parsed and never closed: .*\{\{.*}}.* tried each
    // pair against the rest of the value
    List<ObjectNode> braces = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(guard,
        () -> yaml("suite: s\nx: \"" + "\\x7b".repeat(120_000) + "\"\n"));
    assertEquals(120_000, braces.get(0).path("x").asText().length());
    assertTrue(JobFile.rubyLike("a {{ b }} c") && JobFile.rubyLike("{{}}") && !JobFile.rubyLike("}} {{")
        && !JobFile.rubyLike("{{}") && !JobFile.rubyLike("{ {"));
    // 60,000 one-line fields: each made a copy of all the fields before it, before the count
    // of fields was refused; now the count is checked on the document, before anything is made
    StringBuilder wide = new StringBuilder("suite: s\n");
    for (int i = 0; i < 60_000; i++) {
      wide.append('k').append(i).append(": 1\n");
    }
    TooLargeException fields = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(guard,
        () -> assertThrows(TooLargeException.class, () -> yaml(wide.toString())));
    assertTrue(fields.getMessage().contains("scheduler.submit.max-fields-per-job"), fields.getMessage());
    // within the limit, a list of 100 values makes 100 jobs of 9,000 fields each, each in one pass
    StringBuilder many = new StringBuilder("suite: s\nnr: [");
    for (int i = 0; i < 100; i++) {
      many.append(i == 0 ? "" : ", ").append(i);
    }
    many.append("]\n");
    for (int i = 0; i < 9_000; i++) {
      many.append('k').append(i).append(": 1\n");
    }
    List<ObjectNode> jobs = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(guard,
        () -> yaml(many.toString()));
    assertEquals(100, jobs.size());
    assertEquals("99", jobs.get(99).path("nr").asText());
    assertEquals(9_002, jobs.get(99).size());
  }

  @Test
  void aFileOverTheCeilingIsRefusedWithItsCount() {
    StringBuilder file = new StringBuilder("suite: wide\n");
    for (String key : List.of("a", "b", "c")) {
      file.append(key).append(": [");
      for (int i = 0; i < 22; i++) {
        file.append(i == 0 ? "" : ", ").append(i);
      }
      file.append("]\n");
    }
    String why = refusal(file.toString());
    assertTrue(why.contains("would make 10648 jobs, more than the 10000"), why);
    assertTrue(why.contains("scheduler.submit.max-jobs-per-file"), why);

    JobFile.Rules four = new JobFile.Rules(Set.of(), 4);
    byte[] two = "suite: s\nx: [1, 2]\n---\ny: [1, 2]\n".getBytes(StandardCharsets.UTF_8);
    InvalidJobException over = assertThrows(InvalidJobException.class,
        () -> JobFile.read(two, JobFile.Format.YAML, four));
    assertTrue(over.getMessage().contains("would make 6 jobs, more than the 4"), over.getMessage());
  }

  @Test
  void aFileCountedInTheSextillionsIsRefusedWithoutBeingMade() {
    StringBuilder file = new StringBuilder("suite: s\n");
    for (int k = 0; k < 21; k++) {
      file.append("k").append(k).append(": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n");
    }
    String why = refusal(file.toString());
    assertTrue(why.contains("would make 1" + "0".repeat(21) + " jobs"), why);
  }

  @Test
  void sequenceDocumentsAndJsonAreTakenAsWritten() {
    List<ObjectNode> listed = yaml("""
        - suite: a
          testbox: dc-8g
          nr_threads: [1, 2]
        - suite: b
          testbox: dc-8g
        ---
        - suite: c
          testbox: dc-8g
        """);
    assertEquals(List.of("a", "b", "c"), column(listed, "/suite"));
    assertTrue(listed.get(0).path("nr_threads").isArray());

    byte[] json = "[{\"suite\":\"a\",\"nr_threads\":[1,2]},{\"suite\":\"b\"}]".getBytes(StandardCharsets.UTF_8);
    assertEquals(JobFile.Format.JSON, JobFile.Format.of(json));
    List<ObjectNode> literal = JobFile.read(json, JobFile.Format.JSON, RULES);
    assertEquals(2, literal.size());
    assertTrue(literal.get(0).path("nr_threads").isArray(), "JSON lists stay lists");
    assertEquals(JobFile.Format.YAML, JobFile.Format.of("{suite: a}".getBytes(StandardCharsets.UTF_8)));
    assertEquals(JobFile.Format.YAML, JobFile.Format.of("suite: a\n".getBytes(StandardCharsets.UTF_8)));

    String mixed = refusal("suite: a\n---\n- suite: b\n");
    assertTrue(mixed.startsWith("document 2 is a list of jobs but document 1 is a job"), mixed);
  }

  @Test
  void settingsReplaceTheFileBeforeItIsExpanded() {
    ObjectNode set = JobFile.settings(List.of("nr_task=8", "queue: idle", "testbox=vm-2p8g"));
    List<ObjectNode> jobs = JobFile.read("""
        suite: s
        testbox: dc-8g
        nr_task: [1, 2, 3]
        mode: [a, b]
        """.getBytes(StandardCharsets.UTF_8), JobFile.Format.YAML, RULES, set);
    assertEquals(2, jobs.size(), "nr_task is no longer a list: " + jobs);
    for (JsonNode j : jobs) {
      assertEquals(8, j.path("nr_task").asInt());
      assertTrue(j.path("nr_task").isNumber());
      assertEquals("idle", j.path("queue").asText());
      assertEquals("vm-2p8g", j.path("testbox").asText());
    }
    assertThrows(IllegalArgumentException.class, () -> JobFile.settings(List.of("novalue")));
    // as lkp-tests' submit keeps them: text, but for a plain decimal whole number
    ObjectNode kept = JobFile.settings(List.of("ucode=0xb000038", "commit=0123456", "os_version=20.10", "rate=1e3",
        "flag=yes", "n=-3"));
    assertEquals("0xb000038", kept.path("ucode").asText());
    assertEquals("0123456", kept.path("commit").asText());
    assertEquals("20.10", kept.path("os_version").asText());
    assertEquals("1e3", kept.path("rate").asText());
    assertEquals("yes", kept.path("flag").asText());
    assertTrue(kept.path("n").isNumber());
  }

  /**
   * Half of a UTF-16 pair, sent as a JSON or YAML escape, is no character: refused, in a value or
   * a name, at any depth. A whole pair (a character past the basic plane) is taken.
   */
  @Test
  void halfASurrogatePairIsRefused() {
    for (String body : List.of("{\"suite\":\"s\",\"testbox\":\"t\",\"x\":\"abc\\ud800\"}",
        "{\"suite\":\"s\",\"testbox\":\"t\",\"pp\":{\"a\":[\"\\udc00z\"]}}",
        "{\"suite\":\"s\",\"testbox\":\"t\",\"k\\ud800\":1}")) {
      InvalidJobException e = assertThrows(InvalidJobException.class,
          () -> JobFile.read(body.getBytes(StandardCharsets.UTF_8), JobFile.Format.JSON, RULES), body);
      assertTrue(e.getMessage().contains("surrogate"), e.getMessage());
    }
    String yaml = refusal("suite: s\ntestbox: t\nx: \"a\\ud800\"\n");
    assertTrue(yaml.contains("surrogate"), yaml);
    List<ObjectNode> whole = JobFile.read("{\"suite\":\"s\",\"testbox\":\"t\",\"x\":\"\\ud83d\\ude00\"}"
        .getBytes(StandardCharsets.UTF_8), JobFile.Format.JSON, RULES);
    assertEquals("\ud83d\ude00", whole.get(0).path("x").asText());
  }

  @Test
  void whatCannotMakeAJobIsRefused() {
    assertTrue(refusal("suite: a\nmode: []\n").startsWith("mode: an empty list makes no job"));
    assertTrue(refusal("# only a comment\n").contains("holds no job"));
    assertTrue(refusal("suite: a\nsuite: b\n").contains("'suite' is given twice"));
    assertTrue(refusal("suite: [unclosed\n").startsWith("not valid YAML at line "));
    assertTrue(refusal("just text\n").startsWith("document 1 is a single value"));
    assertTrue(refusal("- 1\n- 2\n").startsWith("item 1 of 2 is not a job"));
    assertTrue(refusal("[]\n").startsWith("an empty list holds no job"));
  }

  /**
   * A matrix multiplies what its document holds: under 1 MiB of body, 900 KB of one value and two
   * lists of 100 made 10,000 jobs of 900 KB each, some 9 GB to store in one commit. What the
   * jobs of one file add up to, as their documents stand before the matrix, has a limit.
   */
  @Test
  void aFileWhoseJobsAddUpToMoreThanASubmitMayHoldIsRefused() throws Exception {
    String hundred = java.util.stream.IntStream.rangeClosed(1, 100).mapToObj(Integer::toString)
        .collect(java.util.stream.Collectors.joining(", ", "[", "]"));
    String big = "suite: s\ntestbox: vm-2p8g\npad: " + "p".repeat(900_000) + "\na: " + hundred + "\nb: " + hundred + "\n";
    TooLargeException e = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
        () -> assertThrows(TooLargeException.class, () -> yaml(big)));
    assertTrue(e.getMessage().contains("scheduler.submit.max-expanded-size"), e.getMessage());
    // a list is counted once per job it makes, not whole in each: 5,000 commits of 40 characters
    // make 5,000 jobs of under 100 characters (the document itself is 215 KB)
    String commits = java.util.stream.IntStream.range(0, 5_000).mapToObj(i -> String.format("%040x", i))
        .collect(java.util.stream.Collectors.joining(", ", "[", "]"));
    assertEquals(5_000, yaml("suite: s\ntestbox: vm-2p8g\ncommit: " + commits + "\n").size());
    // and the count is what the jobs are, as near as a comma
    String sample = "suite: s\ntestbox: vm-2p8g\npad: " + "p".repeat(1000) + "\na: [1, 22, 333]\nb: [x, yy]\n"
        + "fio:\n  rw: [read, write]\n";
    List<ObjectNode> made = yaml(sample);
    long actual = made.stream().mapToLong(j -> j.toString().length()).sum();
    ObjectNode doc = (ObjectNode) new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(sample);
    long counted = new JobMatrix(RULES.listKeys()).of(doc).size().longValueExact();
    assertTrue(counted >= actual && counted <= actual + 2L * made.size() * doc.size(), counted + " for " + actual);
    // a hundred jobs of 100 KB each are 10 MB: taken
    String ten = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
    assertEquals(100, yaml("suite: s\ntestbox: vm-2p8g\npad: " + "p".repeat(100_000) + "\na: " + ten + "\nb: " + ten + "\n").size());
  }
}
