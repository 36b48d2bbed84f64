package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.compassci.sched.fixtures.HttpCalls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard page in a real headless Chromium (Debian's chromium and chromium-driver, which
 * .ci/run installs), against the real server on loopback.
 */
class DashboardBrowserTest {

  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path DRIVER = Path.of("/usr/bin/chromedriver");
  static final String JOB = "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\",\"my_account\":\"alice\"}";

  @TempDir Path dir;
  TestServer server;
  WebDriver browser;

  @BeforeEach
  void start(org.junit.jupiter.api.TestInfo test) throws Exception {
    boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER);
    if (System.getenv("CI") != null) {
      assertTrue(installed, ".ci/run installs chromium and chromium-driver");
    }
    assumeTrue(installed, "chromium and chromium-driver are not installed here");
    boolean privateReads = test.getTestMethod().map(m -> m.getName().contains("Private")).orElse(false);
    server = TestServer.start(dir, privateReads ? Map.of("scheduler.auth.private-reads", "on") : Map.of());
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    // the machine's network is closed: nothing in the background may try to reach it
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1800",
        "--user-data-dir=" + dir.resolve("chromium-profile"));
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(DRIVER.toFile()).usingAnyFreePort().build();
    browser = new ChromeDriver(service, options);
  }

  @AfterEach
  void stop() throws Exception {
    if (browser != null) {
      browser.quit();
    }
    if (server != null) {
      server.close();
    }
  }

  /** Read in one script call: the page redraws its tables on every summary. */
  private String groupCount(String dimension, String group) {
    Object text = ((JavascriptExecutor) browser).executeScript(
        "const row = [...document.querySelectorAll('#pending-' + arguments[0] + ' tr')]"
            + ".find(r => r.dataset.group === arguments[1]);"
            + "return row ? row.querySelector('td.count').textContent : '';", dimension, group);
    return String.valueOf(text);
  }

  private void await(String what, java.util.function.BooleanSupplier done) {
    new WebDriverWait(browser, Duration.ofSeconds(15)).withMessage(what)
        .ignoring(StaleElementReferenceException.class).until(b -> done.getAsBoolean());
  }

  @Test
  void thePageShowsTheQueueAndFollowsItLive() throws Exception {
    HttpCalls http = server.http;
    for (int i = 0; i < 3; i++) {
      assertEquals(200, http.post("/scheduler/v1/jobs/submit", JOB).status());
    }
    assertEquals(200, http.post("/scheduler/v1/jobs/submit", JOB.replace("vm-2p8g", "dc-8g")).status());
    browser.get("http://127.0.0.1:" + server.port() + "/dashboard");
    await("3 jobs pending in vm-2p8g", () -> groupCount("tbox_group", "vm-2p8g").equals("3"));
    assertEquals("1", groupCount("tbox_group", "dc-8g"));
    assertEquals("4", groupCount("my_account", "alice"));
    assertEquals("4", browser.findElement(By.id("pending-total")).getText());
    await("the live badge", () -> browser.findElement(By.id("live")).getText().equals("live"));

    // a dispatch over the API shows on the open page without a reload
    String id = http.get("/scheduler/v1/jobs/dispatch?hostname=h1&arch=aarch64&tbox_type=vm&freemem=9000")
        .json().path("id").asText();
    await("the count drops after a dispatch", () -> groupCount("tbox_group", "vm-2p8g").equals("2"));
    await("the running list shows the job", () ->
        browser.findElement(By.cssSelector("#running tbody")).getText().contains(id));
    await("the testbox list shows h1", () ->
        browser.findElement(By.cssSelector("#hosts tbody")).getText().contains("h1"));

    // the search box opens one job, with its stage history, and follows it
    browser.findElement(By.id("search")).sendKeys(id);
    browser.findElement(By.cssSelector("#search-form button")).click();
    await("the job panel", () -> browser.findElement(By.id("job")).getText().contains("dispatch"));
    assertEquals(200, http.post("/scheduler/v1/jobs/" + id + "/update?job_stage=running", "").status());
    await("the job's new stage, live", () -> browser.findElement(By.id("job")).getText().contains("running"));

    // a queued job explains why it waits: management data, for an admin's token typed in
    browser.findElement(By.id("token")).sendKeys(TestServer.ADMIN_TOKEN);
    String queued = http.post("/scheduler/v1/jobs/submit", JOB.replace("aarch64", "riscv64")).json()
        .get(0).path("job_id").asText();
    browser.findElement(By.id("search")).clear();
    browser.findElement(By.id("search")).sendKeys(queued);
    browser.findElement(By.cssSelector("#search-form button")).click();
    await("explain", () -> browser.findElement(By.id("job")).getText().contains("fit by tags"));

    Path shot = Path.of("target", "dashboard.png");
    Files.createDirectories(shot.getParent());
    Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
  }

  @Test
  void withPrivateReadsThePageAsksForATokenAndKeepsItInTheTabOnly() {
    assertEquals(200, server.http.post("/scheduler/v1/jobs/submit", JOB).status());
    browser.get("http://127.0.0.1:" + server.port() + "/dashboard");
    await("the page asks for a token", () -> browser.findElement(By.id("auth-note")).isDisplayed());
    assertEquals("–", browser.findElement(By.id("pending-total")).getText(), "nothing read without one");
    browser.findElement(By.id("token")).sendKeys(server.addAccount("viewer", "user"));
    browser.findElement(By.id("token")).sendKeys(org.openqa.selenium.Keys.TAB);
    await("the page reads with it", () -> browser.findElement(By.id("pending-total")).getText().equals("1"));
    await("the live badge", () -> browser.findElement(By.id("live")).getText().equals("live"));
    JavascriptExecutor js = (JavascriptExecutor) browser;
    assertEquals(Boolean.TRUE, js.executeScript("return sessionStorage.getItem('scheduler-token') !== null"
        + " && localStorage.length === 0 && document.cookie === ''"), "the tab's session storage only");
  }
}
