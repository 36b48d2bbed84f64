package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.http.DispatchRoutes;

import org.junit.jupiter.api.Test;

class MainTest {

  @Test
  void theJdbcUrlIsLoggedWithoutItsPassword() {
    assertEquals("jdbc:mysql://db:3306/sched?user=s&password=***&useSSL=false",
        Main.masked("jdbc:mysql://db:3306/sched?user=s&password=hunter2&useSSL=false"));
    assertEquals("jdbc:mysql://s:***@db:3306/sched", Main.masked("jdbc:mysql://s:hunter2@db:3306/sched"));
    assertEquals("jdbc:mysql://db/sched?PWD=***", Main.masked("jdbc:mysql://db/sched?PWD=x"));
    assertEquals("jdbc:mysql://db:3306/sched?user=s", Main.masked("jdbc:mysql://db:3306/sched?user=s"));
  }

  @Test
  void theShippedHttpTimeoutsOutlastTheLongestLongPoll() {
    Config config = ConfigFactory.load();
    Duration longest = Duration.ofSeconds(DispatchRoutes.MAX_WAIT_SECONDS)
        .plus(SchedulerSettings.fromConfig(config).askTimeout());
    Duration request = config.getDuration("pekko.http.server.request-timeout");
    Duration idle = config.getDuration("pekko.http.server.idle-timeout");
    assertTrue(request.compareTo(longest) > 0, "request-timeout " + request + " cuts a wait=60 poll");
    assertTrue(idle.compareTo(request) > 0, "idle-timeout " + idle + " is not above " + request);
  }
}
