package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.longSegment;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.compassci.sched.actors.ActorStats;
import org.compassci.sched.actors.ExtractActor;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.actors.StatsActor;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Testbox;

/**
 * /scheduler/v1/manage/... and /scheduler/v1/dashboard/...: what operators look at. Management
 * answers loopback callers when no admin token is set, and bearer-token holders otherwise.
 */
public final class ManageRoutes extends AllDirectives {

  private final Gateway gw;
  private final Auth auth;

  public ManageRoutes(Gateway gw, Optional<String> adminToken) {
    this(gw, Auth.legacy(adminToken));
  }

  public ManageRoutes(Gateway gw, Auth auth) {
    this.gw = gw;
    this.auth = auth;
  }

  public Route routes() {
    return concat(
        path(segment("dashboard").slash("jobs").slash("pending"),
            () -> get(() -> auth.read(() -> parameterOptional("group_by", g -> pending(g.orElse("my_account")))))),
        path(segment("dashboard").slash("jobs").slash("running"), () -> get(() -> auth.read(() ->
            parameterOptional("offset", offset -> parameterOptional("limit", limit ->
                running(offset.orElse("0"), limit.orElse("100"))))))),
        path(segment("dashboard").slash("stats"), () -> get(() -> auth.read(() -> completeWithFuture(
            gw.<StatsActor.Command, ObjectNode>ask(gw.stats(), StatsActor.GetSummary::new)
                .thenApply(s -> Responses.json(StatusCodes.OK, s))
                .exceptionally(Responses::unavailable))))),
        path(segment("dashboard").slash("hosts"), () -> get(() -> auth.read(() ->
            parameterOptional("offset", offset -> parameterOptional("limit", limit ->
                hosts(offset.orElse("0"), limit.orElse("1000"))))))),
        pathPrefix("manage", () -> auth.manage(() -> concat(
            path(segment("explain").slash(longSegment()), id -> get(() -> explain(id))),
            path("matcher", () -> get(this::matcher)),
            path("actors", () -> get(this::actors))))));
  }

  private Route pending(String groupBy) {
    if (!MatchQueue.DIMENSIONS.contains(groupBy)) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST,
          "group_by: '" + groupBy + "' is not one of " + String.join(", ", MatchQueue.DIMENSIONS)));
    }
    return completeWithFuture(gw.<MatcherActor.Command, MatcherActor.Pending>ask(gw.matcher(),
            r -> new MatcherActor.GetPending(groupBy, r))
        .thenApply(p -> {
          ObjectNode body = Json.object().put("total", p.total());
          ObjectNode groups = body.putObject("groups");
          p.groups().forEach(groups::put);
          return Responses.json(StatusCodes.OK, body);
        })
        .exceptionally(Responses::unavailable));
  }

  /** offset and limit of a paged list, or why they are wrong. */
  private record Page(int offset, int limit, String error) {
    static Page of(String offsetText, String limitText) {
      try {
        int offset = Integer.parseInt(offsetText);
        int limit = Integer.parseInt(limitText);
        return offset < 0 || limit < 1 || limit > 1000
            ? new Page(0, 0, "offset must be 0 or more, limit 1 to 1000") : new Page(offset, limit, null);
      } catch (NumberFormatException e) {
        return new Page(0, 0, "offset and limit must be whole numbers");
      }
    }
  }

  private Route hosts(String offsetText, String limitText) {
    Page page = Page.of(offsetText, limitText);
    if (page.error() != null) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, page.error()));
    }
    return completeWithFuture(gw.<HostRegistryActor.Command, HostRegistryActor.HostsPage>ask(gw.hosts(),
            r -> new HostRegistryActor.ListHosts(page.offset(), page.limit(), r))
        .thenApply(p -> Responses.json(StatusCodes.OK, Json.object().put("total", p.total())
            .put("online", p.online()).put("offset", page.offset()).set("hosts", p.hosts())))
        .exceptionally(Responses::unavailable));
  }

  private Route running(String offsetText, String limitText) {
    Page page = Page.of(offsetText, limitText);
    if (page.error() != null) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, page.error()));
    }
    int offset = page.offset();
    int limit = page.limit();
    return completeWithFuture(gw.<LifecycleActor.Command, LifecycleActor.Running>ask(gw.lifecycle(),
            r -> new LifecycleActor.ListRunning(offset, limit, r))
        .thenApply(r -> {
          ObjectNode body = Json.object().put("total", r.total()).put("offset", offset);
          ObjectNode stages = body.putObject("by_stage");
          r.byStage().forEach(stages::put);
          ArrayNode jobs = body.putArray("jobs");
          r.jobs().forEach(jobs::add);
          return Responses.json(StatusCodes.OK, body);
        })
        .exceptionally(Responses::unavailable));
  }

  private Route explain(long id) {
    // the host registry is the one list of testboxes; the matcher counts which of them fit
    return completeWithFuture(gw.<HostRegistryActor.Command, HostRegistryActor.BoxList>ask(gw.hosts(),
            HostRegistryActor.Boxes::new)
        .thenApply(HostRegistryActor.BoxList::boxes)
        .thenCompose(boxes -> gw.<MatcherActor.Command, MatcherActor.Explained>ask(gw.matcher(),
            r -> new MatcherActor.Explain(id, boxes, r)))
        .thenApply(MatcherActor.Explained::explain)
        .thenApply(e -> e.isEmpty()
            ? Responses.error(StatusCodes.NOT_FOUND, "job " + id + " is not queued")
            : Responses.json(StatusCodes.OK, explainJson(e.get())))
        .exceptionally(Responses::unavailable));
  }

  private Route matcher() {
    return completeWithFuture(gw.<MatcherActor.Command, MatcherActor.Stats>ask(gw.matcher(),
            MatcherActor.GetStats::new)
        .thenApply(s -> Responses.json(StatusCodes.OK, Json.object()
            .put("queued", s.queued()).put("groups", s.groups()).put("signatures", s.signatures())
            .put("parked", s.parked())
            .put("cached_box_tag_sets", s.cachedBoxTagSets()).put("messages", s.messages())
            .put("last_activity", s.lastActivity().toString())))
        .exceptionally(Responses::unavailable));
  }

  /** Every long-lived actor: its name, what it holds, messages handled, last activity. */
  private Route actors() {
    CompletionStage<ActorStats> matcher = gw.<MatcherActor.Command, MatcherActor.Stats>ask(gw.matcher(),
        MatcherActor.GetStats::new).thenApply(m -> new ActorStats("matcher", Map.of(
            "queued_jobs", (long) m.queued(), "groups", (long) m.groups(), "signatures", (long) m.signatures(),
            "parked_testboxes", (long) m.parked(),
            "cached_box_tag_sets", (long) m.cachedBoxTagSets()), m.messages(), m.lastActivity()));
    // in the order operators read them: the matcher first, then the jobs' path through the rest
    List<CompletableFuture<ActorStats>> asked = List.of(
        matcher.toCompletableFuture(),
        gw.<LifecycleActor.Command, ActorStats>ask(gw.lifecycle(), LifecycleActor.GetStats::new).toCompletableFuture(),
        gw.<PersistenceActor.Command, ActorStats>ask(gw.store(), PersistenceActor.GetStats::new).toCompletableFuture(),
        gw.<ExtractActor.Command, ActorStats>ask(gw.extractor(), ExtractActor.GetStats::new).toCompletableFuture(),
        gw.<HostRegistryActor.Command, ActorStats>ask(gw.hosts(), HostRegistryActor.GetStats::new).toCompletableFuture(),
        gw.<WatchActor.Command, ActorStats>ask(gw.watch(), WatchActor.GetStats::new).toCompletableFuture(),
        gw.<StatsActor.Command, ActorStats>ask(gw.stats(), StatsActor.GetStats::new).toCompletableFuture(),
        gw.<org.compassci.sched.actors.ProvidersActor.Command, ActorStats>ask(gw.providers(),
            org.compassci.sched.actors.ProvidersActor.GetStats::new).toCompletableFuture(),
        gw.<org.compassci.sched.actors.UploadActor.Command, ActorStats>ask(gw.uploads(),
            org.compassci.sched.actors.UploadActor.GetStats::new).toCompletableFuture());
    if (auth.accounts() != null && auth.submits() != null) {
      asked = new java.util.ArrayList<>(asked);
      asked.add(gw.<org.compassci.sched.actors.AccountsActor.Command, ActorStats>ask(auth.accounts(),
          org.compassci.sched.actors.AccountsActor.GetStats::new));
      asked.add(gw.<org.compassci.sched.actors.IdempotencyActor.Command, ActorStats>ask(auth.submits(),
          org.compassci.sched.actors.IdempotencyActor.GetStats::new));
    }
    List<CompletableFuture<ActorStats>> all_ = asked;
    CompletionStage<List<ActorStats>> all = CompletableFuture.allOf(all_.toArray(CompletableFuture[]::new))
        .thenApply(v -> all_.stream().map(CompletableFuture::join).toList());
    return completeWithFuture(all.thenApply(list -> {
      ArrayNode out = Json.MAPPER.createArrayNode();
      for (ActorStats a : list) {
        ObjectNode o = out.addObject().put("name", a.name());
        ObjectNode holds = o.putObject("holds");
        new TreeMap<>(a.holds()).forEach(holds::put);
        o.put("messages", a.messages()).put("last_activity", a.lastActivity().toString())
            .put("restarts", gw.restarts().of(a.name()));
      }
      return Responses.json(StatusCodes.OK, Json.object().set("actors", out));
    }).exceptionally(Responses::unavailable));
  }

  static ObjectNode explainJson(MatchQueue.Explain e) {
    ObjectNode out = Json.object().put("job_id", Long.toString(e.id()));
    ObjectNode req = out.putObject("requirements");
    e.tags().stream().sorted().forEach(req.putArray("tags")::add);
    e.targetMachines().stream().sorted().forEach(req.putArray("target_machines")::add);
    req.put("memory_mb", e.memoryMb());
    out.put("tenant", e.tenant()).put("level", e.level()).put("weight", e.weight())
        .put("place_in_tenant_queue", e.placeInTenantQueue()).put("tenant_queued", e.tenantQueued())
        .put("boxes_known", e.boxesKnown()).put("boxes_fit_tags", e.boxesFitTags())
        .put("boxes_fit_memory", e.boxesFitMemory());
    ObjectNode rejections = out.putObject("rejections");
    e.rejections().forEach(rejections::put);
    return out;
  }

  /** Management: an admin's bearer token (in open mode, also loopback callers). */
  Route admin(Supplier<Route> inner) {
    return auth.admin(inner);
  }
}
