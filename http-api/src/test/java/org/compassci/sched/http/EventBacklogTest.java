package org.compassci.sched.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;

/** A slow reader's backlog, read as a stream's frames. */
class EventBacklogTest {

  private static final EventBacklog.Renderer<ObjectNode> AS_IS = new EventBacklog.Renderer<>() {
    @Override
    public ObjectNode job(ObjectNode data) {
      return data;
    }

    @Override
    public ObjectNode closed(long id, String error) {
      return Json.object().put("closed", id);
    }
  };

  private static ObjectNode json(String text) {
    return (ObjectNode) Json.parse(text);
  }

  /**
   * Changes merged while the reader did not read are sent as the job's whole state, which lacks
   * the fields that went: they come as null too (a requeue's host and times), as in the changes
   * merged. Without it the reader kept the hand-out's host beside the next one's.
   */
  @Test
  void mergedChangesStillSayWhichFieldsWent() {
    EventBacklog backlog = new EventBacklog(new WatchActor.JobEvent(5,
        json("{\"job_id\":\"5\",\"job_stage\":\"submit\",\"host_machine\":null,\"dispatch_time\":null}"),
        json("{\"id\":\"5\",\"job_stage\":\"submit\",\"suite\":\"s\"}")));
    backlog.add(new WatchActor.JobEvent(5, json("{\"job_id\":\"5\",\"job_stage\":\"dispatch\",\"dispatch_time\":\"t2\"}"),
        json("{\"id\":\"5\",\"job_stage\":\"dispatch\",\"suite\":\"s\",\"dispatch_time\":\"t2\"}")));
    List<ObjectNode> frames = new java.util.ArrayList<>();
    backlog.frames(AS_IS).forEach(frames::add);
    assertEquals(1, frames.size());
    ObjectNode sent = frames.get(0);
    assertEquals("dispatch", sent.path("job_stage").asText());
    assertEquals("t2", sent.path("dispatch_time").asText(), "back since it went: its new value");
    assertTrue(sent.get("host_machine") != null && sent.get("host_machine").isNull(), sent.toString());
    assertEquals("s", sent.path("suite").asText(), "the whole state");
  }

  /** Frames are rendered as the stream takes them, not all at once into a list it holds. */
  @Test
  void framesAreRenderedOneAtATime() {
    EventBacklog backlog = new EventBacklog(new WatchActor.JobEvent(1, json("{\"job_id\":\"1\",\"a\":1}"), json("{}")));
    backlog.add(new WatchActor.JobEvent(2, json("{\"job_id\":\"2\",\"a\":2}"), json("{}")));
    backlog.add(new WatchActor.Closed(3, null));
    java.util.concurrent.atomic.AtomicInteger rendered = new java.util.concurrent.atomic.AtomicInteger();
    EventBacklog.Renderer<String> counting = new EventBacklog.Renderer<>() {
      @Override
      public String job(ObjectNode data) {
        rendered.incrementAndGet();
        return data.path("job_id").asText();
      }

      @Override
      public String closed(long id, String error) {
        rendered.incrementAndGet();
        return "closed " + id;
      }
    };
    java.util.Iterator<String> frames = backlog.frames(counting).iterator();
    assertEquals(0, rendered.get());
    assertEquals("1", frames.next());
    assertEquals(1, rendered.get());
    assertEquals("2", frames.next());
    assertEquals("closed 3", frames.next());
    assertTrue(!frames.hasNext() && rendered.get() == 3);
  }

  /**
   * A socket refused a job (at its limit), then, before it read, made room and followed it: the
   * job's event supersedes the refusal, which came after it in the batch (all events are written
   * before all closes), and the client took the job for refused although it is followed.
   */
  @Test
  void aJobsEventAfterItsRefusalSupersedesIt() {
    EventBacklog backlog = new EventBacklog(new WatchActor.Closed(3, "at most 1 jobs per socket: unwatch one first"));
    backlog.add(new WatchActor.JobEvent(3, json("{\"job_id\":\"3\",\"job_stage\":\"submit\"}"), json("{}")));
    backlog.add(new WatchActor.JobEvent(4, json("{\"job_id\":\"4\",\"job_stage\":\"finish\"}"), json("{}")));
    backlog.add(new WatchActor.Closed(4, null));
    List<ObjectNode> frames = new java.util.ArrayList<>();
    backlog.frames(AS_IS).forEach(frames::add);
    assertEquals(List.of("3", "4"), frames.subList(0, 2).stream().map(f -> f.path("job_id").asText()).toList());
    assertEquals(List.of(4L), frames.subList(2, frames.size()).stream().map(f -> f.path("closed").asLong()).toList(),
        "the retired job's close stays, after its event; the refusal of the job now followed goes");
  }
}
