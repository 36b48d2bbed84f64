package org.compassci.sched.cli;

import java.util.Optional;

/**
 * Turns the lines of a {@code text/event-stream} into events, as the HTML standard's parser does:
 * fields until a blank line, several {@code data:} lines joined by newlines, comments (the
 * server's heartbeats) skipped. One instance per stream; not thread-safe.
 */
final class ServerSentEvents {

  /** One event: its type ({@code message} when the server named none) and its data. */
  record Event(String type, String data) {}

  private String type = "";
  private final StringBuilder data = new StringBuilder();
  private boolean hasData;

  /** Takes the next line; gives the event that a blank line completes. */
  Optional<Event> line(String line) {
    if (line.isEmpty()) {
      return dispatch();
    }
    if (line.startsWith(":")) {
      return Optional.empty();
    }
    int colon = line.indexOf(':');
    String field = colon < 0 ? line : line.substring(0, colon);
    String value = colon < 0 ? "" : line.substring(colon + 1);
    if (value.startsWith(" ")) {
      value = value.substring(1);
    }
    switch (field) {
      case "event" -> type = value;
      case "data" -> {
        if (hasData) {
          data.append('\n');
        }
        data.append(value);
        hasData = true;
      }
      default -> {
        // id and retry matter to browsers that reconnect by themselves; the watch reconnects by
        // job ids, so they are not needed here
      }
    }
    return Optional.empty();
  }

  private Optional<Event> dispatch() {
    // the standard drops an event without data; so do we, which also skips stray blank lines
    Optional<Event> e = hasData
        ? Optional.of(new Event(type.isEmpty() ? "message" : type, data.toString()))
        : Optional.empty();
    type = "";
    data.setLength(0);
    hasData = false;
    return e;
  }
}
