package org.compassci.sched.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.StatsActor;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.model.Json;

/**
 * The dashboard page (plain HTML, CSS and a script, inside the jar) and the event stream that
 * keeps it live: the lab's summary, aggregated here, sent when it changes.
 */
public final class DashboardRoutes extends AllDirectives {

  /** Rows per grouping in the summary: the largest groups, the rest summed. */
  static final int TOP_GROUPS = 50;
  private static final Duration SUMMARY_EVERY = Duration.ofSeconds(1);

  private final Gateway gw;
  private final Auth auth;

  public DashboardRoutes(Gateway gw) {
    this(gw, Auth.legacy(java.util.Optional.empty()));
  }

  public DashboardRoutes(Gateway gw, Auth auth) {
    this.gw = gw;
    this.auth = auth;
  }

  /** The page, at /dashboard. */
  public Route page() {
    return pathPrefix("dashboard", () -> get(() -> concat(
        pathEndOrSingleSlash(() -> getFromResource("dashboard/index.html", ContentTypes.TEXT_HTML_UTF8)),
        path("app.js", () -> getFromResource("dashboard/app.js")),
        path("style.css", () -> getFromResource("dashboard/style.css")))));
  }

  /** Under /scheduler/v1: the summary once, and as a stream. */
  public Route api() {
    return pathPrefix("dashboard", () -> get(() -> concat(
        path("summary", () -> auth.read(() -> completeWithFuture(summary()
            .thenApply(s -> Responses.json(org.apache.pekko.http.javadsl.model.StatusCodes.OK, s))
            .exceptionally(Responses::unavailable)))),
        path("events", () -> auth.read(this::events)))));
  }

  /**
   * Each second the summary is gathered from the actors and sent when it differs from the last
   * one sent; a quiet lab costs the page nothing but heartbeats.
   */
  private Route events() {
    Source<ByteString, ?> body = Source.tick(Duration.ZERO, SUMMARY_EVERY, "tick")
        .mapAsync(1, t -> summary().thenApply(Json::write).exceptionally(failure -> ""))
        .statefulMap(() -> "", (last, now) -> now.isEmpty() || now.equals(last)
                ? org.apache.pekko.japi.Pair.create(last, ByteString.emptyByteString())
                : org.apache.pekko.japi.Pair.create(now, Responses.event("summary", now)),
            last -> java.util.Optional.empty())
        .filter(b -> !b.isEmpty());
    return complete(Responses.eventStream(body, gw.heartbeat()));
  }

  /** Queue depth by machine group, arch, tenant and queue; jobs out; testboxes; counts. */
  CompletionStage<ObjectNode> summary() {
    List<CompletableFuture<MatcherActor.Pending>> pending = MatchQueue.DIMENSIONS.stream()
        .map(d -> gw.<MatcherActor.Command, MatcherActor.Pending>ask(gw.matcher(),
            r -> new MatcherActor.GetPending(d, r)).toCompletableFuture())
        .toList();
    CompletableFuture<LifecycleActor.Running> running = gw.<LifecycleActor.Command, LifecycleActor.Running>ask(
        gw.lifecycle(), r -> new LifecycleActor.ListRunning(0, 0, r)).toCompletableFuture();
    CompletableFuture<HostRegistryActor.HostsPage> hosts = gw.<HostRegistryActor.Command, HostRegistryActor.HostsPage>ask(
        gw.hosts(), r -> new HostRegistryActor.ListHosts(0, 0, r)).toCompletableFuture();
    CompletableFuture<ObjectNode> stats = gw.<StatsActor.Command, ObjectNode>ask(gw.stats(),
        StatsActor.GetSummary::new).toCompletableFuture();
    return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new))
        .thenCompose(v -> running).thenCompose(v -> hosts).thenCompose(v -> stats)
        .thenApply(v -> {
          ObjectNode out = Json.object();
          ObjectNode p = out.putObject("pending");
          p.put("total", pending.get(0).join().total());
          for (int i = 0; i < pending.size(); i++) {
            p.set("by_" + MatchQueue.DIMENSIONS.get(i), top(pending.get(i).join().groups()));
          }
          LifecycleActor.Running r = running.join();
          ObjectNode run = out.putObject("running").put("total", r.total());
          ObjectNode stages = run.putObject("by_stage");
          r.byStage().forEach(stages::put);
          HostRegistryActor.HostsPage h = hosts.join();
          out.putObject("testboxes").put("total", h.total()).put("online", h.online());
          ObjectNode counts = stats.join();
          counts.remove("pending");
          counts.remove("running");
          out.set("counts", counts);
          return out;
        });
  }

  /** The largest groups, the rest as one "(other)" row; a job without the field counts as "(none)". */
  private static ObjectNode top(Map<String, Integer> groups) {
    ObjectNode out = Json.object();
    MatchQueue.largest(groups, TOP_GROUPS).forEach((name, n) -> out.put(name.isEmpty() ? "(none)" : name, n));
    return out;
  }
}
