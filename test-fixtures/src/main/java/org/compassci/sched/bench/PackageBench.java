package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Tokens;

/**
 * Building job packages alone, in process: {@code job.yaml}, {@code job.sh}, cpio and gzip of a
 * bench job (about 1 KB of JSON), on every core for a few seconds after a warm-up. Prints
 * {@code {"bench":"package_build","threads":N,"build_per_s":X,"cgz_bytes":N}}.
 */
public final class PackageBench {

  private PackageBench() {}

  public static void main(String[] args) throws Exception {
    int threads = Runtime.getRuntime().availableProcessors();
    ObjectNode job = (ObjectNode) Json.parse("{\"suite\":\"hackbench\",\"category\":\"benchmark\",\"testbox\":\"bmb\","
        + "\"arch\":\"x86_64\",\"my_account\":\"user3\",\"os\":\"openeuler\",\"os_arch\":\"x86_64\","
        + "\"os_version\":\"22.03-LTS\",\"os_mount\":\"initramfs\",\"kernel_custom_params\":\"rdinit=/sbin/init\","
        + "\"memory\":\"16G\",\"runtime\":300,\"nr_threads\":8,\"commit\":\"4f1c2a9e0b7d6c5e4f1c2a9e0b7d6c5e\","
        + "\"comment\":\"bench job with a value that must stay quoted: it's $HOME\","
        + "\"program\":{\"hackbench\":{\"mode\":\"threads\",\"ipc\":\"pipe\",\"loops\":10000}},"
        + "\"monitor\":{\"vmstat\":null,\"meminfo\":null},\"setup\":{\"cpufreq_governor\":{\"governor\":\"performance\"}},"
        + "\"tags\":[\"rack=r0\"],\"tbox_type\":\"hw\",\"tbox_group\":\"bmb\",\"id\":\"26112900000000101\","
        + "\"submit_time\":\"2026-11-29T00:00:00Z\",\"result_root\":\"/result/hackbench/2026-11-29/bmb/26112900000000101\","
        + "\"job_stage\":\"dispatch\",\"job_health\":\"unknown\",\"job_data_readiness\":\"N/A\",\"host_machine\":\"bmb--0001\"}");
    JobPackage.Endpoint at = new JobPackage.Endpoint("10.0.2.2", 3000);
    String token = Tokens.newToken();
    int size = JobPackage.build(job, token, at, null, 0).length;
    run(threads, job, token, at, 3_000);
    long n = run(threads, job, token, at, 5_000);
    System.out.printf("{\"bench\":\"package_build\",\"threads\":%d,\"build_per_s\":%d,\"cgz_bytes\":%d}%n",
        threads, n * 1000 / 5_000, size);
  }

  private static long run(int threads, ObjectNode job, String token, JobPackage.Endpoint at, long millis) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<Long>> counts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      counts.add(pool.submit(() -> {
        long built = 0;
        while (!stop.get()) {
          JobPackage.build(job, token, at, null, built);
          built++;
        }
        return built;
      }));
    }
    Thread.sleep(millis);
    stop.set(true);
    long total = 0;
    for (Future<Long> f : counts) {
      total += f.get();
    }
    pool.shutdown();
    return total;
  }
}
