package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import java.time.Duration;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;

/** Building answers: JSON through the shared ObjectMapper, and the status code of each outcome. */
final class Responses {

  private Responses() {}

  static HttpResponse json(StatusCode status, JsonNode body) {
    return HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, Json.bytes(body));
  }

  /** JSON already rendered elsewhere (the store's thread renders handed-out jobs). */
  static HttpResponse jsonBytes(StatusCode status, byte[] body) {
    return HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, body);
  }

  static HttpResponse error(StatusCode status, String message) {
    ObjectNode body = Json.object().put("error", message);
    return status.intValue() == 503 ? unavailable(body) : json(status, body);
  }

  /** 503 with this body, and when to try again. */
  static HttpResponse unavailable(JsonNode body) {
    return json(StatusCodes.SERVICE_UNAVAILABLE, body).addHeader(RetryAfter.create(1L));
  }

  /** What an ask's failure was, out of the CompletionException it comes wrapped in. */
  static Throwable cause(Throwable failure) {
    return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
  }

  /**
   * A request no route took (unknown path or id, wrong method, a body over the limit): Pekko's
   * own answer, with its status and headers, but JSON like every other error of the API.
   * {@code maxBody}: the limit named when a body streamed without a declared length is too large.
   */
  static HttpResponse jsonRejection(HttpResponse r, long maxBody) {
    if (!(r.entity() instanceof org.apache.pekko.http.javadsl.model.HttpEntity.Strict strict)
        || !strict.getContentType().mediaType().equals(org.apache.pekko.http.javadsl.model.MediaTypes.TEXT_PLAIN)) {
      return r;
    }
    String message = r.status().intValue() == 413
        ? "the request body is larger than scheduler.http.max-body (" + maxBody + " bytes)"
        : strict.getData().utf8String();
    return r.withEntity(ContentTypes.APPLICATION_JSON, Json.bytes(Json.object().put("error", message)));
  }

  private static final ByteString HEARTBEAT = ByteString.fromString(": keep-alive\n\n");

  /**
   * A Server-Sent Events answer: {@code events} as they come, and a comment line whenever
   * nothing was sent for {@code heartbeat}, so that proxies keep the stream open.
   */
  static HttpResponse eventStream(Source<ByteString, ?> events, Duration heartbeat) {
    return HttpResponse.create()
        .withEntity(HttpEntities.create(ContentTypes.parse("text/event-stream"),
            events.keepAlive(heartbeat, () -> HEARTBEAT)))
        .addHeader(CacheControl.create(CacheDirectives.NO_CACHE));
  }

  /** One event; JSON from the shared mapper has no raw newline, so one data line carries it. */
  static ByteString event(String name, String json) {
    return ByteString.fromString("event: " + name + "\ndata: " + json + "\n\n");
  }

  static HttpResponse text(StatusCode status, String body) {
    return HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.TEXT_PLAIN_UTF8, body + "\n");
  }

  static StatusCode statusOf(Outcome.Status status) {
    return switch (status) {
      case OK -> StatusCodes.OK;
      case INVALID -> StatusCodes.BAD_REQUEST;
      case NOT_FOUND -> StatusCodes.NOT_FOUND;
      case CONFLICT -> StatusCodes.CONFLICT;
      case LOCKED -> StatusCodes.LOCKED;
      case UNAVAILABLE -> StatusCodes.SERVICE_UNAVAILABLE;
      case DAMAGED -> StatusCodes.INTERNAL_SERVER_ERROR;
    };
  }

  static HttpResponse outcome(Outcome o) {
    return o.status() == Outcome.Status.OK
        ? json(StatusCodes.OK, o.job() != null ? o.job() : Json.object().put("message", o.message()))
        : error(statusOf(o.status()), o.message());
  }

  /** An actor that did not answer in time, or a stopped system: try again later. */
  static HttpResponse unavailable(Throwable failure) {
    Throwable t = cause(failure);
    String why = t instanceof TimeoutException ? "the scheduler is busy, try again" : "scheduler unavailable: " + t.getMessage();
    return error(StatusCodes.SERVICE_UNAVAILABLE, why);
  }
}
