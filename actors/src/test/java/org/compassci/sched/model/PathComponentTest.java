package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Values that become folder names of result_root cannot climb out of the results folder. */
class PathComponentTest {

  @Test
  void traversalInAnyPathFieldIsRefusedAtSubmit() {
    for (String field : JobIntake.PATH_FIELDS) {
      for (String bad : new String[] {"../../../etc", "../../vm", "a/b", ".hidden", "-x", "a b", "a\\b", "a\u0000b", "é"}) {
        String job = "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"" + field + "\":" + Json.write(Json.MAPPER.valueToTree(bad)) + "}";
        InvalidJobException e = assertThrows(InvalidJobException.class, () -> JobIntake.prepare(Json.parse(job)), job);
        assertTrue(e.getMessage().startsWith(field + ":"), e.getMessage());
      }
    }
  }

  @Test
  void ordinaryValuesPassAndTheResultRootStaysBelowItsPrefix() {
    JobIntake.Draft d = JobIntake.prepare(Json.parse("{\"suite\":\"hackbench\",\"testbox\":\"taishan200-2280-2s48p-256g--a66\","
        + "\"my_account\":\"alice.b+c_d-1\",\"queue\":\"single-build\",\"os\":\"openeuler\",\"os_arch\":\"aarch64\",\"os_version\":20.03}"));
    Job job = Job.submitted(d, 42, Instant.parse("2026-11-29T00:00:00Z"), "/result");
    assertTrue(job.resultRoot().matches("/result/hackbench/2026-11-2[89]/taishan200-2280-2s48p-256g/42"), job.resultRoot());
  }

  @Test
  void job2shMustBeFunctionsOfLines() {
    JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"job2sh\":{\"run_job\":[\"a\",null,[\"b\"]]}}"));
    for (String bad : new String[] {"[]", "{\"run_job\":3}", "{\"run_job\":[{\"x\":1}]}"}) {
      assertEquals("job2sh", assertThrows(InvalidJobException.class, () -> JobIntake.prepare(Json.parse(
          "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"job2sh\":" + bad + "}"))).getMessage().substring(0, 6));
    }
  }
}
