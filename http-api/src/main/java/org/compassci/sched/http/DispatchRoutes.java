package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import java.time.Duration;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Testbox;

/** /scheduler/v1/jobs/dispatch: a testbox asks for a job that fits its tags and memory. */
public final class DispatchRoutes extends AllDirectives {

  static final int MAX_WAIT_SECONDS = 60;
  private static final Set<String> TYPES = Set.of("hw", "vm", "dc");

  private final Gateway gw;

  public DispatchRoutes(Gateway gw) {
    this.gw = gw;
  }

  public Route routes() {
    return path(segment("jobs").slash("dispatch"),
        () -> get(() -> parameterMap(this::dispatch)));
  }

  private Route dispatch(Map<String, String> q) {
    Testbox box;
    Duration wait;
    try {
      box = testbox(q);
      int seconds = wholeNumber(q, "wait", 0);
      if (seconds < 0 || seconds > MAX_WAIT_SECONDS) {
        throw new InvalidJobException("wait: must be 0.." + MAX_WAIT_SECONDS + " seconds");
      }
      wait = Duration.ofSeconds(seconds);
    } catch (InvalidJobException e) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    // a parked request is answered by the matcher when its wait is over: ask a little longer
    return completeWithFuture(gw.<MatcherActor.Command, MatcherActor.DispatchResult>ask(
            gw.matcher(), r -> new MatcherActor.Dispatch(box, wait, r), gw.askTimeout().plus(wait))
        .thenApply(DispatchRoutes::answer)
        .exceptionally(Responses::unavailable));
  }

  private static HttpResponse answer(MatcherActor.DispatchResult r) {
    if (r instanceof MatcherActor.Assigned a) {
      // rendered here, on the HTTP threads, so the matcher and the store never parse the job
      return Responses.jsonBytes(StatusCodes.OK, Job.fromRecord(a.record()).answerWithToken(a.token()));
    }
    if (r instanceof MatcherActor.Unavailable u) {
      return Responses.error(StatusCodes.SERVICE_UNAVAILABLE, "no hand-out now: " + u.reason());
    }
    return HttpResponse.create().withStatus(StatusCodes.NO_CONTENT);
  }

  /** The k=v tags a box offers: its hostname, arch, types, group and its own extra tags. */
  static Testbox testbox(Map<String, String> q) {
    String hostname = q.getOrDefault("hostname", "").trim();
    if (hostname.isEmpty()) {
      throw new InvalidJobException("hostname: required");
    }
    Set<String> tags = new HashSet<>();
    tags.add("hostname=" + hostname);
    String arch = q.getOrDefault("arch", "").trim();
    if (!arch.isEmpty()) {
      tags.add("arch=" + arch);
    }
    String types = q.getOrDefault("tbox_type", "hw");
    for (String t : types.split(",")) {
      String type = t.trim().toLowerCase(Locale.ROOT);
      if (!TYPES.contains(type)) {
        throw new InvalidJobException("tbox_type: '" + t + "' is not hw, vm or dc");
      }
      tags.add("tbox_type=" + type);
    }
    String group = q.getOrDefault("tbox_group", "").trim();
    if (group.isEmpty()) {
      int cut = hostname.lastIndexOf("--");
      group = cut > 0 ? hostname.substring(0, cut) : hostname;
    }
    tags.add("tbox_group=" + group);
    String extra = q.getOrDefault("tags", "");
    for (String t : extra.split(",")) {
      if (!t.isBlank()) {
        tags.add(JobIntake.checkTag(t.trim()));
      }
    }
    long freeMem = q.containsKey("freemem") ? wholeNumber(q, "freemem", 0) : Testbox.UNKNOWN_MEMORY;
    if (freeMem < 0) {
      throw new InvalidJobException("freemem: must not be negative");
    }
    return new Testbox(hostname, tags, freeMem);
  }

  private static int wholeNumber(Map<String, String> q, String name, int dflt) {
    String v = q.get(name);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new InvalidJobException(name + ": '" + v + "' is not a whole number");
    }
  }
}
