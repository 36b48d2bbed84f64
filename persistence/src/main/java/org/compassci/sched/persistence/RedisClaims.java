package org.compassci.sched.persistence;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import redis.clients.jedis.JedisPooled;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.params.SetParams;

/**
 * Hand-out claims in Redis ("way1" of the design note): {@code SET sched:claim:<id> <host> NX PX
 * <ttl>}. With several schedulers on one database, a job whose claim another scheduler holds is
 * skipped, whatever the store's own guard says. Blocking: call it on the store's dispatcher.
 */
public final class RedisClaims implements AutoCloseable {

  private final JedisPooled redis;
  private final long ttlMillis;

  public RedisClaims(String url, long ttlMillis) {
    this.redis = new JedisPooled(URI.create(url));
    this.ttlMillis = ttlMillis;
  }

  static String key(long id) {
    return "sched:claim:" + id;
  }

  /** Takes every claim it can in one round trip; returns the claims that this call took. */
  public List<Claim> take(List<Claim> claims) {
    List<Response<String>> answers = new ArrayList<>(claims.size());
    try (Pipeline p = redis.pipelined()) {
      for (Claim c : claims) {
        answers.add(p.set(key(c.id()), c.host(), SetParams.setParams().nx().px(ttlMillis)));
      }
      p.sync();
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("redis claim failed: " + e.getMessage(), e);
    }
    List<Claim> taken = new ArrayList<>(claims.size());
    for (int i = 0; i < claims.size(); i++) {
      if ("OK".equals(answers.get(i).get())) {
        taken.add(claims.get(i));
      }
    }
    return taken;
  }

  /** A hand-out taken back: the job may be claimed again. */
  public void release(List<Long> ids) {
    if (ids.isEmpty()) {
      return;
    }
    try {
      redis.del(ids.stream().map(RedisClaims::key).toArray(String[]::new));
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
