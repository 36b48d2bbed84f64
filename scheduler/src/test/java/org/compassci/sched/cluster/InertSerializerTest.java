package org.compassci.sched.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.HashSet;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.compassci.sched.model.Outcome;
import org.junit.jupiter.api.Test;

/**
 * A standalone process's Pekko configuration: the serializers for messages between processes
 * are inert stand-ins, each with an identifier of its own (Pekko's own checks pass at start),
 * and nothing is bound to them; cluster mode keeps the real ones.
 */
class InertSerializerTest {

  @Test
  void standaloneHasAnInertSerializerUnderEveryNameAndNothingBoundToThem() {
    Config config = InertSerializer.standalone(ConfigFactory.load());
    ActorTestKit kit = ActorTestKit.create("standalone", config);
    try {
      Serialization serialization = SerializationExtension.get(kit.system());
      Set<Integer> identifiers = new HashSet<>();
      int inert = 0;
      for (Serializer s : scala.jdk.javaapi.CollectionConverters.asJava(serialization.serializerByIdentity()).values()) {
        String type = s.getClass().getName();
        assertFalse(type.startsWith("org.apache.pekko.cluster.") || type.startsWith("org.apache.pekko.remote.")
            || type.startsWith("org.apache.pekko.serialization.jackson."), type + " was made standalone");
        if (s instanceof InertSerializer) {
          inert++;
          assertTrue(identifiers.add(s.identifier()), "identifier " + s.identifier() + " twice");
        }
      }
      assertEquals(InertSerializer.NAMES.size(), inert);
      // Pekko warns at start of a class of its own bound to a serializer from outside: none is
      config.getConfig("pekko.actor.serialization-bindings").root().forEach((type, name) ->
          assertFalse(InertSerializer.NAMES.contains(String.valueOf(name.unwrapped())), type + " is bound to " + name));
      assertEquals("none", config.getString(
          "pekko.actor.serialization-bindings.\"org.compassci.sched.model.CborSerializable\""));
      // a message that would cross nodes in cluster mode finds no serializer standalone
      Outcome message = new Outcome(Outcome.Status.OK, "done", null);
      assertTrue(serialization.serialize(message).isFailure(), "a cross-node message was serialized standalone");
      InertSerializer one = (InertSerializer) serialization.serializerByIdentity().values()
          .find(s -> s instanceof InertSerializer).get();
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> one.toBinary(message));
      assertTrue(e.getMessage().contains("inert in a standalone scheduler"), e.getMessage());
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void clusterModeKeepsTheRealSerializers() {
    Config config = new ClusterSettings(java.util.List.of("127.0.0.1:25520"), "127.0.0.1", 25520, "none")
        .pekkoConfig(ConfigFactory.load());
    assertEquals("org.apache.pekko.serialization.jackson.JacksonCborSerializer",
        config.getString("pekko.actor.serializers.jackson-cbor"));
    assertEquals("jackson-cbor",
        config.getString("pekko.actor.serialization-bindings.\"org.compassci.sched.model.CborSerializable\""));
    assertEquals("org.apache.pekko.cluster.ddata.protobuf.ReplicatedDataSerializer",
        config.getString("pekko.actor.serializers.pekko-replicated-data"));
  }
}
