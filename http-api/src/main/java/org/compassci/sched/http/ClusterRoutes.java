package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code GET /scheduler/v1/manage/cluster}: the members, the singleton's node and its epoch,
 * for operators and the dashboard's header chip. What a cluster is lives in the scheduler
 * module; this module only serves it.
 */
public final class ClusterRoutes extends AllDirectives {

  /** Describes the cluster as API.md has it; standalone: no members, no singleton. */
  public interface View {
    CompletionStage<ObjectNode> describe();
  }

  private final View view;
  private final Auth auth;

  public ClusterRoutes(View view, Auth auth) {
    this.view = view;
    this.auth = auth;
  }

  public Route routes() {
    return path(segment("scheduler").slash("v1").slash("manage").slash("cluster"), () -> get(() ->
        auth.manage(() -> completeWithFuture(view.describe().toCompletableFuture()
            .thenApply(body -> Responses.json(StatusCodes.OK, body))
            .exceptionally(Responses::unavailable)))));
  }
}
