package org.compassci.sched.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerSentEventsTest {

  private static List<ServerSentEvents.Event> parse(String... lines) {
    ServerSentEvents parser = new ServerSentEvents();
    List<ServerSentEvents.Event> events = new ArrayList<>();
    for (String l : lines) {
      parser.line(l).ifPresent(events::add);
    }
    return events;
  }

  @Test
  void typedEventsBetweenHeartbeats() {
    List<ServerSentEvents.Event> events = parse(
        ":", "", "event: job", "data: {\"job_id\":\"1\"}", "", ": keep-alive", "",
        "event:close", "data:{\"job_id\":\"1\"}", "");
    assertEquals(List.of(new ServerSentEvents.Event("job", "{\"job_id\":\"1\"}"),
        new ServerSentEvents.Event("close", "{\"job_id\":\"1\"}")), events);
  }

  @Test
  void dataLinesJoinAndAnUnnamedEventIsAMessage() {
    assertEquals(List.of(new ServerSentEvents.Event("message", "a\nb")),
        parse("id: 7", "data: a", "retry: 100", "data: b", ""));
  }

  @Test
  void anEventWithoutDataOrWithoutItsBlankLineIsNotDispatched() {
    assertEquals(List.of(), parse("event: job", "", "event: job", "data: {}"));
  }
}
