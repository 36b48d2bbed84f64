package org.compassci.sched.cluster;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.compassci.sched.actors.Asks;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.http.ClusterRoutes;
import org.compassci.sched.model.Json;

/**
 * What {@code manage/cluster} shows: the members as this node sees them, the node the
 * singletons run on (the oldest member that is up, where Pekko places them) and the current
 * epoch from the store, which is what fences hand-outs.
 */
public final class ClusterView implements ClusterRoutes.View {

  private final ActorSystem<?> system;
  private final ActorRef<PersistenceActor.Command> store;
  private final boolean enabled;
  private final Duration timeout;

  public ClusterView(ActorSystem<?> system, ActorRef<PersistenceActor.Command> store, boolean enabled,
      Duration timeout) {
    this.system = system;
    this.store = store;
    this.enabled = enabled;
    this.timeout = timeout;
  }

  static String hostPort(Address a) {
    return a.host().getOrElse(() -> "") + ":" + a.port().getOrElse(() -> 0);
  }

  @Override
  public CompletionStage<ObjectNode> describe() {
    ObjectNode out = Json.object();
    ArrayNode members = out.putArray("members");
    if (!enabled) {
      out.putNull("singleton");
      return CompletableFuture.completedFuture(out);
    }
    org.apache.pekko.cluster.ClusterEvent.CurrentClusterState state = Cluster.get(system).state();
    Set<Member> unreachable = state.getUnreachable();
    List<Member> all = new ArrayList<>();
    state.getMembers().forEach(all::add);
    Member oldest = null;
    for (Member m : all) {
      ObjectNode node = members.addObject();
      node.put("address", hostPort(m.address()));
      node.put("status", m.status().toString());
      node.put("reachable", !unreachable.contains(m));
      ArrayNode roles = node.putArray("roles");
      // Pekko's own data-centre role says nothing to an operator of one lab
      m.getRoles().stream().filter(r -> !r.startsWith("dc-")).sorted().forEach(roles::add);
      if (m.status() == MemberStatus.up() && (oldest == null || m.isOlderThan(oldest))) {
        oldest = m;
      }
    }
    if (oldest == null) {
      out.putNull("singleton");
    } else {
      out.put("singleton", hostPort(oldest.address()));
    }
    return Asks.<PersistenceActor.Command, PersistenceActor.Epoch>ask(system, store,
            PersistenceActor.ReadEpoch::new, timeout)
        .thenApply(e -> {
          if (e.epoch().isPresent()) {
            out.put("epoch", e.epoch().get().epoch());
            // the node that took that epoch: differs from "singleton" while a hand-over is under way
            out.put("epoch_node", e.epoch().get().node());
          } else {
            out.putNull("epoch");
          }
          out.put("fenced_claims", e.fencedClaims());
          e.error().ifPresent(err -> out.put("epoch_error", err));
          return out;
        });
  }
}
