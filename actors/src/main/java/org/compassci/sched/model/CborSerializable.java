package org.compassci.sched.model;

/**
 * Marks a message that may cross from one scheduler node to another in cluster mode: it is
 * bound to Pekko's {@code jackson-cbor} serializer in {@code pekko.actor.serialization-bindings},
 * and Java serialization is off, so a message without it fails loudly instead of travelling in
 * a form that breaks on the next class change. Local-only messages carry it too when their
 * sealed {@code Command} does; they are simply never serialized.
 */
public interface CborSerializable {}
