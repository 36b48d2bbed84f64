package org.compassci.sched.http;

import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.actors.UploadActor;
import org.compassci.sched.boot.BootPlan;
import org.compassci.sched.boot.Sealer;

/**
 * What the routes of real testboxes need beside the actors: the sealers of package links and of
 * secrets, where the lab serves OS trees and initrds, the upload writer, and the prefix of every
 * result_root.
 */
public record BootContext(
    Sealer links,
    Sealer secrets,
    BootPlan.Prefixes prefixes,
    ActorRef<UploadActor.Command> uploads,
    String resultsRoot,
    java.util.Optional<String> adminToken) {}
