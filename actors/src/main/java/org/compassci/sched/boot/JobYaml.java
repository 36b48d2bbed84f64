package org.compassci.sched.boot;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.compassci.sched.model.Json;

/**
 * job.yaml as lkp-tests reads it: a block mapping, one top-level key per line at the start of the
 * line (its shell scripts {@code grep ^kernel:}), each value in YAML's flow style, which for these
 * values is JSON written with a space after every ':' and ','. Every string is double-quoted, so
 * none turns into a boolean or a number ("no", "1.0", "0x10") as a plain YAML scalar might; the
 * characters YAML 1.1 reads as line breaks or refuses are escaped ({@link #forYaml}). Written by Jackson's JSON
 * generator, several times faster than a YAML emitter.
 */
public final class JobYaml {

  /** YAML 1.1 (libyaml, which Ruby's Psych uses) reads these plain words as booleans or null. */
  private static final Set<String> SPECIAL_WORDS = Set.of("y", "n", "yes", "no", "on", "off", "true",
      "false", "null", "~");

  private static final ObjectWriter FLOW = Json.MAPPER.writer(new FlowStyle())
      // 1E+3 would be a string to YAML 1.1: numbers are written out
      .with(com.fasterxml.jackson.core.StreamWriteFeature.WRITE_BIGDECIMAL_AS_PLAIN)
      // an emoji as its UTF-8 bytes: YAML refuses the two escaped halves JSON may write
      .with(com.fasterxml.jackson.core.json.JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8);

  private JobYaml() {}

  public static byte[] write(ObjectNode job) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(2048);
    try {
      out.write("---\n".getBytes(StandardCharsets.US_ASCII));
      for (Iterator<Map.Entry<String, JsonNode>> it = job.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        out.write(key(e.getKey()));
        out.write(':');
        out.write(' ');
        out.write(forYaml(FLOW.writeValueAsBytes(e.getValue())));
        out.write('\n');
      }
    } catch (IOException e) {
      throw new UncheckedIOException("writing to memory failed", e);
    }
    return out.toByteArray();
  }

  /** A plain key when YAML reads it back as the same string, else a double-quoted one. */
  static byte[] key(String k) {
    boolean plain = !k.isEmpty() && k.length() < 256 && !SPECIAL_WORDS.contains(k.toLowerCase(Locale.ROOT));
    for (int i = 0; plain && i < k.length(); i++) {
      char c = k.charAt(i);
      plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
          || (i > 0 && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
    }
    if (plain) {
      return k.getBytes(StandardCharsets.US_ASCII);
    }
    try {
      return forYaml(FLOW.writeValueAsBytes(k));
    } catch (IOException e) {
      throw new UncheckedIOException("writing to memory failed", e);
    }
  }

  /**
   * JSON text made fit for libyaml (Ruby's Psych, PyYAML): JSON leaves these characters raw, but
   * YAML 1.1 reads NEL, LS and PS as line breaks and refuses DEL, the C1 controls, the BOM and
   * U+FFFE/U+FFFF in a document; they are written as backslash-u escapes, which YAML reads back. In
   * UTF-8 their byte sequences stand for nothing else, and JSON's own syntax is ASCII.
   */
  static byte[] forYaml(byte[] json) {
    ByteArrayOutputStream out = null;
    int copied = 0;
    for (int i = 0; i < json.length; i++) {
      int b = json[i] & 0xff;
      int cp = -1;
      int len = 1;
      if (b == 0x7f) {
        cp = 0x7f;
      } else if (b == 0xc2 && i + 1 < json.length && (json[i + 1] & 0xff) >= 0x80 && (json[i + 1] & 0xff) <= 0x9f) {
        cp = json[i + 1] & 0xff;
        len = 2;
      } else if ((b == 0xe2 || b == 0xef) && i + 2 < json.length) {
        int c = ((b & 0x0f) << 12) | ((json[i + 1] & 0x3f) << 6) | (json[i + 2] & 0x3f);
        if (c == 0x2028 || c == 0x2029 || c == 0xfeff || c == 0xfffe || c == 0xffff) {
          cp = c;
          len = 3;
        }
      }
      if (cp >= 0) {
        if (out == null) {
          out = new ByteArrayOutputStream(json.length + 16);
        }
        out.write(json, copied, i - copied);
        out.writeBytes(String.format("\\u%04X", cp).getBytes(StandardCharsets.US_ASCII));
        i += len - 1;
        copied = i + 1;
      }
    }
    if (out == null) {
      return json;
    }
    out.write(json, copied, json.length - copied);
    return out.toByteArray();
  }

  /** JSON on one line with a space after each ':' and ',', which YAML 1.1's flow style needs. */
  private static final class FlowStyle implements PrettyPrinter {
    @Override
    public void writeRootValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(' ');
    }

    @Override
    public void writeStartObject(JsonGenerator g) throws IOException {
      g.writeRaw('{');
    }

    @Override
    public void writeEndObject(JsonGenerator g, int entries) throws IOException {
      g.writeRaw('}');
    }

    @Override
    public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
      g.writeRaw(", ");
    }

    @Override
    public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(": ");
    }

    @Override
    public void writeStartArray(JsonGenerator g) throws IOException {
      g.writeRaw('[');
    }

    @Override
    public void writeEndArray(JsonGenerator g, int values) throws IOException {
      g.writeRaw(']');
    }

    @Override
    public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(", ");
    }

    @Override
    public void beforeArrayValues(JsonGenerator g) {
      // nothing before the first value
    }

    @Override
    public void beforeObjectEntries(JsonGenerator g) {
      // nothing before the first entry
    }
  }
}
