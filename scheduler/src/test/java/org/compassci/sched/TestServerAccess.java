package org.compassci.sched;

/** What tests in other packages need of {@link TestServer}. */
public final class TestServerAccess {
  /** The admin's token of every test server. */
  public static final String ADMIN_TOKEN = TestServer.ADMIN_TOKEN;

  private TestServerAccess() {}
}
