package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import java.time.Duration;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.Testbox;

/** /scheduler/v1/jobs/dispatch: a testbox asks for a job that fits its tags and memory. */
public final class DispatchRoutes extends AllDirectives {

  public static final int MAX_WAIT_SECONDS = 60;

  private final Gateway gw;
  private final Auth auth;

  public DispatchRoutes(Gateway gw) {
    this(gw, Auth.legacy(java.util.Optional.empty()));
  }

  public DispatchRoutes(Gateway gw, Auth auth) {
    this.gw = gw;
    this.auth = auth;
  }

  public Route routes() {
    return concat(
        path(segment("jobs").slash("dispatch"),
            () -> get(() -> extractRequest(request -> parameterMap(q -> dispatch(q,
                request.getAttribute(HttpServer.CONNECTION).orElse(null)))))),
        // registering a testbox by hand is an operator's act; reading one is a read
        path(segment("hosts").slash(segment()), hostname -> concat(
            post(() -> auth.admin(() -> parameterMap(q -> withSizeLimit(gw.maxBodyBytes(), () ->
                entity(org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller.entityToString(),
                    body -> register(hostname, q, body)))))),
            get(() -> auth.read(() -> completeWithFuture(gw.<HostRegistryActor.Command, Outcome>ask(gw.hosts(),
                    r -> new HostRegistryActor.Get(hostname, r))
                .thenApply(Responses::outcome).exceptionally(Responses::unavailable)))))));
  }

  /**
   * The registration's fields from the body, a JSON object (a list as a comma list) or a form;
   * the query's own win. An empty body adds nothing.
   */
  static Map<String, String> withBody(Map<String, String> q, String body) {
    if (body == null || body.isBlank()) {
      return q;
    }
    String trimmed = body.trim();
    if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) {
      // curl -d arch=x86_64 -d tags=nic=mlx5: the same fields as a form, read by Pekko's own
      // parser of a query (percent escapes, '+' for a space; relaxed: '=' in a value, as curl
      // sends it)
      org.apache.pekko.http.javadsl.model.Query form;
      try {
        form = org.apache.pekko.http.javadsl.model.Query.create(trimmed,
            java.nio.charset.StandardCharsets.UTF_8, org.apache.pekko.http.javadsl.model.Uri.RELAXED);
      } catch (org.apache.pekko.http.scaladsl.model.IllegalUriException e) {
        throw new InvalidJobException("the body is neither a JSON object nor a form of name=value: "
            + e.getMessage().lines().findFirst().orElse(""));
      }
      Map<String, String> all = new java.util.HashMap<>(q);
      for (org.apache.pekko.japi.Pair<String, String> field : form.toList()) {
        if (field.first().isEmpty() && field.second().isEmpty()) {
          continue; // a=1&&b=2
        }
        if (field.first().isEmpty()) {
          throw new InvalidJobException("the form has a value without a name: '=" + field.second() + "'");
        }
        if (field.second().isEmpty()) {
          throw new InvalidJobException("the form's field '" + field.first() + "' has no value");
        }
        all.putIfAbsent(field.first(), field.second());
      }
      return all;
    }
    com.fasterxml.jackson.databind.JsonNode doc;
    try {
      doc = Json.parse(body);
    } catch (RuntimeException e) {
      throw new InvalidJobException("the body is not JSON: give the fields as a JSON object or in the query");
    }
    if (!doc.isObject()) {
      throw new InvalidJobException("the body must be a JSON object of arch, tbox_type, tbox_group, tags, memory, mac_addr");
    }
    Map<String, String> all = new java.util.HashMap<>(q);
    for (java.util.Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = doc.fields(); it.hasNext(); ) {
      Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> e = it.next();
      com.fasterxml.jackson.databind.JsonNode v = e.getValue();
      String text;
      if (v.isValueNode() && !v.isNull()) {
        text = v.asText();
      } else if (v.isArray()) {
        List<String> items = new java.util.ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode item : v) {
          if (!item.isValueNode() || item.isNull()) {
            throw new InvalidJobException(e.getKey() + ": a list of plain values");
          }
          items.add(item.asText());
        }
        text = String.join(",", items);
      } else {
        throw new InvalidJobException(e.getKey() + ": a plain value or a list of them");
      }
      all.putIfAbsent(e.getKey(), text);
    }
    return all;
  }

  /** A testbox tells what it is: the same parameters as a dispatch request, and its memory. */
  private Route register(String hostname, Map<String, String> query, String body) {
    ObjectNode info = Json.object();
    Map<String, String> q;
    try {
      q = withBody(query, body);
      Map<String, String> all = new java.util.HashMap<>(q);
      all.put("hostname", hostname);
      Testbox.fromQuery(all);
      for (String key : List.of("arch", "tbox_type", "tbox_group", "tags")) {
        if (q.containsKey(key)) {
          info.put(key, q.get(key).trim());
        }
      }
      if (q.containsKey("mac_addr")) {
        // a box known by MAC boots from /boot.ipxe/mac/<mac>: any spelling, several by commas
        info.set("mac_addr", org.compassci.sched.boot.LabHosts.macs(Json.MAPPER.getNodeFactory().textNode(q.get("mac_addr"))));
      }
      if (q.containsKey("memory")) {
        long mb = wholeNumber(q, "memory", 0);
        if (mb < 0) {
          throw new InvalidJobException("memory: must not be negative");
        }
        info.put("memory", mb);
      }
    } catch (InvalidJobException e) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    return completeWithFuture(gw.<HostRegistryActor.Command, Outcome>ask(gw.hosts(),
            r -> new HostRegistryActor.Register(hostname, info, r))
        .thenApply(Responses::outcome).exceptionally(Responses::unavailable));
  }

  private Route dispatch(Map<String, String> q, org.compassci.sched.model.ConnectionId connection) {
    Testbox box;
    Duration wait;
    try {
      box = Testbox.fromQuery(q);
      int seconds = wholeNumber(q, "wait", 0);
      if (seconds < 0 || seconds > MAX_WAIT_SECONDS) {
        throw new InvalidJobException("wait: must be 0.." + MAX_WAIT_SECONDS + " seconds");
      }
      wait = Duration.ofSeconds(seconds);
    } catch (InvalidJobException e) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    return completeWithFuture(gw.dispatch(box, wait, connection)
        .thenApply(DispatchRoutes::answer)
        .exceptionally(Responses::unavailable));
  }

  private static HttpResponse answer(MatcherActor.DispatchResult r) {
    if (r instanceof MatcherActor.Assigned a) {
      // rendered here, on the HTTP threads, so the matcher and the store never touch the document
      return Responses.jsonBytes(StatusCodes.OK, Job.answer(a.record(), a.token()));
    }
    if (r instanceof MatcherActor.Unavailable u) {
      return Responses.error(StatusCodes.SERVICE_UNAVAILABLE, "no hand-out now: " + u.reason());
    }
    return HttpResponse.create().withStatus(StatusCodes.NO_CONTENT);
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
