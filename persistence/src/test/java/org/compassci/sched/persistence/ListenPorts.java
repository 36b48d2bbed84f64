package org.compassci.sched.persistence;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports on loopback for servers a test starts later, in another process or on a restart. A port
 * that {@code new ServerSocket(0)} gave is from the kernel's ephemeral range, which every outgoing
 * connection on the machine draws from too: in the seconds before the server binds it, a client
 * (another test's, the database's) can take it, and the server fails to start. These come from
 * below that range, where only another listener could take them, and are checked free, all held
 * together, so that no two are the same. Shared with the other modules' tests through this
 * module's test jar.
 */
public final class ListenPorts {

  private ListenPorts() {}

  /** One free port below the ephemeral range. */
  public static int one() throws IOException {
    return reserve(1)[0];
  }

  /** {@code n} different free ports below the ephemeral range. */
  public static int[] reserve(int n) throws IOException {
    int low = 20_000;
    int high = ephemeralLow();
    InetAddress loopback = InetAddress.getLoopbackAddress();
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int tries = 0; held.size() < n; tries++) {
        if (tries > 1_000) {
          throw new IOException("no free port between " + low + " and " + high);
        }
        int port = ThreadLocalRandom.current().nextInt(low, high);
        try {
          held.add(new ServerSocket(port, 1, loopback));
        } catch (IOException taken) {
          // someone listens there: try another
        }
      }
      int[] ports = new int[n];
      for (int i = 0; i < n; i++) {
        ports[i] = held.get(i).getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  /** The first port of the kernel's ephemeral range (32768 where it cannot be read). */
  private static int ephemeralLow() {
    try {
      String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
      int first = Integer.parseInt(range.split("\\s+")[0]);
      return first > 21_000 ? first : 32_768;
    } catch (IOException | RuntimeException e) {
      return 32_768;
    }
  }
}
