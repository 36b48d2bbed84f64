package org.compassci.sched.http;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.event.Logging;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.FrameEvent$;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import org.apache.pekko.http.impl.engine.ws.WebSocket$;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ws.Message;
import org.apache.pekko.http.scaladsl.model.ws.TextMessage;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;
import org.apache.pekko.http.scaladsl.settings.WebSocketSettings;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Graph;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SharedKillSwitch;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import scala.concurrent.duration.FiniteDuration;

/**
 * The WebSocket plumbing that the provider and watcher sockets share: JSON text in, JSON text
 * out, and the rules every socket keeps. A binary message, a message over
 * {@code scheduler.websocket.max-frame}, more than {@code max-frames-per-second} messages in one
 * second, or nothing heard (not even a pong to our pings) for the idle timeout closes the
 * socket with a close code and a reason; so does {@link Closer#close} from the socket's own
 * logic (a malformed message, an unknown type).
 *
 * <p>Pekko HTTP's public WebSocket API closes a socket only with 1000 (the handler completed) or
 * 1011 "internal error" (it failed, logged as an error). To say why a socket is closed, this class
 * assembles the same stack Pekko assembles for {@code handleMessages} (its internal
 * {@code WebSocket.stack}, given to {@code UpgradeToWebSocketLowLevel.handleFrames}) and, on
 * the way out, replaces the close frame the stack sends when the handler completes with one that
 * carries the reason. Those are internal classes of pekko-http-core 1.3.0: a Pekko HTTP upgrade
 * must be checked against them ({@code ProviderSocketTest} reads the close codes on the wire).
 */
final class WebSockets {

  /** RFC 6455 close codes. */
  static final int NORMAL = 1000;
  static final int GOING_AWAY = 1001;
  static final int UNSUPPORTED_DATA = 1003;
  static final int INVALID_PAYLOAD = 1007;
  static final int POLICY_VIOLATION = 1008;
  static final int TOO_BIG = 1009;

  /** How long the stack waits for the peer's close frame after sending its own. */
  private static final FiniteDuration CLOSE_TIMEOUT = FiniteDuration.apply(3, TimeUnit.SECONDS);

  /** A close frame's reason is at most 123 bytes of UTF-8. */
  private static final int MAX_REASON_BYTES = 123;

  private WebSockets() {}

  /** What one socket may do: message size and rate, our ping interval, the peer's silence. */
  record Limits(int maxFrameChars, int maxFramesPerSecond, Duration ping, Duration idle) {}

  /** Why a socket is being closed. */
  record Reason(int code, String text) {}

  /**
   * A socket's way to end itself with a close code and a reason: the first reason given wins,
   * both directions of the socket's handler complete, and the close frame carries the reason.
   */
  static final class Closer {
    private final SharedKillSwitch kill = KillSwitches.shared("websocket");
    private final AtomicReference<Reason> reason = new AtomicReference<>();

    /** Closes the socket; false when it was closing already. */
    boolean close(int code, String text) {
      if (!reason.compareAndSet(null, new Reason(code, fit(text)))) {
        return false;
      }
      kill.shutdown();
      return true;
    }

    Optional<Reason> reason() {
      return Optional.ofNullable(reason.get());
    }

    /** The stack's own close frame, or ours when we closed with a reason. */
    FrameEvent rewrite(FrameEvent frame) {
      Reason r = reason.get();
      if (r != null && frame instanceof FrameStart start && start.header().opcode().code() == 8) {
        return FrameEvent$.MODULE$.closeFrame(r.code(), r.text(), scala.Option.empty());
      }
      return frame;
    }

    private static String fit(String text) {
      String t = text == null ? "" : text;
      while (t.getBytes(StandardCharsets.UTF_8).length > MAX_REASON_BYTES) {
        t = t.substring(0, t.length() - 2) + "…";
        if (t.length() <= 1) {
          return "";
        }
      }
      return t;
    }
  }

  /**
   * The answer to a WebSocket handshake, or empty when {@code request} is none. {@code app} gets
   * each text message whole and in order, and what it emits goes out as text messages; when
   * either side of it completes, the socket closes.
   */
  static Optional<HttpResponse> accept(HttpRequest request, ActorSystem<?> system, Limits limits,
      Function<Closer, Flow<String, String, NotUsed>> app) {
    Optional<UpgradeToWebSocketLowLevel> upgrade = request.getAttribute(AttributeKeys.webSocketUpgrade)
        .filter(UpgradeToWebSocketLowLevel.class::isInstance)
        .map(UpgradeToWebSocketLowLevel.class::cast);
    if (upgrade.isEmpty()) {
      return Optional.empty();
    }
    Closer closer = new Closer();
    Flow<Message, Message, NotUsed> messages = messages(closer, limits, app.apply(closer));
    WebSocketSettings ws = ServerSettings.apply(system.settings().config()).websocketSettings()
        .withPeriodicKeepAliveMaxIdle(finite(limits.ping()));
    LoggingAdapter log = Logging.getLogger(system.classicSystem(), WebSockets.class);
    Flow<FrameEvent, FrameEvent, NotUsed> frames = Flow.of(FrameEvent.class)
        .via(new IdleWatch(limits.idle(), closer))
        .via(WebSocket$.MODULE$.stack(true, ws, CLOSE_TIMEOUT, log).join(messages.asScala()))
        .map(closer::rewrite);
    @SuppressWarnings({"unchecked", "rawtypes"})
    Graph<FlowShape<FrameEvent, FrameEvent>, Object> graph = (Graph) frames;
    return Optional.of(upgrade.get().handleFrames(graph, scala.Option.empty()));
  }

  /** Text messages whole, checked against the limits; then the app; then its text out. */
  private static Flow<Message, Message, NotUsed> messages(Closer closer, Limits limits,
      Flow<String, String, NotUsed> app) {
    return Flow.of(Message.class)
        .via(new Inbound(closer, limits))
        .via(app)
        .<Message>map(TextMessage.Strict::new)
        .via(closer.kill.flow());
  }

  /**
   * Text messages whole, in order; a binary message, one over the size limit, or one past the
   * rate limit closes the socket, and so does the socket's own {@link Closer}: then the stage
   * completes, which ends the socket's handler.
   */
  private static final class Inbound extends GraphStage<FlowShape<Message, String>> {
    private final Inlet<Message> in = Inlet.create("WebSockets.in");
    private final Outlet<String> out = Outlet.create("WebSockets.out");
    private final FlowShape<Message, String> shape = FlowShape.of(in, out);
    private final Closer closer;
    private final Limits limits;

    Inbound(Closer closer, Limits limits) {
      this.closer = closer;
      this.limits = limits;
    }

    @Override
    public FlowShape<Message, String> shape() {
      return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
      return new GraphStageLogic(shape) {
        private long windowStart;
        private int inWindow;
        /** A streamed message is being collected: nothing more is pulled meanwhile. */
        private boolean collecting;
        /** The socket's messages ended while one was being collected: finish after it. */
        private boolean finishing;
        private org.apache.pekko.stream.stage.AsyncCallback<Optional<String>> collected;

        {
          setHandler(in, new AbstractInHandler() {
            @Override
            public void onPush() {
              onMessage(grab(in));
            }

            @Override
            public void onUpstreamFinish() {
              if (collecting) {
                finishing = true;
              } else {
                completeStage();
              }
            }
          });
          setHandler(out, new AbstractOutHandler() {
            @Override
            public void onPull() {
              if (!collecting && !hasBeenPulled(in)) {
                pull(in);
              }
            }
          });
        }

        @Override
        public void preStart() {
          collected = createAsyncCallback(this::onCollected);
        }

        private void onMessage(Message m) {
          if (closer.reason().isPresent()) {
            completeStage();
            return;
          }
          int max = limits.maxFrameChars();
          if (!(m instanceof TextMessage t)) {
            if (m instanceof org.apache.pekko.http.scaladsl.model.ws.BinaryMessage b
                && !(b instanceof org.apache.pekko.http.scaladsl.model.ws.BinaryMessage.Strict)) {
              b.getStreamedData().runWith(Sink.cancelled(), materializer());
            }
            close(UNSUPPORTED_DATA, "binary messages are not taken: send JSON text");
          } else if (t instanceof TextMessage.Strict strict) {
            if (strict.text().length() > max) {
              close(TOO_BIG, "a message may have at most " + max + " characters");
            } else {
              deliver(strict.text());
            }
          } else {
            collecting = true;
            // takeWhile, not limitWeighted: a failure would cancel the socket's stream with it
            // (1011); a plain stop leaves the rest of the message to be drained while it closes
            long[] chars = {0};
            t.getStreamedText()
                .takeWhile(part -> (chars[0] += part.length()) <= max)
                .runFold(new StringBuilder(), StringBuilder::append, materializer())
                .whenComplete((sb, failure) -> collected.invoke(failure != null || chars[0] > max
                    ? Optional.empty() : Optional.of(sb.toString())));
          }
        }

        /** A streamed message is in: empty when it was too large (or its peer went away). */
        private void onCollected(Optional<String> text) {
          collecting = false;
          if (text.isEmpty()) {
            close(TOO_BIG, "a message may have at most " + limits.maxFrameChars() + " characters");
          } else if (closer.reason().isPresent()) {
            completeStage();
          } else {
            deliver(text.get());
          }
          if (finishing && !isClosed(out)) {
            completeStage();
          }
        }

        private void deliver(String text) {
          long now = System.nanoTime() / 1_000_000;
          if (now - windowStart >= 1000) {
            windowStart = now;
            inWindow = 0;
          }
          if (++inWindow > limits.maxFramesPerSecond()) {
            close(POLICY_VIOLATION, "more than " + limits.maxFramesPerSecond() + " messages in one second");
            return;
          }
          push(out, text);
        }

        private void close(int code, String reason) {
          closer.close(code, reason);
          completeStage();
        }
      };
    }
  }

  private static FiniteDuration finite(Duration d) {
    return FiniteDuration.apply(d.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Passes the peer's frames on and notes when the last one came (a pong counts); a peer silent
   * for {@code idle} is closed with 1001.
   */
  private static final class IdleWatch extends GraphStage<FlowShape<FrameEvent, FrameEvent>> {
    private final Inlet<FrameEvent> in = Inlet.create("IdleWatch.in");
    private final Outlet<FrameEvent> out = Outlet.create("IdleWatch.out");
    private final FlowShape<FrameEvent, FrameEvent> shape = FlowShape.of(in, out);
    private final Duration idle;
    private final Closer closer;

    IdleWatch(Duration idle, Closer closer) {
      this.idle = idle;
      this.closer = closer;
    }

    @Override
    public FlowShape<FrameEvent, FrameEvent> shape() {
      return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
      return new TimerGraphStageLogic(shape) {
        private long last = System.nanoTime();

        {
          setHandler(in, new AbstractInHandler() {
            @Override
            public void onPush() {
              last = System.nanoTime();
              push(out, grab(in));
            }
          });
          setHandler(out, new AbstractOutHandler() {
            @Override
            public void onPull() {
              pull(in);
            }
          });
        }

        @Override
        public void preStart() {
          Duration every = idle.dividedBy(4).isZero() ? idle : idle.dividedBy(4);
          scheduleWithFixedDelay("idle", every, every);
        }

        @Override
        public void onTimer(Object key) {
          if (System.nanoTime() - last > idle.toNanos()) {
            cancelTimer("idle");
            closer.close(GOING_AWAY, "nothing heard for " + idle.toSeconds() + " s");
          }
        }
      };
    }
  }
}
