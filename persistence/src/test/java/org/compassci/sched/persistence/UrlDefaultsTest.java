package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class UrlDefaultsTest {

  private static final Map<String, String> MYSQL = SqlDialect.mysql().urlDefaults();

  @Test
  void addsWhatIsMissing() {
    assertEquals("jdbc:mysql://db:3306/sched?connectTimeout=5000&createDatabaseIfNotExist=true&rewriteBatchedStatements=true&socketTimeout=30000",
        JdbcJobStore.withDefaults("jdbc:mysql://db:3306/sched", MYSQL));
    assertEquals("jdbc:mysql://db/sched?user=s&connectTimeout=5000&createDatabaseIfNotExist=true&rewriteBatchedStatements=true&socketTimeout=30000",
        JdbcJobStore.withDefaults("jdbc:mysql://db/sched?user=s", MYSQL));
    assertEquals("jdbc:mysql://db/sched?connectTimeout=5000&createDatabaseIfNotExist=true&rewriteBatchedStatements=true&socketTimeout=30000",
        JdbcJobStore.withDefaults("jdbc:mysql://db/sched?", MYSQL));
  }

  @Test
  void theOperatorsOwnSettingWins() {
    assertEquals("jdbc:mysql://db/sched?RewriteBatchedStatements=false&connectTimeout=5000&createDatabaseIfNotExist=true&socketTimeout=30000",
        JdbcJobStore.withDefaults("jdbc:mysql://db/sched?RewriteBatchedStatements=false", MYSQL));
  }
}
