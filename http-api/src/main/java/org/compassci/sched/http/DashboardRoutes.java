package org.compassci.sched.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.BroadcastHub;
import org.apache.pekko.stream.javadsl.Keep;
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
    Source<Gathered, NotUsed> shared = sharedSummaries();
    return pathPrefix("dashboard", () -> get(() -> concat(
        path("summary", () -> auth.read(() -> completeWithFuture(summary()
            .thenApply(s -> Responses.json(org.apache.pekko.http.javadsl.model.StatusCodes.OK, s))
            .exceptionally(Responses::unavailable)))),
        path("events", () -> auth.readOpen(allowed -> events(shared, allowed))))));
  }

  /** A summary as JSON text ("" when the actors did not answer), and when its gathering began. */
  private record Gathered(long startedNanos, String json) {}

  /**
   * One summary a second for every open page: one stream gathers it from the actors, and each
   * page takes it from there. While no page is open the stream waits, and the few summaries it
   * gathered before it stopped are older than the next page. It never fails: a summary the actors
   * do not give (or that cannot even be asked for) is an empty one, which pages skip.
   */
  private Source<Gathered, NotUsed> sharedSummaries() {
    return Source.tick(Duration.ZERO, SUMMARY_EVERY, "tick")
        .mapAsync(1, t -> gather())
        .toMat(BroadcastHub.of(Gathered.class, 2), Keep.right())
        .run(Materializer.matFromSystem(gw.system()));
  }

  private CompletionStage<Gathered> gather() {
    long started = System.nanoTime();
    try {
      return summary().thenApply(Json::write).exceptionally(failure -> "")
          .thenApply(json -> new Gathered(started, json));
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(new Gathered(started, ""));
    }
  }

  /**
   * A page gets the summary at once, then each second's shared one, sent when it differs from the
   * last one sent: a quiet lab costs the page nothing but heartbeats. A page that reads slowly
   * keeps only the newest summary, and holds back no other page.
   */
  private Route events(Source<Gathered, NotUsed> shared, Optional<java.util.function.BooleanSupplier> allowed) {
    // made when the page's stream starts: its own first summary, then only shared ones begun
    // after it (an older one, taken up meanwhile, would show the page an older lab for a second)
    Source<String, NotUsed> summaries = Source.lazySource(() -> {
      CompletionStage<Gathered> own = gather();
      long start = System.nanoTime();
      return Source.completionStage(own).concat(shared.buffer(1, OverflowStrategy.dropHead())
          .filter(g -> g.startedNanos() - start >= 0));
    }).map(Gathered::json).mapMaterializedValue(m -> NotUsed.getInstance());
    Source<ByteString, NotUsed> body = summaries
        .statefulMap(() -> "", (last, now) -> now.isEmpty() || now.equals(last)
                ? org.apache.pekko.japi.Pair.create(last, ByteString.emptyByteString())
                : org.apache.pekko.japi.Pair.create(now, Responses.event("summary", now)),
            last -> java.util.Optional.empty())
        .filter(b -> !b.isEmpty())
        .mapMaterializedValue(m -> NotUsed.getInstance());
    return complete(Responses.eventStream(auth.whileAllowed(body, allowed, () -> { }), gw.heartbeat()));
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
