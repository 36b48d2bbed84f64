package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;

/** Who may upload a job's results without its token (lkp-tests 2022's WebDAV names only the job). */
class BootRulesTest {

  static final Instant NOW = Instant.parse("2026-12-02T05:00:00Z");

  static Job handedOut(String testbox) {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"" + testbox + "\"}")),
        42, NOW, "/result");
    job.handOut("h1", "tok", NOW);
    return job;
  }

  /**
   * A bare-metal job: only from the address its package went to, and never before it went out,
   * whatever its stage (anyone's legacy call can move it on); with its token from anywhere.
   */
  @Test
  void aBareMetalJobTakesTokenlessUploadsFromItsBoxOnly() {
    Job job = handedOut("taishan200--a61");
    assertEquals(403, BootRules.upload(job, null, "10.0.0.5").status(), "the package is not fetched yet");
    job.setStage(JobStage.BOOT, NOW);
    assertEquals(403, BootRules.upload(job, null, "10.0.0.5").status(), "moved on by a legacy call, still not fetched");
    job.fetchedFrom("10.0.0.5");
    assertEquals(200, BootRules.upload(job, null, "10.0.0.5").status());
    assertEquals(403, BootRules.upload(job, null, "10.0.0.6").status());
    assertEquals(200, BootRules.upload(job, "tok", "10.0.0.6").status(), "with its token");
    assertEquals(200, BootRules.upload(job, null, null).status(), "tokenless-webdav = on: from anywhere");
    job.returnToQueue();
    job.handOut("h2", "tok2", NOW);
    assertEquals(403, BootRules.upload(job, null, "10.0.0.5").status(), "the next hand-out forgets the old box");
    job.fetchedFrom(Job.UNKNOWN_ADDRESS);
    assertEquals(403, BootRules.upload(job, null, "10.0.0.7").status(), "fetched from an address nobody knows");
    assertEquals(200, BootRules.upload(job, "tok2", "10.0.0.7").status());
    job.fetchedFrom(Job.ANY_ADDRESS);
    assertEquals(200, BootRules.upload(job, null, "10.0.0.7").status(), "a package a VM's host fetched (libvirt)");
  }

  /** A VM's or container's job: its host fetches the package, the guest uploads from its own address. */
  @Test
  void aGuestsJobIsNotBound() {
    for (String testbox : new String[] {"vm-2p8g", "dc-8g"}) {
      Job job = handedOut(testbox);
      job.fetchedFrom("10.0.0.5");
      assertEquals(200, BootRules.upload(job, null, "172.17.0.2").status(), testbox);
    }
  }
}
