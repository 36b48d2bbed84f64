package org.compassci.sched.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.model.Json;

/**
 * Events a slow reader has not taken yet, merged per job: the bounded, conflating buffer of
 * every watch stream, Server-Sent Events and WebSocket alike. While the reader does not read,
 * a stream keeps at most one pending event per job; one that merged several changes is sent as
 * the job's whole state, which says everything they said.
 */
final class EventBacklog {

  /** How one stream writes an event: SSE frames, or WebSocket messages. */
  interface Renderer<T> {
    /** {@code data}: {@code job_id} and the fields that changed (or all of them). */
    T job(ObjectNode data);

    /** The job retired ({@code error} null), or cannot be followed ({@code error} says why). */
    T closed(long id, String error);
  }

  private final Map<Long, WatchActor.JobEvent> events = new LinkedHashMap<>();
  private final Map<Long, String> closed = new LinkedHashMap<>();
  private final Set<Long> merged = new java.util.HashSet<>();
  /**
   * Per job, the fields a pending change said were gone (null): the whole state sent for merged
   * changes lacks them, and says so with null too, or the reader keeps what it last had.
   */
  private final Map<Long, Set<String>> gone = new java.util.HashMap<>();

  EventBacklog(WatchActor.Event first) {
    add(first);
  }

  EventBacklog add(WatchActor.Event e) {
    if (e instanceof WatchActor.JobEvent j) {
      if (events.put(j.id(), j) != null) {
        merged.add(j.id());
      }
      // an event after the job's close in one batch: it was refused (a socket at its limit) and
      // followed again, and the refusal, written after every event, would undo it
      closed.remove(j.id());
      j.fields().fields().forEachRemaining(f -> {
        if (f.getValue().isNull()) {
          gone.computeIfAbsent(j.id(), id -> new java.util.HashSet<>()).add(f.getKey());
        }
      });
    } else if (e instanceof WatchActor.Closed c) {
      closed.put(c.id(), c.error());
    }
    return this;
  }

  /** How many messages wait: one per job with a change, one per job closed. */
  int size() {
    return events.size() + closed.size();
  }

  /**
   * The frames, each rendered as the stream takes it: a reader that stopped reading would
   * otherwise hold a rendered copy of every job's whole state (up to 1,000 jobs a stream) while
   * the states themselves are the watch actor's.
   */
  <T> Iterable<T> frames(Renderer<T> renderer) {
    return () -> new java.util.Iterator<T>() {
      private final java.util.Iterator<WatchActor.JobEvent> jobs = events.values().iterator();
      private final java.util.Iterator<Map.Entry<Long, String>> closes = closed.entrySet().iterator();

      @Override
      public boolean hasNext() {
        return jobs.hasNext() || closes.hasNext();
      }

      @Override
      public T next() {
        if (jobs.hasNext()) {
          return renderer.job(data(jobs.next()));
        }
        Map.Entry<Long, String> c = closes.next();
        return renderer.closed(c.getKey(), c.getValue());
      }
    };
  }

  private ObjectNode data(WatchActor.JobEvent j) {
    if (!merged.contains(j.id())) {
      return j.fields();
    }
    // changes were skipped: the whole state says everything they said
    ObjectNode data = Json.object().put("job_id", Long.toString(j.id()));
    data.setAll(j.state());
    for (String name : gone.getOrDefault(j.id(), Set.of())) {
      if (!data.has(name)) {
        data.putNull(name);
      }
    }
    return data;
  }

}
