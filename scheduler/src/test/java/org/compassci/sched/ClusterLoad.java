package org.compassci.sched;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.compassci.sched.fixtures.HttpCalls;

/**
 * Submitters and testboxes spread over a cluster's nodes, each moving on to the next node when
 * one fails or answers 503 (as the CLI and testboxes do with a server list). Records what was
 * acknowledged, what each box received, and any answer that is neither a success nor a 503.
 */
final class ClusterLoad implements AutoCloseable {

  /** A job a box received: {@code askedNanos} when it asked, {@code atNanos} when the answer came. */
  record Hand(long id, String box, String tenant, long askedNanos, long atNanos) {}

  private final ClusterNodes nodes;
  final Set<Long> acked = ConcurrentHashMap.newKeySet();
  final Map<Long, Hand> dispatched = new ConcurrentHashMap<>();
  final Set<Long> duplicates = ConcurrentHashMap.newKeySet();
  final Set<Long> finished = ConcurrentHashMap.newKeySet();
  final ConcurrentLinkedQueue<Hand> hands = new ConcurrentLinkedQueue<>();
  /** Answers that are neither what was asked for nor a 503 (a 500 would land here). */
  final ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();
  final AtomicLong unavailable = new AtomicLong();
  private final List<Thread> threads = new ArrayList<>();
  volatile boolean submitting = true;
  volatile boolean boxesRunning = true;
  /** Whether boxes finish what they receive (else it stays with them, in dispatch). */
  volatile boolean finishing = true;

  ClusterLoad(ClusterNodes nodes) {
    this.nodes = nodes;
  }

  /** One submitter per node in {@code via}, each sending batches of {@code batch} jobs of tenant(k). */
  void submitters(int[] via, int batch, String testbox, IntFunction<String> tenant, long pauseMillis) {
    for (int s = 0; s < via.length; s++) {
      int first = via[s];
      String who = tenant.apply(s);
      start("submitter-" + s, () -> {
        int node = first;
        StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < batch; i++) {
          body.append(i == 0 ? "" : ",").append("{\"suite\":\"cluster\",\"testbox\":\"").append(testbox)
              .append("\",\"my_account\":\"").append(who).append("\"}");
        }
        body.append(']');
        while (submitting) {
          try {
            HttpCalls.Answer a = nodes.http(node).post(ClusterNodes.V1 + "/jobs/submit", body.toString());
            if (a.status() == 200) {
              for (JsonNode j : a.json()) {
                acked.add(j.path("job_id").asLong());
              }
              pause(pauseMillis);
              continue;
            }
            note(a, "submit");
          } catch (RuntimeException e) {
            // the node is gone: the next one
          }
          node = (node + 1) % nodes.size();
          pause(100);
        }
      });
    }
  }

  /** {@code count} testboxes of {@code group}, box b starting at node b % size. */
  void boxes(int count, String group, int waitSeconds) {
    for (int b = 0; b < count; b++) {
      String host = group + "--" + b;
      int first = b % nodes.size();
      start("box-" + b, () -> {
        int node = first;
        while (boxesRunning) {
          try {
            long asked = System.nanoTime();
            HttpCalls.Answer a = nodes.http(node).get(ClusterNodes.V1 + "/jobs/dispatch?hostname=" + host
                + "&tbox_type=vm&freemem=16000&wait=" + waitSeconds);
            if (a.status() == 204) {
              continue;
            }
            if (a.status() == 200) {
              JsonNode job = a.json();
              long id = job.path("id").asLong();
              Hand h = new Hand(id, host, job.path("my_account").asText(), asked, System.nanoTime());
              if (dispatched.putIfAbsent(id, h) != null) {
                duplicates.add(id);
              }
              hands.add(h);
              if (finishing) {
                finish(id, node);
              }
              continue;
            }
            note(a, "dispatch");
          } catch (RuntimeException e) {
            // the node is gone: the next one
          }
          node = (node + 1) % nodes.size();
          pause(100);
        }
      });
    }
  }

  /** The box reports its job finished, through whichever node answers. */
  private void finish(long id, int first) {
    int node = first;
    long end = System.nanoTime() + 90_000_000_000L;
    while (System.nanoTime() < end) {
      try {
        HttpCalls.Answer a = nodes.http(node).post(ClusterNodes.V1 + "/jobs/" + id
            + "/update?job_stage=finish&job_health=success", "");
        if (a.status() == 200) {
          finished.add(id);
          return;
        }
        note(a, "update");
        if (a.status() != 503) {
          return;
        }
      } catch (RuntimeException e) {
        // the next node
      }
      node = (node + 1) % nodes.size();
      pause(100);
    }
  }

  private void note(HttpCalls.Answer a, String what) {
    if (a.status() == 503) {
      unavailable.incrementAndGet();
      if (a.raw().headers().firstValue("Retry-After").isEmpty()) {
        unexpected.add(what + " 503 without Retry-After: " + a.body());
      }
    } else {
      unexpected.add(what + " " + a.status() + ": " + a.body());
    }
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
  }

  /**
   * The first hand-out asked for after {@code nanos}, in seconds from then to its answer; -1 if
   * none. Asked after, so that an answer already on its way at that moment does not count.
   */
  double firstHandAfter(long nanos) {
    return hands.stream().filter(h -> h.askedNanos() > nanos).mapToLong(Hand::atNanos).min()
        .stream().mapToDouble(t -> (t - nanos) / 1e9).findFirst().orElse(-1);
  }

  @Override
  public void close() throws InterruptedException {
    submitting = false;
    boxesRunning = false;
    for (Thread t : threads) {
      t.join(30_000);
    }
  }
}
