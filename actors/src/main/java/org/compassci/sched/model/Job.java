package org.compassci.sched.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import org.compassci.sched.persistence.JobRecord;

/**
 * One job: its JSON document (every field a submitter sent is kept) and the fields the scheduler
 * reads, kept in step with the document. Owned by one actor at a time; the owner hands it on and
 * stops touching it.
 */
public final class Job {

  /** Internal fields start with an underscore and never leave the scheduler. */
  static final String TOKEN_HASH = "_job_token_sha256";

  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneId.systemDefault());

  private final long id;
  private final ObjectNode doc;
  /** What matching reads of the job; derived from the document on first use after a read. */
  private JobIntake.Draft derived;
  private final long submitTimeMillis;
  private JobStage stage;
  private JobHealth health;
  private DataReadiness readiness;

  private Job(long id, ObjectNode doc, JobIntake.Draft derived, long submitTimeMillis,
      JobStage stage, JobHealth health, DataReadiness readiness) {
    this.id = id;
    this.doc = doc;
    this.derived = derived;
    this.submitTimeMillis = submitTimeMillis;
    this.stage = stage;
    this.health = health;
    this.readiness = readiness;
  }

  /** A new job in stage submit, with its id and result_root under {@code resultsRoot}. */
  public static Job submitted(JobIntake.Draft draft, long id, Instant now, String resultsRoot) {
    ObjectNode doc = draft.doc();
    doc.put("id", Long.toString(id));
    doc.put("submit_time", now.toString());
    doc.put("result_root", resultsRoot + "/" + text(doc, "suite") + "/" + DAY.format(now) + "/"
        + text(doc, "tbox_group") + "/" + id);
    Job job = new Job(id, doc, draft, now.toEpochMilli(), JobStage.SUBMIT, JobHealth.UNKNOWN,
        DataReadiness.NA);
    job.writeState();
    return job;
  }

  /**
   * A job read back from the store. Its document is trusted; what matching needs is derived
   * again only when asked for (a hand-out or an update never asks).
   */
  public static Job fromRecord(JobRecord record) {
    ObjectNode doc = (ObjectNode) Json.parse(record.document());
    Job job = new Job(record.id(), doc, null, record.submitTimeMillis(),
        JobStage.fromName(record.stage()).orElse(JobStage.SUBMIT),
        JobHealth.fromName(record.health()).orElse(JobHealth.UNKNOWN),
        DataReadiness.fromName(record.readiness()).orElse(DataReadiness.NA));
    // a hand-out changes only the record's attributes: they win over the document's copies
    job.writeState();
    if (record.host() != null && !record.host().isEmpty()) {
      doc.put("host_machine", record.host());
    }
    if (record.tokenHash() != null && !record.tokenHash().isEmpty()) {
      doc.put(TOKEN_HASH, record.tokenHash());
    }
    if (record.dispatchTimeMillis() > 0 && !doc.has(JobStage.DISPATCH.timeField())) {
      doc.put(JobStage.DISPATCH.timeField(), Instant.ofEpochMilli(record.dispatchTimeMillis()).toString());
    }
    return job;
  }

  public JobRecord toRecord() {
    String dispatched = text(doc, JobStage.DISPATCH.timeField());
    return new JobRecord(id, stage.wireName(), health.wireName(), readiness.wireName(),
        tenant(), text(doc, "tbox_group"), submitTimeMillis, Json.write(doc), text(doc, "host_machine"),
        text(doc, TOKEN_HASH), dispatched.isEmpty() ? 0L : Instant.parse(dispatched).toEpochMilli());
  }

  /**
   * What a testbox receives for a hand-out, written straight from the stored text: the same
   * bytes as {@code fromRecord(record).view()} with {@code job_token} added, without building
   * the document's tree (which took a tenth of a hand-out's CPU and most of its garbage). Fields keep their order; the
   * record's attributes replace the document's copies where they are, or follow the last field
   * in the order {@link #fromRecord} adds them; internal fields are left out.
   */
  public static byte[] answer(JobRecord record, String token) {
    java.util.LinkedHashMap<String, String> put = new java.util.LinkedHashMap<>();
    put.put("job_stage", JobStage.fromName(record.stage()).orElse(JobStage.SUBMIT).wireName());
    put.put("job_health", JobHealth.fromName(record.health()).orElse(JobHealth.UNKNOWN).wireName());
    put.put("job_data_readiness", DataReadiness.fromName(record.readiness()).orElse(DataReadiness.NA).wireName());
    if (record.host() != null && !record.host().isEmpty()) {
      put.put("host_machine", record.host());
    }
    String dispatchTime = JobStage.DISPATCH.timeField();
    if (record.dispatchTimeMillis() > 0) {
      // only where the document has none: a time it holds is kept as it is
      put.put(dispatchTime, Instant.ofEpochMilli(record.dispatchTimeMillis()).toString());
    }
    put.put("job_token", token);
    com.fasterxml.jackson.core.util.ByteArrayBuilder out =
        new com.fasterxml.jackson.core.util.ByteArrayBuilder(record.document().length() + 256);
    try (com.fasterxml.jackson.core.JsonParser in = Json.MAPPER.createParser(record.document());
        com.fasterxml.jackson.core.JsonGenerator gen = Json.MAPPER.createGenerator(out)) {
      if (in.nextToken() != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
        throw new IllegalArgumentException("job " + record.id() + ": the stored document is not an object");
      }
      gen.writeStartObject();
      while (in.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
        String name = in.currentName();
        in.nextToken();
        if (name.startsWith("_")) {
          in.skipChildren();
        } else if (put.containsKey(name) && !name.equals(dispatchTime)) {
          gen.writeStringField(name, put.remove(name));
          in.skipChildren();
        } else {
          if (name.equals(dispatchTime)) {
            put.remove(name);
          }
          gen.writeFieldName(name);
          copyValue(in, gen);
        }
      }
      for (java.util.Map.Entry<String, String> e : put.entrySet()) {
        gen.writeStringField(e.getKey(), e.getValue());
      }
      gen.writeEndObject();
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("job " + record.id() + ": the stored document cannot be read: "
          + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  /** Reads one number in the middle of a document: nothing after it is checked. */
  private static final com.fasterxml.jackson.databind.ObjectReader DECIMAL = Json.MAPPER.reader()
      .without(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /**
   * Copies the value the parser is at. Decimals go through the shared mapper's own tree node, so
   * that they come out as a parsed document writes them (as BigDecimal, trailing zeros dropped).
   */
  private static void copyValue(com.fasterxml.jackson.core.JsonParser in,
      com.fasterxml.jackson.core.JsonGenerator gen) throws java.io.IOException {
    int depth = 0;
    do {
      com.fasterxml.jackson.core.JsonToken t = in.currentToken();
      if (t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_FLOAT) {
        gen.writeTree(DECIMAL.readTree(in));
      } else {
        gen.copyCurrentEvent(in);
        if (t.isStructStart()) {
          depth++;
        } else if (t.isStructEnd()) {
          depth--;
        }
      }
    } while (depth > 0 && in.nextToken() != null);
  }

  /** A copy of the document fit for any answer: no internal field (token hash, sealed secrets), no credential. */
  public ObjectNode view() {
    ObjectNode copy = doc.deepCopy();
    java.util.List<String> internal = new java.util.ArrayList<>();
    copy.fieldNames().forEachRemaining(n -> {
      if (n.startsWith("_")) {
        internal.add(n);
      }
    });
    copy.remove(internal);
    return copy;
  }

  /**
   * A copy for building the job's package on the box: the sealed secrets ({@code _secrets}) stay,
   * the token hash goes. Never an answer by itself.
   */
  public ObjectNode packageDoc() {
    ObjectNode copy = doc.deepCopy();
    copy.remove(TOKEN_HASH);
    // what updates added is no part of what the box runs: the legacy calls carry no token, and
    // anyone who knew the id of a job on its way to a box could have set what its job.sh exports
    // (http_proxy, PERL5OPT, ...)
    doc.path(ADDED_NAMES).forEach(n -> copy.remove(n.asText()));
    // nor what they overwrote: a legacy call that moved the job to running first was past the
    // rule that nothing the job was submitted with changes before it runs
    doc.path(SUBMITTED_VALUES).fields().forEachRemaining(e -> copy.set(e.getKey(), e.getValue().deepCopy()));
    // the scheduler's own notes of updates, not the job's
    copy.remove(java.util.List.of("renew_deadline", "last_refused_update", BOX_ADDRESS));
    return copy;
  }

  public long id() {
    return id;
  }

  public String idText() {
    return Long.toString(id);
  }

  private JobIntake.Draft derived() {
    if (derived == null) {
      derived = JobIntake.prepare(doc);
    }
    return derived;
  }

  public Requirements requirements() {
    return derived().requirements();
  }

  /**
   * The tenant fair share counts the job against, read from its account and queue, which no update
   * changes. Not derived again from the whole document as matching does: an update that ran may
   * have left another field (memory, suite) that matching would refuse, and the running list,
   * which asks every job held out, failed the lifecycle actor on such a job at each call.
   */
  public String tenant() {
    return derived != null ? derived.tenant() : JobIntake.tenantOf(doc);
  }

  public String queue() {
    return derived().queue();
  }

  public int priority() {
    return derived().priority();
  }

  public long submitTimeMillis() {
    return submitTimeMillis;
  }

  public JobStage stage() {
    return stage;
  }

  public JobHealth health() {
    return health;
  }

  public DataReadiness readiness() {
    return readiness;
  }

  public String resultRoot() {
    return text(doc, "result_root");
  }

  /** Finished and its data settled: nothing more will happen to it. */
  public boolean isRetired() {
    return stage.isFinal() && readiness.isSettled();
  }

  public String field(String name) {
    return text(doc, name);
  }

  public void setStage(JobStage next, Instant now) {
    stage = next;
    doc.put(next.timeField(), now.toString());
    writeState();
  }

  public void setHealth(JobHealth next) {
    health = next;
    writeState();
  }

  public void setReadiness(DataReadiness next) {
    readiness = next;
    writeState();
  }

  /** Records a reported value that has no field of its own, such as a time or load average. */
  public void record(String field, String value) {
    doc.put(field, value);
  }

  /** Whether the job's document has {@code field} at its top level. */
  public boolean has(String field) {
    return doc.has(field);
  }

  /** How many names updates have added to the job (kept in the stored document, never shown). */
  public int namesRecorded() {
    return doc.path(RECORDED_NAMES).asInt(0);
  }

  /**
   * {@code names}, new to the job, were added by an update: counted against what updates may
   * add over the job's life ({@link #namesRecorded}), and kept out of its package
   * ({@link #packageDoc()}) and of its next hand-out ({@link #returnToQueue()}).
   */
  public void noteAddedNames(java.util.Collection<String> names) {
    if (names.isEmpty()) {
      return;
    }
    doc.put(RECORDED_NAMES, namesRecorded() + names.size());
    com.fasterxml.jackson.databind.node.ArrayNode added = doc.withArray(ADDED_NAMES);
    names.forEach(added::add);
  }

  /** Whether an update added {@code name} (it was not in the job as submitted). */
  public boolean addedByUpdate(String name) {
    for (JsonNode n : doc.path(ADDED_NAMES)) {
      if (n.asText().equals(name)) {
        return true;
      }
    }
    return false;
  }

  private static final String ADDED_NAMES = "_added_names";

  /**
   * Internal: what updates overwrote of what the job was submitted with, as it was submitted.
   * Its package and its next hand-out are made from these.
   */
  private static final String SUBMITTED_VALUES = "_submitted_values";

  /**
   * An update is about to overwrite {@code name}: the value the job was submitted with is kept
   * the first time (a name an update added has none).
   */
  public void keepSubmitted(String name) {
    JsonNode value = doc.get(name);
    if (value == null || name.startsWith("_") || addedByUpdate(name)) {
      return;
    }
    JsonNode kept = doc.get(SUBMITTED_VALUES);
    ObjectNode values = kept instanceof ObjectNode o ? o : doc.putObject(SUBMITTED_VALUES);
    if (!values.has(name)) {
      values.set(name, value.deepCopy());
    }
  }

  /** Internal, as every name that starts with '_': no answer or view shows it, no submit sets it. */
  private static final String RECORDED_NAMES = "_recorded_names";

  /** The statistics extracted from the job's results. */
  public void putStats(ObjectNode stats) {
    doc.set("stats", stats);
  }

  /**
   * Extraction of uploaded results is over: with its {@code stats} the data is complete; with
   * an {@code error} instead it is incomplete, and the error is kept on the job. Returns false,
   * changing nothing, when the data is no longer waiting for extraction.
   */
  public boolean settleData(ObjectNode stats, String error) {
    if (readiness != DataReadiness.UPLOADED) {
      return false;
    }
    if (error == null || error.isEmpty()) {
      putStats(stats);
      setReadiness(DataReadiness.COMPLETE);
    } else {
      record("extract_error", error);
      setReadiness(DataReadiness.INCOMPLETE);
    }
    return true;
  }

  /** How often a lost hand-out of this job went back to the queue. */
  public int requeueCount() {
    try {
      String n = field(REQUEUE_COUNT);
      return n.isEmpty() ? 0 : Math.max(0, Integer.parseInt(n));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** Takes the job back from its box into the queue, counting it and keeping the reason. */
  public void requeue(String reason) {
    returnToQueue();
    record("last_requeue_reason", reason);
    record(REQUEUE_COUNT, Integer.toString(requeueCount() + 1));
  }

  /**
   * Takes back a hand-out its box never heard of (the box hung up, or its request gave up before
   * the hand-out was durable): the reason is kept, the requeue budget is not spent.
   */
  public void giveBack(String reason) {
    returnToQueue();
    record("last_requeue_reason", reason);
  }

  private static final String REQUEUE_COUNT = "requeue_count";

  /** Hands a job out: the token the box must show is kept only as a hash. */
  public void handOut(String hostname, String token, Instant now) {
    doc.put("host_machine", hostname);
    doc.put(TOKEN_HASH, Tokens.sha256(token));
    setStage(JobStage.DISPATCH, now);
  }

  /** Takes a hand-out (or a cancel not yet durable) back, as if the job never left the queue. */
  public void returnToQueue() {
    doc.remove("host_machine");
    doc.remove(TOKEN_HASH);
    doc.remove(BOX_ADDRESS);
    doc.remove("renew_deadline");
    // what updates added (the box's reports, or anyone's legacy calls) is not the next box's:
    // its boot answer (kernel_uri, initrds_uri, docker_image, ...) and its matching are made
    // from the job as it was submitted
    doc.path(ADDED_NAMES).forEach(n -> doc.remove(n.asText()));
    doc.remove(ADDED_NAMES);
    doc.path(SUBMITTED_VALUES).fields().forEachRemaining(e -> doc.set(e.getKey(), e.getValue()));
    doc.remove(SUBMITTED_VALUES);
    derived = null;
    for (JobStage s : JobStage.values()) {
      if (s != JobStage.SUBMIT) {
        doc.remove(s.timeField());
      }
    }
    stage = JobStage.SUBMIT;
    health = JobHealth.UNKNOWN;
    readiness = DataReadiness.NA;
    writeState();
  }

  /** See {@link #fetchedFrom}. */
  public static final String BOX_ADDRESS = "box_address";

  /** The address of a package fetched by a VM's or container's host: the guest uploads from anywhere. */
  public static final String ANY_ADDRESS = "*";

  /** The address of a package fetched from an address the server could not tell: fetched, and no upload without the token matches it. */
  public static final String UNKNOWN_ADDRESS = "?";

  /**
   * The address the package of this hand-out went to, at its first download: WebDAV uploads
   * without the job's token (lkp-tests 2022 sends only the cookie JOBID) are taken from there
   * only, so that knowing a running job's id is not enough to write into its results.
   */
  public void fetchedFrom(String address) {
    doc.put(BOX_ADDRESS, address);
  }

  /** See {@link #fetchedFrom}: empty until the package is fetched, and again once the job is back in the queue. */
  public java.util.Optional<String> boxAddress() {
    String a = text(doc, BOX_ADDRESS);
    return a.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(a);
  }

  /** The hash of the token of the job's current hand-out, or "" when it is not handed out. */
  public String tokenHash() {
    return text(doc, TOKEN_HASH);
  }

  public boolean tokenMatches(String token) {
    JsonNode hash = doc.get(TOKEN_HASH);
    return hash != null && token != null && hash.asText().equals(Tokens.sha256(token));
  }

  private void writeState() {
    doc.put("job_stage", stage.wireName());
    doc.put("job_health", health.wireName());
    doc.put("job_data_readiness", readiness.wireName());
  }

  private static String text(ObjectNode doc, String field) {
    JsonNode v = doc.get(field);
    return v == null || v.isNull() ? "" : v.asText();
  }
}
