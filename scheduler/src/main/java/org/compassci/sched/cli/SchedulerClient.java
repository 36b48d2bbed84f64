package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.compassci.sched.model.Json;

/**
 * The scheduler's HTTP API as the command line uses it. Every failure comes out as a
 * {@link CliFailure}: the server could not be reached (exit 3), or it answered with an error
 * (exit 4, with the server's own message).
 */
final class SchedulerClient {

  static final String V1 = "/scheduler/v1";

  /**
   * A status and its body, for the callers that read an error answer themselves (submit's 400);
   * {@code attempts}: how many times it was sent (more than one after a retry).
   */
  record Answer(int status, String body, int attempts) {
    Answer(int status, String body) {
      this(status, body, 1);
    }

    boolean ok() {
      return status / 100 == 2;
    }

    JsonNode json() {
      try {
        return Json.parse(body);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
  }

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  // a generous bound: a loaded server answers slowly, but a silent one must not hang a script
  private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(60);

  /**
   * The servers to try, in order: several when the scheduler runs as a cluster (any node
   * serves every request). A call that cannot reach one, or gets its 503, goes to the next.
   */
  private final List<String> servers;
  /**
   * The server that answered last: the next call starts there. Watch threads open their streams
   * at once, each walking the servers from here with an index of its own.
   */
  private final java.util.concurrent.atomic.AtomicInteger current = new java.util.concurrent.atomic.AtomicInteger();
  /** Sent as a bearer token when present. */
  private final java.util.Optional<String> token;
  /** How long a retried call goes on trying (a refused connection, a timeout, a 503). */
  private final Duration retryFor;
  private final HttpClient http = HttpClient.newBuilder()
      // HTTP/1.1 from the start: an h2c upgrade offer is one more thing to go wrong for nothing
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(CONNECT_TIMEOUT)
      .build();

  SchedulerClient(String server) {
    this(server, java.util.Optional.empty(), Duration.ZERO);
  }

  /** {@code server}: one URL, or several separated by commas (the nodes of a cluster). */
  SchedulerClient(String server, java.util.Optional<String> token, Duration retryFor) {
    this.servers = Stream.of(server.split(",")).map(String::strip).filter(u -> !u.isEmpty())
        .map(u -> u.replaceAll("/+$", "")).toList();
    token.ifPresent(t -> {
      // an HTTP header carries visible ASCII: a token pasted with curly quotes or a line break
      // failed deep in the HTTP client, as an internal error with a stack trace
      if (!t.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
        throw new CliFailure(Cli.USAGE, "the token has characters no token has (spaces, quotes,"
            + " line breaks or letters outside ASCII): copy it again");
      }
    });
    this.token = token;
    this.retryFor = retryFor;
  }

  /** The next server, after one failed or was unavailable. */
  private void next() {
    current.updateAndGet(c -> (c + 1) % servers.size());
  }

  /**
   * POSTs until the server answers something other than 503, or {@code retryFor} is over: a
   * refused connection, a timeout and a 503 are tried again after 0.5, 1, 2, 4, then every 5 s
   * (or the server's Retry-After, at most 5 s). {@code headers}: e.g. the Idempotency-Key that
   * makes a repeated submit safe.
   */
  Answer postRetrying(String pathAndQuery, String json, String... headers) {
    long deadline = System.nanoTime() + retryFor.toNanos();
    long pauseMillis = 500;
    for (int attempt = 1; ; attempt++) {
      HttpRequest.Builder b = request(pathAndQuery).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8));
      if (headers.length > 0) {
        b.headers(headers);
      }
      long pause = pauseMillis;
      try {
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 503 || System.nanoTime() >= deadline) {
          return new Answer(r.statusCode(), r.body(), attempt);
        }
        next();
        pause = r.headers().firstValue("Retry-After").map(SchedulerClient::seconds)
            .map(sec -> Math.min(5000L, Math.max(100L, sec * 1000))).orElse(pauseMillis);
      } catch (IOException e) {
        if (System.nanoTime() >= deadline) {
          throw CliFailure.unreachable(server(), why(e) + (attempt > 1 ? " (tried " + attempt + " times)" : ""));
        }
        next();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw CliFailure.unreachable(server(), "interrupted");
      }
      long left = (deadline - System.nanoTime()) / 1_000_000;
      sleep(Math.max(0, Math.min(pause, left)));
      pauseMillis = Math.min(5000, pauseMillis * 2);
    }
  }

  private static long seconds(String retryAfter) {
    try {
      return Long.parseLong(retryAfter.trim());
    } catch (NumberFormatException e) {
      return 1;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliFailure.unreachable("the scheduler", "interrupted");
    }
  }

  /** The DELETE of the accounts API. */
  Answer delete(String pathAndQuery) {
    return send(() -> request(pathAndQuery).DELETE());
  }

  /** The server in use now (the one that answered last). */
  String server() {
    return servers.get(current.get());
  }

  Answer get(String pathAndQuery) {
    return send(() -> request(pathAndQuery).GET());
  }

  Answer post(String pathAndQuery, String json) {
    return send(() -> request(pathAndQuery).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8)));
  }

  /** The JSON of a 2xx answer; any other status becomes a refusal carrying the server's words. */
  JsonNode expectJson(Answer a) {
    if (!a.ok()) {
      throw CliFailure.refused(refusal(a));
    }
    JsonNode json = a.json();
    if (json == null) {
      throw CliFailure.refused(server() + " answered " + a.status() + " with something that is not JSON: "
          + firstLine(a.body()));
    }
    return json;
  }

  /**
   * Opens the event stream of these jobs: one job's own stream, or the shared one for several.
   * The caller reads the lines and closes the stream, which hangs up.
   */
  Stream<String> openEvents(List<String> jobIds) {
    String path = jobIds.size() == 1
        ? V1 + "/jobs/" + jobIds.get(0) + "/events"
        : V1 + "/events?job_ids=" + URLEncoder.encode(String.join(",", jobIds), StandardCharsets.UTF_8);
    // no request timeout: the stream lives as long as the jobs, and heartbeats keep it busy
    HttpResponse<Stream<String>> r = null;
    int at = current.get();
    for (int tried = 1; r == null; tried++) {
      String server = servers.get(at);
      HttpRequest.Builder events = HttpRequest.newBuilder(URI.create(server + path))
          .header("Accept", "text/event-stream").GET();
      token.ifPresent(t -> events.header("Authorization", "Bearer " + t));
      try {
        r = http.send(events.build(), HttpResponse.BodyHandlers.ofLines());
      } catch (IOException e) {
        if (tried >= servers.size()) {
          throw CliFailure.unreachable(server, why(e));
        }
        at = (at + 1) % servers.size();
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw CliFailure.unreachable(server, "interrupted");
      }
      if (r.statusCode() == 503) {
        // the node is up but its singletons are away (a failover): the next node, and once every
        // node said so, a failure a watch that already ran waits out as it does a node that is down
        r.body().close();
        r = null;
        if (tried >= servers.size()) {
          throw CliFailure.unreachable(server, "busy (HTTP 503): try again");
        }
        at = (at + 1) % servers.size();
      }
    }
    // the server that answered: the next call starts there
    current.set(at);
    String type = r.headers().firstValue("Content-Type").orElse("");
    if (r.statusCode() == 200 && type.startsWith("text/event-stream")) {
      return r.body();
    }
    String body;
    try (Stream<String> lines = r.body()) {
      body = lines.limit(50).collect(Collectors.joining("\n"));
    } catch (RuntimeException e) {
      body = "";
    }
    Answer a = new Answer(r.statusCode(), body);
    if (!a.ok()) {
      throw CliFailure.refused(refusal(a));
    }
    throw CliFailure.refused(server() + " answered " + r.statusCode() + " with " + type
        + " instead of an event stream");
  }

  /**
   * Opens a WebSocket on {@code path} (ws:// for an http:// server, wss:// for https://); the
   * listener gets its messages.
   */
  java.net.http.WebSocket openSocket(String path, java.net.http.WebSocket.Listener listener) {
    URI uri = URI.create(server().replaceFirst("^http", "ws") + path);
    try {
      java.net.http.WebSocket.Builder b = http.newWebSocketBuilder().connectTimeout(CONNECT_TIMEOUT);
      // private reads: the watcher socket needs the account's token, in the handshake
      token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
      return b.buildAsync(uri, listener).get(ANSWER_TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof java.net.http.WebSocketHandshakeException h) {
        throw CliFailure.refused(server() + " refused the WebSocket " + path + " (HTTP "
            + h.getResponse().statusCode() + ")");
      }
      throw CliFailure.unreachable(server(), cause instanceof IOException io ? why(io) : String.valueOf(cause));
    } catch (java.util.concurrent.TimeoutException e) {
      throw CliFailure.unreachable(server(), "no answer to the WebSocket handshake");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliFailure.unreachable(server(), "interrupted");
    }
  }

  private HttpRequest.Builder request(String pathAndQuery) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server() + pathAndQuery)).timeout(ANSWER_TIMEOUT);
    token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
    return b;
  }

  /**
   * One call, to each server in turn until one is reached and does not answer 503: with a
   * cluster's nodes listed, a node that is down or cannot reach the singleton is passed over.
   * The last answer (or failure) stands when none does better.
   */
  private Answer send(java.util.function.Supplier<HttpRequest.Builder> request) {
    for (int tried = 1; ; tried++) {
      try {
        // built again for each server: request() reads the current one
        HttpResponse<String> r = http.send(request.get().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 503 || tried >= servers.size()) {
          return new Answer(r.statusCode(), r.body());
        }
      } catch (IOException e) {
        if (tried >= servers.size()) {
          throw CliFailure.unreachable(server(), why(e));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw CliFailure.unreachable(server(), "interrupted");
      }
      next();
    }
  }

  /** The server's own explanation of an error answer, in one line, with its status. */
  static String refusal(Answer a) {
    return String.join("; ", messages(a)) + " (HTTP " + a.status() + ")";
  }

  /**
   * What the server said: {@code {"error":...}} from most routes, {@code [{"message":...}]} from
   * submit, or the text itself from anything else (a proxy, a route that does not exist).
   */
  static List<String> messages(Answer a) {
    List<String> out = new ArrayList<>();
    JsonNode json = a.json();
    if (json != null && json.hasNonNull("error")) {
      out.add(json.get("error").asText());
    } else if (json != null && json.isArray()) {
      json.forEach(j -> {
        if (!j.path("message").asText().isEmpty()) {
          out.add(j.path("message").asText());
        }
      });
    }
    if (out.isEmpty()) {
      String text = firstLine(a.body());
      out.add(text.isEmpty() ? "the server refused the request" : text);
    }
    return out;
  }

  private static String firstLine(String body) {
    String t = body == null ? "" : body.strip();
    int nl = t.indexOf('\n');
    t = nl < 0 ? t : t.substring(0, nl).strip();
    return t.length() > 300 ? t.substring(0, 300) + "..." : t;
  }

  /**
   * The words for a failed connection. The JDK's client often throws a ConnectException with no
   * message and the real reason as its cause, so the cause chain is read, not just the top.
   */
  static String why(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof HttpConnectTimeoutException) {
        return "no connection within " + CONNECT_TIMEOUT.toSeconds() + " s";
      }
      if (t instanceof HttpTimeoutException) {
        return "no answer within " + ANSWER_TIMEOUT.toSeconds() + " s";
      }
      if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
        return "unknown host";
      }
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof ConnectException) {
        String m = t.getMessage();
        return m == null || m.isBlank() || m.toLowerCase().contains("refused")
            ? "connection refused" : m;
      }
    }
    String m = failure.getMessage();
    return m == null || m.isBlank() ? failure.getClass().getSimpleName() : m;
  }
}
