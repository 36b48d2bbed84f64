package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class UrlDefaultsTest {

  private static final Map<String, String> MYSQL = SqlDialect.mysql().urlDefaults();

  @Test
  void addsWhatIsMissing() {
    assertEquals("jdbc:mysql://db:3306/sched?createDatabaseIfNotExist=true&rewriteBatchedStatements=true",
        JdbcJobStore.withDefaults("jdbc:mysql://db:3306/sched", MYSQL));
    assertEquals("jdbc:mysql://db/sched?user=s&createDatabaseIfNotExist=true&rewriteBatchedStatements=true",
        JdbcJobStore.withDefaults("jdbc:mysql://db/sched?user=s", MYSQL));
    assertEquals("jdbc:mysql://db/sched?createDatabaseIfNotExist=true&rewriteBatchedStatements=true",
        JdbcJobStore.withDefaults("jdbc:mysql://db/sched?", MYSQL));
  }

  @Test
  void theOperatorsOwnSettingWins() {
    assertEquals("jdbc:mysql://db/sched?RewriteBatchedStatements=false&createDatabaseIfNotExist=true",
        JdbcJobStore.withDefaults("jdbc:mysql://db/sched?RewriteBatchedStatements=false", MYSQL));
  }
}
