package org.compassci.sched.http;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpCookiePair;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.IOResult;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.FileIO;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.UploadActor;
import org.compassci.sched.boot.BootRules;
import org.compassci.sched.boot.ResultPaths;
import org.compassci.sched.boot.UploadRefused;
import org.compassci.sched.config.AccessSettings;

/**
 * Result uploads on the scheduler's own port, in both shapes testboxes use: Compass-CI compact's
 * {@code POST <result_root>/<path>?job_id=&job_token=} with the raw file as the body, and
 * lkp-tests 2022's WebDAV {@code PUT} and {@code MKCOL} with the cookie {@code JOBID=<id>}. A job
 * writes only below its own result_root and only while it is out on its box; each file is
 * written whole or not at all, and never replaced.
 */
public final class ResultRoutes extends AllDirectives {

  private static final String MKCOL = "MKCOL";

  private final Gateway gw;
  private final BootContext boot;
  private final Materializer mat;
  private final Auth auth;

  public ResultRoutes(Gateway gw, BootContext boot) {
    this(gw, boot, Auth.legacy(boot.adminToken()));
  }

  public ResultRoutes(Gateway gw, BootContext boot, Auth auth) {
    this.gw = gw;
    this.boot = boot;
    this.mat = Materializer.matFromSystem(gw.system());
    this.auth = auth;
  }

  public Route routes() {
    String prefix = boot.resultsRoot().endsWith("/") ? boot.resultsRoot() : boot.resultsRoot() + "/";
    return extractRequest(request -> {
      String method = request.method().value();
      String raw = request.getUri().getPathString();
      if (!raw.startsWith(prefix) || !(method.equals("POST") || method.equals("PUT") || method.equals(MKCOL))) {
        return reject();
      }
      return parameterMap(q -> optionalCookie("JOBID", cookie -> optionalCookie("JOB_TOKEN", token ->
          upload(request, method, raw, q, cookie, token.map(HttpCookiePair::value)))));
    });
  }

  private Route upload(HttpRequest request, String method, String raw, Map<String, String> q,
      Optional<HttpCookiePair> cookie, Optional<String> tokenCookie) {
    String idText = q.containsKey("job_id") ? q.get("job_id") : cookie.map(HttpCookiePair::value).orElse(null);
    // the job_token in the query (compact's POST), or the cookie JOB_TOKEN beside JOBID (WebDAV)
    String token = q.containsKey("job_token") ? q.get("job_token") : tokenCookie.orElse(null);
    if (idText == null || (method.equals("POST") && token == null)) {
      return refuse(401, method.equals("POST")
          ? "job_id and job_token are required" : "the cookie JOBID (or job_id) is required");
    }
    // open mode takes every upload from anyone
    AccessSettings.TokenlessWebdav tokenless = auth.open()
        ? AccessSettings.TokenlessWebdav.ANYWHERE : auth.access().tokenlessWebdav();
    if (token == null && tokenless == AccessSettings.TokenlessWebdav.OFF) {
      return refuse(401, "the job's job_token is required (the cookie JOB_TOKEN, or job_token in the query)"
          + "; scheduler.auth.tokenless-webdav is off");
    }
    // where a tokenless upload must come from the job's box, the lifecycle hears whence it comes
    boolean fromBox = tokenless == AccessSettings.TokenlessWebdav.FROM_BOX;
    long id;
    try {
      id = Long.parseLong(idText.trim());
    } catch (NumberFormatException e) {
      return refuse(401, "job_id: '" + idText + "' is not a job id");
    }
    boolean folder = method.equals(MKCOL);
    List<String> parts;
    try {
      parts = ResultPaths.parts(raw, folder);
    } catch (UploadRefused e) {
      return refuse(e.status(), e.getMessage());
    }
    String from = fromBox ? Auth.peer(request).orElse(null) : null;
    java.util.function.Supplier<CompletionStage<BootRules.Permit>> permitted = () -> gw.<LifecycleActor.Command,
        BootRules.Permit>ask(gw.lifecycle(), reply -> new LifecycleActor.CheckUpload(id, token, from, reply));
    CompletionStage<HttpResponse> answer = permitted.get()
        .thenCompose(permit -> {
          if (!permit.ok()) {
            return done(permit.status(), permit.message());
          }
          List<String> jobFolder;
          List<String> below;
          try {
            below = ResultPaths.below(permit.resultRoot(), parts);
            jobFolder = jobFolder(permit.resultRoot());
          } catch (UploadRefused e) {
            return done(e.status(), e.getMessage());
          }
          List<String> target = new ArrayList<>(jobFolder);
          target.addAll(below);
          if (folder) {
            return request.discardEntityBytes(mat).completionStage()
                .handleAsync((d, f) -> d, gw.system().executionContext())
                .thenCompose(d -> gw.<UploadActor.Command, UploadActor.Step>ask(boot.uploads(),
                    reply -> new UploadActor.MakeFolder(id, jobFolder, target, reply)))
                .thenApply(s -> answer(s.status(), s.message()));
          }
          if (below.isEmpty()) {
            return done(403, "no file name below the result_root");
          }
          return store(request, id, jobFolder, target, method.equals("PUT") ? 201 : 200, permitted);
        })
        .exceptionally(Responses::unavailable);
    return completeWithFuture(answer);
  }

  /** Streams the body into a staging file within the size limits, then has it put in place. */
  private CompletionStage<HttpResponse> store(HttpRequest request, long id, List<String> jobFolder,
      List<String> target, int created, java.util.function.Supplier<CompletionStage<BootRules.Permit>> permitted) {
    // a declared length is checked, and set aside, before a byte of the body is read
    long declared = request.entity().getContentLengthOption().orElse(-1);
    return gw.<UploadActor.Command, UploadActor.Step>ask(boot.uploads(),
            reply -> new UploadActor.Begin(id, jobFolder, declared, reply))
        .thenCompose(begun -> {
          if (!begun.ok()) {
            return done(begun.status(), begun.message());
          }
          Path staging = begun.staging();
          long limit = begun.remaining();
          java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
          org.apache.pekko.stream.javadsl.Source<org.apache.pekko.util.ByteString, Object> body =
              request.entity().withSizeLimit(limit).getDataBytes()
                  .map(bytes -> {
                    received.addAndGet(bytes.size());
                    return bytes;
                  });
          if (declared < 0) {
            // nothing was declared, so only the entry's block was set aside: each byte is, before it is written
            java.util.concurrent.atomic.AtomicLong seen = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicLong granted = new java.util.concurrent.atomic.AtomicLong();
            body = body.mapAsync(1, bytes -> setAside(id, staging, bytes, seen.addAndGet(bytes.size()), granted));
          }
          return body
              .runWith(FileIO.toPath(staging), mat)
              .handle((IOResult io, Throwable failure) -> failure)
              .thenCompose(failure -> {
                if (failure != null) {
                  boot.uploads().tell(new UploadActor.Abort(staging));
                  UploadRefused refused = cause(failure, UploadRefused.class);
                  if (refused != null) {
                    return done(refused.status(), refused.getMessage());
                  }
                  if (cause(failure, org.apache.pekko.pattern.AskTimeoutException.class) != null) {
                    return done(503, "the upload could not be counted in time: send it again");
                  }
                  if (cause(failure, EntityStreamSizeException.class) != null) {
                    return done(413, "the file is larger than this job may still upload (" + limit + " bytes)");
                  }
                  // the staging file's own write failure: FileIO wraps it, as it wraps the body's
                  // failures (the box hung up, sent too much), which are no IOException
                  java.io.IOException write = cause(failure, java.io.IOException.class);
                  if (write != null) {
                    // our disk, not the box's upload: a box that hears 400 takes its file for bad
                    return done(UploadRefused.writeStatus(write), "cannot write the upload here: " + write.getMessage());
                  }
                  return done(400, "the upload broke off: " + failure.getMessage());
                }
                long size;
                try {
                  size = java.nio.file.Files.size(staging);
                } catch (java.io.IOException e) {
                  boot.uploads().tell(new UploadActor.Abort(staging));
                  return done(500, "the staged upload is gone: " + e.getMessage());
                }
                if (size != received.get()) {
                  // FileIO writes each chunk once and counts what the disk took: on a full disk
                  // that is a short write, not an error, and the file would be stored cut short
                  boot.uploads().tell(new UploadActor.Abort(staging));
                  return done(507, "cannot write the upload here: the results disk took " + size + " of its "
                      + received.get() + " bytes (No space left on device?)");
                }
                // asked again once the body is in: the job's data may have been declared
                // complete (its statistics taken) or the job ended while it came
                return permitted.get().exceptionally(f -> new BootRules.Permit(503,
                    "the upload's permit could not be checked again: send it again", "")).thenCompose(still -> {
                  if (!still.ok()) {
                    boot.uploads().tell(new UploadActor.Abort(staging));
                    return done(still.status(), still.message());
                  }
                  return gw.<UploadActor.Command, UploadActor.Step>ask(boot.uploads(),
                          reply -> new UploadActor.Commit(id, target, jobFolder.size(), staging, size, reply))
                      .thenApply(s -> answer(s.ok() ? created : s.status(), s.ok() ? "stored" : s.message()));
                });
              });
        });
  }

  /** The most a body in chunks has set aside at once: about as much again as it received, up to this. */
  static final long SET_ASIDE_STEP = 1 << 20;

  /**
   * {@code bytes} of a body in chunks, {@code seen} in all so far, once what it has received is
   * set aside for it ({@code granted} so far): asked of the upload actor a step ahead, so a
   * large file asks about once a MiB. Fails with the actor's 413 when the job has no room left.
   */
  private CompletionStage<org.apache.pekko.util.ByteString> setAside(long id, Path staging,
      org.apache.pekko.util.ByteString bytes, long seen, java.util.concurrent.atomic.AtomicLong granted) {
    long needed = seen - granted.get();
    if (needed <= 0) {
      return CompletableFuture.completedFuture(bytes);
    }
    return gw.<UploadActor.Command, UploadActor.Step>ask(boot.uploads(),
            reply -> new UploadActor.Grow(id, staging, granted.get(), needed, Math.min(SET_ASIDE_STEP, seen), reply))
        .thenApply(step -> {
          if (!step.ok()) {
            throw new UploadRefused(step.status(), step.message());
          }
          granted.addAndGet(step.remaining());
          return bytes;
        });
  }

  /** The first of {@code t} and its causes that is a {@code type}, or null. */
  private static <T extends Throwable> T cause(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  /** The job's folder as parts below the results folder: its result_root without the prefix. */
  private List<String> jobFolder(String resultRoot) {
    String prefix = boot.resultsRoot().endsWith("/") ? boot.resultsRoot() : boot.resultsRoot() + "/";
    if (!resultRoot.startsWith(prefix)) {
      throw new UploadRefused(403, "result_root " + resultRoot + " is not below " + boot.resultsRoot());
    }
    return ResultPaths.parts(resultRoot.substring(prefix.length() - 1), true);
  }

  /** Answered at once: HttpServer reads and drops the body before this goes out. */
  private Route refuse(int status, String message) {
    return complete(answer(status, message));
  }


  private static CompletionStage<HttpResponse> done(int status, String message) {
    return CompletableFuture.completedFuture(answer(status, message));
  }

  private static HttpResponse answer(int status, String message) {
    return Auth.challenge(Responses.text(StatusCodes.get(status), message), status);
  }
}
