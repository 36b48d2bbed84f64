package org.compassci.sched.persistence;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/** A {@link JobStore} over JDBC and a HikariCP pool; the dialect holds what differs. */
public final class JdbcJobStore implements JobStore, AccountStore, HostStore {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(JdbcJobStore.class);

  private final String kind;
  private final HikariDataSource pool;
  /**
   * The persistence actor's own connections ({@link #committing}): one for its commit and one
   * for its force, the most it ever has out. Reads (a dashboard, a restarted actor's load, a
   * burst of job reads) then never hold a commit up, nor make it fail after the pool's wait.
   */
  private final HikariDataSource commits;
  /** Set on a thread inside {@link #committing}. */
  private final ThreadLocal<Boolean> onCommitConnections = ThreadLocal.withInitial(() -> Boolean.FALSE);
  private final SqlDialect dialect;

  /**
   * Each commit forced to disk before it returns (the embedded store's {@code store-sync =
   * commit}): a power cut then loses nothing a writer was told is written. MySQL and Manticore
   * do the same on their side (InnoDB's and the binary log's flush at each commit).
   */
  private volatile boolean syncEachCommit;
  /** Set on a thread inside {@link #unforced}: its commits are forced by the caller's {@link #sync}. */
  private final ThreadLocal<Boolean> forcedByCaller = ThreadLocal.withInitial(() -> Boolean.FALSE);

  @Override
  public boolean forcesEachCommit() {
    return syncEachCommit;
  }

  @Override
  public <T> T unforced(java.util.function.Supplier<T> work) {
    return withFlag(forcedByCaller, work);
  }

  @Override
  public <T> T committing(java.util.function.Supplier<T> work) {
    return withFlag(onCommitConnections, work);
  }

  /** Runs {@code work} with {@code flag} set on this thread, and then as it was. */
  private static <T> T withFlag(ThreadLocal<Boolean> flag, java.util.function.Supplier<T> work) {
    boolean before = flag.get();
    flag.set(Boolean.TRUE);
    try {
      return work.get();
    } finally {
      flag.set(before);
    }
  }

  /** A connection from the commits' own pool inside {@link #committing}, else from the reads'. */
  private Connection connection() throws SQLException {
    return (onCommitConnections.get() ? commits : pool).getConnection();
  }

  /** For tests: how many connections the reads' pool holds, and one of them. */
  int readConnections() {
    return pool.getMaximumPoolSize();
  }

  Connection readConnection() throws SQLException {
    return pool.getConnection();
  }

  private JdbcJobStore(String kind, HikariDataSource pool, HikariDataSource commits, SqlDialect dialect) {
    this.kind = kind;
    this.pool = pool;
    this.commits = commits;
    this.dialect = dialect;
  }

  /** The embedded store, each commit forced to disk before it returns. */
  public static JdbcJobStore embedded(Path dataDir, int poolSize) {
    return embedded(dataDir, poolSize, true);
  }

  /**
   * The embedded store: an H2 file database in {@code dataDir}. WRITE_DELAY=0 makes every commit
   * reach the operating system before it returns, so a killed process loses no acknowledged job;
   * {@code syncEachCommit} forces it to the disk as well, so a power cut loses none either
   * (otherwise the file is forced once a second, by {@link #sync}).
   */
  public static JdbcJobStore embedded(Path dataDir, int poolSize, boolean syncEachCommit) {
    return embeddedAt("file:" + dataDir.toAbsolutePath().resolve("jobs"), poolSize, syncEachCommit);
  }

  /** The embedded store in H2's file {@code h2File}, named with its file system (a test's own, too). */
  static JdbcJobStore embeddedAt(String h2File, int poolSize, boolean syncEachCommit) {
    // H2 hashes every string it is given (a whole job document on each write) to share equal
    // values through a cache of its own: 9% of the time of moving jobs to boot, and nothing to
    // share here. Read once, when H2 first loads; a -Dh2.objectCache given to the JVM wins.
    System.getProperties().putIfAbsent("h2.objectCache", "false");
    String url = "jdbc:h2:" + h2File + ";WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE"
        // an 8 MB page cache: the pages a hand-out and a write touch stay in memory; the queue
        // itself is in the matcher. 64 MB held 24 MB more heap with 100,000 queued; against
        // 16 MB, 8 MB takes 7 MB off the RSS with 10,000 queued, and 4 MB 3 MB more, with no
        // change the noise shows in the dispatch bench (100,000 queued: neither size holds them)
        + ";CACHE_SIZE=8192"
        // H2 keeps each statement's last result, to answer the same query again if no table
        // changed: the queue's load pages (5,000 whole documents each) stayed on the heap, about
        // 8 MB with 10,000 queued, for answers no one asks twice
        + ";OPTIMIZE_REUSE_RESULTS=FALSE"
        // a session keeps this many parsed statements by their text (8 by default): the store's
        // own (those by ids in a size each, idsInStatement) are about 30
        + ";QUERY_CACHE_SIZE=64"
        // documents up to 64 KB live in the row, not as separate LOBs: one read, not two
        + ";MAX_LENGTH_INPLACE_LOB=65536"
        // H2 keeps a chunk it no longer needs for 45 s by default, in case the system has not
        // written newer ones to disk yet; with nothing compacting in between (WRITE_DELAY=0) a
        // busy store grew to 45 s of writes and its commits slowed with the chunk map (2,800
        // commits/s against 7,700). sync() forces the file to disk every second, so 5 s keeps
        // the margin
        + ";RETENTION_TIME=5000";
    // H2's own data source, not its URL: given a URL, HikariCP asks JDBC's DriverManager,
    // which loads every driver on the class path, and MySQL's starts a cleanup thread of its
    // own in a process that never speaks to MySQL
    org.h2.jdbcx.JdbcDataSource h2 = new org.h2.jdbcx.JdbcDataSource();
    h2.setURL(url);
    // an embedded database is there or not: fail at once with H2's own reason (e.g. in use)
    JdbcJobStore store = open("embedded", c -> c.setDataSource(h2), poolSize, SqlDialect.h2(), 1);
    store.syncEachCommit = syncEachCommit;
    return store;
  }

  /**
   * MySQL 8 or MariaDB 10.11 over MySQL Connector/J. The database the URL names is created when
   * missing.
   */
  public static JdbcJobStore mysql(String jdbcUrl, int poolSize) {
    SqlDialect dialect = SqlDialect.mysql();
    String url = withDefaults(jdbcUrl, dialect.urlDefaults());
    return open("mysql", c -> c.setJdbcUrl(url), poolSize, dialect, -1);
  }

  /**
   * Manticore Search in RT mode over its MySQL protocol (e.g. {@code jdbc:mysql://host:9306/});
   * the database name and user are ignored by the server.
   */
  public static JdbcJobStore manticore(String jdbcUrl, int poolSize) {
    SqlDialect dialect = SqlDialect.manticore();
    String url = withDefaults(jdbcUrl, dialect.urlDefaults());
    return open("manticore", c -> c.setJdbcUrl(url), poolSize, dialect, -1);
  }

  /** Adds each property the URL does not set already: what the operator wrote wins. */
  static String withDefaults(String url, Map<String, String> defaults) {
    int query = url.indexOf('?');
    Set<String> present = new HashSet<>();
    if (query >= 0) {
      for (String pair : url.substring(query + 1).split("&")) {
        present.add(pair.split("=", 2)[0].toLowerCase(Locale.ROOT));
      }
    }
    StringBuilder out = new StringBuilder(url);
    for (Map.Entry<String, String> d : new TreeMap<>(defaults).entrySet()) {
      if (present.contains(d.getKey().toLowerCase(Locale.ROOT))) {
        continue;
      }
      char last = out.charAt(out.length() - 1);
      if (out.indexOf("?") < 0) {
        out.append('?');
      } else if (last != '?' && last != '&') {
        out.append('&');
      }
      out.append(d.getKey()).append('=').append(d.getValue());
    }
    return out.toString();
  }

  /** Connections the persistence actor's commits keep for themselves: its commit and its force. */
  static final int COMMIT_CONNECTIONS = 2;

  /** {@code connectTo}: where the pools' connections come from (a URL, or a driver's own data source). */
  static JdbcJobStore open(String kind, java.util.function.Consumer<HikariConfig> connectTo, int poolSize,
      SqlDialect dialect, long initializationFailTimeout) {
    HikariDataSource pool = pool(kind, "job-store", connectTo, poolSize, dialect, initializationFailTimeout);
    HikariDataSource commits;
    try {
      commits = pool(kind, "job-store-commits", connectTo, COMMIT_CONNECTIONS, dialect, initializationFailTimeout);
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
    JdbcJobStore store = new JdbcJobStore(kind, pool, commits, dialect);
    try {
      store.createSchema();
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  private static HikariDataSource pool(String kind, String name, java.util.function.Consumer<HikariConfig> connectTo,
      int size, SqlDialect dialect, long initializationFailTimeout) {
    HikariConfig config = new HikariConfig();
    connectTo.accept(config);
    config.setMaximumPoolSize(size);
    config.setPoolName(name);
    config.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
    // -1: a server store's pool comes up even while the database is down; ping() reports it
    config.setInitializationFailTimeout(initializationFailTimeout);
    if (dialect.connectionInit() != null) {
      config.setConnectionInitSql(dialect.connectionInit());
    }
    try {
      return new HikariDataSource(config);
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      throw new StoreUnavailableException("cannot open the " + kind + " store: "
          + root.getMessage().lines().findFirst().orElse(""), e);
    }
  }

  private void createSchema() {
    try (Connection c = connection(); Statement s = c.createStatement()) {
      // an ALTER of a large table outlasts the URL's socketTimeout (30 s) by far: the start
      // failed, and on Manticore the change went on without it
      try {
        c.setNetworkTimeout(Runnable::run, (int) Duration.ofHours(1).toMillis());
      } catch (java.sql.SQLFeatureNotSupportedException embedded) {
        // no network here
      }
      for (String ddl : dialect.schema()) {
        s.execute(ddl);
      }
      addMissingColumns(s);
      addMissingIndexes(s);
      for (String ddl : dialect.afterColumns()) {
        s.execute(ddl);
      }
      for (String ddl : dialect.sideTables()) {
        s.execute(ddl);
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("cannot create the jobs table: " + e.getMessage(), e);
    }
  }

  /**
   * A table made by an older scheduler keeps its rows and gains the new columns. The columns
   * are listed first, so a table already up to date sees no ALTER at all: MySQL 8 has no ADD
   * COLUMN IF NOT EXISTS, and Manticore answers no query while it alters a table.
   */
  private void addMissingColumns(Statement s) throws SQLException {
    Map<String, String> added = new LinkedHashMap<>();
    for (String column : dialect.addedColumns()) {
      added.put(column.substring(0, column.indexOf(' ')), dialect.addColumn(column));
    }
    addMissing(s, "column", added, dialect.describeTable());
  }

  /** Like {@link #addMissingColumns}, for the indexes. */
  private void addMissingIndexes(Statement s) throws SQLException {
    if (!dialect.addedIndexes().isEmpty()) {
      addMissing(s, "index", dialect.addedIndexes(), dialect.describeIndexes());
    }
  }

  /**
   * Runs the statement of each name in {@code added} that {@code describe} (names first, a row
   * each) does not list: one that is there already sees no ALTER.
   */
  private void addMissing(Statement s, String kind, Map<String, String> added, String describe)
      throws SQLException {
    Set<String> present = names(s, describe);
    for (Map.Entry<String, String> each : added.entrySet()) {
      if (present.contains(each.getKey())) {
        continue;
      }
      LOG.info("adding {} {} to the jobs table (once; a large table takes a while)", kind, each.getKey());
      try {
        s.execute(each.getValue());
      } catch (SQLException e) {
        // another scheduler starting on the same table may have added it just now
        if (!names(s, describe).contains(each.getKey())) {
          throw e;
        }
      }
    }
  }

  private static Set<String> names(Statement s, String describe) throws SQLException {
    Set<String> names = new HashSet<>();
    try (ResultSet rs = s.executeQuery(describe)) {
      while (rs.next()) {
        // H2 answers names in upper case
        names.add(rs.getString(1).toLowerCase(Locale.ROOT));
      }
    }
    return names;
  }

  @Override
  public String kind() {
    return kind;
  }

  @Override
  public boolean exclusive() {
    return kind.equals("embedded");
  }

  @Override
  public void upsert(List<JobRecord> records) {
    if (!records.isEmpty()) {
      inTransaction("write of " + records.size() + " jobs", c -> {
        upsert(c, records);
        return null;
      });
    }
  }

  @Override
  public void insert(List<JobRecord> records) {
    if (!records.isEmpty()) {
      inTransaction("write of " + records.size() + " jobs", c -> {
        write(c, dialect.insert(), List.of(), records);
        return null;
      });
    }
  }

  @Override
  public List<JobRecord> claim(List<Claim> claims) {
    if (claims.isEmpty()) {
      return List.of();
    }
    try {
      return inTransaction("hand-out of " + claims.size() + " jobs", c -> claim(c, claims));
    } catch (Fenced f) {
      throw new ClaimsFailedException(f.getMessage(), null);
    }
  }

  /** Claims of a matcher whose epoch is no longer the current one: none of them may take. */
  private static final class Fenced extends RuntimeException {
    Fenced(String message) {
      super(message, null, false, false);
    }
  }

  private final java.util.concurrent.atomic.AtomicLong fencedClaims = new java.util.concurrent.atomic.AtomicLong();

  /**
   * Cluster mode: the epochs this process's matcher took ({@link #nextEpoch}); none, and its
   * writes are not fenced. Every job this process writes comes from its singletons (the matcher
   * and the lifecycle): once another process has taken the current epoch, they have been
   * replaced, and what they still write (a requeue read from a row the successor is changing, a
   * submit the successor's queue load has missed) must not land. Every epoch of this process,
   * not only the last: a matcher restarted by its supervisor takes a newer one, and the
   * lifecycle's writes beside it are still good. Epochs, not the node's name: a new process may
   * come up under the name of one that is only cut off (a stable hostname).
   */
  private final Set<Long> takenEpochs = java.util.concurrent.ConcurrentHashMap.newKeySet();

  @Override
  public boolean tookEpoch(long epoch) {
    return takenEpochs.contains(epoch);
  }

  @Override
  public long fencedClaims() {
    return fencedClaims.get();
  }

  private static final String EPOCH_TABLE = "CREATE TABLE IF NOT EXISTS matcher_epoch ("
      + "name VARCHAR(32) NOT NULL PRIMARY KEY, epoch BIGINT NOT NULL, node VARCHAR(255) NOT NULL,"
      + " since BIGINT NOT NULL) ENGINE=InnoDB";

  private final java.util.concurrent.atomic.AtomicLong epochTickets = new java.util.concurrent.atomic.AtomicLong();
  /** The newest ticket that has asked for an epoch; guarded by this. */
  private long newestEpochTicket;
  /** The {@code since} of this process's epoch attempts not known to have landed; guarded by this. */
  private final Set<Long> epochAttempts = new java.util.HashSet<>();

  @Override
  public long epochTicket() {
    return epochTickets.incrementAndGet();
  }

  @Override
  public synchronized MatcherEpoch nextEpoch(String node, long nowMillis, long ticket, long takeByNanos) {
    if (!kind().equals("mysql")) {
      return JobStore.super.nextEpoch(node, nowMillis, ticket, takeByNanos);
    }
    // one at a time, the newest asker last: an older matcher of this process (stopped, its
    // request still out) must not take an epoch after the one that replaced it
    if (ticket < newestEpochTicket) {
      throw new StoreFencedException("no new matcher epoch: a newer matcher of this process asked since", null);
    }
    newestEpochTicket = ticket;
    try (Connection c = connection(); Statement st = c.createStatement()) {
      // DDL commits on its own in MySQL: outside the transaction below
      st.execute(EPOCH_TABLE);
    } catch (SQLException e) {
      throw new StoreUnavailableException("matcher epoch table: " + e.getMessage(), e);
    }
    MatcherEpoch taken;
    epochAttempts.add(nowMillis);
    try {
      taken = inTransaction("new matcher epoch", c -> {
        try (Statement st = c.createStatement()) {
          st.executeUpdate("INSERT IGNORE INTO matcher_epoch (name, epoch, node, since) VALUES ('matcher', 0, '', 0)");
        }
        Optional<MatcherEpoch> now = readEpoch(c, " FOR UPDATE");
        if (now.isPresent() && now.get().node().equals(node) && epochAttempts.contains(now.get().sinceMillis())) {
          // an earlier attempt of ours committed and its answer was lost: the epoch is ours
          takenEpochs.add(now.get().epoch());
        }
        // a matcher restarted by its supervisor takes the next epoch only while the current one is
        // still this process's: restarted while its node was cut off and replaced, it would take
        // the epoch from the rightful singleton and fence that one's claims and writes for good
        if (!takenEpochs.isEmpty() && now.isPresent() && !takenEpochs.contains(now.get().epoch())) {
          throw new Fenced("no new matcher epoch: this process's singletons have been replaced (epoch "
              + now.get().epoch() + " of " + now.get().node() + ")");
        }
        // the row is locked from here on: a successor's increment waits for this one. Locked
        // after its asker stopped waiting, the asker may have been replaced since, and its
        // successor's epoch taken: this one would fence the successor for good
        if (System.nanoTime() - takeByNanos > 0) {
          throw new Fenced("no new matcher epoch: the matcher that asked has stopped waiting for it");
        }
        // the row lock taken here waits for claims in flight that hold the row shared: a claim
        // commits before the new epoch, or runs after it and is refused
        try (PreparedStatement ps = c.prepareStatement(
            "UPDATE matcher_epoch SET epoch = epoch + 1, node = ?, since = ? WHERE name = 'matcher'")) {
          ps.setString(1, node);
          ps.setLong(2, nowMillis);
          ps.executeUpdate();
        }
        return readEpoch(c, "").orElseThrow();
      });
    } catch (Fenced f) {
      throw new StoreFencedException(f.getMessage(), f);
    }
    takenEpochs.add(taken.epoch());
    epochAttempts.clear();
    return taken;
  }

  @Override
  public Optional<MatcherEpoch> currentEpoch() {
    if (!kind().equals("mysql")) {
      return Optional.empty();
    }
    try (Connection c = connection()) {
      return readEpoch(c, "");
    } catch (SQLException e) {
      // no row yet (no cluster matcher ever started here) reads as none
      if (e.getErrorCode() == 1146) {
        return Optional.empty();
      }
      throw new StoreUnavailableException("matcher epoch: " + e.getMessage(), e);
    }
  }

  private static Optional<MatcherEpoch> readEpoch(Connection c, String lock) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
            "SELECT epoch, node, since FROM matcher_epoch WHERE name = 'matcher'" + lock);
        ResultSet rs = ps.executeQuery()) {
      return rs.next() ? Optional.of(new MatcherEpoch(rs.getLong(1), rs.getString(2), rs.getLong(3)))
          : Optional.empty();
    }
  }

  /**
   * Refuses the claims when their matcher's epoch is not the current one. The row is read with
   * a shared lock held to the end of the claim's transaction: a new matcher's increment waits
   * for this claim to commit, so no claim of the old epoch can land after the new one is taken.
   */
  private void checkEpoch(Connection c, long epoch, int claims) throws SQLException {
    long current = readEpoch(c, " LOCK IN SHARE MODE").map(MatcherEpoch::epoch).orElse(0L);
    if (current != epoch) {
      fencedClaims.addAndGet(claims);
      LOG.warn("{} hand-outs refused by epoch: this matcher's epoch {} is no longer current ({} is)",
          claims, epoch, current);
      throw new Fenced("hand-out refused by epoch: this matcher (epoch " + epoch
          + ") has been replaced (epoch " + current + "); ask again");
    }
  }

  /**
   * The writes of a commit, as {@link #checkEpoch} for claims: the current epoch must be one this
   * process took. Read after the writes, as the last statement before the commit, so the shared
   * lock is held only for the commit itself (taken first, it would hold a new matcher's epoch
   * back for as long as this transaction waits on row locks).
   */
  private void checkWriterEpoch(Connection c, int writes) throws SQLException {
    Optional<MatcherEpoch> current = readEpoch(c, " LOCK IN SHARE MODE");
    if (current.isEmpty() || !takenEpochs.contains(current.get().epoch())) {
      String now = current.map(e -> e.epoch() + " of " + e.node()).orElse("none");
      LOG.warn("{} job writes refused by epoch: this process's singletons have been replaced (epoch {})",
          writes, now);
      throw new Fenced("job writes refused by epoch: this process's singletons have been replaced (epoch "
          + now + ")");
    }
  }

  @Override
  public List<JobRecord> commit(List<JobRecord> inserts, List<JobRecord> upserts,
      List<Claim> claims) {
    return commit(inserts, upserts, claims, List.of(), List.of());
  }

  @Override
  public List<JobRecord> commit(List<JobRecord> inserts, List<JobRecord> upserts,
      List<Claim> claims, List<SubmitKey> keys, List<JobRun> runs) {
    String what = "group commit of " + inserts.size() + " new jobs, " + upserts.size()
        + " changes and " + claims.size() + " hand-outs";
    boolean sideInside = dialect.sideTablesInTransaction();
    if (!sideInside) {
      // before the jobs: a key without its jobs is ignored when read, jobs without their key
      // would be made again by a retry. One transaction per table: Manticore's hold one table
      // each ("Transactions are limited to a single RT or percolate index")
      if (!keys.isEmpty()) {
        inTransaction("write of " + keys.size() + " submit keys", c -> {
          writeSide(c, keys, List.of());
          return null;
        });
      }
      if (!runs.isEmpty()) {
        inTransaction("write of " + runs.size() + " runs", c -> {
          writeSide(c, List.of(), runs);
          return null;
        });
      }
    }
    if (dialect.claimsInTransaction() || claims.isEmpty()) {
      Fenced[] fenced = new Fenced[1];
      boolean fencing = !takenEpochs.isEmpty();
      boolean writes = inserts.size() + upserts.size() + keys.size() + runs.size() > 0;
      List<JobRecord> taken;
      try {
        taken = inTransaction(what, c -> {
          write(c, dialect.insert(), List.of(), inserts);
          upsert(c, upserts);
          if (sideInside) {
            writeSide(c, keys, runs);
          }
          List<JobRecord> claimed;
          try {
            claimed = claim(c, claims);
          } catch (Fenced f) {
            // the hand-outs alone are refused (an earlier incarnation's, on this node or
            // another), unless the writes are a replaced node's too (below): then nothing lands
            fenced[0] = f;
            claimed = List.of();
          }
          // claims that took were made under the current epoch, this process's
          if (fencing && writes && (claims.isEmpty() || fenced[0] != null)) {
            checkWriterEpoch(c, inserts.size() + upserts.size());
          }
          return claimed;
        });
      } catch (Fenced f) {
        throw new StoreFencedException(what + " refused: " + f.getMessage(), f);
      }
      if (fenced[0] != null) {
        throw new ClaimsFailedException(fenced[0].getMessage(), null);
      }
      return taken;
    }
    inTransaction(what, c -> {
      write(c, dialect.insert(), List.of(), inserts);
      upsert(c, upserts);
      if (sideInside) {
        writeSide(c, keys, runs);
      }
      return null;
    });
    try {
      return claim(claims);
    } catch (StoreUnavailableException e) {
      throw new ClaimsFailedException(e.getMessage(), e);
    }
  }

  /** Submit keys and the runs of new jobs, on the connection of the caller's transaction. */
  private void writeSide(Connection c, List<SubmitKey> keys, List<JobRun> runs) throws SQLException {
    if (!keys.isEmpty()) {
      try (PreparedStatement ps = c.prepareStatement(dialect.upsertSubmitKey())) {
        for (SubmitKey k : keys) {
          ps.setLong(1, SqlDialect.idOf(k.account(), k.key()));
          ps.setString(2, k.account());
          ps.setString(3, k.key());
          ps.setString(4, k.requestDigest());
          ps.setLong(5, k.createdMillis());
          ps.setString(6, k.jobIds().stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(",")));
          ps.setString(7, k.answer());
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }
    if (!runs.isEmpty()) {
      try (PreparedStatement ps = c.prepareStatement(dialect.insertRun())) {
        for (JobRun r : runs) {
          ps.setLong(1, r.jobId());
          ps.setString(2, r.submitId());
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }
  }

  @Override
  public Optional<SubmitKey> findSubmitKey(String account, String key) {
    long id = SqlDialect.idOf(account, key);
    SubmitKey found = null;
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect.selectSubmitKey())) {
      ps.setLong(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next() && account.equals(rs.getString(1)) && key.equals(rs.getString(2))) {
          List<Long> ids = new ArrayList<>();
          for (String part : rs.getString(5).split(",")) {
            if (!part.isBlank()) {
              ids.add(Long.parseLong(part.trim()));
            }
          }
          found = new SubmitKey(account, key, rs.getString(3), rs.getLong(4), ids, rs.getString(6));
        }
      }
      if (found != null && !dialect.sideTablesInTransaction()
          && readByIds(c, found.jobIds()).size() < found.jobIds().size()) {
        // written before jobs that never came (a crash between the two): as if never made
        try (PreparedStatement del = c.prepareStatement(dialect.deleteSubmitKey())) {
          del.setLong(1, id);
          del.executeUpdate();
        }
        found = null;
      }
      return Optional.ofNullable(found);
    } catch (SQLException | NumberFormatException e) {
      throw new StoreUnavailableException("read of a submit key failed: " + e.getMessage(), e);
    }
  }

  @Override
  public int purgeSubmitKeys(long createdBeforeMillis) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect.purgeSubmitKeys())) {
      ps.setLong(1, createdBeforeMillis);
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw new StoreUnavailableException("purge of submit keys failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<Long> jobsOfRun(String submitId, int limit) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect.selectRun(limit))) {
      ps.setString(1, submitId);
      List<Long> ids = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getLong(1));
        }
      }
      return ids;
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of run " + submitId + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<Account> accounts() {
    return selectAll(dialect.selectAccounts(), "accounts", rs -> new Account(rs.getString(1), rs.getString(2),
        rs.getString(3), rs.getString(4), rs.getLong(5), rs.getString(6)));
  }

  private interface Row<T> {
    T read(ResultSet rs) throws SQLException;
  }

  /** Every row {@code sql} (which takes no parameters) answers, each read by {@code row}. */
  private <T> List<T> selectAll(String sql, String what, Row<T> row) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      List<T> out = new ArrayList<>();
      while (rs.next()) {
        out.add(row.read(rs));
      }
      return out;
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of " + what + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public void addAccount(Account account) {
    try {
      writeAccount(dialect.insertAccount(), account);
    } catch (StoreUnavailableException e) {
      if (e.getCause() instanceof SQLException sql && duplicate(sql)) {
        throw new AccountExistsException(account.name(), sql);
      }
      throw e;
    }
  }

  @Override
  public void saveAccount(Account account) {
    writeAccount(dialect.upsertAccount(), account);
  }

  @Override
  public boolean removeAccount(String name) {
    return inTransaction("removal of account " + name, c -> {
      try (PreparedStatement ps = c.prepareStatement(dialect.deleteAccount())) {
        ps.setLong(1, SqlDialect.idOf(name));
        return ps.executeUpdate() > 0;
      }
    });
  }

  @Override
  public List<RegisteredHost> registeredHosts() {
    return selectAll(dialect.selectHosts(), "registered hosts",
        rs -> new RegisteredHost(rs.getString(1), rs.getString(2), rs.getLong(3)));
  }

  @Override
  public void saveHost(RegisteredHost host) {
    inTransaction("write of the registration of " + host.name(), c -> {
      try (PreparedStatement ps = c.prepareStatement(dialect.upsertHost())) {
        ps.setLong(1, SqlDialect.idOf(host.name()));
        ps.setString(2, host.name());
        ps.setString(3, host.info());
        ps.setLong(4, host.updatedMillis());
        ps.executeUpdate();
      }
      return null;
    });
  }

  private void writeAccount(String sql, Account a) {
    inTransaction("write of account " + a.name(), c -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setLong(1, SqlDialect.idOf(a.name()));
        ps.setString(2, a.name());
        ps.setString(3, a.email());
        ps.setString(4, a.displayName());
        ps.setString(5, a.role());
        ps.setLong(6, a.createdMillis());
        ps.setString(7, a.tokenDigest());
        ps.executeUpdate();
      }
      return null;
    });
  }

  /** A unique key violated: SQLSTATE class 23 (H2, MySQL), or Manticore's "duplicate id". */
  private static boolean duplicate(SQLException e) {
    for (SQLException s = e; s != null; s = s.getNextException()) {
      String state = s.getSQLState();
      String m = s.getMessage() == null ? "" : s.getMessage().toLowerCase(Locale.ROOT);
      if ((state != null && state.startsWith("23")) || m.contains("duplicate")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Replaces jobs. Where the dialect keeps jobs in flight apart, a job between queue and end is
   * written to that small table instead of rewriting its row in the large one: a commit then
   * writes a few hot pages, not one page of the jobs table and of each stage index per job
   * (moving 64 jobs a commit to boot spent most of its time serialising those pages). The large
   * row is written again only when the job goes back to the queue or ends.
   */
  private void upsert(Connection c, List<JobRecord> written) throws SQLException {
    if (written.isEmpty()) {
      return;
    }
    // a job written twice in one commit (a box's reports in a burst) is written once, as it is
    // last: the jobs table and the jobs in flight are written one after the other, and only the
    // later write may count
    Map<Long, JobRecord> latest = new LinkedHashMap<>();
    for (JobRecord r : written) {
      latest.remove(r.id());
      latest.put(r.id(), r);
    }
    List<JobRecord> apart = new ArrayList<>();
    List<JobRecord> rest = new ArrayList<>();
    Set<Long> present = dialect.upsertInFlight() == null ? Set.of()
        : existing(c, latest.values().stream().filter(r -> dialect.inFlight(r.stage(), r.readiness())).map(JobRecord::id).toList());
    for (JobRecord r : latest.values()) {
      (present.contains(r.id()) ? apart : rest).add(r);
    }
    write(c, dialect.upsert(), dialect.afterUpsert(), rest);
    write(c, dialect.upsertInFlight(), dialect.afterUpsertInFlight(), apart);
  }

  /** Which of {@code ids} have a row in the jobs table. */
  private Set<Long> existing(Connection c, List<Long> ids) throws SQLException {
    if (ids.isEmpty()) {
      return Set.of();
    }
    Set<Long> out = new HashSet<>();
    int count = idsInStatement(ids.size());
    try (PreparedStatement ps = c.prepareStatement(dialect.existingIds(count))) {
      bindIds(ps, ids, count);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getLong(1));
        }
      }
    }
    return out;
  }

  /** {@code after}: each run with each record's id in the same transaction. */
  private void write(Connection c, String sql, List<String> after, List<JobRecord> records)
      throws SQLException {
    if (records.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (JobRecord r : records) {
        ps.setLong(1, r.id());
        ps.setString(2, r.stage());
        ps.setString(3, r.health());
        ps.setString(4, r.readiness());
        ps.setString(5, r.tenant());
        ps.setString(6, r.tboxGroup());
        ps.setLong(7, r.submitTimeMillis());
        ps.setString(8, r.document());
        ps.setString(9, r.host());
        ps.setString(10, r.tokenHash());
        ps.setLong(11, r.dispatchTimeMillis());
        ps.addBatch();
      }
      ps.executeBatch();
    }
    for (String each : after) {
      try (PreparedStatement ps = c.prepareStatement(each)) {
        for (JobRecord r : records) {
          ps.setLong(1, r.id());
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }
  }

  private List<JobRecord> claim(Connection c, List<Claim> claims) throws SQLException {
    if (claims.isEmpty()) {
      return List.of();
    }
    if (dialect.claimsByInsert()) {
      return claimByInsert(c, claims);
    }
    long epoch = claims.get(0).epoch();
    if (epoch > 0) {
      checkEpoch(c, epoch, claims.size());
    }
    List<Long> taken = new ArrayList<>();
    // fenced, the conditional update itself names the epoch as well: the claim is the one
    // statement that must never take for a replaced matcher
    String sql = epoch > 0
        ? dialect.claim() + " AND ? = (SELECT epoch FROM matcher_epoch WHERE name = 'matcher')"
        : dialect.claim();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (Claim claim : claims) {
        bindClaim(ps, claim);
        if (epoch > 0) {
          ps.setLong(5, claim.epoch());
        }
        if (dialect.batchesUpdates()) {
          ps.addBatch();
        } else if (ps.executeUpdate() == 1) {
          taken.add(claim.id());
        }
      }
      if (dialect.batchesUpdates()) {
        int[] counts = ps.executeBatch();
        for (int i = 0; i < counts.length; i++) {
          // 0: no longer in submit (another scheduler took it) or not in the store at all
          if (counts[i] == 1) {
            taken.add(claims.get(i).id());
          }
        }
      }
    }
    if (taken.isEmpty()) {
      return List.of();
    }
    // read inside the transaction: the rows are still ours, so this is what was written
    return readByIds(c, taken);
  }

  /** The parameters of {@link SqlDialect#claim()}: host, token hash, dispatch time, id. */
  private static void bindClaim(PreparedStatement ps, Claim claim) throws SQLException {
    ps.setString(1, claim.host());
    ps.setString(2, claim.tokenHash());
    ps.setLong(3, claim.timeMillis());
    ps.setLong(4, claim.id());
  }

  /** The ids as the statement's parameters, from the first on, the last repeated up to {@code count}. */
  private static void bindIds(PreparedStatement ps, Collection<Long> ids, int count) throws SQLException {
    int i = 1;
    long last = 0;
    for (long id : ids) {
      ps.setLong(i++, id);
      last = id;
    }
    while (i <= count) {
      ps.setLong(i++, last);
    }
  }

  /**
   * How many ids a statement for {@code count} ids takes: the next power of two (to 1,024; more
   * as they are), the last id repeated, which an IN list ignores. A database keeps a session's
   * parsed statements by their text (H2 its last ones), and a text for every batch size was
   * parsed anew at nearly every commit: 4 % of the dispatch bench's server samples in H2's parser.
   */
  static int idsInStatement(int count) {
    return count <= 1 ? 1 : count > PADDED_IDS ? count : Integer.highestOneBit(count - 1) << 1;
  }

  /** The most ids a statement is padded to; a read of more ids in chunks of this reuses its text. */
  private static final int PADDED_IDS = 1024;

  private List<JobRecord> readByIds(Connection c, Collection<Long> ids) throws SQLException {
    if (ids.isEmpty()) {
      return new ArrayList<>();
    }
    int count = idsInStatement(ids.size());
    try (PreparedStatement ps = c.prepareStatement(dialect.selectByIds(count))) {
      bindIds(ps, ids, count);
      return readAll(ps);
    }
  }

  /** Reads the jobs, then records a hand-out for each one still queued: one read of each row. */
  private List<JobRecord> claimByInsert(Connection c, List<Claim> claims) throws SQLException {
    Map<Long, JobRecord> queued = new LinkedHashMap<>();
    for (JobRecord r : readByIds(c, claims.stream().map(Claim::id).toList())) {
      if (r.stage().equals("submit")) {
        queued.put(r.id(), r);
      }
    }
    List<JobRecord> taken = new ArrayList<>(queued.size());
    if (queued.isEmpty()) {
      return taken;
    }
    try (PreparedStatement ps = c.prepareStatement(dialect.claim())) {
      for (Claim claim : claims) {
        JobRecord r = queued.remove(claim.id());
        if (r == null) {
          // not queued, unknown, or named twice in this batch
          continue;
        }
        bindClaim(ps, claim);
        ps.addBatch();
        taken.add(new JobRecord(r.id(), "dispatch", r.health(), r.readiness(), r.tenant(),
            r.tboxGroup(), r.submitTimeMillis(), r.document(), claim.host(), claim.tokenHash(),
            claim.timeMillis()));
      }
      ps.executeBatch();
    }
    return taken;
  }

  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * The commit just made, forced to disk. A failure here is logged, not thrown: the commit is
   * in, and writers told it failed would write it again (a submit without a key, twice).
   */
  private void forceToDisk(Connection c, String what) {
    try (Statement s = c.createStatement()) {
      s.execute(dialect.sync());
    } catch (SQLException e) {
      LOG.warn("{}: committed, but not forced to disk: {}", what, e.getMessage());
    }
  }

  /** Runs {@code work} in one transaction: committed whole, or rolled back and reported. */
  private <T> T inTransaction(String what, Work<T> work) {
    // no setAutoCommit(true) afterwards: the pool restores it when the connection comes back,
    // and a failure there would hide the error that matters
    T result;
    Connection c = null;
    try {
      c = connection();
      c.setAutoCommit(false);
      try {
        result = work.run(c);
        c.commit();
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException rollbackFailed) {
          // the connection is likely gone; the write's own error says more
          e.addSuppressed(rollbackFailed);
        }
        throw e;
      }
    } catch (SQLException e) {
      closeAfterFailure(c, e);
      throw StoreRefusedException.refusesData(e) ? new StoreRefusedException(what + " failed: " + e.getMessage(), e)
          : new StoreUnavailableException(what + " failed: " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      closeAfterFailure(c, e);
      throw e;
    }
    if (syncEachCommit && !forcedByCaller.get()) {
      forceToDisk(c, what);
    }
    // committed: a failure to give the connection back (the pool's reset of autocommit is a
    // round trip on MySQL) changes nothing of what was written. Reported as the write's
    // failure, its writers were told to write again what the store already held: a submit
    // without an idempotency key became two jobs
    try {
      c.close();
    } catch (SQLException closeFailed) {
      LOG.warn("{}: committed, but its connection failed as it went back to the pool: {}", what,
          closeFailed.getMessage());
    }
    return result;
  }

  private static void closeAfterFailure(Connection c, Throwable failure) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (SQLException closeFailed) {
      failure.addSuppressed(closeFailed);
    }
  }

  @Override
  public java.util.OptionalLong highestIdFrom(long fromId, int workerId, int limit) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect.highestIdsFrom(limit))) {
      ps.setLong(1, fromId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          long id = rs.getLong(1);
          if (id % 100 == workerId) {
            return java.util.OptionalLong.of(id);
          }
        }
        return java.util.OptionalLong.empty();
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of the highest job ids failed: " + e.getMessage(), e);
    }
  }

  @Override
  public Optional<JobRecord> find(long id) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect.selectById())) {
      ps.setLong(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of job " + id + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<JobRecord> findByIds(Collection<Long> ids) {
    if (ids.isEmpty()) {
      return List.of();
    }
    try (Connection c = connection()) {
      return readByIds(c, ids);
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of " + ids.size() + " jobs failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<JobRecord> findByStage(Collection<String> stages, long afterId, int limit) {
    if (stages.isEmpty()) {
      return List.of();
    }
    String candidates = dialect.stageCandidates(stages, limit);
    if (candidates != null) {
      return findByCandidates(after -> dialect.byStageParams(stages, after), r -> stages.contains(r.stage()),
          afterId, limit, candidates);
    }
    return query("query by stage", dialect.selectByStage(stages, limit),
        dialect.byStageParams(stages, Math.max(afterId, dialect.lowestAfterId())));
  }

  /** The jobs {@code sql} reads with {@code params}; {@code what} names it in the failure. */
  private List<JobRecord> query(String what, String sql, List<Object> params) {
    try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 1;
      for (Object p : params) {
        ps.setObject(i++, p);
      }
      return readAll(ps);
    } catch (SQLException e) {
      throw new StoreUnavailableException(what + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<JobRecord> findSettling(Collection<String> stages, Collection<String> readiness,
      long afterId, int limit) {
    if (stages.isEmpty() || readiness.isEmpty()) {
      return List.of();
    }
    java.util.function.LongFunction<List<Object>> params = after -> {
      List<Object> p = new ArrayList<>(stages);
      p.addAll(readiness);
      p.add(after);
      return p;
    };
    String candidates = dialect.settlingCandidates(stages.size(), readiness.size(), limit);
    if (candidates != null) {
      return findByCandidates(params, r -> stages.contains(r.stage()) && readiness.contains(r.readiness()),
          afterId, limit, candidates);
    }
    return query("query by stage and readiness", dialect.selectSettling(stages.size(), readiness.size(), limit),
        params.apply(Math.max(afterId, dialect.lowestAfterId())));
  }

  /**
   * The candidates a page at a time, each read by id and kept if it is what was asked for
   * ({@code wanted}), until the page is full or the candidates run out: a page comes back short
   * only at the end, as a caller paging by id expects, even if some candidates are not wanted
   * after all. {@code params}: the candidates' query's parameters after an id.
   */
  private List<JobRecord> findByCandidates(java.util.function.LongFunction<List<Object>> params,
      java.util.function.Predicate<JobRecord> wanted, long afterId, int limit, String candidates) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(candidates)) {
      List<JobRecord> out = new ArrayList<>();
      long after = Math.max(afterId, dialect.lowestAfterId());
      while (true) {
        List<Long> ids = new ArrayList<>();
        int i = 1;
        for (Object p : params.apply(after)) {
          ps.setObject(i++, p);
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            ids.add(rs.getLong(1));
          }
        }
        for (int from = 0; from < ids.size(); from += PADDED_IDS) {
          for (JobRecord r : readByIds(c, ids.subList(from, Math.min(ids.size(), from + PADDED_IDS)))) {
            if (wanted.test(r)) {
              out.add(r);
            }
          }
        }
        if (ids.size() < limit || out.size() >= limit) {
          break;
        }
        after = ids.get(ids.size() - 1);
      }
      out.sort(java.util.Comparator.comparingLong(JobRecord::id));
      // past the page: the caller's next page starts after the last one kept, and finds the rest again
      return out.size() > limit ? new ArrayList<>(out.subList(0, limit)) : out;
    } catch (SQLException e) {
      throw new StoreUnavailableException("query by stage failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<JobRecord> findByStageAndTenant(String stage, String tenant, long afterId, int limit) {
    return query("query by stage and tenant", dialect.selectByStageAndTenant(limit),
        List.of(stage, tenant, Math.max(afterId, dialect.lowestAfterId())));
  }

  /** Counts at most {@link SqlDialect#MAX_TENANTS} tenants. */
  @Override
  public Map<String, Long> countByTenant(String stage) {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect.countByTenant())) {
      ps.setString(1, stage);
      Map<String, Long> out = new LinkedHashMap<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getLong(2));
        }
      }
      return out;
    } catch (SQLException e) {
      throw new StoreUnavailableException("count by tenant failed: " + e.getMessage(), e);
    }
  }

  private static List<JobRecord> readAll(PreparedStatement ps) throws SQLException {
    List<JobRecord> out = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(read(rs));
      }
    }
    return out;
  }

  private static JobRecord read(ResultSet rs) throws SQLException {
    return new JobRecord(rs.getLong(1), word(rs.getString(2)), word(rs.getString(3)), word(rs.getString(4)),
        word(rs.getString(5)), word(rs.getString(6)), rs.getLong(7), rs.getString(8), word(rs.getString(9)),
        rs.getString(10), rs.getLong(11));
  }

  /**
   * One copy of each short attribute value read (stage, health, readiness, tenant, group, host):
   * they repeat across jobs, and a record read for a hand-out is kept until the job's box first
   * reports. The driver's own copy dies young; the record holds the shared one. About 185
   * bytes less per job handed out and not yet reported (1,956 against 2,141 in class histograms
   * after a dispatch run).
   */
  private static final java.util.concurrent.ConcurrentHashMap<String, String> WORDS =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** Bounds the words kept: past it they start over (a lab has a few hundred groups and hosts). */
  private static final int MAX_WORDS = 50_000;

  static String word(String s) {
    if (s == null || s.length() > 255) {
      return s;
    }
    String known = WORDS.putIfAbsent(s, s);
    if (known != null) {
      return known;
    }
    if (WORDS.size() > MAX_WORDS) {
      WORDS.clear();
    }
    return s;
  }

  @Override
  public void sync() {
    String sync = dialect.sync();
    if (sync == null) {
      return;
    }
    try (Connection c = connection(); Statement s = c.createStatement()) {
      s.execute(sync);
    } catch (SQLException e) {
      throw new StoreUnavailableException("cannot sync the " + kind + " store: " + e.getMessage(), e);
    }
  }

  @Override
  public void ping() {
    try (Connection c = connection()) {
      if (!c.isValid(2)) {
        throw new StoreUnavailableException("store connection is not valid", null);
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("store unreachable: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      commits.close();
    } finally {
      pool.close();
    }
  }
}
