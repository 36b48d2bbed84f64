package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.compassci.sched.model.Json;

/**
 * Ends every job the server has handed out and not seen reported, between two measured runs of
 * {@code scripts/bench.sh}: the dispatch runs' boxes never report, and without this each run
 * left its 30,000-40,000 jobs in flight for the next (150,000 by the end of an http bench). A
 * lab's boxes report within seconds, so a lab never carries those jobs: their records on the
 * heap and their rows in the store's hand-out table made every later run's collections and
 * commits dearer than a lab's.
 *
 * <pre>
 *   EndHandOuts BASE_URL ADMIN_TOKEN     prints "ended N handed-out jobs in T ms" to stderr
 * </pre>
 *
 * Reads the ids from {@code GET /scheduler/v1/dashboard/jobs/running}, then ends each with
 * {@code POST /scheduler/v1/jobs/{id}/terminate}, 64 at a time.
 */
public final class EndHandOuts {

  private static final int PAGE = 1000;
  private static final int IN_FLIGHT = 64;

  public static void main(String[] args) throws Exception {
    String base = args[0];
    String token = args[1];
    long t0 = System.nanoTime();
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    List<String> ids = new ArrayList<>();
    for (int offset = 0; ; offset += PAGE) {
      HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(
              base + "/scheduler/v1/dashboard/jobs/running?offset=" + offset + "&limit=" + PAGE))
          .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(60)).build(),
          HttpResponse.BodyHandlers.ofString());
      if (page.statusCode() != 200) {
        throw new IllegalStateException("running jobs: " + page.statusCode() + " " + page.body());
      }
      JsonNode jobs = Json.parse(page.body()).path("jobs");
      for (JsonNode job : jobs) {
        if ("dispatch".equals(job.path("job_stage").asText())) {
          ids.add(job.path("job_id").asText());
        }
      }
      if (jobs.size() < PAGE) {
        break;
      }
    }
    Semaphore slots = new Semaphore(IN_FLIGHT);
    AtomicInteger ended = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    List<CompletableFuture<?>> calls = new ArrayList<>(ids.size());
    for (String id : ids) {
      slots.acquire();
      calls.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/scheduler/v1/jobs/" + id + "/terminate"))
              .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(60))
              .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding())
          .whenComplete((r, e) -> {
            slots.release();
            (e == null && r.statusCode() == 200 ? ended : refused).incrementAndGet();
          }));
    }
    CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).exceptionally(e -> null).join();
    System.err.printf("bench: ended %d handed-out jobs in %d ms (%d refused)%n", ended.get(),
        (System.nanoTime() - t0) / 1_000_000, refused.get());
    if (refused.get() > 0) {
      System.exit(1);
    }
  }
}
