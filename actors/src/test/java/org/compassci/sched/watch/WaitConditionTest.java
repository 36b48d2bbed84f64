package org.compassci.sched.watch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;

class WaitConditionTest {

  private static JsonNode state(String stage, String health, String readiness) {
    return Json.object().put("job_stage", stage).put("job_health", health).put("job_data_readiness", readiness);
  }

  private static WaitCondition.Verdict judge(String condition, JsonNode state) {
    return WaitCondition.parse("1", condition == null ? null : Json.parse(condition)).judge(state);
  }

  @Test
  void stagesCompareByOrder() {
    String running = "{\"job_stage\":\"running\"}";
    assertEquals(WaitCondition.Verdict.NOT_YET, judge(running, state("boot", "unknown", "N/A")));
    assertEquals(WaitCondition.Verdict.HOLDS, judge(running, state("running", "unknown", "N/A")));
    assertEquals(WaitCondition.Verdict.HOLDS, judge(running, state("post_run", "unknown", "N/A")));
    assertEquals(WaitCondition.Verdict.HOLDS, judge("{\"job_stage\":\"finish\"}", state("cancel", "cancel", "norun")),
        "the terminal alternatives come after finish");
  }

  @Test
  void nullMeansDataCompleteAndARetiredJobNeverGetsThereOnceSettledOtherwise() {
    assertEquals(WaitCondition.Verdict.NOT_YET, judge(null, state("finish", "success", "uploaded")));
    assertEquals(WaitCondition.Verdict.HOLDS, judge(null, state("finish", "success", "complete")));
    assertEquals(WaitCondition.Verdict.NEVER, judge(null, state("finish", "fail", "incomplete")));
    assertEquals(WaitCondition.Verdict.NEVER, judge("{\"job_health\":\"success\"}", state("finish", "fail", "complete")));
    assertEquals(WaitCondition.Verdict.NOT_YET, judge("{\"job_health\":\"success\"}", state("running", "unknown", "N/A")));
  }

  @Test
  void badConditionsSayWhatIsWrong() {
    InvalidJobException e = assertThrows(InvalidJobException.class, () -> judge("{\"job_stage\":\"sideways\"}", state("submit", "unknown", "N/A")));
    assertTrue(e.getMessage().contains("sideways"), e.getMessage());
    assertThrows(InvalidJobException.class, () -> judge("{\"colour\":\"red\"}", state("submit", "unknown", "N/A")));
    assertThrows(InvalidJobException.class, () -> judge("\"finish\"", state("submit", "unknown", "N/A")));
    assertThrows(InvalidJobException.class, () -> judge("{}", state("submit", "unknown", "N/A")));
    // a number where a name belongs is named as the mistake it is, not as an empty name
    InvalidJobException number = assertThrows(InvalidJobException.class,
        () -> judge("{\"job_stage\":5}", state("submit", "unknown", "N/A")));
    assertTrue(number.getMessage().contains("job_stage") && number.getMessage().contains("not 5"), number.getMessage());
  }
}
