package org.compassci.sched.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.List;

/**
 * A submit's answer as Compass-CI clients read it: one element per job,
 * {@code {"job_id","message":"","job_state":"submit","result_root"}}. The same text is kept with
 * a submit key, so that a retried submit gets the first answer byte for byte.
 */
public final class SubmitAnswer {

  public record Entry(long id, String resultRoot) {}

  private SubmitAnswer() {}

  public static String render(List<Entry> jobs) {
    ArrayNode out = Json.MAPPER.createArrayNode();
    for (Entry e : jobs) {
      out.addObject().put("job_id", Long.toString(e.id())).put("message", "")
          .put("job_state", "submit").put("result_root", e.resultRoot());
    }
    return Json.write(out);
  }
}
