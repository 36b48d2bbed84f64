package org.compassci.sched.http;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.RemoteAddress;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.junit.jupiter.api.Test;

/** Who is on this machine is decided by the TCP peer, never by a header a caller can write. */
class AuthTest {

  private static HttpRequest from(String peer) throws Exception {
    return (HttpRequest) HttpRequest.create("/scheduler/v1/manage/actors").addAttribute(AttributeKeys.remoteAddress,
        RemoteAddress.create(new InetSocketAddress(InetAddress.getByName(peer), 40000)));
  }

  @Test
  void aRemotePeerIsNotMadeLoopbackByForwardingHeaders() throws Exception {
    HttpRequest spoofed = from("203.0.113.7")
        .addHeader(RawHeader.create("X-Forwarded-For", "127.0.0.1"))
        .addHeader(RawHeader.create("X-Real-Ip", "127.0.0.1"))
        .addHeader(RawHeader.create("Remote-Address", "127.0.0.1"));
    assertFalse(Auth.fromLoopback(spoofed));
  }

  @Test
  void aLoopbackPeerIsLoopbackWhateverItsHeadersSay() throws Exception {
    assertTrue(Auth.fromLoopback(from("127.0.0.1")));
    assertTrue(Auth.fromLoopback(from("::1")));
    assertTrue(Auth.fromLoopback(from("127.0.0.1").addHeader(RawHeader.create("X-Forwarded-For", "203.0.113.7"))));
  }

  @Test
  void noPeerKnownIsNotLoopback() {
    assertFalse(Auth.fromLoopback(HttpRequest.create("/")));
  }
}
