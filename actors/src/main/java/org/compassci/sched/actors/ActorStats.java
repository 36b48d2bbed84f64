package org.compassci.sched.actors;

import java.time.Instant;
import java.util.Map;

/** What one long-lived actor shows operators: what it holds, how busy it has been. */
public record ActorStats(String name, Map<String, Long> holds, long messages, Instant lastActivity)
    implements org.compassci.sched.model.CborSerializable {}
