package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;

/**
 * The testboxes the lab has: what each registered, when it last asked for work (every dispatch
 * request counts as contact), its free memory then, and the last job it was handed. A box
 * silent for longer than offline-after shows as offline. Kept in memory: boxes register again
 * and ask again after a restart.
 */
public final class HostRegistryActor extends AbstractBehavior<HostRegistryActor.Command> {

  public sealed interface Command {}

  /** {@code info}: the checked registration (arch, tbox_type, tbox_group, tags, memory). */
  public record Register(String hostname, ObjectNode info, ActorRef<Outcome> replyTo) implements Command {}

  public record Get(String hostname, ActorRef<Outcome> replyTo) implements Command {}

  /** A dispatch request from this box. */
  public record Contact(Testbox box) implements Command {}

  public record HandedOut(String hostname, long jobId) implements Command {}

  /** The job ended or went back to the queue: its box no longer runs it. */
  public record JobEnded(String hostname, long jobId) implements Command {}

  /**
   * A VM and container provider connected or left: {@code info} is what it told of itself (arch,
   * tbox_type, tags, ...) and {@code connected}; shown on the host as {@code provider}.
   */
  public record ProviderState(String hostname, ObjectNode info) implements Command {}

  /** Testboxes by hostname, from {@code offset}, at most {@code limit}. */
  public record ListHosts(int offset, int limit, ActorRef<HostsPage> replyTo) implements Command {
    public ListHosts(ActorRef<HostsPage> replyTo) {
      this(0, Integer.MAX_VALUE, replyTo);
    }
  }

  /** {@code total} and {@code online} count every known box; {@code hosts} is the page. */
  public record HostsPage(int total, long online, ArrayNode hosts) {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /** Every testbox that has asked for a job, as it last asked: what explain counts against. */
  public record Boxes(ActorRef<java.util.List<Testbox>> replyTo) implements Command {}

  /** Most boxes remembered; the longest silent go first. */
  static final int MAX_HOSTS = 100_000;

  private static final class Host {
    final String hostname;
    ObjectNode registered = Json.object();
    Instant lastContact;
    long freeMemMb = -1;
    /** As the box last asked for a job; null until it has. */
    Testbox box;
    long currentJob;
    long lastJob;
    /** Every job handed to it and not ended: a provider runs several at once. */
    final java.util.Set<Long> held = new java.util.TreeSet<>();
    /** Null unless it is a VM and container provider. */
    ObjectNode provider;

    Host(String hostname) {
      this.hostname = hostname;
    }
  }

  private final Clock clock;
  private final Duration offlineAfter;
  private final Activity activity;
  private final LinkedHashMap<String, Host> hosts = new LinkedHashMap<>(1024, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Host> eldest) {
      return size() > MAX_HOSTS;
    }
  };

  public static Behavior<Command> create(Duration offlineAfter, Clock clock) {
    return Behaviors.setup(ctx -> new HostRegistryActor(ctx, offlineAfter, clock));
  }

  private HostRegistryActor(ActorContext<Command> ctx, Duration offlineAfter, Clock clock) {
    super(ctx);
    this.clock = clock;
    this.offlineAfter = offlineAfter;
    this.activity = new Activity(clock);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Register.class, this::onRegister)
        .onMessage(Get.class, this::onGet)
        .onMessage(Contact.class, this::onContact)
        .onMessage(HandedOut.class, this::onHandedOut)
        .onMessage(JobEnded.class, this::onJobEnded)
        .onMessage(ProviderState.class, this::onProviderState)
        .onMessage(ListHosts.class, this::onList)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(Boxes.class, b -> {
          b.replyTo().tell(hosts.values().stream().map(h -> h.box).filter(java.util.Objects::nonNull).toList());
          return this;
        })
        .build();
  }

  private Host host(String hostname) {
    return hosts.computeIfAbsent(hostname, Host::new);
  }

  private Behavior<Command> onRegister(Register r) {
    activity.touch();
    Host h = host(r.hostname());
    h.registered = r.info().deepCopy();
    h.lastContact = clock.instant();
    r.replyTo().tell(Outcome.ok(view(h)));
    return this;
  }

  private Behavior<Command> onGet(Get g) {
    Host h = hosts.get(g.hostname());
    g.replyTo().tell(h == null
        ? Outcome.of(Outcome.Status.NOT_FOUND, "testbox " + g.hostname() + " is not known")
        : Outcome.ok(view(h)));
    return this;
  }

  private Behavior<Command> onContact(Contact c) {
    activity.touch();
    Host h = host(c.box().hostname());
    h.lastContact = clock.instant();
    h.freeMemMb = c.box().freeMemMb() == Testbox.UNKNOWN_MEMORY ? -1 : c.box().freeMemMb();
    h.box = c.box();
    return this;
  }

  private Behavior<Command> onHandedOut(HandedOut h) {
    Host host = host(h.hostname());
    host.lastJob = h.jobId();
    host.currentJob = h.jobId();
    host.held.add(h.jobId());
    return this;
  }

  private Behavior<Command> onProviderState(ProviderState p) {
    activity.touch();
    Host h = host(p.hostname());
    h.provider = p.info().deepCopy();
    h.lastContact = clock.instant();
    return this;
  }

  private Behavior<Command> onJobEnded(JobEnded e) {
    Host h = hosts.get(e.hostname());
    // a box handed a newer job meanwhile keeps it
    if (h != null && h.currentJob == e.jobId()) {
      h.currentJob = 0;
    }
    if (h != null) {
      h.held.remove(e.jobId());
    }
    return this;
  }

  private Behavior<Command> onList(ListHosts l) {
    ArrayNode out = Json.MAPPER.createArrayNode();
    hosts.values().stream().sorted((a, b) -> a.hostname.compareTo(b.hostname))
        .skip(l.offset()).limit(l.limit()).forEach(h -> out.add(view(h)));
    l.replyTo().tell(new HostsPage(hosts.size(), online(), out));
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("hosts", Map.of("testboxes", (long) hosts.size(),
        "online", online()), activity.messages(), activity.last()));
    return this;
  }

  private long online() {
    return hosts.values().stream().filter(this::online).count();
  }

  private boolean online(Host h) {
    return h.lastContact != null && h.lastContact.plus(offlineAfter).isAfter(clock.instant());
  }

  private ObjectNode view(Host h) {
    ObjectNode v = Json.object().put("hostname", h.hostname);
    v.setAll(h.registered);
    v.put("last_contact", h.lastContact == null ? null : h.lastContact.toString());
    if (h.freeMemMb >= 0) {
      v.put("free_memory_mb", h.freeMemMb);
    }
    if (h.currentJob != 0) {
      v.put("current_job", Long.toString(h.currentJob));
    }
    if (h.lastJob != 0) {
      v.put("last_job", Long.toString(h.lastJob));
    }
    if (!h.held.isEmpty()) {
      ArrayNode jobs = v.putArray("jobs");
      h.held.forEach(id -> jobs.add(Long.toString(id)));
    }
    if (h.provider != null) {
      v.set("provider", h.provider);
    }
    v.put("online", online(h));
    return v;
  }
}
