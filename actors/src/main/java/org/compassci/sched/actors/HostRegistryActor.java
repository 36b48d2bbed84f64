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
import org.compassci.sched.boot.LabHosts;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.persistence.HostStore;
import org.compassci.sched.persistence.RegisteredHost;

/**
 * The testboxes the lab has: what each registered, when it last asked for work (every dispatch
 * request counts as contact), its free memory then, and the last job it was handed. A box
 * silent for longer than offline-after shows as offline. What boxes registered by hand is kept
 * in the store (given one) and read back at a start; the rest is memory, learnt again as boxes
 * ask and from the lab's hosts/ folder.
 */
public final class HostRegistryActor extends AbstractBehavior<HostRegistryActor.Command> {

  public sealed interface Command extends org.compassci.sched.model.CborSerializable {}

  /** {@code info}: the checked registration (arch, tbox_type, tbox_group, tags, memory). */
  public record Register(String hostname, ObjectNode info, ActorRef<Outcome> replyTo) implements Command {}

  public record Get(String hostname, ActorRef<Outcome> replyTo) implements Command {}

  /** A dispatch request from this box. */
  public record Contact(Testbox box) implements Command {}

  public record HandedOut(String hostname, long jobId) implements Command {}

  /** The hand-outs of one commit, in one message. */
  public record HandOuts(java.util.List<HandedOut> each) implements Command {}

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
  public record HostsPage(int total, long online, ArrayNode hosts)
      implements org.compassci.sched.model.CborSerializable {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /** The box with this MAC (canonical, {@link org.compassci.sched.boot.Mac}), as Get answers. */
  public record FindByMac(String mac, ActorRef<Outcome> replyTo) implements Command {}

  /** Read the lab's hosts/ folder again: edits, new and removed boxes apply without a restart. */
  public record ReloadLab(ActorRef<LabReloaded> replyTo) implements Command {}

  /** {@code hosts}: boxes the folder holds; {@code problems}: one line per file left out. */
  public record LabReloaded(int hosts, java.util.List<String> problems)
      implements org.compassci.sched.model.CborSerializable {}

  private record LabRead(LabHosts.Lab lab, ActorRef<LabReloaded> replyTo) implements Command {}

  /** The registrations the store holds, read at a start; {@code failure} when it could not. */
  private record RegistrationsRead(java.util.List<RegisteredHost> hosts, Throwable failure) implements Command {}

  /** The store could not be read at the start: try again. */
  private record ReadRegistrationsAgain() implements Command {}

  /** A registration is durable ({@code failure} null) or not; only then does it apply. */
  private record RegistrationSaved(Register request, Throwable failure) implements Command {}

  /** Reading the lab's folder blocks: it runs here. */
  public static final String FILES_DISPATCHER = "scheduler.files-dispatcher";

  /**
   * The testboxes seen lately (within offline-after), as each last asked: what explain counts
   * against. Every box that ever asked was counted, and a job "fit 3 boxes" gone for a month.
   */
  public record Boxes(ActorRef<BoxList> replyTo) implements Command {}

  /** The answer to {@link Boxes}: a record, because a reply that crosses nodes needs its own type. */
  public record BoxList(java.util.List<Testbox> boxes) implements org.compassci.sched.model.CborSerializable {}

  /** Most boxes remembered; the longest silent go first. */
  static final int MAX_HOSTS = HostStore.MAX_HOSTS;

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
    /** Known from the lab's hosts/ folder: a reload that no longer finds it forgets it. */
    boolean fromLab;
    java.util.List<String> macs = java.util.List.of();

    Host(String hostname) {
      this.hostname = hostname;
    }
  }

  private final Clock clock;
  private final Duration offlineAfter;
  private final Activity activity;
  /** Most recently heard of last; past {@link #maxHosts}, see {@link #host}. */
  private final LinkedHashMap<String, Host> hosts = new LinkedHashMap<>(1024, 0.75f, true);
  private final int maxHosts;

  /** Boxes by MAC, from the lab's folder and from registrations; a MAC names one box. */
  private final Map<String, String> byMac = new java.util.HashMap<>();
  private final java.util.Optional<java.nio.file.Path> labDir;
  /** Where registrations are kept; null: in memory only. */
  private final HostStore store;
  private final java.util.concurrent.Executor blocking;
  /** Registrations being made durable, the first in the store's hands: one at a time, in order. */
  private final java.util.ArrayDeque<Register> saving = new java.util.ArrayDeque<>();

  public static Behavior<Command> create(Duration offlineAfter, Clock clock) {
    return create(offlineAfter, clock, java.util.Optional.empty());
  }

  /** {@code labDir}: the lab's hosts/ folder, read at start and on {@link ReloadLab}. */
  public static Behavior<Command> create(Duration offlineAfter, Clock clock,
      java.util.Optional<java.nio.file.Path> labDir) {
    return create(offlineAfter, clock, labDir, null);
  }

  /** {@code store}: where registrations are kept and read back at a start; null keeps them in memory. */
  public static Behavior<Command> create(Duration offlineAfter, Clock clock,
      java.util.Optional<java.nio.file.Path> labDir, HostStore store) {
    return create(offlineAfter, clock, labDir, store, MAX_HOSTS);
  }

  /** {@code maxHosts}: boxes remembered (a test's small lab). */
  static Behavior<Command> create(Duration offlineAfter, Clock clock,
      java.util.Optional<java.nio.file.Path> labDir, HostStore store, int maxHosts) {
    return Behaviors.setup(ctx -> new HostRegistryActor(ctx, offlineAfter, clock, labDir, store, maxHosts));
  }

  private HostRegistryActor(ActorContext<Command> ctx, Duration offlineAfter, Clock clock,
      java.util.Optional<java.nio.file.Path> labDir, HostStore store, int maxHosts) {
    super(ctx);
    // its own name, not Pekko's guess from the call stack (see LifecycleActor)
    ctx.setLoggerName(HostRegistryActor.class);
    this.maxHosts = maxHosts;
    this.clock = clock;
    this.offlineAfter = offlineAfter;
    this.activity = new Activity(clock);
    this.labDir = labDir;
    this.store = store;
    this.blocking = store == null ? null : ctx.getSystem().dispatchers().lookup(
        org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(PersistenceActor.DISPATCHER));
    if (labDir.isPresent()) {
      ctx.getSelf().tell(new ReloadLab(ctx.getSystem().ignoreRef()));
    }
    if (store != null) {
      readRegistrations();
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Register.class, this::onRegister)
        .onMessage(Get.class, this::onGet)
        .onMessage(Contact.class, this::onContact)
        .onMessage(HandedOut.class, this::onHandedOut)
        .onMessage(HandOuts.class, h -> {
          h.each().forEach(this::onHandedOut);
          return this;
        })
        .onMessage(JobEnded.class, this::onJobEnded)
        .onMessage(ProviderState.class, this::onProviderState)
        .onMessage(ListHosts.class, this::onList)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(FindByMac.class, this::onFindByMac)
        .onMessage(ReloadLab.class, this::onReloadLab)
        .onMessage(LabRead.class, this::onLabRead)
        .onMessage(RegistrationsRead.class, this::onRegistrationsRead)
        .onMessage(ReadRegistrationsAgain.class, r -> {
          readRegistrations();
          return this;
        })
        .onMessage(RegistrationSaved.class, this::onRegistrationSaved)
        .onMessage(Boxes.class, b -> {
          b.replyTo().tell(new BoxList(hosts.values().stream().filter(h -> h.box != null && online(h))
              .map(h -> h.box).toList()));
          return this;
        })
        .build();
  }

  private Host host(String hostname) {
    Host h = hosts.get(hostname);
    if (h == null) {
      h = new Host(hostname);
      hosts.put(hostname, h);
      if (hosts.size() > maxHosts) {
        forgetOneSilent(h);
      }
    }
    return h;
  }

  /**
   * Makes room: the longest silent box that only ever asked goes, MACs and all. A box of the
   * lab's folder, one registered by hand or one running a job stays whatever the count: with the
   * eldest dropped whoever it was, a lab box went once enough other names had asked (anyone can
   * ask for a job), and its MAC still pointed at it, so its iPXE boot answered 404.
   */
  private void forgetOneSilent(Host added) {
    for (java.util.Iterator<Host> it = hosts.values().iterator(); it.hasNext(); ) {
      Host old = it.next();
      if (old != added && !old.fromLab && old.registered.isEmpty() && old.held.isEmpty()) {
        it.remove();
        old.macs.forEach(m -> byMac.remove(m, old.hostname));
        return;
      }
    }
  }

  private Behavior<Command> onRegister(Register r) {
    activity.touch();
    // one MAC, one box: registered to a second, the first box's iPXE boots would go to the
    // second's jobs (or the other way round, after a restart)
    for (com.fasterxml.jackson.databind.JsonNode m : r.info().path("mac_addr")) {
      String owner = byMac.get(m.asText());
      if (owner != null && !owner.equals(r.hostname())) {
        r.replyTo().tell(Outcome.of(Outcome.Status.CONFLICT, "MAC " + m.asText() + " is testbox " + owner
            + "'s: register " + owner + " without it first (or take it out of the lab's folder)"));
        return this;
      }
    }
    if (store == null) {
      apply(r);
      return this;
    }
    // durable before it is answered, and in the order asked: a later one for the same box wins
    saving.add(r);
    if (saving.size() == 1) {
      saveNext();
    }
    return this;
  }

  private void saveNext() {
    Register r = saving.peek();
    RegisteredHost row = new RegisteredHost(r.hostname(), Json.write(r.info()), clock.millis());
    getContext().pipeToSelf(java.util.concurrent.CompletableFuture.runAsync(() -> store.saveHost(row), blocking),
        (done, failure) -> new RegistrationSaved(r, failure));
  }

  private Behavior<Command> onRegistrationSaved(RegistrationSaved s) {
    saving.poll();
    if (s.failure() == null) {
      apply(s.request());
    } else {
      s.request().replyTo().tell(Outcome.of(Outcome.Status.UNAVAILABLE, "the registration of "
          + s.request().hostname() + " could not be stored, nothing changed: " + PersistenceActor.reason(s.failure())));
    }
    if (!saving.isEmpty()) {
      saveNext();
    }
    return this;
  }

  private void apply(Register r) {
    Host h = host(r.hostname());
    h.registered = r.info().deepCopy();
    h.lastContact = clock.instant();
    indexMacs(h);
    r.replyTo().tell(Outcome.ok(view(h)));
  }

  private void readRegistrations() {
    getContext().pipeToSelf(java.util.concurrent.CompletableFuture.supplyAsync(store::registeredHosts, blocking),
        RegistrationsRead::new);
  }

  /**
   * The boxes registered before the start are known again. A box registered since, or named by
   * the lab's folder (the truth for the boxes it names), keeps what it has.
   */
  private Behavior<Command> onRegistrationsRead(RegistrationsRead r) {
    if (r.failure() != null) {
      getContext().getLog().warn("cannot read the registered testboxes, retrying in 5 s: {}", r.failure().getMessage());
      getContext().scheduleOnce(Duration.ofSeconds(5), getContext().getSelf(), new ReadRegistrationsAgain());
      return this;
    }
    int known = 0;
    for (RegisteredHost row : r.hosts()) {
      Host existing = hosts.get(row.name());
      if (existing != null && (existing.fromLab || !existing.registered.isEmpty())) {
        continue;
      }
      com.fasterxml.jackson.databind.JsonNode info;
      try {
        info = Json.parse(row.info());
      } catch (RuntimeException e) {
        info = null;
      }
      if (!(info instanceof ObjectNode o)) {
        getContext().getLog().warn("registered testbox {}: its stored registration is not a JSON object; left out", row.name());
        continue;
      }
      Host h = host(row.name());
      h.registered = withTagsAsNowChecked(row.name(), o);
      indexMacs(h);
      known++;
    }
    getContext().getLog().info("{} registered testboxes read back from the store", known);
    return this;
  }

  /**
   * A registration stored before its tags were checked as they are now: a tag naming the box's
   * own fields ({@code hostname=X}, which made it take X's jobs) or too long is left out, and so
   * are the tags past {@link Testbox#MAX_TAGS}, each with a warning, and the box boots as
   * itself. Kept, every boot of that box was refused with a 400 and nothing in the log said why.
   */
  private ObjectNode withTagsAsNowChecked(String hostname, ObjectNode info) {
    String tags = info.path("tags").asText("");
    if (tags.isBlank()) {
      return info;
    }
    java.util.Set<String> kept = new java.util.LinkedHashSet<>();
    for (String t : tags.split(",")) {
      if (t.isBlank()) {
        continue;
      }
      String tag;
      try {
        tag = Testbox.ownTag(t);
      } catch (org.compassci.sched.model.InvalidJobException e) {
        getContext().getLog().warn("registered testbox {}: a stored tag is left out ({}); register the box"
            + " again to store it without", hostname, e.getMessage());
        continue;
      }
      if (!kept.contains(tag) && kept.size() == Testbox.MAX_TAGS) {
        getContext().getLog().warn("registered testbox {}: the stored tags past the first {} are left out;"
            + " register the box again with fewer", hostname, Testbox.MAX_TAGS);
        break;
      }
      kept.add(tag);
    }
    String now = String.join(",", kept);
    if (now.equals(tags.trim())) {
      return info;
    }
    ObjectNode copy = info.deepCopy();
    copy.put("tags", now);
    return copy;
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
    // its own copy already: the provider actor makes a new one each time
    h.provider = p.info();
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
    if (l.limit() > 0) {
      // the dashboard asks for the counts alone (limit 0) every second per page open: no sort
      hosts.values().stream().sorted((a, b) -> a.hostname.compareTo(b.hostname))
          .skip(l.offset()).limit(l.limit()).forEach(h -> out.add(view(h)));
    }
    l.replyTo().tell(new HostsPage(hosts.size(), online(), out));
    return this;
  }

  private Behavior<Command> onFindByMac(FindByMac f) {
    activity.touch();
    String hostname = byMac.get(f.mac());
    Host h = hostname == null ? null : hosts.get(hostname);
    f.replyTo().tell(h == null
        ? Outcome.of(Outcome.Status.NOT_FOUND, "no testbox has MAC " + f.mac())
        : Outcome.ok(view(h)));
    return this;
  }

  private Behavior<Command> onReloadLab(ReloadLab r) {
    if (labDir.isEmpty()) {
      r.replyTo().tell(new LabReloaded(0, java.util.List.of("no lab hosts folder is configured (scheduler.lab.hosts-dir)")));
      return this;
    }
    java.nio.file.Path dir = labDir.get();
    getContext().pipeToSelf(java.util.concurrent.CompletableFuture.supplyAsync(() -> LabHosts.read(dir),
            getContext().getSystem().dispatchers().lookup(
                org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(FILES_DISPATCHER))),
        (lab, failure) -> new LabRead(failure == null ? lab : LabHosts.Lab.unlisted(dir + ": " + failure.getMessage()),
            r.replyTo()));
    return this;
  }

  /** The folder is the truth for the boxes it names; those it no longer names are forgotten. */
  private Behavior<Command> onLabRead(LabRead l) {
    activity.touch();
    if (!l.lab().listed()) {
      // a folder that could not be listed (gone, no permission, a stale NFS handle part way)
      // changes nothing: the boxes known stay known
      l.lab().problems().forEach(p -> getContext().getLog().warn("lab hosts: {}", p));
      l.replyTo().tell(new LabReloaded(0, l.lab().problems()));
      return this;
    }
    for (Host h : java.util.List.copyOf(hosts.values())) {
      // a box whose file is there but could not be read keeps what it was registered with
      if (h.fromLab && !l.lab().hosts().containsKey(h.hostname) && !l.lab().unreadable().contains(h.hostname)) {
        h.fromLab = false;
        h.registered = Json.object();
        indexMacs(h);
        if (h.currentJob == 0) {
          hosts.remove(h.hostname);
        }
      }
    }
    l.lab().hosts().forEach((name, registration) -> {
      Host h = host(name);
      h.registered = registration;
      h.fromLab = true;
      indexMacs(h);
    });
    l.lab().problems().forEach(p -> getContext().getLog().warn("lab hosts: {}", p));
    getContext().getLog().info("lab hosts: {} testboxes, {} files left out", l.lab().hosts().size(),
        l.lab().problems().size());
    l.replyTo().tell(new LabReloaded(l.lab().hosts().size(), l.lab().problems()));
    return this;
  }

  /** The box's MACs, from its registration, replace those it had. */
  private void indexMacs(Host h) {
    java.util.List<String> macs = new java.util.ArrayList<>();
    h.registered.path("mac_addr").forEach(m -> macs.add(m.asText()));
    for (String m : h.macs) {
      // only a MAC it drops: a reload registers every lab box again with the MACs it had, and
      // a walk through every host for each of them made a reload quadratic in the lab's size
      if (!macs.contains(m) && byMac.remove(m, h.hostname)) {
        // another box that lists it (the lab's folder and a registration by hand) has it now
        hosts.values().stream().filter(o -> o != h && o.macs.contains(m)).findFirst()
            .ifPresent(o -> byMac.put(m, o.hostname));
      }
    }
    h.macs = java.util.List.copyOf(macs);
    for (String m : macs) {
      String other = byMac.put(m, h.hostname);
      if (other != null && !other.equals(h.hostname)) {
        getContext().getLog().warn("MAC {} moves from testbox {} to {}", m, other, h.hostname);
      }
    }
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
