package org.compassci.sched.persistence;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import redis.clients.jedis.JedisPooled;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.params.SetParams;

/**
 * Hand-out claims in Redis ("way1" of the design note): {@code SET sched:claim:<id> "<holder>
 * <host>" NX PX <ttl>}. With several schedulers on one database, a job whose claim another
 * scheduler holds is skipped, whatever the store's own guard says. Blocking: call it on the
 * store's dispatcher.
 *
 * <p>Each key names the scheduler that set it ({@code holder}, the same across its restarts).
 * A key of this scheduler's own for a job it claims again is stale: left by a crash between
 * the key and the store's commit, or by a Redis timeout after Redis had set it, and its job is
 * still queued. It is taken over at once: this scheduler claims a job once at a time (its
 * claims go through one persistence actor, in order), so no claim of its own is in flight on
 * it. Left alone, the job was skipped as another's until the key expired (an hour), and the
 * matcher dropped it from its queue each time. A release deletes only this scheduler's keys.
 */
public final class RedisClaims implements AutoCloseable {

  /** Sets KEYS[1] to ARGV[2] for ARGV[3] ms if it is absent or its value begins with ARGV[1]. */
  private static final String TAKE_OVER =
      "local v = redis.call('GET', KEYS[1]) "
          + "if v == false or string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then "
          + "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
  /** Deletes KEYS[1] if its value begins with ARGV[1]. */
  private static final String RELEASE_OWN =
      "local v = redis.call('GET', KEYS[1]) "
          + "if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then "
          + "return redis.call('DEL', KEYS[1]) end return 0";

  private final JedisPooled redis;
  private final long ttlMillis;
  /** What every key this scheduler sets begins with: its name and a space. */
  private final String mine;

  /** {@code holder}: this scheduler's name, the same across its restarts and unlike any other's. */
  public RedisClaims(String url, long ttlMillis, String holder) {
    this.redis = new JedisPooled(URI.create(url));
    this.ttlMillis = ttlMillis;
    this.mine = holder + " ";
  }

  /** A scheduler of its own, under a name no other has (tests). */
  public RedisClaims(String url, long ttlMillis) {
    this(url, ttlMillis, "scheduler-" + java.util.UUID.randomUUID());
  }

  static String key(long id) {
    return "sched:claim:" + id;
  }

  /** Takes every claim it can in one round trip (two for a key of its own); returns the claims it took. */
  public List<Claim> take(List<Claim> claims) {
    List<Response<String>> answers = new ArrayList<>(claims.size());
    List<Claim> taken = new ArrayList<>(claims.size());
    try {
      try (Pipeline p = redis.pipelined()) {
        for (Claim c : claims) {
          answers.add(p.set(key(c.id()), mine + c.host(), SetParams.setParams().nx().px(ttlMillis)));
        }
        p.sync();
      }
      List<Claim> refused = new ArrayList<>();
      for (int i = 0; i < claims.size(); i++) {
        (("OK".equals(answers.get(i).get())) ? taken : refused).add(claims.get(i));
      }
      if (!refused.isEmpty()) {
        List<Response<Object>> again = new ArrayList<>(refused.size());
        try (Pipeline p = redis.pipelined()) {
          for (Claim c : refused) {
            again.add(p.eval(TAKE_OVER, List.of(key(c.id())),
                List.of(mine, mine + c.host(), Long.toString(ttlMillis))));
          }
          p.sync();
        }
        for (int i = 0; i < refused.size(); i++) {
          if (Long.valueOf(1).equals(again.get(i).get())) {
            taken.add(refused.get(i));
          }
        }
      }
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("redis claim failed: " + e.getMessage(), e);
    }
    return taken;
  }

  /** Hand-outs taken back: their jobs may be claimed again. Another scheduler's key stays. */
  public void release(List<Long> ids) {
    if (ids.isEmpty()) {
      return;
    }
    try (Pipeline p = redis.pipelined()) {
      for (long id : ids) {
        p.eval(RELEASE_OWN, List.of(key(id)), List.of(mine));
      }
      p.sync();
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("redis release failed: " + e.getMessage(), e);
    }
  }

  public void ping() {
    try {
      redis.ping();
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("redis unreachable: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    redis.close();
  }
}
