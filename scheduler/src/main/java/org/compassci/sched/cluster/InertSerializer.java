package org.compassci.sched.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.JSerializer;

/**
 * Standalone, in place of Pekko's cluster, remoting and Jackson serializers. Pekko makes every
 * serializer its configuration names when the actor system starts, whether or not a message
 * will ever cross a process, and those make about 1,000 classes (Protobuf messages, Jackson's
 * CBOR and Scala modules) that a single process never uses: 7-10 MB of resident class data.
 * Its configuration check wants every serializer name of the reference kept, and each one's
 * identifier unique, so each name gets one of these with an identifier of its own. A message
 * that would need one fails loudly: standalone, none does.
 */
public final class InertSerializer extends JSerializer {

  /**
   * The serializers a standalone process has no use for: those of remoting, the cluster and its
   * tools, distributed data, stream references and Jackson. The actor system's own (Java off,
   * bytes, primitives, typed refs) stay.
   */
  static final List<String> NAMES = List.of(
      "pekko-containers", "pekko-misc", "artery", "proto", "daemon-create", "pekko-system-msg",
      "pekko-cluster", "typed-cluster", "reliable-delivery", "pekko-pubsub", "pekko-cluster-client",
      "pekko-singleton", "pekko-data-replication", "pekko-replicated-data", "pekko-stream-ref",
      "jackson-json", "jackson-cbor", "jackson-cbor-264");

  /** Far from Pekko's own identifiers (0-40) and from any a user would pick. */
  private static final int FIRST_IDENTIFIER = 1_770_000;

  private final String name;
  private final int identifier;

  public InertSerializer(ExtendedActorSystem system, String name) {
    this.name = name;
    int i = NAMES.indexOf(name);
    if (i < 0) {
      throw new IllegalArgumentException("no inert serializer for '" + name + "'");
    }
    this.identifier = FIRST_IDENTIFIER + i;
  }

  /**
   * What a standalone process sets on top of its configuration: each name's class is this one,
   * and the classes bound to one of them are bound to none (Pekko's own way to drop a binding;
   * it would otherwise warn, at every start, that a class of its own has a serializer of ours).
   */
  public static Config standalone(Config root) {
    Map<String, Object> conf = new HashMap<>();
    for (String n : NAMES) {
      conf.put(ConfigUtil.joinPath("pekko", "actor", "serializers", n), InertSerializer.class.getName());
    }
    String bindings = "pekko.actor.serialization-bindings";
    if (root.hasPath(bindings)) {
      for (Map.Entry<String, ConfigValue> b : root.getConfig(bindings).root().entrySet()) {
        if (NAMES.contains(String.valueOf(b.getValue().unwrapped()))) {
          conf.put(ConfigUtil.joinPath("pekko", "actor", "serialization-bindings", b.getKey()), "none");
        }
      }
    }
    return ConfigFactory.parseMap(conf, "standalone: no serializer for messages between processes")
        .withFallback(root);
  }

  @Override
  public int identifier() {
    return identifier;
  }

  @Override
  public boolean includeManifest() {
    return false;
  }

  @Override
  public byte[] toBinary(Object o) {
    throw new UnsupportedOperationException(refusal(o.getClass()));
  }

  @Override
  public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
    throw new UnsupportedOperationException(refusal(manifest));
  }

  private String refusal(Class<?> type) {
    return "serializer '" + name + "' is inert in a standalone scheduler (cluster mode has the real"
        + " one): " + (type == null ? "a message" : type.getName()) + " would have crossed a process";
  }
}
