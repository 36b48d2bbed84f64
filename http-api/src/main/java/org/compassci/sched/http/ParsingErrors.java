package org.compassci.sched.http;

import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;

/**
 * The answer to a request too malformed or too large to reach a route: its status and one line
 * saying why (Pekko's own default says only the status). A request line over
 * {@code pekko.http.server.parsing.max-uri-length} is answered 431, as its headers are: the
 * request's head is too large. Configured as {@code pekko.http.server.parsing.error-handler}.
 */
public final class ParsingErrors extends ParsingErrorHandler {

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo error, LoggingAdapter log, ServerSettings settings) {
    int code = status.intValue();
    String why = error.summary() == null || error.summary().isBlank() ? status.reason() : error.summary();
    // 414: the request target is the request line's length; a head too large is 431 here, and so
    // is one with too many headers (which Pekko answers 400)
    boolean headLimit = code == 400 && why.contains("configured limit") && why.toLowerCase().contains("header");
    int answer = code == 414 || headLimit ? 431 : code;
    // the client's mistake, never the server's: an unknown method (501) is not allowed here, and
    // a request line that does not parse (505 when a space splits the target) is a bad request
    if (answer >= 500 && answer != 503) {
      answer = code == 501 ? 405 : 400;
    }
    if (code == 414) {
      why = "the request line is longer than the " + settings.parserSettings().maxUriLength()
          + " bytes of pekko.http.server.parsing.max-uri-length";
    }
    why = why.replaceAll("\\p{Cntrl}", " ");
    if (why.length() > 300) {
      why = why.substring(0, 300) + "...";
    }
    return HttpResponse.create()
        .withStatus(org.apache.pekko.http.javadsl.model.StatusCodes.get(answer))
        .withEntity(ContentTypes.TEXT_PLAIN_UTF8, why + "\n");
  }
}
