package org.compassci.sched.boot;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where an uploaded file may go. A job writes only below its own result_root, which lies below
 * the results folder; a request path is checked as text first (no "..", no empty or absolute
 * part, no NUL, no '/' hidden in an escape), then on disk, part by part, where no part may be a
 * symbolic link: whatever a job or an earlier upload left there, the file lands inside the
 * results folder or nowhere.
 */
public final class ResultPaths {

  private ResultPaths() {}

  /**
   * The decoded parts of a raw (percent-encoded) URL path such as {@code /result/a/b%20c}.
   * {@code folder} allows one trailing slash (a WebDAV collection). Throws {@link UploadRefused}
   * (403) naming the bad part.
   */
  public static List<String> parts(String rawPath, boolean folder) {
    if (rawPath.isEmpty() || rawPath.charAt(0) != '/') {
      throw new UploadRefused(403, "the path must start with /");
    }
    String p = rawPath.substring(1);
    if (folder && p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    List<String> out = new ArrayList<>();
    for (String raw : p.split("/", -1)) {
      out.add(part(decode(raw)));
    }
    return out;
  }

  /**
   * One file or folder name: not empty, not . or .., no NUL, control character, slash or
   * backslash, at most 255 bytes, and one the file system can spell.
   */
  public static String part(String name) {
    if (name.isEmpty()) {
      throw new UploadRefused(403, "an empty part in the path (an absolute path, or //)");
    }
    if (name.equals(".") || name.equals("..")) {
      throw new UploadRefused(403, "'" + name + "' in the path");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == 0) {
        throw new UploadRefused(403, "a NUL byte in the path");
      }
      if (c < 0x20 || c == 0x7f) {
        throw new UploadRefused(403, "a control character in the path");
      }
      if (c == '/' || c == '\\') {
        throw new UploadRefused(403, "a slash inside a name of the path");
      }
    }
    if (name.getBytes(StandardCharsets.UTF_8).length > 255) {
      throw new UploadRefused(403, "a name longer than 255 bytes in the path");
    }
    try {
      Path.of(name);
    } catch (java.nio.file.InvalidPathException e) {
      // a name the file system cannot spell: "中.log" on a JVM started without a UTF-8 locale
      // (LANG unset or C, as in many containers and services). Found later, on disk, it was a 500
      throw new UploadRefused(403, "a name this server's file system cannot hold: " + e.getReason());
    }
    return name;
  }

  /**
   * The parts of {@code path} below {@code resultRoot}; 403 when the path is not below it.
   * {@code resultRoot} is the job's, e.g. /result/hackbench/2026-11-28/vm-2p8g/1.
   */
  public static List<String> below(String resultRoot, List<String> path) {
    List<String> root = parts(resultRoot, true);
    if (path.size() < root.size() || !path.subList(0, root.size()).equals(root)) {
      throw new UploadRefused(403, "outside the job's result_root " + resultRoot);
    }
    return path.subList(root.size(), path.size());
  }

  /** The most parts a path below the results folder may have (a job's result_root takes 4 to 6). */
  public static final int MAX_DEPTH = 40;

  /** The longest path below the results folder, in UTF-8 bytes: well inside Linux's 4,096. */
  public static final int MAX_PATH_BYTES = 1536;

  /**
   * Refused before any folder is made: past Linux's own limit the file system refuses the path
   * only after the folders above it have been made, and answers an error that is no 4xx.
   */
  static void checkLength(List<String> parts) {
    if (parts.size() > MAX_DEPTH) {
      throw new UploadRefused(403, "the path is " + parts.size() + " folders deep: at most " + MAX_DEPTH);
    }
    long bytes = 0;
    for (String p : parts) {
      bytes += p.getBytes(StandardCharsets.UTF_8).length + 1;
    }
    if (bytes > MAX_PATH_BYTES) {
      throw new UploadRefused(403, "the path is " + bytes + " bytes long: at most " + MAX_PATH_BYTES);
    }
  }

  /**
   * The file {@code parts} name below {@code resultsDir}, its folders created as needed. Each
   * existing part must be a real folder (403 for a link, 409 for a file in the way); the file itself
   * must not exist (409) unless {@code mayExist}. Blocking: run it off the actors' threads.
   */
  public static Path prepare(Path resultsDir, List<String> parts, boolean mayExist) throws IOException {
    return prepare(resultsDir, parts, mayExist, new java.util.concurrent.atomic.AtomicInteger(), 0);
  }

  /**
   * The same, counting in {@code made} the folders it creates on the way from part
   * {@code countFrom} on (a job's own folders, not those it shares), also when it throws.
   */
  public static Path prepare(Path resultsDir, List<String> parts, boolean mayExist,
      java.util.concurrent.atomic.AtomicInteger made, int countFrom) throws IOException {
    if (parts.isEmpty()) {
      throw new UploadRefused(403, "no file name");
    }
    checkLength(parts);
    Files.createDirectories(resultsDir);
    Path base = resultsDir.toRealPath();
    Path cur = base;
    for (int i = 0; i < parts.size() - 1; i++) {
      cur = cur.resolve(part(parts.get(i)));
      if (Files.isSymbolicLink(cur)) {
        throw new UploadRefused(403, "'" + parts.get(i) + "' in the path is a symbolic link");
      }
      if (!Files.exists(cur, LinkOption.NOFOLLOW_LINKS)) {
        try {
          Files.createDirectory(cur);
          if (i >= countFrom) {
            made.incrementAndGet();
          }
        } catch (FileAlreadyExistsException raced) {
          // made meanwhile by another upload: checked below like any other
        }
      }
      if (Files.isSymbolicLink(cur)) {
        throw new UploadRefused(403, "'" + parts.get(i) + "' in the path is a symbolic link");
      }
      if (!Files.isDirectory(cur, LinkOption.NOFOLLOW_LINKS)) {
        throw new UploadRefused(409, "'" + parts.get(i) + "' in the path is a file, not a folder");
      }
    }
    Path target = cur.resolve(part(parts.get(parts.size() - 1)));
    if (Files.isSymbolicLink(target)) {
      throw new UploadRefused(403, "the target is a symbolic link");
    }
    if (!mayExist && Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new UploadRefused(409, "it exists already: results are never overwritten");
    }
    if (!cur.toRealPath().startsWith(base)) {
      throw new UploadRefused(403, "outside the results folder");
    }
    return target;
  }

  /** A job's result folder on this machine, checked to lie inside {@code resultsDir} once resolved. */
  public static Path folderOf(Path resultsDir, String resultsRoot, String resultRoot) {
    String relative = resultRoot.startsWith(resultsRoot + "/") ? resultRoot.substring(resultsRoot.length())
        : resultRoot;
    Path folder = resultsDir;
    for (String p : parts(relative.startsWith("/") ? relative : "/" + relative, true)) {
      folder = folder.resolve(p);
    }
    return folder;
  }

  /** Percent-decoding of one path part, as UTF-8; '+' stays '+'. Malformed escapes are refused. */
  static String decode(String raw) {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length()) {
          throw new UploadRefused(403, "a broken %-escape in the path");
        }
        int hi = Character.digit(raw.charAt(i + 1), 16);
        int lo = Character.digit(raw.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw new UploadRefused(403, "a broken %-escape in the path");
        }
        bytes.write(hi * 16 + lo);
        i += 2;
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      throw new UploadRefused(403, "the path is not UTF-8");
    }
  }
}
