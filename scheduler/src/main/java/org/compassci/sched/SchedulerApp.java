package org.compassci.sched;

import com.typesafe.config.Config;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.compassci.sched.actors.ExtractActor;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.actors.Restarts;
import org.compassci.sched.actors.StatsActor;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.cluster.ClusterSettings;
import org.compassci.sched.cluster.ClusterView;
import org.compassci.sched.cluster.Singletons;
import org.compassci.sched.config.AccessSettings;
import org.compassci.sched.config.BadSettingException;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.extract.Extraction;
import org.compassci.sched.http.Gateway;
import org.compassci.sched.http.HttpServer;
import org.compassci.sched.http.SchedulerRoutes;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.persistence.JobStore;
import org.compassci.sched.persistence.RedisClaims;

/**
 * Wiring: opens the store, starts the actors and the HTTP server. Main calls it, and so do the
 * tests, which is why nothing here exits the JVM.
 */
public final class SchedulerApp {

  /** A running scheduler: its actor system and the address it listens on. */
  public record Running(ActorSystem<Void> system, InetSocketAddress address, String store,
      ActorRef<HostRegistryActor.Command> hosts, CompletionStage<Void> storeClosed) {

    /** Read the lab's hosts/ folder again (what SIGHUP does). */
    public void reloadLab() {
      hosts.tell(new HostRegistryActor.ReloadLab(system.ignoreRef()));
    }

    /** Completes once the actors are stopped and the store is closed (its files are let go). */
    public CompletionStage<Done> stop() {
      return CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason())
          .thenCompose(done -> storeClosed.thenApply(v -> done));
    }
  }

  private SchedulerApp() {}

  /** Opens the store named by the settings, once {@link #checkOnThisMachine} has passed. */
  public static JobStore openStore(SchedulerSettings s) {
    switch (s.store()) {
      case "embedded":
        return JdbcJobStore.embedded(s.dataDir(), s.storePoolSize(), s.syncEachCommit());
      case "mysql":
        return JdbcJobStore.mysql(s.jdbcUrl().orElseThrow(), s.storePoolSize());
      default:
        return JdbcJobStore.manticore(s.jdbcUrl().orElseThrow(), s.storePoolSize());
    }
  }

  /**
   * What the settings name on this machine, checked before anything starts: the folders the
   * scheduler writes (made if missing), the lab's hosts folder, and an address it can resolve.
   * A bad one stops the start with the setting's name, not with a failure later (an upload's
   * 500, a bind error that names no setting).
   */
  static void checkOnThisMachine(SchedulerSettings s) {
    usableFolder("scheduler.data-dir (SCHED_DATA_DIR)", s.dataDir());
    usableFolder("scheduler.results-dir (SCHED_RESULTS_DIR)", s.resultsDir());
    s.boot().labHostsDir().ifPresent(dir -> {
      if (!Files.isDirectory(dir)) {
        throw new BadSettingException("scheduler.lab.hosts-dir (SCHED_LAB_HOSTS)", dir + " is not a folder");
      }
    });
    try {
      java.net.InetAddress.getByName(s.host());
    } catch (java.net.UnknownHostException e) {
      throw new BadSettingException("scheduler.host (SCHED_HOST)",
          "'" + s.host() + "' is neither an IP address nor a name that resolves");
    }
  }

  private static void usableFolder(String setting, java.nio.file.Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (java.io.IOException | SecurityException e) {
      throw new BadSettingException(setting, "cannot create " + dir + " (" + e.getClass().getSimpleName() + ")");
    }
    if (!Files.isWritable(dir)) {
      throw new BadSettingException(setting, dir + " is not writable");
    }
  }

  /** The key that seals secrets and package links; throws BadSettingException when it cannot be had. */
  static byte[] masterKey(SchedulerSettings s) {
    try {
      return org.compassci.sched.boot.Sealer.masterKey(s.boot().secretsKey(), s.dataDir().resolve("secrets.key"));
    } catch (IllegalArgumentException e) {
      throw new BadSettingException("scheduler.secrets-key (SCHED_SECRETS_KEY)", e.getMessage());
    }
  }

  public static CompletionStage<Running> start(Config config, SchedulerSettings settings) {
    return start(config, settings, Clock.systemUTC(), gateway -> {});
  }

  /**
   * The same wiring on {@code clock}, for the test kit: stage times and deadlines are read from
   * it, and {@code wired} is handed the actors once they are spawned, before the server binds.
   */
  public static CompletionStage<Running> start(Config config, SchedulerSettings settings, Clock clock,
      Consumer<Gateway> wired) {
    // checked before the store opens: a cluster on the wrong store is refused, not half started
    ClusterSettings cluster = ClusterSettings.fromConfig(config, settings.store(), settings.host());
    config = cluster.enabled() ? cluster.pekkoConfig(config)
        : org.compassci.sched.cluster.InertSerializer.standalone(config);
    checkOnThisMachine(settings);
    byte[] key = masterKey(settings);
    JobStore store = openStore(settings);
    org.compassci.sched.auth.AccountBootstrap.Summary accounts;
    try {
      accounts = org.compassci.sched.auth.AccountBootstrap.run((org.compassci.sched.persistence.AccountStore) store,
          settings.adminToken(), settings.dataDir(), clock);
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    // the mode, how many accounts, where the admin's token is: never a token itself
    org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(SchedulerApp.class);
    log.info("auth mode={} accounts={} private-reads={};"
        + " the admin token is {}", settings.access().mode(), accounts.accounts(),
        settings.access().privateReads() ? "on" : "off", accounts.adminToken());
    if (settings.adminToken().filter(t -> t.length() < AccessSettings.MIN_ADMIN_TOKEN).isPresent()) {
      // never the value itself, nor its length: it is a secret
      log.warn("SCHED_ADMIN_TOKEN is shorter than {} characters:"
          + " a password anyone may guess, not a token (openssl rand -hex 32 makes one)", AccessSettings.MIN_ADMIN_TOKEN);
    }
    // known from the first request on; the accounts actor keeps it current from here
    org.compassci.sched.auth.AccountBook book = new org.compassci.sched.auth.AccountBook();
    book.publish(accounts.all());
    Optional<RedisClaims> redis = settings.redisUrl()
        .map(url -> new RedisClaims(url, settings.redisClaimTtl().toMillis(), redisHolder(settings, cluster)));
    CompletableFuture<Running> started = new CompletableFuture<>();
    CompletableFuture<Void> storeClosed = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(
        guardian(settings, cluster, store, redis, key, book, started, clock, wired, storeClosed), "scheduler", config);
    system.getWhenTerminated().thenRun(() -> {
      try {
        store.close();
        redis.ifPresent(RedisClaims::close);
      } finally {
        storeClosed.complete(null);
      }
    });
    started.whenComplete((r, failure) -> {
      if (failure != null) {
        system.terminate();
      }
    });
    return started;
  }

  /**
   * A staging file unwritten this long belongs to no upload: the HTTP server ends a connection
   * idle for its idle timeout, a live upload's among them, so a minute more is never a live one's.
   */
  static Duration uploadStaleAfter(ActorSystem<?> system) {
    try {
      return system.settings().config().getDuration("pekko.http.server.idle-timeout").plusMinutes(1);
    } catch (com.typesafe.config.ConfigException infinite) {
      // "infinite": a stalled upload is never ended, so its file is taken after a long while only
      return Duration.ofHours(1);
    }
  }

  /** Where hand registrations of testboxes are kept: the store, when it can (every JDBC store does). */
  static org.compassci.sched.persistence.HostStore hostStore(JobStore store) {
    return store instanceof org.compassci.sched.persistence.HostStore h ? h : null;
  }

  private static Behavior<Void> guardian(SchedulerSettings s, ClusterSettings cluster, JobStore store,
      Optional<RedisClaims> redis, byte[] key, org.compassci.sched.auth.AccountBook book,
      CompletableFuture<Running> started, Clock clock, Consumer<Gateway> wired,
      CompletionStage<Void> storeClosed) {
    return Behaviors.setup(ctx -> {
      ActorSystem<Void> system = ctx.getSystem();
      Restarts restarts = new Restarts();
      ActorRef<PersistenceActor.Command> persistence = ctx.spawn(restarts.supervise("persistence",
          PersistenceActor.create(store, redis, s.storeBatchMax())), "persistence");
      ActorRef<ExtractActor.Command> extractor = ctx.spawn(restarts.supervise("extract",
          ExtractActor.create(new Extraction(Extraction.installed(), s.resultsDir(), s.resultsRoot()),
              clock, s.extractTimeout())), "extract");
      ActorRef<HostRegistryActor.Command> hosts;
      ActorRef<org.compassci.sched.actors.UploadActor.Command> uploads = ctx.spawn(restarts.supervise("uploads",
          org.compassci.sched.actors.UploadActor.create(s.resultsDir(), s.boot().maxUploadFileBytes(),
              s.boot().maxUploadJobBytes(), clock, uploadStaleAfter(system))), "uploads");
      // a store no other process can write holds nothing the matcher does not know already
      SchedulerSettings matching = store.exclusive() ? s.withResyncInterval(Duration.ZERO) : s;
      ActorRef<LifecycleActor.Command> lifecycle;
      ActorRef<MatcherActor.Command> matcher;
      ActorRef<org.compassci.sched.actors.IdempotencyActor.Command> submits;
      if (!cluster.enabled()) {
        hosts = ctx.spawn(restarts.supervise("hosts",
            HostRegistryActor.create(s.hostsOfflineAfter(), clock, s.boot().labHostsDir(), hostStore(store))), "hosts");
        java.util.concurrent.atomic.AtomicReference<ActorRef<MatcherActor.Command>> known =
            new java.util.concurrent.atomic.AtomicReference<>();
        lifecycle = ctx.spawn(restarts.supervise("lifecycle",
            LifecycleActor.create(persistence, extractor, hosts, s.timeouts(), clock, known::get,
                // only where every hand-out in the store is this process's own
                store.exclusive() ? LifecycleActor.sweepEvery(s.timeouts()) : Duration.ZERO)), "lifecycle");
        matcher = ctx.spawn(restarts.supervise("matcher",
            MatcherActor.create(persistence, lifecycle, hosts, matching, clock)), "matcher");
        known.set(matcher);
        // its first start may come before the line above: told here too (twice does no harm)
        lifecycle.tell(new LifecycleActor.UseMatcher(matcher));
        submits = ctx.spawn(restarts.supervise("idempotency", org.compassci.sched.actors.IdempotencyActor.create(
            persistence, matcher, s.access().idempotencyTtl(), clock)), "idempotency");
      } else {
        Singletons singletons = Singletons.init(system, restarts, persistence, extractor, matching,
            clock, cluster, hostStore(store));
        hosts = singletons.hosts();
        lifecycle = singletons.lifecycle();
        matcher = singletons.matcher();
        submits = singletons.idempotency();
      }
      ActorRef<WatchActor.Command> watch = ctx.spawn(restarts.supervise("watch",
          WatchActor.create(lifecycle, s.askTimeout(), clock)), "watch");
      ActorRef<org.compassci.sched.actors.ProvidersActor.Command> providers = ctx.spawn(restarts.supervise(
          "providers", org.compassci.sched.actors.ProvidersActor.create(matcher, hosts,
              s.sockets().requestTtl(), s.timeouts().handOut(), s.askTimeout(), clock)), "providers");
      ctx.watch(providers);
      ActorRef<StatsActor.Command> stats = ctx.spawn(restarts.supervise("stats",
          StatsActor.create(matcher, lifecycle, restarts, s.statsInterval(), clock)), "stats");
      // supervision restarts them; one that stops all the same is a scheduler that cannot work
      List.of(persistence, extractor, watch, stats).forEach(ctx::watch);
      if (!cluster.enabled()) {
        // in a cluster these are the singletons' proxies, which stop only at shutdown
        List.of(hosts, lifecycle, matcher, submits).forEach(ctx::watch);
      }
      ctx.watch(uploads);

      Gateway gw = new Gateway(system, matcher, lifecycle, persistence, extractor, hosts, watch, stats,
          providers, uploads, restarts, s.askTimeout(), s.maxBodyBytes(), s.waitTimeout(), s.watchHeartbeat(), s.watchMaxJobs(),
          s.jobFiles(), clock);
      wired.accept(gw);
      // accounts: one actor changes them, requests read the book it publishes
      ActorRef<org.compassci.sched.actors.AccountsActor.Command> accountsActor = ctx.spawn(restarts.supervise(
          "accounts", org.compassci.sched.actors.AccountsActor.create((org.compassci.sched.persistence.AccountStore) store,
              book, store.exclusive() ? Duration.ZERO : s.access().accountsRefresh(), clock)), "accounts");
      ctx.watch(accountsActor);
      org.compassci.sched.http.Auth auth = new org.compassci.sched.http.Auth(s.access(), book, accountsActor, submits,
          s.adminToken().isPresent(), s.raisedQueues(), s.projectQueues());
      CoordinatedShutdown cs = CoordinatedShutdown.get(system);
      // after the server stopped taking requests, every write already accepted is committed
      cs.addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "flush-store", () ->
          AskPattern.<PersistenceActor.Command, Done>ask(persistence, PersistenceActor.Drain::new,
              Duration.ofSeconds(10), system.scheduler()));

      org.compassci.sched.http.BootContext boot = new org.compassci.sched.http.BootContext(
          org.compassci.sched.boot.Sealer.derive(key, "package-links"),
          org.compassci.sched.boot.Sealer.derive(key, "secrets"),
          new org.compassci.sched.boot.BootPlan.Prefixes(s.boot().osHttpPrefix(), s.boot().initrdHttpPrefix()),
          uploads, s.resultsRoot(), s.adminToken());
      // VM/container providers and watchers over WebSocket, before the rest
      // manage/cluster first: a path of its own, answered on every node, standalone too
      org.apache.pekko.http.javadsl.server.Route routes = new org.compassci.sched.http.ClusterRoutes(
          new ClusterView(system, persistence, cluster.enabled(), s.askTimeout()), auth).routes().orElse(
          new SchedulerRoutes(gw, auth, boot).routesAfter(
          new org.compassci.sched.http.SocketRoutes(gw, providers, s.sockets(),
              org.compassci.sched.http.ProviderBoot.of(boot), auth).before(org.apache.pekko.http.javadsl.server.Directives.reject())));
      HttpServer.bind(system, s.host(), s.port(), routes,
              connection -> {
                matcher.tell(new MatcherActor.ClientGone(connection));
                watch.tell(new WatchActor.ClientGone(connection));
                providers.tell(new org.compassci.sched.actors.ProvidersActor.ConnectionClosed(connection));
              })
          .whenComplete((bound, failure) -> {
            if (failure != null) {
              started.completeExceptionally(failure);
              return;
            }
            // first of all at shutdown: take no new connection
            cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "http-unbind",
                () -> bound.binding().unbind().thenApply(u -> Done.getInstance()));
            // then turn new requests on open connections away, answer every parked poll (204, as
            // its wait running out would) and let the requests in flight finish, within the
            // phase's own timeout
            Duration drain = system.settings().config()
                .getDuration("pekko.coordinated-shutdown.phases.service-requests-done.timeout")
                .multipliedBy(9).dividedBy(10);
            cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "http-drain", () -> {
              bound.turnAwayNewRequests();
              long end = System.nanoTime() + drain.toNanos();
              // one deadline for both steps; and the requests in flight are waited for even if
              // the matcher could not be told (its node unreachable): their answers still go out
              return AskPattern.<MatcherActor.Command, Done>ask(matcher, MatcherActor.StopParking::new,
                      drain, system.scheduler())
                  .handle((d, unreachable) -> Done.getInstance())
                  // the providers' sockets are not requests in flight: each is closed (1001)
                  // behind what it was sent, so a boot-job on its way is written, not cut off
                  // with the connection; a hand-out that comes later goes back to the queue
                  .thenCompose(d -> AskPattern.<org.compassci.sched.actors.ProvidersActor.Command, Done>ask(
                      providers, org.compassci.sched.actors.ProvidersActor.CloseAll::new,
                      Duration.ofNanos(Math.max(1, end - System.nanoTime())), system.scheduler())
                      .handle((c, late) -> Done.getInstance()))
                  .thenCompose(d -> bound.drained(system,
                      Duration.ofNanos(Math.max(0, end - System.nanoTime()))));
            });
            // what is still open now (event streams, idle keep-alive connections) ends here
            cs.addTask(CoordinatedShutdown.PhaseServiceStop(), "http-close", () -> {
              bound.closeConnections();
              return CompletableFuture.completedFuture(Done.getInstance());
            });
            started.complete(new Running(system, bound.binding().localAddress(), store.kind(), hosts,
                storeClosed));
          });
      return Behaviors.<Void>receive(Void.class)
          .onSignal(Terminated.class, t -> {
            ctx.getLog().error("actor {} has stopped for good: the scheduler cannot work without "
                + "it; restart the process", t.getRef().path().name());
            return Behaviors.same();
          })
          .build();
    });
  }

  /**
   * The name this scheduler's Redis claims carry: the same across its restarts (a key it left
   * when it died is known as its own, and taken over), and unlike any other scheduler's. A
   * cluster is one scheduler: its matcher moves from node to node, and the next one must take
   * over the keys of the one before (a node's own name kept a dead node's keys, and their jobs,
   * from every other node for the claim's TTL, an hour); the claims themselves are fenced by
   * the matcher's epoch in MySQL.
   */
  static String redisHolder(SchedulerSettings settings, ClusterSettings cluster) {
    if (cluster.enabled()) {
      return "cluster@" + String.join(",", new java.util.TreeSet<>(cluster.seeds()));
    }
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      host = "localhost";
    }
    // no white space: a key's value is "<holder> <host>", and its holder is matched up to the
    // space (a data dir "/srv/a" would have owned the keys of "/srv/a b")
    return ("worker-" + settings.workerId() + "@" + host + ":" + settings.dataDir().toAbsolutePath())
        .replaceAll("\\s", "%20");
  }
}
