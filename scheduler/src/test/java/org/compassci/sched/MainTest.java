package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
