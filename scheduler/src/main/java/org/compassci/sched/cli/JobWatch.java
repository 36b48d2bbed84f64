package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.compassci.sched.model.Json;

/**
 * Follows jobs over the server's event stream until each one retires: one line per stage (or
 * health) change, then one summary line per job. Used by {@code watch} and {@code submit -m}.
 *
 * <p>A stream that ends before every job closed (the server restarted, a proxy cut it) is opened
 * again for the jobs still open; that is safe because a stream always starts with each job's full
 * state, and only a change against what was already shown is printed.
 */
final class JobWatch {

  private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

  /**
   * Most jobs on one stream: their ids go in the URI, which the server takes up to 2 KiB long
   * (Pekko's max-uri-length); 80 ids of 17 digits and their commas fill about 1.7 KiB.
   */
  static final int STREAM_JOBS = 80;

  /** Most jobs on one WebSocket: below the server's scheduler.watch.max-jobs default (1,000). */
  static final int SOCKET_JOBS = 500;

  /** What is known of one followed job. */
  private static final class Followed {
    ObjectNode state;
    boolean closed;
    String error;
  }

  private final SchedulerClient client;
  private final PrintWriter out;
  private final PrintWriter err;
  private final ZoneId zone;
  private final Duration reconnectFor;
  /** Filled before any stream opens; its entries change only under this object's lock. */
  private final Map<String, Followed> jobs = new LinkedHashMap<>();
  private final Set<Stream<String>> streams = new HashSet<>();
  private volatile boolean stopping;
  /** Over the WebSocket /scheduler/v1/client instead of event streams. */
  private boolean overSocket;
  /**
   * A stream or socket silent this long is given up and opened again. The server sends a
   * heartbeat every 15 s by default (a comment line, a ping); a connection whose far end is gone
   * without a word (a NAT or a proxy that forgot it) otherwise kept the watch waiting for good.
   */
  private Duration idleFor = DEFAULT_IDLE;

  /** Stage or health changes and closes seen so far: what tells a stream that worked from one cut at once. */
  private final java.util.concurrent.atomic.AtomicLong progress = new java.util.concurrent.atomic.AtomicLong();

  static final Duration DEFAULT_IDLE = Duration.ofSeconds(60);

  /** Watches the silence of every open stream; its thread is a daemon. */
  private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "job-watch-idle");
        t.setDaemon(true);
        return t;
      });

  JobWatch(SchedulerClient client, PrintWriter out, PrintWriter err, ZoneId zone, Duration reconnectFor) {
    this.client = client;
    this.out = out;
    this.err = err;
    this.zone = zone;
    this.reconnectFor = reconnectFor;
  }

  /** How long a stream may stay silent before it is opened again. */
  JobWatch idleTimeout(Duration idle) {
    idleFor = idle;
    return this;
  }

  /** Follows over the watchers' WebSocket ({@code watch --ws}) instead of event streams. */
  JobWatch overSocket() {
    overSocket = true;
    return this;
  }

  /**
   * Follows the jobs to their end; the exit code: 0 all succeeded, 1 one did not, 4 one is unknown.
   * Many jobs are followed on several streams at once, each on a thread of its own.
   */
  int follow(List<String> jobIds) {
    jobIds.forEach(id -> jobs.putIfAbsent(id, new Followed()));
    List<List<String>> groups = groups(new ArrayList<>(jobs.keySet()));
    if (groups.size() == 1) {
      followGroup(groups.get(0));
    } else {
      followAll(groups);
    }
    return summary();
  }

  /**
   * Jobs split evenly into groups of at most STREAM_JOBS, so that no group is left with one job
   * (whose own stream would answer 404 for an unknown id, where a shared one reports it).
   */
  private List<List<String>> groups(List<String> ids) {
    int per = overSocket ? SOCKET_JOBS : STREAM_JOBS;
    int n = (ids.size() + per - 1) / per;
    List<List<String>> groups = new ArrayList<>(n);
    for (int g = 0, from = 0; g < n; g++) {
      int to = from + (ids.size() - from) / (n - g);
      groups.add(List.copyOf(ids.subList(from, to)));
      from = to;
    }
    return groups;
  }

  private void followAll(List<List<String>> groups) {
    ExecutorService pool = Executors.newFixedThreadPool(groups.size(), r -> {
      Thread t = new Thread(r, "job-watch");
      // a failure ends the command; a thread still blocked on its stream must not keep the JVM up
      t.setDaemon(true);
      return t;
    });
    ExecutorCompletionService<Void> done = new ExecutorCompletionService<>(pool);
    try {
      groups.forEach(g -> done.submit(() -> {
        followGroup(g);
        return null;
      }));
      for (int i = 0; i < groups.size(); i++) {
        done.take().get();
      }
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliFailure(Cli.UNREACHABLE, "interrupted");
    } finally {
      stopping = true;
      synchronized (streams) {
        streams.forEach(Stream::close);
      }
      pool.shutdownNow();
    }
  }

  /** Follows one group of jobs on one stream, opened again while it ends before they retire. */
  private void followGroup(List<String> group) {
    // a failure to connect the first time is the user's to see at once; only a stream that
    // worked and then ended is worth waiting for
    boolean reconnecting = false;
    long giveUpAt = 0;
    while (!stopping && !allClosed(group)) {
      boolean heardSomething;
      long progressBefore = progress.get();
      long opened = System.nanoTime();
      try {
        heardSomething = overSocket ? readSocket(group) : readStream(group);
      } catch (CliFailure f) {
        if (!reconnecting || f.exitCode() != Cli.UNREACHABLE || System.nanoTime() > giveUpAt) {
          throw f;
        }
        pause();
        continue;
      }
      if (stopping || allClosed(group)) {
        break;
      }
      // a stream that ends after its jobs' first state each time (a proxy, a failing server) is no
      // sign of life: only one that brought a change, or lived a while, starts the window again
      boolean lived = heardSomething
          && (progress.get() > progressBefore || System.nanoTime() - opened > idleFor.toNanos());
      if (lived || !reconnecting) {
        synchronized (this) {
          err.println("scheduler: the event stream from " + client.server() + " ended early; reconnecting");
          err.flush();
        }
        reconnecting = true;
        giveUpAt = System.nanoTime() + reconnectFor.toNanos();
      } else if (System.nanoTime() > giveUpAt) {
        throw CliFailure.unreachable(client.server(), "the event stream keeps ending before the jobs retire");
      }
      pause();
    }
  }

  /** One event stream of the group's open jobs, read until they closed or it ended; true if any event came. */
  private boolean readStream(List<String> group) {
    Stream<String> lines = client.openEvents(openJobs(group));
    synchronized (streams) {
      streams.add(lines);
    }
    // a read blocked on a silent connection ends once the stream is closed and its thread woken:
    // the JDK's body stream checks for a close when its wait is interrupted, not before
    Thread reader = Thread.currentThread();
    java.util.concurrent.atomic.AtomicBoolean givenUp = new java.util.concurrent.atomic.AtomicBoolean();
    Silence silence = new Silence(() -> {
      synchronized (givenUp) {
        if (givenUp.compareAndSet(false, true)) {
          lines.close();
          reader.interrupt();
        }
      }
    });
    java.util.concurrent.atomic.AtomicBoolean heard = new java.util.concurrent.atomic.AtomicBoolean();
    try (lines) {
      read(lines.peek(l -> silence.heard()), group, heard);
      return heard.get();
    } catch (UncheckedIOException dropped) {
      // what came before the stream broke or went silent counts: the watch did hear the server
      return heard.get();
    } finally {
      silence.stop();
      synchronized (givenUp) {
        givenUp.set(true);
        if (silence.fired()) {
          // the interrupt was ours, not the user's: the watch goes on
          Thread.interrupted();
          saySilent();
        }
      }
      synchronized (streams) {
        streams.remove(lines);
      }
    }
  }

  private synchronized void saySilent() {
    err.println("scheduler: nothing from " + client.server() + " for " + idleFor.toSeconds() + " s");
    err.flush();
  }

  /** The time since a stream last said anything; past {@link #idleFor}, {@code giveUp} runs once. */
  private final class Silence {
    private volatile long lastHeard = System.nanoTime();
    private volatile boolean fired;
    private final java.util.concurrent.ScheduledFuture<?> check;

    Silence(Runnable giveUp) {
      long every = Math.max(50, idleFor.toMillis() / 4);
      check = WATCHDOG.scheduleWithFixedDelay(() -> {
        if (!fired && System.nanoTime() - lastHeard > idleFor.toNanos()) {
          fired = true;
          giveUp.run();
        }
      }, every, every, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    void heard() {
      lastHeard = System.nanoTime();
    }

    boolean fired() {
      return fired;
    }

    void stop() {
      check.cancel(false);
    }
  }

  /**
   * One WebSocket: welcome, then watch-job-event for the group's open jobs; each message a
   * change, a job-close or an error naming a job, until every job closed or the socket ended.
   * True if any job's message came.
   */
  private boolean readSocket(List<String> group) {
    java.util.concurrent.CompletableFuture<Void> ended = new java.util.concurrent.CompletableFuture<>();
    java.util.concurrent.atomic.AtomicBoolean heard = new java.util.concurrent.atomic.AtomicBoolean();
    Silence silence = new Silence(() -> ended.complete(null));
    java.net.http.WebSocket ws;
    try {
      ws = openSocket(group, ended, heard, silence);
    } catch (RuntimeException failed) {
      silence.stop();
      throw failed;
    }
    Stream<String> closer = Stream.<String>empty().onClose(ws::abort);
    synchronized (streams) {
      streams.add(closer);
    }
    try {
      com.fasterxml.jackson.databind.node.ArrayNode ids = Json.MAPPER.createArrayNode();
      openJobs(group).forEach(ids::add);
      ObjectNode watch = Json.object().put("type", "watch-job-event");
      watch.set("job_id", ids);
      ws.sendText(Json.write(watch), true);
      ended.join();
      return heard.get();
    } finally {
      silence.stop();
      if (silence.fired()) {
        saySilent();
      }
      synchronized (streams) {
        streams.remove(closer);
      }
      ws.abort();
    }
  }

  /**
   * Opens the watchers' socket: its messages are handled as they come, {@code ended} completes
   * once the group's jobs all closed or the socket did, and every frame counts as heard.
   */
  private java.net.http.WebSocket openSocket(List<String> group, java.util.concurrent.CompletableFuture<Void> ended,
      java.util.concurrent.atomic.AtomicBoolean heard, Silence silence) {
    return client.openSocket(SchedulerClient.V1 + "/client", new java.net.http.WebSocket.Listener() {
      private final StringBuilder partial = new StringBuilder();

      @Override
      public java.util.concurrent.CompletionStage<?> onPing(java.net.http.WebSocket w, java.nio.ByteBuffer message) {
        silence.heard();
        return java.net.http.WebSocket.Listener.super.onPing(w, message);
      }

      @Override
      public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket w, CharSequence data, boolean last) {
        silence.heard();
        partial.append(data);
        if (last) {
          String text = partial.toString();
          partial.setLength(0);
          if (handleSocket(text)) {
            heard.set(true);
          }
          if (allClosed(group)) {
            ended.complete(null);
          }
        }
        w.request(1);
        return null;
      }

      @Override
      public java.util.concurrent.CompletionStage<?> onClose(java.net.http.WebSocket w, int code, String reason) {
        ended.complete(null);
        return null;
      }

      @Override
      public void onError(java.net.http.WebSocket w, Throwable error) {
        ended.complete(null);
      }
    });
  }

  /** The fields of the socket's own messages (job-close, error); a change has the job's. */
  private static final java.util.Set<String> CONTROL_FIELDS = java.util.Set.of("type", "job_id", "message");

  /** One message of the watchers' socket; true when it was about one of the jobs. */
  private synchronized boolean handleSocket(String text) {
    JsonNode m;
    try {
      m = Json.parse(text);
    } catch (IllegalArgumentException notJson) {
      err.println("scheduler: skipped a message that is not JSON: " + text);
      return false;
    }
    Followed job = jobs.get(m.path("job_id").asText());
    if (job == null || !m.isObject()) {
      return false;
    }
    // a change is the job's fields, and a job may have one called type: the server's own
    // messages are told apart by their shape (nothing but type, job_id and message)
    String type = m.path("type").asText("");
    boolean control = !type.isEmpty();
    for (Iterator<String> f = m.fieldNames(); f.hasNext() && control; ) {
      control = CONTROL_FIELDS.contains(f.next());
    }
    if (!control) {
      changed(m.path("job_id").asText(), job, (ObjectNode) m);
      return true;
    }
    switch (type) {
      case "job-close" -> {
        progress.incrementAndGet();
        job.closed = true;
      }
      case "error" -> {
        progress.incrementAndGet();
        job.closed = true;
        job.error = m.path("message").asText("");
      }
      default -> {
        // a newer server may send more kinds of message; they are not for us
      }
    }
    return true;
  }

  /** Reads events until every job of the group closed or the stream ended; {@code heard} set once any event came. */
  private void read(Stream<String> lines, List<String> group, java.util.concurrent.atomic.AtomicBoolean heard) {
    ServerSentEvents parser = new ServerSentEvents();
    Iterator<String> it = lines.iterator();
    while (!allClosed(group) && it.hasNext()) {
      Optional<ServerSentEvents.Event> e = parser.line(it.next());
      if (e.isPresent()) {
        heard.set(true);
        handle(e.get());
      }
    }
  }

  private synchronized void handle(ServerSentEvents.Event e) {
    JsonNode data;
    try {
      data = Json.parse(e.data());
    } catch (IllegalArgumentException notJson) {
      err.println("scheduler: skipped an event that is not JSON: " + e.data());
      return;
    }
    Followed job = jobs.get(data.path("job_id").asText());
    if (job == null || !data.isObject()) {
      return;
    }
    switch (e.type()) {
      case "job" -> changed(data.path("job_id").asText(), job, (ObjectNode) data);
      case "close" -> {
        progress.incrementAndGet();
        job.closed = true;
        job.error = data.hasNonNull("error") ? data.get("error").asText() : null;
      }
      default -> {
        // a newer server may send more kinds of event; they are not for us
      }
    }
  }

  private void changed(String id, Followed job, ObjectNode delta) {
    boolean first = job.state == null;
    String stageBefore = first ? null : job.state.path("job_stage").asText(null);
    String healthBefore = first ? null : job.state.path("job_health").asText(null);
    String testboxBefore = first ? null : job.state.path("testbox").asText(null);
    if (first) {
      job.state = delta.deepCopy();
    } else {
      // a field that is gone (a requeue drops the hand-out's) comes as null
      delta.fields().forEachRemaining(e -> {
        if (e.getValue().isNull()) {
          job.state.remove(e.getKey());
        } else {
          job.state.set(e.getKey(), e.getValue());
        }
      });
    }
    String stage = job.state.path("job_stage").asText(null);
    String health = job.state.path("job_health").asText(null);
    String testbox = job.state.path("testbox").asText(null);
    if (!first && Objects.equals(stage, stageBefore) && Objects.equals(health, healthBefore)) {
      return;
    }
    progress.incrementAndGet();
    StringBuilder line = new StringBuilder()
        .append(CLOCK.format(stageTime(job.state, stage).atZone(zone)))
        .append(' ').append(id).append(' ').append(stage == null ? "?" : stage);
    if (health != null && !health.equals("unknown")) {
      line.append(" health=").append(health);
    }
    if (testbox != null && !testbox.equals(testboxBefore)) {
      line.append(" testbox=").append(testbox);
    }
    out.println(line);
    out.flush();
  }

  /**
   * When the job entered its stage, as the server recorded it ({@code running_time}...), so that a
   * watch started late still shows real times; the time of the event when there is none.
   */
  private static Instant stageTime(JsonNode state, String stage) {
    String at = stage == null ? "" : state.path(stage + "_time").asText("");
    try {
      return at.isEmpty() ? Instant.now() : Instant.parse(at);
    } catch (DateTimeParseException e) {
      return Instant.now();
    }
  }

  private int summary() {
    int code = Cli.OK;
    for (Map.Entry<String, Followed> e : jobs.entrySet()) {
      Followed job = e.getValue();
      if (job.error != null || job.state == null) {
        String why = job.error != null ? job.error : "the server closed it without telling its state";
        err.println("scheduler: " + (why.contains(e.getKey()) ? why : "job " + e.getKey() + ": " + why));
        code = Cli.REFUSED;
        continue;
      }
      String health = job.state.path("job_health").asText("unknown");
      out.println(e.getKey() + " ended in " + job.state.path("job_stage").asText("?")
          + ": health=" + health + " data=" + job.state.path("job_data_readiness").asText("N/A"));
      if (!health.equals("success") && code == Cli.OK) {
        code = Cli.UNHEALTHY;
      }
    }
    out.flush();
    err.flush();
    return code;
  }

  private synchronized boolean allClosed(List<String> group) {
    return group.stream().allMatch(id -> jobs.get(id).closed);
  }

  private synchronized List<String> openJobs(List<String> group) {
    return group.stream().filter(id -> !jobs.get(id).closed).toList();
  }

  private static void pause() {
    try {
      Thread.sleep(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliFailure(Cli.UNREACHABLE, "interrupted while reconnecting");
    }
  }
}
